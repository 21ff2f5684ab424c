package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"chatserver/chat"
	errlog "chatserver/internal/logger"
	"chatserver/internal/memtrim"
	"chatserver/internal/throttle"
	"chatserver/metrics"
	"chatserver/web/socketio"
	"chatserver/web/socketio/engineio"
)

// HTTP timeouts. Held long-polling GETs last up to one ping interval, so
// the write timeout is not set on the http.Server (it would cut them): the
// Engine.IO layer bounds its own writes instead.
const (
	// DefaultReadHeaderTimeout stops a client that opens a connection and
	// dribbles its headers (slowloris) from holding it for long: a browser
	// sends its headers in one packet, so seconds are plenty even on a
	// phone network.
	DefaultReadHeaderTimeout = 10 * time.Second
	// idleTimeout closes keep-alive connections nobody uses.
	idleTimeout = 120 * time.Second
	// maxHeaderBytes is far above any browser's headers and far below
	// what would let a client make us buffer much.
	maxHeaderBytes = 16 << 10
)

// Config configures a Server. Zero fields take the defaults of the
// package that uses them.
type Config struct {
	// SocketIO configures the Socket.IO endpoint and, in SocketIO.Engine,
	// the Engine.IO transport under it: heartbeat, payload and send-queue
	// limits, connection caps (MaxSessions and MaxSessionsPerIP; no cap
	// when zero, loopback addresses exempt from the per-address one), the
	// caps and timeout of pending connections (those that have not joined
	// yet: the adapter establishes a connection on its first successful
	// join), allowed origins and flush interval. New sets Engine.ClientIP
	// from TrustedProxies and IPv6Prefix, Engine.ClientAddr and
	// Engine.RequestScheme from TrustedProxies, adds PublicURL's origin to
	// Engine.AllowedOrigins, and sets SocketIO.Logger to Logger when it is
	// nil. The addresses
	// Engine.ExemptIP exempts from the per-address cap (nil: loopback) are
	// exempt from the room's per-address rate limits too; both ask it
	// about the address under which the client is counted (an IPv6
	// address's network of IPv6Prefix bits, such as "2001:db8:1:2::/64").
	SocketIO socketio.Config
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the client (see ClientIP) and whose X-Forwarded-Proto header
	// names the scheme it used. Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// IPv6Prefix is how many leading bits of an IPv6 client address name
	// the client for the per-address caps: addresses in one such network
	// share a cap. Zero means DefaultIPv6Prefix; 128 counts each address.
	IPv6Prefix int
	// PublicURL is the address people open (https://chat.example.org),
	// or nil. Its host is accepted in the Host header and its origin as an
	// Origin.
	PublicURL *url.URL
	// AllowedHosts are more host names accepted in the Host header.
	// Besides them and PublicURL's host, only IP addresses, localhost (and
	// names under .localhost) and this machine's names (its host name and
	// NAME.local) are; a request for any other host is answered 421,
	// except the health check. That keeps pages on foreign names that
	// resolve to this machine (DNS rebinding) out.
	AllowedHosts []string
	// ReadHeaderTimeout bounds the reading of a request's headers; zero
	// means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// Logger receives internal errors, the HTTP server's own (throttled),
	// the warnings about clients (a full send queue, throttled per
	// address), and at info level a line for each chatter who joins,
	// renames or leaves (nickname, sid, socket id, address; throttled per
	// address like the connection lines, see engineio.Config.Logger).
	// Nil means slog.Default().
	Logger *slog.Logger
	// Ready reports whether the server can take messages: nil, or why
	// not. /readyz answers 503 with the error's text, which anyone may
	// read, while it returns an error. nil means always ready.
	Ready func() error
	// Metrics, when set, is told what the transport does (New sets
	// SocketIO.Engine.Metrics to it), reads the sessions and the room's
	// chatters when scraped, and is served at /metrics. nil: no /metrics.
	Metrics *metrics.Registry
	// SeparateMetrics serves Metrics only on the listener given to
	// ServeMetrics (--metrics-addr), not on the main one.
	SeparateMetrics bool
	// TLS, when set, makes Serve speak TLS on its listener: HTTPS and
	// WebSocket over TLS on the one port. Its certificates (Certificates
	// or GetCertificate, which may change them from one handshake to the
	// next) are served as they are; the protocol offered is HTTP/1.1.
	// nil serves plain HTTP.
	TLS *tls.Config
}

// Server is chatserver's HTTP front: the page, the Socket.IO endpoint and
// a health check, on one listener.
type Server struct {
	sio   *socketio.Server
	http  *http.Server
	hosts hostPolicy
	ready func() error
	warn  *throttle.Log // warnings about clients, per address, and the HTTP server's errors
	lines *throttle.Log // the chatter lines, per address
	tls   *tls.Config   // nil: plain HTTP

	closing   atomic.Bool // Shutdown has begun
	closeOnce sync.Once

	// trim gives the heap a join storm leaves behind back to the system
	// once the connections have settled; it hears of every socket that
	// enters or leaves a room.
	trim *memtrim.Trimmer

	// metrics is Config.Metrics, served at /metrics by http unless
	// metricsHTTP (Config.SeparateMetrics) serves it instead; nil for
	// none. Both are set by New before anything is served.
	metrics     http.Handler
	metricsHTTP *http.Server
}

