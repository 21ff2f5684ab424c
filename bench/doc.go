// Package bench is the load generator behind `chatserver bench`: many
// Socket.IO v4 clients (Engine.IO 4 over WebSocket, or HTTP long-polling)
// that join a chat server, send timestamped messages and measure what comes
// back. It speaks only the chat contract (namespace "/": emit `join` and
// `messages`; receive `messages` whose first argument is "nick: text", `add
// chatter`, `remove chatter`), so it drives chatserver and the Node original
// alike. With Config.Room it speaks the same contract in one of chatserver's
// rooms, on that room's namespace only.
//
// A run (Run with a Config) has three phases:
//
//  1. join: clients connect at Config.Ramp per second, each emits `join`
//     with the nickname bench-<run>-<i> (run is random per run, so history
//     replayed from earlier runs is ignored). A join counts as confirmed when
//     the server acks it, when any client hears `add chatter` for it, or when
//     one of its messages is delivered (the Node original sends no acks).
//     The phase ends when every attempt finished and the join traffic has
//     been quiet for Config.Quiet: the join-storm figures.
//  2. send: the first Config.Senders clients each emit `messages` at
//     Config.Rate for Config.Duration; each text starts with
//     b<sender>:<seq>:<unix-nanos>: and is padded to Config.Payload bytes.
//     Every receiver parses the line and records now - sent in a shared
//     log-bucket Histogram. Then up to Config.Drain for late deliveries.
//     With Config.Idle the clients instead hold for Config.Duration. With
//     Config.Paste the first sender sends that many messages back to back
//     at the start instead (a paste), and every receiver checks that their
//     sequence numbers arrive whole and in order.
//  3. close: every connection is closed and every goroutine has ended
//     before Run returns.
//
// Expected deliveries are Sent × Receivers, where Receivers are the live
// joined clients when sending began (the sender's own echo included).
//
// Every message asks for an ack. When the server answers the first one
// within Config.ConnectTimeout of the first message, each ack's round trip
// is recorded too (ack latency beside the delivery latency); otherwise the
// result says there were no acks, and nothing waits for them (the Node
// original acks nothing).
//
// With several Config.URLs (servers sharing one chat, such as chatserver
// nodes on one Redis) client i connects to URLs[i mod n]; the result has
// each server's clients, deliveries and delivery latency beside the
// totals.
//
// With Config.ServerPIDs the run reads each server's CPU time (user and
// system separately, from /proc/<pid>/stat) and resident memory at the
// phase boundaries: the join phase's and the sending phase's CPU, and CPU
// seconds per million deliveries, in total and split, for each server and
// summed. System time is the kernel working for the server; at one
// write(2) per delivery it is about half of the total, which is why the
// split is reported. Config.AuxPIDs are measured the same way and
// reported apart (the Redis the servers share).
//
// Cost: the tool usually shares the machine with the server it measures,
// and what it spends per delivery shows in the latencies it reports. Its
// WebSocket client is its own (the chat needs text frames only): once a
// client has joined, its connection is read by one of the run's pollers
// (one per processor of the tool, Linux's epoll), which reads everything a
// ready connection has in one system call and handles the packets on the
// spot, without a goroutine per connection or a second read that finds
// nothing. Over TLS, on other systems and during the handshakes each
// client reads its own connection. Polling needs one reading goroutine
// per client plus one POSTing goroutine. The hot `42["messages",...]`
// packet is parsed in place without encoding/json, and recording a latency
// allocates nothing. Counters are per-client atomics, summed once a second.
package bench
