package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/internal/sdnotify"
	"chatserver/metrics"
	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/web"
	"chatserver/web/admin"
	"chatserver/web/socketio/engineio"
	"chatserver/web/tlscert"
)

const (
	// defaultAddr listens on every interface, so phones on the same
	// network can join.
	defaultAddr = ":8080"
	// maxHistory bounds --history: every joining client is sent that many
	// messages of up to --max-message characters, so a few megabytes at
	// most.
	maxHistory = 1000
	// shutdownTimeout bounds the graceful part of shutdown: clients are
	// told and disconnected, in-flight requests finish, then the rest is
	// cut.
	shutdownTimeout = 10 * time.Second
	// maxLANAddrs is how many of this machine's network addresses the
	// start-up message suggests when listening on every interface.
	maxLANAddrs = 3
	// defaultLogFormat and defaultLogLevel: lines a person reads, without
	// the debug ones.
	defaultLogFormat = logText
	defaultLogLevel  = "info"
)

// The values of --log-format.
const (
	logText = "text" // slog's key=value lines
	logJSON = "json" // one JSON object a line
)

// logLevels are the values of --log-level.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Defaults and bounds of the limits `serve` exposes. The chat and
// transport defaults live in the packages that use them; these are the
// ones only the command decides. The connection caps are the appliance's
// choice: in engineio.Config (MaxSessions, MaxSessionsPerIP) zero means no
// cap.
const (
	// defaultMaxConnections: a Raspberry Pi holds a few thousand idle
	// chatters; the cap keeps a flood of handshakes from exhausting
	// memory and file descriptors before that.
	defaultMaxConnections = 2000
	// defaultMaxConnectionsPerIP: a household or an office behind one NAT
	// address, each person with a tab or two, stays well under it; one
	// machine opening connections in a loop does not get far.
	defaultMaxConnectionsPerIP = 50
	// defaultMaxPending: half of defaultMaxConnections. Connections that
	// have not joined yet (a flood of handshakes that never join) hold at
	// most half the places, and the reconnect storm after a restart, every
	// chatter at once, stays under it on a small machine.
	defaultMaxPending = 1000
	// defaultMaxPendingPerIP: a household opening the page on a few
	// devices at once stays under it; one machine opening connections in a
	// loop only pushes out its own.
	defaultMaxPendingPerIP = 20
	// defaultPendingTimeout: a real client connects and joins within a
	// second or two, even on a phone network (the page connects only when
	// the person joins).
	defaultPendingTimeout = 10 * time.Second
	// minIPv6Prefix bounds --ipv6-prefix: a shorter network than a /32 (a
	// whole provider's) would put unrelated people under one cap.
	minIPv6Prefix = 32
	// minAutoSendQueue packets at least may wait for one client when
	// --send-queue is left automatic (0). A joining chatter is sent the
	// history and one "add chatter" per chatter at once, so the queue
	// must hold --history + --max-connections and some room for
	// broadcasts in flight (sendQueueSlack); the automatic size is the
	// larger of the two. A slot is a pointer to a packet shared by all
	// recipients.
	minAutoSendQueue = 4096
	// sendQueueSlack is the room left in a joining client's send queue
	// for broadcasts that arrive while the history and chatter list wait.
	sendQueueSlack = 64

	// maxMessageLimit bounds --max-message: a chat line, not a file.
	maxMessageLimit = 100_000
	// maxPayloadLimit bounds --max-payload: the server may buffer that
	// much per connection while reading a message.
	maxPayloadLimit = 64 << 20
	// payloadPerChar and payloadOverhead: one character is at most four
	// bytes of UTF-8, and the event name, ack id and JSON quoting of a
	// messages packet fit in the overhead; --max-payload must carry the
	// longest message allowed.
	payloadPerChar  = 4
	payloadOverhead = 1024
	// maxRate bounds --rate and maxBurst --burst: beyond them the token
	// bucket limits nothing.
	maxRate  = 100_000
	maxBurst = 1_000_000
	// maxPaceBacklog bounds --pace-backlog: every waiting message holds
	// its text (up to 4 bytes per --max-message character), so a backlog
	// is a few dozen messages, not a queue.
	maxPaceBacklog = 1000
	// maxIPRateFactor bounds --ip-rate-factor: beyond it the per-address
	// limits limit nothing a --max-connections-per-ip could open.
	maxIPRateFactor = 100_000
	// minTiming and maxTiming bound the ping and header timings: under
	// 100 ms a busy phone network drops healthy clients, over an hour a
	// dead client holds its resources for nothing.
	minTiming = 100 * time.Millisecond
	maxTiming = time.Hour
	// maxFlushInterval bounds --flush-interval: beyond it a chat feels
	// slow.
	maxFlushInterval = time.Second
	// maxPresenceGrace bounds --presence-grace: beyond it people gone
	// are shown present for too long.
	maxPresenceGrace = 10 * time.Minute
	// maxRecoveryWindow bounds --recovery-window: a day covers a laptop
	// closed overnight; the log keeps 1000 events a room in any case.
	maxRecoveryWindow = 24 * time.Hour
)

