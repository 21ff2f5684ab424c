package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"chatserver/storage"
)

// Transports a bench client can use.
const (
	TransportWebSocket = "websocket"
	TransportPolling   = "polling"
)

// Defaults for Config, used by the bench command's flags.
const (
	DefaultURL       = "http://127.0.0.1:8080"
	DefaultClients   = 100
	DefaultSenders   = 10
	DefaultRate      = 10.0
	DefaultDuration  = 10 * time.Second
	DefaultPayload   = 64
	DefaultTransport = TransportWebSocket
	// DefaultRamp paces connection attempts so that two thousand clients
	// arrive over ten seconds rather than as one burst; pass 0 to stampede.
	DefaultRamp = 200.0
	// DefaultConnectTimeout bounds one client's dial, handshake and
	// Socket.IO connect; it also bounds how long the run waits for join
	// confirmations that never come.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultDrain is how long the run waits after the last send for late
	// deliveries before it counts the rest as lost.
	DefaultDrain = 2 * time.Second
	// DefaultQuiet is how long the join traffic (join acks and "add
	// chatter" events) must be silent before the joins count as settled.
	DefaultQuiet = time.Second
	// DefaultPath is where Socket.IO servers listen unless told otherwise.
	DefaultPath = "/socket.io/"
)

// Limits on a Config, each with its reason.
const (
	// MaxPayload: the Engine.IO default maxPayload is 1 MB; a bigger message
	// could never be delivered.
	MaxPayload = 1 << 20
	// MaxRate: beyond 10,000 messages per second per sender the sender's
	// ticker, not the server, sets the pace; use more senders instead.
	MaxRate = 10000
	// MaxPaste: a paste longer than 10,000 lines is a file, not a paste;
	// the run would only measure the server's pacing of it.
	MaxPaste = 10000
)

// Config is one bench run. The caller owns it; Run reads it and does not keep
// it after returning. The zero value is not valid: start from
// DefaultConfig and change what you need, then Validate.
type Config struct {
	// URLs of the servers, each http:// or https://; the Socket.IO
	// endpoint is Path under a URL's own path (usually none). Client i
	// connects to URLs[i mod len(URLs)]: several servers sharing one chat
	// (nodes on one Redis) get the clients in turn, and every receiver
	// still measures the latency from the send time in the message,
	// whichever server the sender reached.
	URLs []string
	// Path of the Socket.IO endpoint, with leading and trailing slash.
	Path string
	// Room is the chat room the clients join, as chatserver serves its
	// rooms: "" or storage.DefaultRoom is the Socket.IO namespace "/" of
	// the chat contract, any other room NAME the namespace "/NAME". The
	// room must exist on the server.
	Room string
	// Clients is the number of connections; every one joins with its own
	// nickname bench-<run>-<i>.
	Clients int
	// Senders is how many of the clients send messages (the first Senders).
	Senders int
	// Rate is messages per second per sender.
	Rate float64
	// Duration of the sending phase, or of the hold when Idle.
	Duration time.Duration
	// Payload is the size in bytes of each message text (at least the
	// timestamp header, about 30 bytes).
	Payload int
	// Idle connects and joins the clients, then holds them for Duration
	// without sending (memory and join-storm measurements).
	Idle bool
	// Paste, when positive, makes the first sender paste that many lines:
	// it sends them back to back at the start of the sending phase and
	// nothing after, instead of sending at Rate (the other senders, if
	// any, send at Rate as usual). Every receiver checks that it got the
	// paste's lines whole and in order, and the result says how many did
	// and how late the last line arrived.
	Paste int
	// Transport is TransportWebSocket or TransportPolling.
	Transport string
	// Ramp is connection attempts per second; 0 starts them all at once.
	Ramp float64
	// ConnectTimeout bounds each client's dial, handshake and connect.
	ConnectTimeout time.Duration
	// Drain is how long to wait for late deliveries after the last send.
	Drain time.Duration
	// Quiet is how long join traffic must be silent to count as settled.
	Quiet time.Duration
	// ServerPIDs name the server processes (on the same Linux machine)
	// whose CPU time and resident memory the run reads from /proc and
	// reports beside the load figures: each one's, and their sum.
	ServerPIDs []int
	// AuxPIDs name other processes the servers depend on (a redis-server)
	// whose CPU time and memory the run reports apart from the servers',
	// never summed into them.
	AuxPIDs []int
	// SourceAddrs are the local IPv4 addresses the clients connect from,
	// one per connection in turn (ParseSourceAddrs reads them from a
	// list); empty lets the system choose. One source address reaches one
	// server port through at most the ephemeral port range (about 28,000
	// ports on Linux), so more clients than that need several; on Linux
	// every address of 127.0.0.0/8 is loopback.
	SourceAddrs []netip.Addr
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		URLs:           []string{DefaultURL},
		Path:           DefaultPath,
		Clients:        DefaultClients,
		Senders:        DefaultSenders,
		Rate:           DefaultRate,
		Duration:       DefaultDuration,
		Payload:        DefaultPayload,
		Transport:      DefaultTransport,
		Ramp:           DefaultRamp,
		ConnectTimeout: DefaultConnectTimeout,
		Drain:          DefaultDrain,
		Quiet:          DefaultQuiet,
	}
}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid bench configuration")

