package socketio

// API CONTRACT (skeleton written before the implementation; the socketio
// implementer replaces the bodies and may add unexported things and extra
// exported helpers, but keeps these names and signatures: web and the
// conformance server compile against them).

import (
	"encoding/json"
	"net/http"
	"time"

	"chatserver/web/socketio/engineio"
)

// Config configures a Server.
type Config struct {
	// Engine configures the Engine.IO transport layer.
	Engine engineio.Config
	// ConnectTimeout closes a connection that has joined no namespace
	// within it. Default 45s.
	ConnectTimeout time.Duration
	// Logf receives internal errors (a recovered handler panic, say).
	// Nil means log.Printf.
	Logf func(format string, args ...any)
}

// Server is a Socket.IO v5 server over Engine.IO v4. Mount it at
// "/socket.io/".
type Server struct{}

// NewServer returns a server with no namespaces: register them with Of.
func NewServer(cfg Config) *Server { panic("unimplemented") }

// ServeHTTP serves the Engine.IO transports.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }

// Close disconnects every client and waits for their goroutines. Idempotent.
func (s *Server) Close() { panic("unimplemented") }

// Of returns the namespace called name ("/", "/admin"), registering it on
// first use. CONNECT requests for unregistered namespaces are refused with
// "Invalid namespace".
func (s *Server) Of(name string) *Namespace { panic("unimplemented") }

// Namespace is a registered namespace.
type Namespace struct{}

// ConnectError refuses a namespace CONNECT; it is sent to the client as
// CONNECT_ERROR {"message":Message,"data":Data} (data omitted when nil).
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// OnConnect sets the function run for each CONNECT to this namespace, in
// the connection's goroutine, before the CONNECT reply is sent. A non-nil
// error refuses the connection (a *ConnectError keeps its message and
// data; any other error is sent as its Error() text). On success the reply
// {"sid":...} is sent before anything the function emitted on s.
func (n *Namespace) OnConnect(f func(s *Socket) error) { panic("unimplemented") }

// Socket is one client's connection to one namespace.
type Socket struct{}

// ID returns the Socket.IO socket id (distinct from the Engine.IO sid).
func (s *Socket) ID() string { panic("unimplemented") }

// Namespace returns the namespace name, e.g. "/".
func (s *Socket) Namespace() string { panic("unimplemented") }

// Auth returns the CONNECT auth object exactly as sent, or {} when absent.
func (s *Socket) Auth() json.RawMessage { panic("unimplemented") }

// Request returns the Engine.IO handshake request (read-only).
func (s *Socket) Request() *http.Request { panic("unimplemented") }

// Transport returns "polling" or "websocket".
func (s *Socket) Transport() string { panic("unimplemented") }

// AckFunc answers a client's event. It is nil when the client asked for no
// acknowledgement; calling it more than once sends nothing the second time.
type AckFunc func(args ...any) error

// EventHandler handles one incoming event. Handlers of one socket run one
// at a time in packet order, on the connection's goroutine: a handler that
// blocks delays only its own connection. A panic is recovered, logged and
// closes only that connection.
type EventHandler func(args Args, ack AckFunc)

// On sets the handler for event name. Events without a handler are ignored
// (an ack they ask for is never sent).
func (s *Socket) On(event string, h EventHandler) { panic("unimplemented") }

// OnDisconnect sets the function called once when the socket leaves the
// namespace, with the reason ("client namespace disconnect",
// "server namespace disconnect", "transport close", "ping timeout",
// "parse error", "server shutting down", ...).
func (s *Socket) OnDisconnect(f func(reason string)) { panic("unimplemented") }

// Emit sends an event. args are encoded as JavaScript's JSON.stringify would
// (no HTML escaping, struct field order kept); json.RawMessage is sent as
// is; []byte becomes a binary attachment; Args values re-emit exactly what
// was received (binary stays binary). It never blocks; it returns an error
// for a reserved event name, an unencodable argument, or a closed socket.
func (s *Socket) Emit(event string, args ...any) error { panic("unimplemented") }

// EmitWithAck sends an event asking the client for an acknowledgement; ack
// runs on the connection's goroutine when it arrives.
func (s *Socket) EmitWithAck(event string, ack func(Args), args ...any) error {
	panic("unimplemented")
}

// Prepared is an event encoded once, to be sent to many sockets of the same
// namespace without encoding it again.
type Prepared struct{}

// Prepare encodes an event for namespace nsp (see Emit for args).
func Prepare(nsp, event string, args ...any) (*Prepared, error) { panic("unimplemented") }

// Send queues a prepared event. It never blocks; false means the socket is
// gone (closed, or its send queue overflowed and it was disconnected).
func (s *Socket) Send(p *Prepared) bool { panic("unimplemented") }

// Disconnect removes the socket from its namespace, telling the client
// (DISCONNECT packet, which the client treats as final). With closeConn the
// whole Engine.IO connection is closed too.
func (s *Socket) Disconnect(closeConn bool) { panic("unimplemented") }

// Args are the arguments of a received event or ack.
type Args struct{}

// Len returns the number of arguments.
func (a Args) Len() int { panic("unimplemented") }

// String returns argument i if it is a JSON string.
func (a Args) String(i int) (string, bool) { panic("unimplemented") }

// Raw returns argument i as JSON (binary attachments appear as their
// placeholders), or nil if i is out of range.
func (a Args) Raw(i int) json.RawMessage { panic("unimplemented") }

// Values returns the arguments in a form that Emit sends back exactly as
// they arrived, binary attachments included.
func (a Args) Values() []any { panic("unimplemented") }
