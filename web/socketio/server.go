package socketio

import (
	"log"
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
	// Logf receives internal errors (a recovered handler panic, say).
	// Nil means log.Printf.
	Logf func(format string, args ...any)
}

// Server is a Socket.IO v5 server over Engine.IO v4. Mount it at
// "/socket.io/". It owns, per connection, a worker goroutine (besides the
// Engine.IO ones) that runs that connection's handlers while it has work;
// Close waits for every connection to finish.
type Server struct {
	cfg Config
	eng *engineio.Server
	wg  sync.WaitGroup // one per connection not yet finished

	mu     sync.RWMutex // guards nsps and closed
	nsps   map[string]*Namespace
	closed bool

	closeOnce sync.Once
}

// NewServer returns a server with no namespaces: register them with Of.
func NewServer(cfg Config) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	s := &Server{cfg: cfg, nsps: make(map[string]*Namespace)}
	s.eng = engineio.NewServer(cfg.Engine, s.accept)
	return s
}

// ServeHTTP serves the Engine.IO transports.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eng.ServeHTTP(w, r) }

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
// first use. CONNECT requests for unregistered namespaces are refused with
// "Invalid namespace". A name without a leading "/" gets one.
func (s *Server) Of(name string) *Namespace {
	name = normalizeNamespace(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nsps[name]
	if n == nil {
		n = &Namespace{name: name}
		s.nsps[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
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