// Validate reports the first problem with c in plain words, wrapping
// ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if len(c.URLs) == 0 {
		return bad("no server url")
	}
	for _, raw := range c.URLs {
		if err := checkURL(raw, len(c.SourceAddrs) > 0); err != nil {
			return bad("%s", err)
		}
	}
	switch {
	case !strings.HasPrefix(c.Path, "/") || !strings.HasSuffix(c.Path, "/"):
		return bad("path %q must start and end with a slash", c.Path)
	case c.Clients < 1:
		return bad("clients must be at least 1, not %d", c.Clients)
	case c.Senders < 0 || c.Senders > c.Clients:
		return bad("senders must be between 0 and clients (%d), not %d", c.Clients, c.Senders)
	case !c.Idle && c.Senders > 0 && (c.Rate <= 0 || c.Rate > MaxRate):
		return bad("rate must be above 0 and at most %d messages/s per sender, not %g", MaxRate, c.Rate)
	case c.Paste < 0 || c.Paste > MaxPaste:
		return bad("paste must be between 0 (none) and %d lines, not %d", MaxPaste, c.Paste)
	case c.Paste > 0 && (c.Idle || c.Senders == 0):
		return bad("a paste needs a sender: not with idle or 0 senders")
	case c.Duration <= 0:
		return bad("duration must be positive, not %v", c.Duration)
	case c.Payload < 1 || c.Payload > MaxPayload:
		return bad("payload must be between 1 and %d bytes, not %d", MaxPayload, c.Payload)
	case c.Transport != TransportWebSocket && c.Transport != TransportPolling:
		return bad("transport must be %q or %q, not %q", TransportWebSocket, TransportPolling, c.Transport)
	case c.Ramp < 0:
		return bad("ramp must be 0 (no pacing) or positive, not %g", c.Ramp)
	case c.ConnectTimeout <= 0:
		return bad("timeout must be positive, not %v", c.ConnectTimeout)
	case c.Drain < 0:
		return bad("drain must not be negative, not %v", c.Drain)
	case c.Quiet <= 0:
		return bad("quiet must be positive, not %v", c.Quiet)
	case c.Room != "" && c.Room != storage.DefaultRoom && storage.CheckRoomName(c.Room) != nil:
		return bad("room: %s", storage.CheckRoomName(c.Room))
	case len(c.SourceAddrs) > MaxSourceAddrs:
		return bad("at most %d source addresses, not %d", MaxSourceAddrs, len(c.SourceAddrs))
	}
	seen := make(map[netip.Addr]bool, len(c.SourceAddrs))
	for _, a := range c.SourceAddrs {
		switch {
		case !a.Is4() || a.IsUnspecified():
			return bad("source address %v is not one IPv4 address", a)
		case seen[a]:
			return bad("source address %s is listed twice", a)
		}
		seen[a] = true
	}
	pids := make(map[int]string, len(c.ServerPIDs)+len(c.AuxPIDs))
	for _, l := range []struct {
		what string
		pids []int
	}{{"server", c.ServerPIDs}, {"other process", c.AuxPIDs}} {
		for _, pid := range l.pids {
			if pid <= 0 {
				return bad("%s pid must be positive, not %d", l.what, pid)
			}
			if first, dup := pids[pid]; dup {
				return bad("pid %d is listed twice (as %s and as %s)", pid, first, l.what)
			}
			pids[pid] = l.what
		}
	}
	return nil
}

// checkURL reports what is wrong with one server URL: it must be http or
// https with a host, and not IPv6 when the clients connect from IPv4
// source addresses (v4Sources).
func checkURL(raw string, v4Sources bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("url %q: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q: scheme must be http or https", raw)
	case u.Host == "":
		return fmt.Errorf("url %q has no host", raw)
	}
	if host, err := netip.ParseAddr(u.Hostname()); err == nil && v4Sources && !host.Unmap().Is4() {
		return fmt.Errorf("url %q is IPv6 but the source addresses are IPv4", raw)
	}
	return nil
}

// endpoint returns the Engine.IO URL of the server raw for transport,
// without query (http(s):// for polling, ws(s):// for WebSocket).
func (c *Config) endpoint(raw, transport string) string {
	u, _ := url.Parse(raw) // Validate checked it
	u.Path = strings.TrimSuffix(u.Path, "/") + c.Path
	u.RawQuery = ""
	u.Fragment = ""
	if transport == TransportWebSocket {
		if u.Scheme == "https" {
			u.Scheme = "wss"
		} else {
			u.Scheme = "ws"
		}
	}
	return u.String()
}

// namespace returns what the Socket.IO packets of the run's room carry
// after their type and before their ack id: nothing for the namespace
// "/", "/NAME," for the room NAME.
func (c *Config) namespace() []byte {
	if c.Room == "" || c.Room == storage.DefaultRoom {
		return nil
	}
	return []byte("/" + c.Room + ",")
}
