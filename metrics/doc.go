// Package metrics is chatserver's metric set: the counters, gauges and
// histogram that /metrics serves in the Prometheus text format, beside
// the Go runtime's and the process's usual series.
//
// A Registry is told what happens by the chat room (it is the room's
// chat.Metrics: messages received, refused, stored, delivered, and the
// store commit latency) and by the Engine.IO transport (its
// engineio.Metrics: sessions opened and closed, writes that timed out),
// and reads the gauges (connections by transport, sessions, chatters)
// from the functions given to Observe when it is scraped. cmd makes one
// per server and hands it to the room and to web, which serves it.
//
// The names follow the Prometheus rules: the chatserver_ prefix, _total
// on counters, base units (seconds); the few runtime names of the library
// that do not are served renamed (runtime.go). docs/ARCHITECTURE.md lists
// them.
// Redis has no series yet, there being no Redis store: one would report
// its errors and reconnects through a hook of its own, as the transport
// does (chatserver_redis_errors_total, chatserver_redis_reconnects_total).
package metrics