// serveOptions are the flags of `chatserver serve`. Each flag writes
// straight into the configuration of the package that uses it, and takes
// its default from that package: chat.Config for the room,
// web.Config for the HTTP front, whose SocketIO.Engine is the Engine.IO
// transport's engineio.Config.
type serveOptions struct {
	addr string
	db   string
	room chat.Config
	web  web.Config
	// metricsAddr is --metrics-addr: where /metrics is served instead of
	// on addr, or "" for on addr; validate sets web.SeparateMetrics.
	metricsAddr string
	// trustedProxies is --trusted-proxies as given; validate parses it
	// into web.TrustedProxies.
	trustedProxies []string
	// publicURL is --public-url as given; validate parses it into
	// web.PublicURL.
	publicURL string
	// logFormat and logLevel are --log-format and --log-level as given;
	// validate checks both and parses the level into level.
	logFormat, logLevel string
	level               slog.Level
	// tlsCert and tlsKey are --tls-cert and --tls-key as given; validate
	// loads them into cert and web.TLS.
	tlsCert, tlsKey string
	cert            *tlscert.Pair
	// redis is --redis and --redis-prefix: with a URL, Redis is the store
	// of record instead of the file at db, beside which the admin socket
	// still listens; redisWhere is its host:port, set by validate.
	redis      redisOptions
	redisWhere string
	// node is --node, this server's name among those sharing the Redis;
	// validate fills in the default.
	node string
}

