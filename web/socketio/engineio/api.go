package engineio

// API CONTRACT (skeleton written before the implementation; the engineio
// implementer replaces the bodies and may add unexported things and extra
// exported helpers, but keeps these names and signatures so web/socketio
// compiles against them).

import (
	"net/http"
	"time"
)

// Config configures a Server. Zero fields take the documented defaults.
type Config struct {
	// PingInterval is how often the server pings each session. Default 25s.
	PingInterval time.Duration
	// PingTimeout is how long after a ping is queued the pong must arrive.
	// Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds a polling → WebSocket upgrade. Default 10s.
	UpgradeTimeout time.Duration
	// MaxPayload caps one POST body and one WebSocket message, in bytes.
	// Default 1_000_000.
	MaxPayload int
	// SendQueue is the number of packets a session may have queued for the
	// client; a session whose queue overflows is closed ("send queue full")
	// rather than blocking the sender. Default 1024.
	SendQueue int
	// WriteTimeout bounds one write to the client (a WebSocket frame, a
	// polling response). Default 10s.
	WriteTimeout time.Duration
	// CheckOrigin decides whether a request carrying an Origin header may
	// proceed. Nil means: requests without Origin are allowed; requests with
	// Origin are allowed when its host equals the request's Host, or it is
	// listed in AllowedOrigins. A refused request gets HTTP 403.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins lists extra origins ("https://chat.example") accepted
	// by the default CheckOrigin.
	AllowedOrigins []string
	// Transports lists the enabled transports, "polling" and/or
	// "websocket". Default both.
	Transports []string
}

// Handler receives what arrives on one session. The server calls its
// methods from one goroutine at a time, in arrival order.
type Handler interface {
	// OnMessage is called for each message packet ("4..." or binary). data
	// is valid only during the call; copy what must outlive it.
	OnMessage(data []byte, binary bool)
	// OnClose is called exactly once, after which no method is called
	// again. reason is a short phrase ("transport close", "ping timeout",
	// "parse error", "server shutdown", "send queue full", "forced close").
	OnClose(reason string)
}

// Message is one outgoing message packet. It is immutable once created and
// may be sent to any number of sessions; its transport encodings (the
// WebSocket frame, the polling text) are computed once and shared.
type Message struct {
	data   []byte
	binary bool
}

// NewMessage returns a message packet carrying data (which must not be
// modified afterwards). binary selects a binary frame (WebSocket) or
// "b"+base64 (polling).
func NewMessage(data []byte, binary bool) *Message { return &Message{data: data, binary: binary} }

// Session is one Engine.IO connection (sid), whichever transport it uses.
type Session struct{}

// ID returns the session id (the Engine.IO sid).
func (s *Session) ID() string { panic("unimplemented") }

// Request returns the handshake request (headers, URL query, RemoteAddr).
// It must be treated as read-only and its Body is not readable.
func (s *Session) Request() *http.Request { panic("unimplemented") }

// Transport returns the current transport name: "polling" or "websocket".
func (s *Session) Transport() string { panic("unimplemented") }

// Send queues msgs, in order, as one unit (a Socket.IO packet with its
// attachments never interleaves with another). It never blocks: it returns
// false if the session is closed or if the queue overflowed, in which case
// the session is closed with reason "send queue full".
func (s *Session) Send(msgs ...*Message) bool { panic("unimplemented") }

// Close closes the session: queued packets are flushed where the transport
// allows (best effort, bounded by WriteTimeout), then the connection is
// closed and the handler's OnClose runs with reason. Safe to call more than
// once and from any goroutine.
func (s *Session) Close(reason string) { panic("unimplemented") }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { panic("unimplemented") }

// Server is an Engine.IO v4 server. It is an http.Handler to be mounted at
// the Engine.IO path (for example "/socket.io/").
type Server struct{}

// NewServer returns a server. accept is called once for each new session,
// after the handshake is sent and before any message is delivered, and
// returns the handler for that session's traffic.
func NewServer(cfg Config, accept func(*Session) Handler) *Server { panic("unimplemented") }

// ServeHTTP serves Engine.IO requests (polling GET/POST and WebSocket).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }

// Close closes every session with reason "server shutdown" and waits until
// their goroutines have ended. New requests are refused afterwards.
// Idempotent.
func (s *Server) Close() { panic("unimplemented") }

// Count returns the number of open sessions.
func (s *Server) Count() int { panic("unimplemented") }