// New returns a server for the rooms of hub: the default room at the
// namespace "/", every other room NAME at "/NAME". Nothing listens until
// Serve.
func New(hub *chat.Hub, cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IPv6Prefix <= 0 {
		cfg.IPv6Prefix = DefaultIPv6Prefix
	}
	trusted, ipv6Bits := cfg.TrustedProxies, cfg.IPv6Prefix
	clientIP := func(r *http.Request) string { return ClientIP(r, trusted) }
	sioCfg := cfg.SocketIO
	if cfg.Metrics != nil {
		sioCfg.Engine.Metrics = cfg.Metrics
	}
	sioCfg.Engine.ClientIP = func(r *http.Request) string { return addressGroup(clientIP(r), ipv6Bits) }
	sioCfg.Engine.ClientAddr = clientIP
	sioCfg.Engine.RequestScheme = func(r *http.Request) string { return requestScheme(r, trusted) }
	if cfg.PublicURL != nil {
		sioCfg.Engine.AllowedOrigins = append(slices.Clone(sioCfg.Engine.AllowedOrigins), originOf(cfg.PublicURL))
	}
	if sioCfg.Logger == nil {
		sioCfg.Logger = logger
	}
	exempt := sioCfg.Engine.ExemptIP
	if exempt == nil {
		exempt = engineio.IsLoopback // the engine's default
	}
	warn := throttle.New(logger, slog.LevelWarn, 1)
	lines := throttle.New(logger, slog.LevelInfo, chatterLogBurst)
	sio := socketio.NewServer(sioCfg)
	logs := connLogs{errs: logger, warn: warn, lines: lines}
	pp := &people{hub: hub, m: make(map[string]*person)}
	trim := memtrim.New(memtrim.DefaultMin, memtrim.DefaultQuiet, nil)
	var lob lobby
	onConnect := func(sock *socketio.Socket, enc *encoders) error {
		name, _ := roomOf(sock.Namespace())
		room := hub.Room(name)
		if room == nil {
			return socketio.ErrInvalidNamespace // removed since the namespace was made
		}
		peer := peerOf(sock.ClientAddr(), ipv6Bits, exempt) // Engine.ClientAddr: clientIP
		p := pp.enter(sock, peer)
		lobbied := sock.Namespace() == "/"
		leave := func() {
			if lobbied {
				lob.remove(sock)
			}
			pp.leave(sock, p)
			trim.Note()
		}
		if err := attach(room, sock, enc, p, peer, logs, leave); err != nil {
			pp.leave(sock, p)
			return socketio.ErrInvalidNamespace
		}
		trim.Note()
		if lobbied {
			lob.add(sock)
			sock.On(EventRooms, func(_ socketio.Args, ack socketio.AckFunc) {
				if ack != nil {
					_ = ack(roomsReply{OK: true, Rooms: roomList(hub)})
				}
			})
		}
		return nil
	}
	// The chat is text only and reads nothing of the CONNECT auth object:
	// the zero configuration refuses binary packets before buffering any
	// attachment, caps the auth object and does not keep it.
	setup := func(n *socketio.Namespace) {
		n.Configure(socketio.NamespaceConfig{})
		enc := newEncoders(n.Name())
		n.OnConnect(func(sock *socketio.Socket) error { return onConnect(sock, enc) })
	}
	setup(sio.Of("/"))
	sio.Match(func(nsp string) bool {
		name, ok := roomOf(nsp)
		return ok && hub.Room(name) != nil
	}, setup)
	hub.Watch(func() { lob.announce(func() []roomEntry { return roomList(hub) }) })
	s := &Server{sio: sio, hosts: newHostPolicy(cfg.PublicURL, cfg.AllowedHosts, machineName()), ready: cfg.Ready, warn: warn, lines: lines, trim: trim}
	if cfg.TLS != nil {
		s.tls = serverTLS(cfg.TLS)
	}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errlog.New(warn, "http server error", func(host string) string { return addressGroup(host, ipv6Bits) }),
		// So that polling clients that die between two requests leave
		// within seconds.
		ConnContext: sio.ConnContext,
		ConnState:   sio.ConnState,
	}
	if cfg.Metrics != nil {
		s.observe(cfg.Metrics, hub, cfg.SeparateMetrics)
	}
	return s
}

