package socketio

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"chatserver/web/socketio/engineio"
)

// DefaultConnectTimeout is Config.ConnectTimeout's default, the reference
// server's: long enough for a slow client to send its first CONNECT.
const DefaultConnectTimeout = 45 * time.Second

// Config configures a Server.
type Config struct {
	// Engine configures the Engine.IO transport layer.
	Engine engineio.Config
	// ConnectTimeout closes a connection that has joined no namespace
	// within it. Default 45s.
	ConnectTimeout time.Duration
	// Logger receives internal errors (a recovered handler panic, say) and,
	// at debug level, a line for each socket connected to and
	// disconnected from a namespace. Nil means slog.Default(). It is also
	// Engine.Logger when that is nil.
	Logger *slog.Logger
}

// Server is a Socket.IO v5 server over Engine.IO v4. Mount it at
// "/socket.io/". It owns, per connection, a worker goroutine (besides the
// Engine.IO ones) that runs that connection's handlers while it has work;
// Close waits for every connection to finish.
type Server struct {
	cfg       Config
	maxBinary int // attachment bytes one connection may hold for an incomplete packet
	eng       *engineio.Server
	wg        sync.WaitGroup // one per connection not yet finished

	mu     sync.RWMutex // guards nsps, match and closed
	nsps   map[string]*Namespace
	match  func(name string) bool
	setup  func(n *Namespace)
	closed bool

	closeOnce sync.Once
}

// NewServer returns a server with no namespaces: register them with Of.
func NewServer(cfg Config) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Engine.Logger == nil {
		cfg.Engine.Logger = cfg.Logger
	}
	maxPayload := cfg.Engine.MaxPayload
	if maxPayload <= 0 {
		maxPayload = engineio.DefaultMaxPayload
	}
	s := &Server{cfg: cfg, maxBinary: maxAttachmentPayloads * maxPayload, nsps: make(map[string]*Namespace)}
	s.eng = engineio.NewServer(cfg.Engine, s.accept)
	return s
}

// ServeHTTP serves the Engine.IO transports.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eng.ServeHTTP(w, r) }

// ConnContext and ConnState are the hooks for the http.Server's fields of
// those names, with which a polling client that dies between two requests
// is noticed within seconds (see engineio.Server.ConnContext).
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return s.eng.ConnContext(ctx, c)
}

// ConnState is the hook for http.Server.ConnState; see ConnContext.
func (s *Server) ConnState(c net.Conn, state http.ConnState) { s.eng.ConnState(c, state) }

// Stats returns a snapshot of the Engine.IO sessions under the server,
// for monitoring (see engineio.Server.Stats).
func (s *Server) Stats() engineio.Stats { return s.eng.Stats() }

// Close disconnects every client and waits for their goroutines. Idempotent.
// Clients are not sent DISCONNECT packets, so real clients reconnect (to
// the next server process, typically); each socket's OnDisconnect runs
// with ReasonServerShuttingDown.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.eng.Close()
		s.wg.Wait()
	})
}

// Of returns the namespace called name ("/", "/admin"), registering it on
// first use with the zero NamespaceConfig (see Namespace.Configure).
// CONNECT requests for unregistered namespaces are refused with "Invalid
// namespace". A name without a leading "/" gets one.
func (s *Server) Of(name string) *Namespace {
	name = normalizeNamespace(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nsps[name]
	if n == nil {
		n = &Namespace{name: name, cfg: NamespaceConfig{}.withDefaults()}
		s.nsps[name] = n
	}
	return n
}

// Match serves namespaces that are not registered beforehand, for
// applications whose namespaces come and go: a CONNECT to an unregistered
// name for which match returns true registers it (as Of would), runs setup
// on it (to Configure it and set its OnConnect), then is handled as usual.
// match is asked again for every such CONNECT, so a name it stops
// accepting is refused from then on unless it was registered; a namespace
// that goes away should also refuse in its OnConnect (ErrInvalidNamespace).
// match and setup run on the connection's goroutine and must not call the
// Server.
func (s *Server) Match(match func(name string) bool, setup func(n *Namespace)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.match, s.setup = match, setup
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// lookup returns the namespace a CONNECT for name goes to: a registered
// one, or one that Match accepts now (registered on the way), or nil.
func (s *Server) lookup(name string) *Namespace {
	if n := s.namespace(name); n != nil {
		return n
	}
	s.mu.RLock()
	match, setup := s.match, s.setup
	s.mu.RUnlock()
	if match == nil || !match(name) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nsps[name]; n != nil {
		return n
	}
	n := &Namespace{name: name, cfg: NamespaceConfig{}.withDefaults()}
	if setup != nil {
		setup(n)
	}
	s.nsps[name] = n
	return n
}

// rules returns the configuration of namespace name; an unregistered one
// has the zero configuration's (its CONNECT is refused, and a binary packet
// for it closes the connection).
func (s *Server) rules(name string) NamespaceConfig {
	if n := s.namespace(name); n != nil {
		return n.config()
	}
	return NamespaceConfig{}.withDefaults()
}

func normalizeNamespace(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name
}

// accept is the Engine.IO accept callback. The connection counts in the
// server's WaitGroup until its worker has finished it (after OnClose).
func (s *Server) accept(sess *engineio.Session) engineio.Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		sess.Close(engineio.ReasonServerShutdown)
		return discardHandler{}
	}
	c := newConn(s, sess)
	s.wg.Add(1)
	c.armConnectTimeout(s.cfg.ConnectTimeout)
	if c.v2 {
		c.connectDefault()
	}
	return c
}

// discardHandler serves sessions accepted while the server is closing.
type discardHandler struct{}

func (discardHandler) OnMessage([]byte, bool) {}
func (discardHandler) OnClose(string)         {}

// socketIDBytes is the entropy of a socket id: 15 random bytes make 20
// URL-safe characters, the length of the reference implementation's ids.
const socketIDBytes = 15