// addFlags defines the flags of serve on fs, every one with its
// environment variable. A new flag is one line here and one row in the
// README's configuration table.
func (o *serveOptions) addFlags(fs *pflag.FlagSet) {
	room, eng := &o.room, &o.web.SocketIO.Engine
	fs.StringVar(&o.addr, "addr", defaultAddr, "address to listen on, host:port")
	fs.StringVar(&o.db, "db", defaultDB, "database file, created if missing")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "",
		"serve /metrics on this host:port instead of on --addr, e.g. 127.0.0.1:9100 to keep it private")
	fs.IntVar(&room.History, "history", storage.DefaultHistory, "messages kept per room and replayed to each chatter joining it")
	fs.StringSliceVar(&eng.AllowedOrigins, "allowed-origins", nil,
		"other origins whose pages may connect, comma-separated, e.g. https://chat.example.org")
	fs.StringVar(&o.publicURL, "public-url", "",
		"the address people open, e.g. https://chat.example.org: its host name is served and its origin may connect")
	fs.StringSliceVar(&o.web.AllowedHosts, "allowed-hosts", nil,
		"more host names the server answers to, comma-separated (IP addresses, localhost and this machine's names always work)")

	fs.IntVar(&room.MaxMessageLen, "max-message", chat.DefaultMaxMessageLen, "longest message, in characters after trimming")
	fs.Float64Var(&room.Rate, "rate", chat.DefaultRate, "messages per second one connection, or one nickname, may send on average")
	fs.IntVar(&room.Burst, "burst", chat.DefaultBurst, "messages one connection, or one nickname, may send at once before --rate applies")
	fs.IntVar(&room.AddressFactor, "ip-rate-factor", chat.DefaultAddressFactor,
		"the connections of one client address (loopback exempt) share the message and join allowance of this many connections")
	fs.IntVar(&room.PaceBacklog, "pace-backlog", chat.DefaultPaceBacklog,
		"messages over the rate limits one connection may have waiting their turn (sent at --rate, in order; at most 10 s of them) "+
			"before more are refused (rate_limited); 0 refuses every message over the limits at once")
	fs.IntVar(&room.FloodLimit, "flood-limit", chat.DefaultFloodLimit,
		"refused (rate_limited) messages, or joins, in a row after which the connection is closed")
	fs.DurationVar(&room.PresenceGrace, "presence-grace", chat.DefaultPresenceGrace,
		"how long a chatter whose connection dropped stays listed, so that a quick reconnect goes unseen (0: announce at once)")
	fs.DurationVar(&room.RecoveryWindow, "recovery-window", chat.DefaultRecoveryWindow,
		"how long a client whose connection dropped may come back and get what it missed, also across a restart (0: off)")
	fs.IntVar(&eng.SendQueue, "send-queue", 0,
		"packets that may wait for one client; a client that stops reading is disconnected when it is full "+
			"(0: automatic, the larger of 4096 and --history + --max-connections + 64)")
	fs.IntVar(&eng.MaxPayload, "max-payload", engineio.DefaultMaxPayload, "largest WebSocket message or polling request body, in bytes")
	fs.DurationVar(&eng.PingInterval, "ping-interval", engineio.DefaultPingInterval, "how often each client is pinged")
	fs.DurationVar(&eng.PingTimeout, "ping-timeout", engineio.DefaultPingTimeout,
		"how long a ping may go unanswered before the client is dropped")
	fs.IntVar(&eng.MaxSessions, "max-connections", defaultMaxConnections, "connections open at once; 0 for no cap")
	fs.IntVar(&eng.MaxSessionsPerIP, "max-connections-per-ip", defaultMaxConnectionsPerIP,
		"connections open at once from one client address (loopback exempt); 0 for no cap")
	fs.IntVar(&eng.MaxPending, "max-pending", defaultMaxPending,
		"connections that have not joined yet, open at once; when full, a new one closes the oldest of the address with the most; 0 for no cap")
	fs.IntVar(&eng.MaxPendingPerIP, "max-pending-per-ip", defaultMaxPendingPerIP,
		"connections that have not joined yet from one client address (loopback exempt); a new one closes its oldest; 0 for no cap")
	fs.DurationVar(&eng.PendingTimeout, "pending-timeout", defaultPendingTimeout,
		"how long a connection may stay open without joining; 0 for no limit")
	fs.IntVar(&o.web.IPv6Prefix, "ipv6-prefix", web.DefaultIPv6Prefix,
		"IPv6 clients in one network of this prefix length count as one client address for the per-address caps")
	fs.StringSliceVar(&o.trustedProxies, "trusted-proxies", nil,
		"reverse proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For names the client and X-Forwarded-Proto its scheme")
	fs.DurationVar(&o.web.ReadHeaderTimeout, "read-header-timeout", web.DefaultReadHeaderTimeout,
		"time a client has to send a request's headers (stops slowloris)")
	fs.DurationVar(&eng.FlushInterval, "flush-interval", 0,
		"under load, gather each WebSocket client's packets for up to this long into one write (less CPU, more latency); 0 writes each at once")
	fs.BoolVar(&eng.AllowEIO3, "allow-eio3", engineio.DefaultAllowEIO3,
		"also serve Socket.IO v2 clients (Engine.IO protocol 3, EIO=3); false refuses them")
	fs.StringVar(&o.logFormat, "log-format", defaultLogFormat,
		"format of the log on standard error: text (key=value pairs) or json (one object a line)")
	fs.StringVar(&o.logLevel, "log-level", defaultLogLevel,
		"least severe log lines written: debug, info, warn or error (warn leaves out the lines for each connection and chatter)")
	fs.BoolVar(&room.LogMessages, "log-messages", false,
		"log the text of every stored message with its nickname (off, the log carries no message text)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate file (with any intermediates after it): serve HTTPS and WSS on --addr; needs --tls-key; SIGHUP reloads both")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	o.redis.addFlags(fs)
	fs.StringVar(&o.node, "node", "",
		"with --redis, this server's name among those sharing the Redis, 1 to 64 of A-Z a-z 0-9 . _ - (default: the host name, -, the port of --addr)")
	withEnv(fs)
}

