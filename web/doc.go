// Package web is chatserver's HTTP front: the embedded page and its
// assets, the Socket.IO endpoint wired to the chat room, the liveness and
// readiness checks and the metrics, all on one listener (the metrics, if
// asked, on one of their own).
//
// cmd builds a Config from flags and hands it to New with the room; the
// caller owns the room and the store and closes them after Shutdown.
// Each Socket.IO connection becomes one chat.Client (adapter.go): its
// events run on the connection's own goroutine, and what the room sends
// it goes through the connection's bounded send queue, so a client that
// stops reading is disconnected instead of stalling anyone else.
//
// # Limits
//
// Every limit of the front is a Config field with a default: the
// Engine.IO payload cap, heartbeat and send queue; the connection caps
// overall and per client address (ClientIP, with TrustedProxies for a
// reverse proxy in front); and the http.Server's header timeout and size,
// which stop half-open requests (slowloris) from holding connections.
//
// # TLS
//
// With Config.TLS the same listener speaks TLS: HTTPS and WebSocket over
// TLS, HTTP/1.1 only. The certificate comes from the configuration at
// each handshake, so one that web/tlscert reloads is served without a
// restart. Failed handshakes, which a port open to the internet sees all
// day, are logged once per client address (an IPv6 one by its
// Config.IPv6Prefix network) and then counted, as the warnings about
// clients are.
package web
