package engineio

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero fields of Config: the values the reference server
// (Node's engine.io) uses, which clients expect (docs/PROTOCOL.md,
// "Handshake" and "Upgrade").
const (
	// DefaultPingInterval is how often a session is pinged.
	DefaultPingInterval = 25 * time.Second
	// DefaultPingTimeout is how long a ping may stay unanswered.
	DefaultPingTimeout = 20 * time.Second
	// DefaultUpgradeTimeout bounds a polling → WebSocket upgrade.
	DefaultUpgradeTimeout = 10 * time.Second
	// DefaultMaxPayload caps a POST body and a WebSocket message (the
	// reference's maxHttpBufferSize).
	DefaultMaxPayload = 1_000_000
	// DefaultSendQueue is the number of packets a session may have queued.
	DefaultSendQueue = 1024
	// DefaultWriteTimeout bounds one write to a client.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultAllowEIO3 is what chatserver serves by default: Engine.IO
	// protocol 3 (Socket.IO v2 clients) beside protocol 4. The zero Config
	// refuses protocol 3, as the reference server does unless told.
	DefaultAllowEIO3 = true
)

// Transport names, as they appear in the "transport" query parameter and
// in the handshake's "upgrades" list.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
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
	// FlushInterval lets WebSocket writes gather: after the server has
	// written what was queued for its WebSocket sessions, it waits this
	// long before writing again, so that a busy session's packets go out
	// several to a write instead of one each. A packet queued after a
	// quiet spell of at least FlushInterval is written at once, so light
	// traffic is not delayed; under load each packet waits up to
	// FlushInterval. Each write costs about as much CPU as a few dozen
	// small packets' bytes, so this trades a little latency for much less
	// CPU when every client receives many packets a second. Zero (the
	// default) writes as soon as possible. Polling is not affected.
	FlushInterval time.Duration
	// CheckOrigin decides whether a request carrying an Origin header may
	// proceed. Nil means: requests without Origin are allowed; requests with
	// Origin are allowed when it is the request's own origin (the same
	// scheme, by RequestScheme, and the same host and port as the Host
	// header, a default port written or not), or it is listed in
	// AllowedOrigins. A refused request gets HTTP 403.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins lists extra origins ("https://chat.example") accepted
	// by the default CheckOrigin, compared as NormalizeOrigin gives them
	// (letter case, a trailing slash and a default port aside). Requests from them that are not the
	// request's own origin are answered with CORS headers, as the
	// reference server does with its cors option set to these origins and
	// credentials allowed: Access-Control-Allow-Origin (the Origin as
	// sent), Vary: Origin and Access-Control-Allow-Credentials: true on
	// every response after the origin check, and a CORS preflight
	// (OPTIONS) is answered 204 with Access-Control-Allow-Methods: GET,POST
	// and Access-Control-Allow-Headers echoing the request's. No other
	// origin gets CORS headers (a custom CheckOrigin allows, but adds
	// none).
	AllowedOrigins []string
	// RequestScheme returns the scheme, "http" or "https", by which the
	// client reached the server, for the default origin check. Nil means
	// "https" when the connection is TLS, else "http". (The web package
	// sets it to believe X-Forwarded-Proto from trusted proxies.)
	RequestScheme func(r *http.Request) string
	// Transports lists the enabled transports, "polling" and/or
	// "websocket". Default both. NewServer panics on any other name.
	Transports []string
	// AllowEIO3 serves clients of Engine.IO protocol 3 (EIO=3: Socket.IO
	// v2 clients) beside those of protocol 4, on both transports; see
	// docs/PROTOCOL.md for what differs. False (the zero value, as in the
	// reference's allowEIO3) refuses them: HTTP 400, code 5
	// "Unsupported protocol version". DefaultAllowEIO3 is chatserver's
	// choice.
	AllowEIO3 bool

	// MaxSessions caps open sessions on this server; 0 means no cap. A
	// session counts from its handshake until its Handler's OnClose has
	// returned (Server.Count; Session.Done is closed just after), so the
	// application never holds more. A handshake over the cap is refused
	// before any session exists: HTTP 503 with TooManyConnectionsBody.
	// When pending sessions are tracked (see MaxPending), a handshake over
	// the cap first closes a pending session (ReasonEvicted: the oldest
	// of the client address with the most pending sessions) and takes its
	// place once it has ended; it is refused only when no session is
	// pending but handshakes still in progress (see MaxPending).
	MaxSessions int
	// MaxSessionsPerIP caps open sessions per client address (ClientIP),
	// counted and refused like MaxSessions, but never by closing another
	// session: the address's own sessions hold its places; 0 means no cap.
	// Addresses for which ExemptIP reports true are not capped.
	MaxSessionsPerIP int

	// MaxPending caps the pending sessions of the server; 0 means no cap.
	//
	// A session is pending from its handshake until the application calls
	// Session.Establish, once the client has shown it is a real one (in
	// chatserver: a successful join). Pending sessions are tracked when
	// MaxPending, MaxPendingPerIP or PendingTimeout is set; an application
	// that sets them must call Establish for every session it means to
	// keep. A handshake over a pending cap closes an older pending session
	// (ReasonEvicted) and takes its place, so that a client opening
	// sessions in a loop pushes out its own and a newcomer still gets in.
	// A handshake that finds MaxPending full closes the oldest pending
	// session of the client address with the most pending sessions
	// (exempt addresses included, each a client of its own).
	//
	// A place is held from the moment a handshake is admitted, before its
	// session exists (for a WebSocket, while the upgrade is answered), and
	// such a place has no session to close. A handshake that finds every
	// place it could take held by handshakes still in progress is refused,
	// as over MaxSessions (HTTP 503 with TooManyConnectionsBody), rather
	// than waiting for them: that takes a burst of concurrent handshakes
	// at least as large as the cap, and a client tries again.
	MaxPending int
	// MaxPendingPerIP caps the pending sessions of one client address
	// (exempt addresses are not capped); 0 means no cap. A handshake that
	// finds its address's pending sessions at the cap closes the oldest of
	// them, or is refused when all of them are handshakes still in
	// progress (see MaxPending).
	MaxPendingPerIP int
	// PendingTimeout closes a session still pending this long after its
	// handshake (ReasonPendingTimeout); 0 means never.
	PendingTimeout time.Duration

	// ClientIP returns the address a request comes from, for the per-IP
	// caps and the pending sessions' grouping. Nil means the host part of
	// r.RemoteAddr. (The web package sets it to honour X-Forwarded-For
	// from trusted proxies, and to name each IPv6 client by its network,
	// such as "2001:db8:1:2::/64".) A result that parses as an IP address
	// is compared in canonical form (an IPv4-mapped IPv6 address as IPv4);
	// any other string, including "", is a key of its own. It is called
	// once per handshake (for the caps, when MaxSessionsPerIP is set or
	// pending sessions are tracked; otherwise for the log's throttle).
	ClientIP func(r *http.Request) string
	// ExemptIP reports whether an address (as ClientIP returned it, in
	// canonical form) is exempt from the per-IP caps (MaxSessionsPerIP,
	// MaxPendingPerIP). Nil means IsLoopback: loopback addresses
	// (127.0.0.0/8, ::1) are exempt, so local load tools and a local
	// reverse proxy work.
	// Exempt sessions still count towards MaxSessions and MaxPending.
	ExemptIP func(ip string) bool

	// Logger receives a line for every session opened and closed (info:
	// "connection opened" and "connection closed" with the sid, the
	// transport, the client address, the protocol revision, and at the
	// close the reason and how long the session lasted), upgraded to
	// WebSocket (debug) and refused by the caps (warn). Nil means
	// slog.Default(). The lines about one client address (by ClientIP,
	// loopback included) are throttled: at most ConnLogBurst lines
	// opened, and as many closed, a minute, and one refusal, the others
	// counted in a summary line (see internal/throttle).
	Logger *slog.Logger
	// ClientAddr returns the client's address as the log shows it and
	// Session.ClientAddr returns it. Nil means the host part of
	// r.RemoteAddr. (The web package sets it to honour X-Forwarded-For
	// from trusted proxies.) It is called once per handshake.
	ClientAddr func(r *http.Request) string
	// Metrics, when set, is told of the sessions opened and closed and of
	// writes that timed out (see Metrics); nil means nobody is.
	Metrics Metrics
}