func (o *serveOptions) validate() error {
	if _, port, err := net.SplitHostPort(o.addr); err != nil || port == "" {
		return fmt.Errorf("--addr must be host:port such as :8080 or 127.0.0.1:8080, got %q", o.addr)
	}
	if o.db == "" {
		return errors.New("--db must name a file")
	}
	if err := o.validateMetricsAddr(); err != nil {
		return err
	}
	if h := o.room.History; h < 1 || h > maxHistory {
		return fmt.Errorf("--history must be between 1 and %d, got %d", maxHistory, h)
	}
	for _, origin := range o.web.SocketIO.Engine.AllowedOrigins {
		if _, ok := parseOrigin(origin); !ok {
			return fmt.Errorf("--allowed-origins entries must look like https://chat.example.org, got %q", origin)
		}
	}
	o.web.PublicURL = nil
	if o.publicURL != "" {
		u, ok := parseOrigin(o.publicURL)
		if !ok {
			return fmt.Errorf("--public-url must be a scheme and a host such as https://chat.example.org, got %q", o.publicURL)
		}
		o.web.PublicURL = u
	}
	for _, host := range o.web.AllowedHosts {
		if !hostName.MatchString(host) {
			return fmt.Errorf("--allowed-hosts entries must be host names such as chat.example.org, got %q", host)
		}
	}
	if err := o.validateLimits(); err != nil {
		return err
	}
	proxies, err := web.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		var bad *web.BadProxyError
		if errors.As(err, &bad) {
			return fmt.Errorf("--trusted-proxies entries must be addresses such as 10.0.0.1 or networks such as 10.0.0.0/8, got %q", bad.Entry)
		}
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	o.web.TrustedProxies = proxies
	if o.logFormat != logText && o.logFormat != logJSON {
		return fmt.Errorf("--log-format must be text or json, got %q", o.logFormat)
	}
	level, ok := logLevels[o.logLevel]
	if !ok {
		return fmt.Errorf("--log-level must be debug, info, warn or error, got %q", o.logLevel)
	}
	o.level = level
	if err := o.validateRedis(); err != nil {
		return err
	}
	return o.validateTLS()
}

// validateRedis checks --redis, --redis-prefix and --node, and fills in
// the default node name.
func (o *serveOptions) validateRedis() error {
	where, err := o.redis.validate()
	if err != nil {
		return err
	}
	o.redisWhere = where
	if o.node == "" {
		o.node = defaultNode(o.addr)
	} else if !validName(o.node, maxNodeName, "._-") {
		return fmt.Errorf("--node must be 1 to %d characters of letters, digits and \"._-\", got %q", maxNodeName, o.node)
	}
	return nil
}

// newLogger returns the logger of --log-format and --log-level, writing
// to w.
func (o *serveOptions) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: o.level}
	if o.logFormat == logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// validateMetricsAddr checks --metrics-addr and sets web.SeparateMetrics.
func (o *serveOptions) validateMetricsAddr() error {
	o.web.SeparateMetrics = o.metricsAddr != ""
	if o.metricsAddr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(o.metricsAddr)
	if err != nil || port == "" {
		return fmt.Errorf("--metrics-addr must be host:port such as 127.0.0.1:9100, got %q", o.metricsAddr)
	}
	if o.metricsAddr == o.addr && port != "0" {
		return fmt.Errorf("--metrics-addr must differ from --addr (leave it unset to serve /metrics on --addr), got %q for both", o.addr)
	}
	return nil
}

