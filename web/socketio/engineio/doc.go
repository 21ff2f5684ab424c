// Package engineio is an Engine.IO protocol 4 server: the transport layer
// under Socket.IO v4 (docs/PROTOCOL.md describes the wire protocol it
// implements: handshake, packets, payloads, heartbeat, upgrade, close).
// With Config.AllowEIO3 it also serves protocol 3, the revision under
// Socket.IO v2 clients (see "Protocol 3" below).
//
// A Server is an http.Handler mounted at the Engine.IO path. It speaks both
// transports — HTTP long-polling and WebSocket — and upgrades a polling
// session to WebSocket when the client asks. gorilla/websocket does the
// WebSocket handshake; after it, frames are read and written by this
// package (frame.go, wsconn.go), so that an idle connection costs no
// goroutine and no buffer. Each session (Engine.IO sid) is handed to the
// application once, through the accept function given to NewServer, which
// returns the session's Handler.
//
// Ownership and goroutines:
//   - Every session has a heartbeat alarm (the server pings every
//     PingInterval and closes the session when no pong follows within
//     PingTimeout of queueing the ping; in protocol 3 the client pings,
//     and the alarm closes a session not heard from for
//     PingInterval+PingTimeout). The alarms of all sessions share one
//     timer of the Server (alarm.go), whose goroutine runs only when it
//     fires.
//   - A polling session whose client is suspected gone has a grace timer
//     too (connwatch.go): when the connection that carried its last
//     answered GET closes with no GET held, and nothing is heard from the
//     client (a request for the session, or the end of a POST in flight)
//     within connGoneGrace (longer after a large answer), the session
//     closes with ReasonTransportClose. A POST still in flight or an
//     upgrade under way postpones the verdict. The Server learns of
//     closed connections only through its ConnContext and ConnState
//     methods, set as the http.Server's hooks of those names; without
//     them such a client is found out by the heartbeat.
//   - WebSockets are read by the server's poller (Linux: one epoll
//     instance, one goroutine, which waits for it through the runtime's
//     network poller rather than in a blocking epoll_wait, so that it
//     holds no processor while it waits): when a connection has bytes, a
//     goroutine is started to read and handle them and the connection is
//     armed again, so an idle connection has no goroutine. Elsewhere, or when
//     the poller cannot be started, each WebSocket is read by a goroutine
//     of its own. A polling session is read by its POST requests and
//     written by its GET requests (one of each at a time, as the protocol
//     demands).
//   - WebSockets are written by the server's flushers (one goroutine per
//     processor): Send queues and names the session to its flusher, which
//     writes everything queued for it with one non-blocking write. A
//     client whose socket does not take it all gets a worker goroutine of
//     its own, with blocking writes bounded by WriteTimeout, until its
//     backlog is gone. Whoever writes holds the session's writer role
//     (flusher or worker, never both), and hands it to a worker if the
//     session has closed meanwhile: the worker finishes the transport and
//     runs Handler.OnClose. The Server counts each session from the
//     handshake until it is finished. Config.FlushInterval lets the
//     flushers pause after each round, so that a busy session's packets
//     share a write.
//   - Handler methods are called one at a time per session, in arrival
//     order; OnClose exactly once, last. So OnClose (and Done, and
//     Server.Close) wait for an OnMessage in progress: an OnMessage that
//     waits — to push back on a fast client, say — must also wait on
//     Session.Closing, which is closed as soon as the session starts to
//     close, and return then.
//
// # Session states
//
// A session's life is a state (sessionState), changed only by the
// transition methods in session.go, which check each change against a
// table; a Session's mu guards it:
//
//	                    a WebSocket for the sid      "2probe" answered
//	                    (reserveProbeLocked)         (probeAnsweredLocked)
//	handshake --> open ----------------------> probing ------------------> upgrading
//	               ^ ^                          |    |                      |    |
//	               | |  upgrade failed          |    |                      |    |
//	               | +-- (endProbeLocked) ------+----|----------------------+    |
//	               |                                 |                           |
//	               +---- "5": on WebSocket now ------+---------------------------+
//	                     (upgradedLocked)
//
//	open, probing or upgrading
//	   |
//	   +-- closeLocked -----------------------> closing
//	   |
//	   +-- closeLocked: on polling, -----------> lingering --------------> lingered
//	       Close or the client's "1",             the client's next GET
//	       no GET held                            (lingerServedLocked)
//
// Only open, probing and upgrading are open; from closing on, Send fails
// and Closing is closed, and nothing leads back. A closed session lingers
// so that the client's next GET can carry its goodbye: up to WriteTimeout
// after Close, up to a second (clientCloseGrace) after the client's "1",
// and never past Server.Close.
//
// What the close says depends on its kind (closeKind), set with the
// close:
//
//	kind           cause                    WebSocket                  held GET     no GET held
//	closeError     I/O or protocol error,   closed at once, or after   "1"          400 (forgotten)
//	               ping timeout, full       the close frame answering
//	               queue, duplicate GET,    the client's or naming its
//	               polling client gone      protocol error; queue
//	               (connGoneGrace)          dropped
//	closeClient    the client's "1"         closed at once; queue      "6"          lingers: the next
//	                                        dropped                                 GET gets "6"
//	closeGraceful  Session.Close            the queue, then a close    queue + "1"  lingers: the next
//	                                        frame (1000)                            GET gets queue + "1"
//	closeShutdown  Server.Close             the queue, then a close    queue + "1"  nothing (the server
//	                                        frame (1000)                            refuses requests)
//
// Writing a session's WebSocket is the job of whoever holds its writer
// role (writerRole), passed on only through handWriterLocked:
//
//	nobody --flushNow--> the flusher --the socket took it all--> nobody
//	  |                      |
//	  | startWorker          | partial write, failed write, or closed
//	  v                      v
//	a worker <---------------+
//	  |
//	  +--backlog written--> nobody
//	  |
//	  +--session closed--> the finisher (keeps it to the end)
//
// In the open states of a polling session nobody holds it: held GETs
// write the session, and a probing WebSocket is written only by its own
// request's goroutine. In a WebSocket session it is held by nobody, the
// flusher or a worker, one at a time. Once the session has closed, the
// role goes to the finisher through a worker: the one holding it, the one
// the flusher hands it to, or one that the close starts. The finisher
// writes the goodbye, closes the transport, calls Handler.OnClose, closes
// Done and, if the session lingers, keeps it reachable for the client's
// next GET.
//
// Sending never blocks: Session.Send appends to a bounded per-session queue
// and a session whose queue overflows is closed. A Message is immutable and
// encodes itself once per transport (a complete WebSocket frame, a polling
// string), so one Message broadcast to many sessions costs one encoding.
//
// # Protocol 3
//
// A session speaks the protocol of its handshake's EIO parameter
// (Session.Protocol); a request naming the other one for its sid is
// refused. Protocol 3 differs in encodings and heartbeat only, so its
// sessions go through the same states, transports, upgrade and close as
// protocol 4 ones: the open packet has no maxPayload; polling payloads
// are "<length>:<packet>" runs, lengths counted in UTF-16 code units
// (payload3.go), and binary goes as "b4"+base64 to clients that asked for
// it (b64) and in XHR2 binary payloads to the others; binary WebSocket
// frames begin with the packet type byte; the client pings, the server
// answers "3" (heartbeat3.go). JSONP polling ("j") is refused. A Message
// keeps its protocol 3 encodings beside its protocol 4 ones, each made
// once, so a broadcast is encoded once per protocol, not per session.
//
// Connection caps: Config.MaxSessions caps the open sessions of a Server
// and Config.MaxSessionsPerIP those of one client address (Config.ClientIP,
// by default the host part of RemoteAddr; loopback addresses are exempt
// unless Config.ExemptIP says otherwise). A session counts from its
// handshake until its OnClose has returned, which is what Server.Count
// reports; the count is taken under the server's lock before the session
// exists, so concurrent handshakes never overshoot. A handshake over a cap
// is refused before any session exists and before accept is called: HTTP
// 503, Content-Type application/json, body TooManyConnectionsBody
// ({"code":4,"message":"Too many connections"}). On WebSocket that is the
// answer to the upgrade request itself (no 101). Requests for existing
// sessions are never refused by the caps.
//
// Pending sessions: with Config.MaxPending, MaxPendingPerIP or
// PendingTimeout set, a session is pending from its handshake until the
// application calls Session.Establish (pending.go). A pending session is
// closed at PendingTimeout (ReasonPendingTimeout), and a handshake that
// finds a pending cap full closes the oldest pending session of its own
// address (MaxPendingPerIP) or of the address with the most (MaxPending)
// with ReasonEvicted, and takes its place. Over MaxSessions, it closes
// such a session and waits (up to evictWait) for it to end, so that the
// application still never holds more than the cap. A place is held from
// the handshake's admission, before its session exists; a handshake that
// finds no place it could take but places of handshakes still in progress
// (no session to close yet) is refused as over a cap. MaxSessionsPerIP never
// closes a session: over it the handshake is refused. So a client that
// opens sessions in a loop and never establishes them pushes out only its
// own, or those of the busiest address, and a newcomer still gets in.
// Being pending is independent of the session states above.
//
// Origins: a request with an Origin header is served when the origin is
// the request's own (scheme by Config.RequestScheme, host and port by the
// Host header) or in Config.AllowedOrigins (unless Config.CheckOrigin
// decides); others get 403 before anything else happens. Requests from
// an allowed origin other than the request's own get the CORS headers of
// the reference server, and their preflight (OPTIONS) is answered 204.
//
// Server.Close closes every session and waits for all of the package's
// goroutines and request handlers to finish. It does not close the
// http.Server; hijacked WebSocket connections are closed by the sessions.
// Held polling GETs last up to PingInterval, longer than a typical
// http.Server WriteTimeout; the package sets each response's write
// deadline itself (WriteTimeout from when it starts writing), so the
// server's WriteTimeout does not cut them short.
package engineio