// ConnLogBurst is how many "connection opened" lines, and how many
// "connection closed" lines, one client address gets a minute before the
// rest are counted: more than a household or an office behind one
// address opens, with each device reconnecting now and then, under the
// per-address cap; a client opening connections in a loop costs a few
// lines a minute instead of filling the disk.
const ConnLogBurst = 100

// settings is a Config with defaults applied and transports resolved.
type settings struct {
	Config
	polling, websocket bool
	allowed            map[string]bool // AllowedOrigins, normalized (NormalizeOrigin)
	// pending: pending sessions are tracked (MaxPending, MaxPendingPerIP
	// or PendingTimeout is set).
	pending bool
	// needIP: handshakes ask ClientIP (a per-IP cap or pending tracking).
	needIP bool
	// noPoller reads every WebSocket on a goroutine of its own, as on
	// platforms without a poller (set by tests, to cover that path).
	noPoller bool
	// connGoneGrace is the constant of that name (tests shorten it).
	connGoneGrace time.Duration
}

// resolve applies the defaults to cfg.
func resolve(cfg Config) settings {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.UpgradeTimeout <= 0 {
		cfg.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.FlushInterval < 0 {
		cfg.FlushInterval = 0
	}
	if cfg.MaxSessions < 0 {
		cfg.MaxSessions = 0
	}
	if cfg.MaxSessionsPerIP < 0 {
		cfg.MaxSessionsPerIP = 0
	}
	if cfg.MaxPending < 0 {
		cfg.MaxPending = 0
	}
	if cfg.MaxPendingPerIP < 0 {
		cfg.MaxPendingPerIP = 0
	}
	if cfg.PendingTimeout < 0 {
		cfg.PendingTimeout = 0
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteHost
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ExemptIP == nil {
		cfg.ExemptIP = IsLoopback
	}
	if cfg.RequestScheme == nil {
		cfg.RequestScheme = tlsScheme
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	st := settings{Config: cfg, allowed: make(map[string]bool, len(cfg.AllowedOrigins)), connGoneGrace: connGoneGrace}
	st.pending = cfg.MaxPending > 0 || cfg.MaxPendingPerIP > 0 || cfg.PendingTimeout > 0
	st.needIP = cfg.MaxSessionsPerIP > 0 || st.pending
	if len(cfg.Transports) == 0 {
		st.polling, st.websocket = true, true
	}
	for _, t := range cfg.Transports {
		switch t {
		case TransportPolling:
			st.polling = true
		case TransportWebSocket:
			st.websocket = true
		default:
			panic(fmt.Sprintf("engineio: unknown transport %q", t))
		}
	}
	for _, o := range cfg.AllowedOrigins {
		st.allowed[NormalizeOrigin(o)] = true
	}
	return st
}

// transportEnabled reports whether name is an enabled transport.
func (st *settings) transportEnabled(name string) bool {
	switch name {
	case TransportPolling:
		return st.polling
	case TransportWebSocket:
		return st.websocket
	}
	return false
}

// originAllowed applies CheckOrigin (or the default same-origin rule) to r.
func (st *settings) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if st.CheckOrigin != nil {
		return st.CheckOrigin(r)
	}
	return st.allowed[NormalizeOrigin(origin)] || st.sameOrigin(r, origin)
}

// sameOrigin reports whether origin is r's own: the scheme the client used
// (RequestScheme) and the Host header, compared case-insensitively with a
// default port (80 for http, 443 for https) written or not.
func (st *settings) sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != strings.ToLower(st.RequestScheme(r)) {
		return false
	}
	return strings.EqualFold(withoutDefaultPort(u.Host, scheme), withoutDefaultPort(r.Host, scheme))
}

// corsOrigin returns r's Origin when the response must carry CORS headers:
// the origin is in AllowedOrigins and is not r's own (a page on the
// server's own origin needs none). It returns "" for every other request.
func (st *settings) corsOrigin(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" || !st.allowed[NormalizeOrigin(origin)] || st.sameOrigin(r, origin) {
		return ""
	}
	return origin
}