// validateLimits checks the chat and transport limits, each against its
// bounds and against the others it must fit.
func (o *serveOptions) validateLimits() error {
	room, eng := &o.room, &o.web.SocketIO.Engine
	intRange := func(flag string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("--%s must be between %d and %d, got %d", flag, lo, hi, v)
		}
		return nil
	}
	durationRange := func(flag string, d, lo, hi time.Duration) error {
		if d < lo || d > hi {
			return fmt.Errorf("--%s must be between %s and %s, got %s", flag, lo, hi, d)
		}
		return nil
	}
	timing := func(flag string, d time.Duration) error {
		if d < minTiming || d > maxTiming {
			return fmt.Errorf("--%s must be between %s and %s, got %s", flag, minTiming, maxTiming, d)
		}
		return nil
	}
	checks := []error{
		intRange("max-message", room.MaxMessageLen, 1, maxMessageLimit),
		intRange("burst", room.Burst, 1, maxBurst),
		intRange("flood-limit", room.FloodLimit, 1, maxBurst),
		durationRange("presence-grace", room.PresenceGrace, 0, maxPresenceGrace),
		durationRange("recovery-window", room.RecoveryWindow, 0, maxRecoveryWindow),
		intRange("pace-backlog", room.PaceBacklog, 0, maxPaceBacklog),
		intRange("ip-rate-factor", room.AddressFactor, 1, maxIPRateFactor),
		intRange("max-payload", eng.MaxPayload, 1, maxPayloadLimit),
		intRange("max-connections", eng.MaxSessions, 0, math.MaxInt32),
		intRange("max-connections-per-ip", eng.MaxSessionsPerIP, 0, math.MaxInt32),
		intRange("max-pending", eng.MaxPending, 0, math.MaxInt32),
		intRange("max-pending-per-ip", eng.MaxPendingPerIP, 0, math.MaxInt32),
		intRange("ipv6-prefix", o.web.IPv6Prefix, minIPv6Prefix, 128),
		intRange("send-queue", eng.SendQueue, 0, math.MaxInt32),
		timing("ping-interval", eng.PingInterval),
		timing("ping-timeout", eng.PingTimeout),
		timing("read-header-timeout", o.web.ReadHeaderTimeout),
	}
	if d := eng.FlushInterval; d < 0 || d > maxFlushInterval {
		checks = append(checks, fmt.Errorf("--flush-interval must be between 0 and %s, got %s", maxFlushInterval, d))
	}
	if d := eng.PendingTimeout; d != 0 && (d < minTiming || d > maxTiming) {
		checks = append(checks, fmt.Errorf("--pending-timeout must be 0 (no limit) or between %s and %s, got %s", minTiming, maxTiming, d))
	}
	if err := firstError(checks); err != nil {
		return err
	}
	if !(room.Rate > 0 && room.Rate <= maxRate) { // also refuses NaN
		return fmt.Errorf("--rate must be more than 0 and at most %d messages a second, got %v", maxRate, room.Rate)
	}
	if room.PaceBacklog == 0 {
		room.PaceBacklog = chat.NoPacing
	}
	if need := room.MaxMessageLen*payloadPerChar + payloadOverhead; eng.MaxPayload < need {
		return fmt.Errorf("--max-payload must be at least %d bytes to carry a message of --max-message %d characters, got %d",
			need, room.MaxMessageLen, eng.MaxPayload)
	}
	if eng.SendQueue == 0 {
		eng.SendQueue = max(minAutoSendQueue, room.History+eng.MaxSessions+sendQueueSlack)
	}
	if eng.MaxSessions > 0 {
		if need := room.History + eng.MaxSessions + sendQueueSlack; eng.SendQueue < need {
			return fmt.Errorf("--send-queue must be at least --history + --max-connections + %d = %d, got %d "+
				"(a joining chatter is sent the history and the whole chatter list at once)", sendQueueSlack, need, eng.SendQueue)
		}
	} else if need := room.History + sendQueueSlack; eng.SendQueue < need {
		return fmt.Errorf("--send-queue must be at least --history + %d = %d, got %d", sendQueueSlack, need, eng.SendQueue)
	}
	if need := chat.DefaultRecoveryEvents + sendQueueSlack; room.RecoveryWindow > 0 && eng.SendQueue < need {
		return fmt.Errorf("--send-queue must be at least %d with --recovery-window on, got %d "+
			"(a recovering client may be sent a room's %d newest events at once)", need, eng.SendQueue, chat.DefaultRecoveryEvents)
	}
	return nil
}

// hostName matches what --allowed-hosts takes: a DNS name of letters,
// digits, hyphens and dots (no port, no wildcard, no scheme).
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// parseOrigin parses an origin as --allowed-origins and --public-url take
// it: http or https, a host, nothing after it but an optional "/".
func parseOrigin(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, false
	}
	return u, true
}

