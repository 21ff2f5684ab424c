package socketio

import "sync"

// DefaultMaxAuth is NamespaceConfig.MaxAuth's default: a few tokens' or
// a session id's worth of JSON, far more than a client needs to say who
// it is, little enough that every socket of a large room may hold it.
const DefaultMaxAuth = 4 << 10

// NamespaceConfig sets what clients may send to a namespace. The zero
// value suits a namespace of small text events, such as a chat: no binary
// packets, a CONNECT auth object of up to DefaultMaxAuth bytes, kept only
// while OnConnect runs.
type NamespaceConfig struct {
	// AllowBinary accepts binary events and acks (packets with
	// attachments). Without it a binary packet for the namespace closes
	// the connection with ReasonParseError as soon as its first message
	// arrives, before any attachment is read, as the reference parser does
	// with a packet announcing more attachments than it accepts.
	AllowBinary bool
	// MaxAuth caps the CONNECT auth object, in bytes of JSON. A CONNECT
	// with a larger one is refused with CONNECT_ERROR
	// {"message":"Auth too large"}; the connection stays open. The query
	// that is the auth of a v2 client's CONNECT is held to it as sent,
	// before it is parsed, and the object it makes too. Zero means
	// DefaultMaxAuth.
	MaxAuth int
	// KeepAuth keeps the auth object for Socket.Auth after OnConnect has
	// returned; without it Auth returns nil from then on.
	KeepAuth bool
}

// withDefaults fills in the zero fields that have a default.
func (c NamespaceConfig) withDefaults() NamespaceConfig {
	if c.MaxAuth <= 0 {
		c.MaxAuth = DefaultMaxAuth
	}
	return c
}

// Namespace is a registered namespace. It is created by Server.Of and lives
// as long as the server.
type Namespace struct {
	name string

	mu        sync.RWMutex // guards the fields below
	onConnect func(s *Socket) error
	cfg       NamespaceConfig // with defaults filled in
}

// Name returns the namespace name, e.g. "/".
func (n *Namespace) Name() string { return n.name }

// Configure sets what clients may send to the namespace (see
// NamespaceConfig; a namespace starts with the zero value). It applies to
// the packets decoded from then on, so it is best called right after Of,
// before clients connect.
func (n *Namespace) Configure(cfg NamespaceConfig) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg = cfg.withDefaults()
}

func (n *Namespace) config() NamespaceConfig {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.cfg
}

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
// {"sid":...} is sent before anything the function emitted on s. Without
// an OnConnect function every CONNECT is accepted.
//
// While f runs, s is not yet connected: Emit and Send queue (up to 1024
// packets; more closes the connection once f returns), and Disconnect takes
// effect right after the reply. A refused socket's queue is dropped and its
// OnDisconnect never runs; if f panics, the OnDisconnect it set runs with
// ReasonHandlerPanic.
func (n *Namespace) OnConnect(f func(s *Socket) error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onConnect = f
}

func (n *Namespace) connectFunc() func(s *Socket) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onConnect
}
