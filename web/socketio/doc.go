// Package socketio is a Socket.IO protocol 5 server on top of the Engine.IO
// v4 server in package engineio: the protocol spoken by socket.io v3/v4
// clients (docs/PROTOCOL.md sums up its wire format). It knows nothing of
// chat. With engineio.Config.AllowEIO3 it also serves Socket.IO v2
// clients (protocol 4 over Engine.IO protocol 3), whose sockets are like
// any other: only joining and refusing a namespace is written differently
// for them (v2.go), and a prepared event is the same packet for both.
//
// # Model
//
// A Server is an http.Handler mounted at "/socket.io/". Namespaces are
// registered with Server.Of; a client CONNECT to any other namespace is
// refused with "Invalid namespace". Each client CONNECT to a registered
// namespace creates a Socket with a fresh id and runs the namespace's
// OnConnect function, which typically registers event handlers with
// Socket.On and Socket.OnDisconnect. Namespace.Configure sets what clients
// may send to a namespace: by default no binary packets and a CONNECT auth
// object of at most DefaultMaxAuth bytes, kept only while OnConnect runs
// (see NamespaceConfig).
//
// # Goroutines and ordering
//
// Each Engine.IO connection has one logical goroutine (the connection's
// goroutine), owned by the Server, that runs everything the application
// registered for that connection's sockets: OnConnect, event handlers, ack
// callbacks and OnDisconnect, one at a time in the order the packets
// arrived. It is started when there is work and ends when there is none,
// so an idle connection holds no goroutine; handlers of one connection
// never overlap. A panic in any of them is
// recovered, logged through Config.Logger and closes that connection only.
// Sending (Emit, EmitWithAck, Send, an AckFunc, Disconnect) is safe from
// any goroutine and never blocks: packets go to the Engine.IO session's
// bounded queue, and a client whose queue overflows is disconnected.
//
// # Arguments
//
// Received arguments (Args) are kept as the JSON text that arrived plus the
// binary attachments, so they can be inspected (String, Bytes, Decode, Raw)
// or passed back to Emit unchanged, numbers exact and binary still binary.
// Outgoing arguments are encoded as JavaScript's JSON.stringify would (no
// HTML escaping, struct field order kept); []byte values become binary
// attachments.
//
// # Broadcasting
//
// Prepare encodes an event once; Socket.Send queues the same encoded
// Engine.IO messages on any number of sockets of that namespace, so a
// broadcast costs one queue slot per recipient and no encoding.
//
// # Protocol errors
//
// A packet that does not parse, or that is invalid in the connection's
// state (an event for a namespace not joined, a second CONNECT to the same
// namespace), closes the whole Engine.IO connection, as the reference
// server does. A connection that joins no namespace within
// Config.ConnectTimeout is closed.
package socketio