// firstError returns the first non-nil error of errs.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	var conf configOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the chat server",
		Long: `Serve the chat page and the Socket.IO endpoint until SIGINT (Ctrl-C) or SIGTERM.

The database file keeps the rooms ("chatserver room"), the newest --history
messages of each and the bans; it is created if missing and locked while the
server runs, so a second server on the same file fails at once. Beside it,
FILE.sock is the admin socket (mode 0600) that "chatserver history", "kick",
"room" and "backup" use while the server runs.

Every limit has a default fit for a few hundred people on a small machine, and
holds for a person across the rooms: message length, a rate limit per connection and per nickname (a token
bucket: --rate messages a second, bursts of --burst) and per client address
(--ip-rate-factor times that, shared by its connections) where a message over
the limit waits its turn (up to --pace-backlog of them) before any is refused,
limits on joins and renames, --flood-limit refusals in a row close the
connection, the send queue of a client that stops reading, transport payload,
heartbeat, connections overall and per client address (loopback is exempt from
the per-address limits; put a reverse proxy's address in --trusted-proxies to
count by X-Forwarded-For; IPv6 clients count by --ipv6-prefix network), and
connections that have not joined yet (--max-pending, --max-pending-per-ip: a
new one pushes out the oldest instead of being refused, unless all are still
being opened; --pending-timeout closes them).

Only requests for an IP address, localhost, this machine's names, the host of
--public-url or one of --allowed-hosts are served (others get HTTP 421), so a
foreign name pointed at this machine cannot be used to reach it from a browser.

The address to open is printed on standard output; the log goes to standard
error, slog text or --log-format json, from --log-level on: a line for each
connection opened and closed and each chatter joining and leaving (info),
warnings about clients throttled per address. Message text is logged only
with --log-messages.

With --tls-cert and --tls-key the server speaks HTTPS and WebSocket over TLS
itself, on --addr. SIGHUP reads both files again, so a renewed certificate is
served without a restart; a pair that cannot be used is logged and the one in
use kept. (Browsers offer notifications and installing the page only over
HTTPS or on localhost.)

Every flag can also be set by its environment variable, and in a TOML file
given by --config (or CHATSERVER_CONFIG) whose keys are the flag names:
max-message = 2000, allowed-hosts = ["chat.lan"], ping-interval = "25s". A flag
on the command line wins over its variable, which wins over the file. --check
checks the settings, the database and the address, prints the effective
settings with where each came from, and exits: 0 when serve would start, 1
when the database, the admin socket or the address is not usable now, and as
serve does at a mistake in the settings (2 in the file).

With --redis URL (or CHATSERVER_REDIS) the store of record is that Redis
instead of the file, shared by every server (node) started with it, each named
by --node; the admin socket still sits beside --db. A bad URL or a password
Redis refuses ends serve at once (exit status 1). A Redis that cannot be
reached does not: serve listens at once, answering 503 on /readyz and every
page (200 on /livez and /healthz), logs "waiting for Redis at HOST:PORT" and
tries again after 1 s, 2 s, 4 s and so on, every 30 s at most, until Redis
answers or SIGINT/SIGTERM arrives. With --check it connects to Redis and
reports what the prefix holds, writing nothing.

On shutdown every client is disconnected and the file is closed last; the exit
status is 0.`,
		Example: `  chatserver serve
  chatserver serve --addr 127.0.0.1:9000 --db /var/lib/chatserver/chat.db --history 50
  CHATSERVER_ADDR=:80 CHATSERVER_DB=/srv/chat.db chatserver serve
  chatserver serve --allowed-origins https://chat.example.org,https://example.org
  chatserver serve --public-url https://chat.example.org --trusted-proxies 127.0.0.1,::1
  chatserver serve --trusted-proxies 127.0.0.1,10.0.0.0/8 --max-connections-per-ip 20
  chatserver serve --rate 2 --burst 5 --max-message 500
  chatserver serve --log-format json --log-level warn
  chatserver serve --config /etc/chatserver/chatserver.toml
  chatserver serve --config /etc/chatserver/chatserver.toml --check
  chatserver serve --addr :8443 --tls-cert /etc/chatserver/cert.pem --tls-key /etc/chatserver/key.pem
  chatserver serve --redis redis://:secret@10.0.0.5:6379/0 --node web-1
  CHATSERVER_REDIS=rediss://:secret@redis.example.org:6380/0 chatserver serve --redis-prefix chat-staging:`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			define := func(fs *pflag.FlagSet) { new(serveOptions).addFlags(fs) }
			r, err := conf.resolve(cmd.Flags(), define, o.validate)
			if err != nil {
				return err
			}
			if conf.check {
				return o.check(cmd.OutOrStdout(), r)
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd.Flags())
	conf.addFlags(cmd.Flags())
	return cmd
}