// observe has m read the transport's sessions and the rooms' chatters,
// and serves it: at /metrics of the main listener, or, when separate, on
// a server of its own for ServeMetrics.
func (s *Server) observe(m *metrics.Registry, hub *chat.Hub, separate bool) {
	m.Observe(metrics.Sources{
		Sessions: s.sio.Stats,
		Chatters: func() []metrics.RoomCount {
			rooms := hub.Rooms()
			out := make([]metrics.RoomCount, len(rooms))
			for i, r := range rooms {
				out[i] = metrics.RoomCount{Room: r.Name(), Count: r.ChatterCount()}
			}
			return out
		},
	})
	if !separate {
		s.metrics = m
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metricsPath, m)
	s.metricsHTTP = &http.Server{
		Handler:           securityHeaders(s.hosts.guard(mux)),
		ReadHeaderTimeout: s.http.ReadHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          s.http.ErrorLog,
	}
}

// metricsPath is where the metrics are served.
const metricsPath = "/metrics"

// Handler returns the HTTP routes: "/" the page, "/static/" its assets,
// "/socket.io/socket.io.js" the browser client, "/socket.io/" the
// real-time endpoint, "/livez" (and its older name "/healthz") a liveness
// check (200 while the process serves), "/readyz" a readiness check (200
// "ready" while Config.Ready has no objection and Shutdown has not begun,
// 503 otherwise), and "/metrics" the metrics when Config.Metrics is set
// and not served apart. Every route but the liveness check answers only
// the allowed hosts (Config.AllowedHosts).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static := mustStatic()
	mux.Handle("GET /{$}", static.file("index.html"))
	mux.Handle("GET /static/", http.StripPrefix("/static/", static))
	mux.Handle("GET /socket.io/socket.io.js", static.file("socket.io.js"))
	mux.Handle("/socket.io/", s.sio)
	for _, path := range livenessPaths {
		mux.HandleFunc("GET "+path, live)
	}
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET "+metricsPath, s.serveMetrics)
	return securityHeaders(s.hosts.guard(mux))
}

// live answers the liveness check: the process serves.
func live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// serveMetrics serves Config.Metrics on the main listener; it is not
// found when there are none or they are served apart.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		http.NotFound(w, r)
		return
	}
	s.metrics.ServeHTTP(w, r)
}

// readyz answers whether the server takes messages.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var err error
	switch {
	case s.closing.Load():
		err = errShuttingDown
	case s.ready != nil:
		err = s.ready()
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

// errShuttingDown is /readyz's answer once Shutdown has begun.
var errShuttingDown = errors.New("shutting down")

// Serve serves on ln until Shutdown, over TLS when Config.TLS is set. It
// returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// ServeMetrics serves the metrics on ln until Shutdown, when
// Config.SeparateMetrics asked for a listener of their own. It returns
// nil after Shutdown.
func (s *Server) ServeMetrics(ln net.Listener) error {
	if s.metricsHTTP == nil {
		return errors.New("web: the metrics are not served apart (Config.Metrics and SeparateMetrics)")
	}
	if err := s.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections, disconnects every client (the
// Socket.IO connections, which http.Server.Shutdown does not touch), and
// waits for in-flight requests until ctx ends. The room and the store are
// the caller's to close afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closing.Store(true)
	s.closeOnce.Do(func() {
		if s.metricsHTTP != nil {
			// Nothing lingers there: a scrape in flight is let finish.
			err = s.metricsHTTP.Shutdown(ctx)
		}
		// Close sockets first: held polling GETs are answered and
		// WebSockets closed, so the HTTP shutdown below does not wait
		// for them.
		done := make(chan error, 1)
		go func() { done <- s.http.Shutdown(ctx) }()
		s.sio.Close()
		if herr := <-done; err == nil {
			err = herr
		}
		s.warn.Close()
		s.lines.Close()
		s.trim.Stop()
	})
	return err
}

// chatterLogBurst is how many chatter lines of a kind (joined, renamed,
// left) one client address gets a minute before the rest are counted: as
// many as its connection lines.
const chatterLogBurst = engineio.ConnLogBurst

// peerOf tells the room where a connection from the client address ip
// comes from: the address, and the key of its per-address limits (its
// addressGroup for an IPv6 prefix of ipv6Bits) unless exempt says it has
// none. exempt is asked about the key, which is what the engine's
// ExemptIP is given too (Engine.ClientIP returns the key), so that the
// connection caps and the room's limits exempt the same clients.
func peerOf(ip string, ipv6Bits int, exempt func(string) bool) chat.Peer {
	peer := chat.Peer{Addr: ip}
	if key := addressGroup(ip, ipv6Bits); !exempt(key) {
		peer.Key = key
	}
	return peer
}

// securityHeaders sets the headers every response carries. The content
// security policy allows nothing but this server: no inline script, no
// foreign origin.
func securityHeaders(next http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// decodeObject decodes raw into v if raw is a JSON object.
func decodeObject(raw json.RawMessage, v any) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}