// withoutDefaultPort drops scheme's default port from host ("h:80" is "h"
// for http, "h:443" for https).
func withoutDefaultPort(host, scheme string) string {
	switch scheme {
	case "http":
		return strings.TrimSuffix(host, ":80")
	case "https":
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

// tlsScheme is the default Config.RequestScheme: "https" for a TLS
// connection, else "http".
func tlsScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// NormalizeOrigin returns the origin o in the form browsers send, in which
// origins compare: lower case, without a trailing slash or the scheme's
// default port ("HTTPS://Chat.Example:443/" is "https://chat.example").
func NormalizeOrigin(o string) string {
	o = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
	scheme, host, ok := strings.Cut(o, "://")
	if !ok {
		return o
	}
	return scheme + "://" + withoutDefaultPort(host, scheme)
}

// remoteHost is the default Config.ClientIP and ClientAddr: the host part of
// r.RemoteAddr (all of it if it has no port).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsLoopback reports whether ip is a loopback address (127.0.0.0/8, ::1,
// IPv4-mapped or not). It is the default Config.ExemptIP.
func IsLoopback(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	return err == nil && addr.Unmap().IsLoopback()
}

// canonicalIP returns ip in canonical form when it parses as an address
// (IPv4-mapped IPv6 as IPv4, IPv6 compressed and lower case), else ip
// unchanged.
func canonicalIP(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return addr.Unmap().String()
}