// run serves until ctx ends or SIGINT/SIGTERM arrives, then shuts down in
// order: the web server (disconnecting every client), the admin socket,
// the room, and the database file last. The start-up message for people
// goes to out; the log, from the line saying the server started to the
// one saying it stopped, to errOut. A failure before the server started
// is returned alone, as every command's.
func (o *serveOptions) run(ctx context.Context, out, errOut io.Writer) error {
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	logger := o.newLogger(errOut)
	defer routeStandardLog(logger)()

	// Until the server runs, undo what was set up on the way out.
	var undo []func()
	fail := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}

	// With the file, it is opened first: a server already running on it
	// is the likeliest mistake, and says so before anything listens.
	var file *bolt.Store
	if o.redis.url == "" {
		var err error
		if file, err = openForServe(o.db, o.room.History, logger); err != nil {
			return err
		}
		undo = append(undo, func() { file.Close() })
	}

	// The server's metrics, fed by the room and the transport.
	reg := metrics.New()
	o.room.Metrics, o.web.Metrics = reg, reg

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fail(listenError(o.addr, err))
	}
	lnUndo := len(undo)
	undo = append(undo, func() { ln.Close() })

	var metricsLn net.Listener
	if o.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", o.metricsAddr); err != nil {
			return fail(listenErrorFor("metrics-addr", "127.0.0.1:9100", o.metricsAddr, err))
		}
		undo = append(undo, func() { metricsLn.Close() })
	}

	scheme := "http"
	if o.cert != nil {
		scheme = "https"
	}
	// store is the store of record: the file, or Redis once it answers.
	var store interface {
		chat.Store
		Close() error
	}
	var backups admin.Store // nil: Redis has no file to copy
	var ready func() error
	where := o.db // what the log and the start-up line name as the store
	if abs, err := filepath.Abs(o.db); err == nil {
		where = abs
	}
	chatLn := ln
	if file != nil {
		store, backups = file, file
		ready = func() error { return storeReady(file) }
	} else {
		// The port answers from now on: 503 while Redis is away, then
		// the chat, handed the same listener.
		h := newHandoff(ln)
		undo[lnUndo] = func() { h.Close() }
		stopWaiting := serveWaiting(h.view(false), o.web.TLS, logger)
		rs, err := o.connectRedis(ctx, logger, func() {
			fmt.Fprintf(out, "chatserver: waiting for Redis at %s; %s answers 503 until then\n", o.redisWhere, displayURL(ln.Addr(), scheme))
		})
		stopWaiting()
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			fail(nil)
			logger.Info("chatserver stopped before Redis answered")
			return nil
		}
		if err != nil {
			return fail(err)
		}
		undo = append(undo, func() { rs.Close() })
		// Before the rooms open: the node's presence left by an earlier
		// run under its name is cleared, and its heartbeat starts.
		if err := rs.StartNode(ctx); err != nil {
			return fail(fmt.Errorf("start node %s on Redis at %s: %w", o.node, o.redisWhere, err))
		}
		store = rs
		ready = func() error { return redisReady(rs.Ping) }
		where = "Redis at " + o.redisWhere
		chatLn = h.view(true)
	}

	roomCfg := o.room
	roomCfg.Logger = logger
	hub, err := chat.NewHub(ctx, store, roomCfg)
	if err != nil {
		if file != nil {
			err = openError(o.db, err)
		}
		return fail(fmt.Errorf("start the rooms: %w", err))
	}
	undo = append(undo, hub.Close)

	sock := admin.SocketPath(o.db)
	adm, err := admin.Listen(sock, admin.NewHandler(hub, backups, logger), logger)
	if errors.Is(err, admin.ErrPathTooLong) {
		return fail(plainf(err, "the admin socket path %s is too long for a Unix socket (%d bytes, at most %d); keep the database in a shorter path",
			sock, len(sock), admin.MaxPathLen))
	}
	if err != nil {
		return fail(fmt.Errorf("start the admin socket: %w", err))
	}
	undo = append(undo, func() { adm.Close() })

	webCfg := o.web
	webCfg.Logger = logger
	webCfg.Ready = ready
	srv := web.New(hub, webCfg)
	// Before the first request is served: the first line of the log.
	if file != nil {
		logger.Info("chatserver started", "version", currentBuild().String(), "addr", ln.Addr().String(), "db", where)
	} else {
		logger.Info("chatserver started", "version", currentBuild().String(), "addr", ln.Addr().String(),
			"redis", o.redisWhere, "node", o.node, "admin_socket", sock)
	}
	if o.cert != nil {
		logCert(logger, "serving the TLS certificate", o.tlsCert, o.cert.Leaf(), time.Now())
	}
	stopReload := reloadOnHangup(o.cert, o.tlsCert, logger)
	defer stopReload()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(chatLn) }()
	var metricsServed chan error // nil, never ready, without --metrics-addr
	if metricsLn != nil {
		metricsServed = make(chan error, 1)
		go func() { metricsServed <- srv.ServeMetrics(metricsLn) }()
	}

	if file != nil {
		fmt.Fprintf(out, "chatserver: listening on %s (database %s)\n", displayURL(ln.Addr(), scheme), where)
	} else {
		fmt.Fprintf(out, "chatserver: listening on %s (Redis at %s, node %s)\n", displayURL(ln.Addr(), scheme), o.redisWhere, o.node)
	}
	for _, u := range lanURLs(ln.Addr(), scheme) {
		fmt.Fprintf(out, "chatserver: on this network: %s\n", u)
	}
	if file != nil {
		logExposed(logger, o.db)
	}
	if metricsLn != nil {
		fmt.Fprintf(out, "chatserver: metrics on %s/metrics\n", displayURL(metricsLn.Addr(), "http"))
	}
	notify(logger, sdnotify.Ready, sdnotify.Status("listening on "+displayURL(ln.Addr(), scheme)))

	var runErr error
	select {
	case <-ctx.Done():
		// A second Ctrl-C now stops the process the hard way.
		stopSignals()
		logger.Info("shutting down")
	case runErr = <-served:
		served = nil
		if runErr == nil {
			runErr = errors.New("the web server stopped unexpectedly")
		}
	case runErr = <-metricsServed:
		metricsServed = nil
		if runErr == nil {
			runErr = errors.New("the metrics server stopped unexpectedly")
		}
	}

	notify(logger, sdnotify.Stopping, sdnotify.Status("shutting down"))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Error("shutdown: the web server did not stop in time", "err", err)
	}
	if served != nil {
		if err := <-served; err != nil && runErr == nil {
			runErr = err
		}
	}
	if metricsServed != nil {
		if err := <-metricsServed; err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := adm.Close(); err != nil {
		logger.Error("shutdown: closing the admin socket failed", "err", err)
	}
	hub.Close()
	if err := store.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close database: %w", err)
		if file == nil {
			runErr = fmt.Errorf("close the Redis connections: %w", err)
		}
	}
	if chatLn != ln {
		chatLn.Close() // the handoff, in case the web server never took it
	}
	if runErr != nil {
		// Also in the log, for whoever reads only that; the command
		// reports it as ever.
		logger.Error("chatserver stopped", "err", runErr)
		return runErr
	}
	logger.Info("chatserver stopped")
	return nil
}

// notify tells the service manager (systemd, Type=notify) the state in
// lines; a failure is logged and changes nothing else.
func notify(logger *slog.Logger, lines ...string) {
	if _, err := sdnotify.Notify(lines...); err != nil {
		logger.Warn("telling systemd failed", "err", err)
	}
}

// errDatabaseGone is what /readyz tells anyone while the database file is
// deleted or replaced; the log names the file.
var errDatabaseGone = errors.New("the database file was deleted or replaced")

// errDatabaseUnreadable is what /readyz tells anyone while the database
// does not answer a read.
var errDatabaseUnreadable = errors.New("the database does not answer")

// readyStore is what the readiness check asks of the store.
type readyStore interface {
	// Check reports whether the file is still in place.
	Check() error
	// Ping reports whether the store answers a read.
	Ping() error
}

// storeReady is the readiness of the server's store: nil while the file
// is in place and answers a read (a bbolt read transaction), otherwise
// what /readyz says.
func storeReady(store readyStore) error {
	if store.Check() != nil {
		return errDatabaseGone
	}
	if store.Ping() != nil {
		return errDatabaseUnreadable
	}
	return nil
}

// listenError explains a failed TCP listen on --addr.
func listenError(addr string, err error) error { return listenErrorFor("addr", ":8080", addr, err) }

// listenErrorFor explains a failed TCP listen on addr, given by --flag,
// for which example is an address that needs no privileges.
func listenErrorFor(flag, example, addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return plainf(err, "cannot listen on %s: the port is already in use (is another chatserver or program using it? choose another with --%s)", addr, flag)
	case errors.Is(err, syscall.EACCES):
		return plainf(err, "cannot listen on %s: permission denied (ports below 1024 need privileges; try --%s %s)", addr, flag, example)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return plainf(err, "cannot listen on %s: %v", addr, op.Err)
	}
	return plainf(err, "cannot listen on %s: %v", addr, err)
}

// displayURL is the address to open in a browser on this machine, with
// scheme http or https.
func displayURL(a net.Addr, scheme string) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return scheme + "://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// lanURLs suggests addresses for other devices when the server listens on
// every interface: this machine's non-loopback IPv4 addresses, with
// scheme http or https.
func lanURLs(a net.Addr, scheme string) []string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || (tcp.IP != nil && !tcp.IP.IsUnspecified()) {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var urls []string
	for _, ia := range addrs {
		ipnet, ok := ia.(*net.IPNet)
		if !ok || ipnet.IP.To4() == nil || ipnet.IP.IsLoopback() || !ipnet.IP.IsGlobalUnicast() {
			continue
		}
		urls = append(urls, scheme+"://"+net.JoinHostPort(ipnet.IP.String(), strconv.Itoa(tcp.Port)))
		if len(urls) == maxLANAddrs {
			break
		}
	}
	return urls
}
