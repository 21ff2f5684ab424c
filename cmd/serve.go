package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/storage"
	"chatserver/web"
	"chatserver/web/admin"
	"chatserver/web/socketio/engineio"
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
)

// Defaults and bounds of the limits `serve` exposes. The chat and
// transport defaults live in their packages; these are the ones only the
// command decides.
const (
	// defaultMaxConnections: a Raspberry Pi holds a few thousand idle
	// chatters; the cap keeps a flood of handshakes from exhausting
	// memory and file descriptors before that.
	defaultMaxConnections = 2000
	// defaultMaxConnectionsPerIP: a household or an office behind one NAT
	// address, each person with a tab or two, stays well under it; one
	// machine opening connections in a loop does not get far.
	defaultMaxConnectionsPerIP = 50
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
	// minTiming and maxTiming bound the ping and header timings: under
	// 100 ms a busy phone network drops healthy clients, over an hour a
	// dead client holds its resources for nothing.
	minTiming = 100 * time.Millisecond
	maxTiming = time.Hour
	// defaultFlushInterval: see --flush-interval and docs/PERFORMANCE.md.
	defaultFlushInterval = 0
	// maxFlushInterval bounds --flush-interval: beyond it a chat feels
	// slow.
	maxFlushInterval = time.Second
)

// serveOptions are the flags of `chatserver serve`.
type serveOptions struct {
	addr           string
	db             string
	history        int
	allowedOrigins []string

	maxMessage        int
	rate              float64
	burst             int
	floodLimit        int
	sendQueue         int
	maxPayload        int
	pingInterval      time.Duration
	pingTimeout       time.Duration
	maxConns          int
	maxConnsPerIP     int
	trustedProxies    []string
	readHeaderTimeout time.Duration
	flushInterval     time.Duration

	// proxies is trustedProxies parsed by validate.
	proxies []netip.Prefix
}

func (o *serveOptions) addFlags(fs *pflag.FlagSet) {
	env := func(usage, name string) string { return usage + " (env " + serveEnv[name] + ")" }
	fs.StringVar(&o.addr, "addr", defaultAddr, env("address to listen on, host:port", "addr"))
	fs.StringVar(&o.db, "db", defaultDB, env("database file, created if missing", "db"))
	fs.IntVar(&o.history, "history", storage.DefaultHistory, env("messages kept and replayed to each joining chatter", "history"))
	fs.StringSliceVar(&o.allowedOrigins, "allowed-origins", nil,
		env("other origins whose pages may connect, comma-separated, e.g. https://chat.example.org", "allowed-origins"))

	fs.IntVar(&o.maxMessage, "max-message", chat.DefaultMaxMessageLen, env("longest message, in characters after trimming", "max-message"))
	fs.Float64Var(&o.rate, "rate", chat.DefaultRate, env("messages per second one connection may send, on average", "rate"))
	fs.IntVar(&o.burst, "burst", chat.DefaultBurst, env("messages one connection may send at once before --rate applies", "burst"))
	fs.IntVar(&o.floodLimit, "flood-limit", chat.DefaultFloodLimit,
		env("refused (rate_limited) messages in a row after which the connection is closed", "flood-limit"))
	fs.IntVar(&o.sendQueue, "send-queue", 0,
		env("packets that may wait for one client; a client that stops reading is disconnected when it is full "+
			"(0: automatic, the larger of 4096 and --history + --max-connections + 64)", "send-queue"))
	fs.IntVar(&o.maxPayload, "max-payload", engineio.DefaultMaxPayload,
		env("largest WebSocket message or polling request body, in bytes", "max-payload"))
	fs.DurationVar(&o.pingInterval, "ping-interval", engineio.DefaultPingInterval, env("how often each client is pinged", "ping-interval"))
	fs.DurationVar(&o.pingTimeout, "ping-timeout", engineio.DefaultPingTimeout,
		env("how long a ping may go unanswered before the client is dropped", "ping-timeout"))
	fs.IntVar(&o.maxConns, "max-connections", defaultMaxConnections, env("connections open at once; 0 for no cap", "max-connections"))
	fs.IntVar(&o.maxConnsPerIP, "max-connections-per-ip", defaultMaxConnectionsPerIP,
		env("connections open at once from one client address (loopback exempt); 0 for no cap", "max-connections-per-ip"))
	fs.StringSliceVar(&o.trustedProxies, "trusted-proxies", nil,
		env("reverse proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For names the client", "trusted-proxies"))
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", web.DefaultReadHeaderTimeout,
		env("time a client has to send a request's headers (stops slowloris)", "read-header-timeout"))
	fs.DurationVar(&o.flushInterval, "flush-interval", defaultFlushInterval,
		env("under load, gather each WebSocket client's packets for up to this long into one write (less CPU, more latency); 0 writes each at once", "flush-interval"))
}

// serveEnv maps each flag of serve to its environment variable.
var serveEnv = map[string]string{
	"addr":                   envAddr,
	"db":                     envDB,
	"history":                envHistory,
	"allowed-origins":        envAllowedOrigins,
	"max-message":            "CHATSERVER_MAX_MESSAGE",
	"rate":                   "CHATSERVER_RATE",
	"burst":                  "CHATSERVER_BURST",
	"flood-limit":            "CHATSERVER_FLOOD_LIMIT",
	"send-queue":             "CHATSERVER_SEND_QUEUE",
	"max-payload":            "CHATSERVER_MAX_PAYLOAD",
	"ping-interval":          "CHATSERVER_PING_INTERVAL",
	"ping-timeout":           "CHATSERVER_PING_TIMEOUT",
	"max-connections":        "CHATSERVER_MAX_CONNECTIONS",
	"max-connections-per-ip": "CHATSERVER_MAX_CONNECTIONS_PER_IP",
	"trusted-proxies":        "CHATSERVER_TRUSTED_PROXIES",
	"read-header-timeout":    "CHATSERVER_READ_HEADER_TIMEOUT",
	"flush-interval":         "CHATSERVER_FLUSH_INTERVAL",
}

func (o *serveOptions) validate() error {
	if _, port, err := net.SplitHostPort(o.addr); err != nil || port == "" {
		return fmt.Errorf("--addr must be host:port such as :8080 or 127.0.0.1:8080, got %q", o.addr)
	}
	if o.db == "" {
		return errors.New("--db must name a file")
	}
	if o.history < 1 || o.history > maxHistory {
		return fmt.Errorf("--history must be between 1 and %d, got %d", maxHistory, o.history)
	}
	for _, origin := range o.allowedOrigins {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("--allowed-origins entries must look like https://chat.example.org, got %q", origin)
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
	o.proxies = proxies
	return nil
}

// validateLimits checks the chat and transport limits, each against its
// bounds and against the others it must fit.
func (o *serveOptions) validateLimits() error {
	intRange := func(flag string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("--%s must be between %d and %d, got %d", flag, lo, hi, v)
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
		intRange("max-message", o.maxMessage, 1, maxMessageLimit),
		intRange("burst", o.burst, 1, maxBurst),
		intRange("flood-limit", o.floodLimit, 1, maxBurst),
		intRange("max-payload", o.maxPayload, 1, maxPayloadLimit),
		intRange("max-connections", o.maxConns, 0, math.MaxInt32),
		intRange("max-connections-per-ip", o.maxConnsPerIP, 0, math.MaxInt32),
		intRange("send-queue", o.sendQueue, 0, math.MaxInt32),
		timing("ping-interval", o.pingInterval),
		timing("ping-timeout", o.pingTimeout),
		timing("read-header-timeout", o.readHeaderTimeout),
	}
	if o.flushInterval < 0 || o.flushInterval > maxFlushInterval {
		checks = append(checks, fmt.Errorf("--flush-interval must be between 0 and %s, got %s", maxFlushInterval, o.flushInterval))
	}
	if err := firstError(checks); err != nil {
		return err
	}
	if !(o.rate > 0 && o.rate <= maxRate) { // also refuses NaN
		return fmt.Errorf("--rate must be more than 0 and at most %d messages a second, got %v", maxRate, o.rate)
	}
	if need := o.maxMessage*payloadPerChar + payloadOverhead; o.maxPayload < need {
		return fmt.Errorf("--max-payload must be at least %d bytes to carry a message of --max-message %d characters, got %d",
			need, o.maxMessage, o.maxPayload)
	}
	if o.sendQueue == 0 {
		o.sendQueue = max(minAutoSendQueue, o.history+o.maxConns+sendQueueSlack)
	}
	if o.maxConns > 0 {
		if need := o.history + o.maxConns + sendQueueSlack; o.sendQueue < need {
			return fmt.Errorf("--send-queue must be at least --history + --max-connections + %d = %d, got %d "+
				"(a joining chatter is sent the history and the whole chatter list at once)", sendQueueSlack, need, o.sendQueue)
		}
	} else if need := o.history + sendQueueSlack; o.sendQueue < need {
		return fmt.Errorf("--send-queue must be at least --history + %d = %d, got %d", sendQueueSlack, need, o.sendQueue)
	}
	return nil
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

// roomConfig is the chat part of the options.
func (o *serveOptions) roomConfig(logf func(string, ...any)) chat.Config {
	return chat.Config{
		History:       o.history,
		MaxMessageLen: o.maxMessage,
		Rate:          o.rate,
		Burst:         o.burst,
		FloodLimit:    o.floodLimit,
		Logf:          logf,
	}
}

// webConfig is the HTTP and transport part of the options.
func (o *serveOptions) webConfig(logf func(string, ...any)) web.Config {
	return web.Config{
		PingInterval:        o.pingInterval,
		PingTimeout:         o.pingTimeout,
		MaxPayload:          o.maxPayload,
		SendQueue:           o.sendQueue,
		MaxConnections:      o.maxConns,
		MaxConnectionsPerIP: o.maxConnsPerIP,
		TrustedProxies:      o.proxies,
		ReadHeaderTimeout:   o.readHeaderTimeout,
		FlushInterval:       o.flushInterval,
		AllowedOrigins:      o.allowedOrigins,
		Logf:                logf,
	}
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the chat server",
		Long: `Serve the chat page and the Socket.IO endpoint until SIGINT (Ctrl-C) or SIGTERM.

The database file keeps the newest --history messages and the bans; it is
created if missing and locked while the server runs, so a second server on the
same file fails at once. Beside it, FILE.sock is the admin socket (mode 0600)
that "chatserver history" and "chatserver kick" use while the server runs.

Every limit has a default fit for a room of a few hundred people on a small
machine: message length, a per-connection rate limit (a token bucket: --rate
messages a second, bursts of --burst; --flood-limit refusals in a row close the
connection), the send queue of a client that stops reading, transport payload,
heartbeat, connections overall and per client address (loopback is exempt; put
a reverse proxy's address in --trusted-proxies to cap by X-Forwarded-For).

Every flag can also be set by its environment variable; a flag on the command
line wins. On shutdown every client is disconnected and the file is closed
last; the exit status is 0.`,
		Example: `  chatserver serve
  chatserver serve --addr 127.0.0.1:9000 --db /var/lib/chatserver/chat.db --history 50
  CHATSERVER_ADDR=:80 CHATSERVER_DB=/srv/chat.db chatserver serve
  chatserver serve --allowed-origins https://chat.example.org,https://example.org
  chatserver serve --trusted-proxies 127.0.0.1,10.0.0.0/8 --max-connections-per-ip 20
  chatserver serve --rate 2 --burst 5 --max-message 500`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), serveEnv); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// run serves until ctx ends or SIGINT/SIGTERM arrives, then shuts down in
// order: the web server (disconnecting every client), the admin socket,
// the room, and the database file last.
func (o *serveOptions) run(ctx context.Context, out, errOut io.Writer) error {
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	logf := log.New(errOut, "chatserver: ", log.LstdFlags).Printf

	store, err := openForServe(o.db, o.history)
	if err != nil {
		return err
	}
	// Until the server runs, undo what was set up on the way out.
	var undo []func()
	fail := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}
	undo = append(undo, func() { store.Close() })

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fail(listenError(o.addr, err))
	}
	undo = append(undo, func() { ln.Close() })

	room, err := chat.NewRoom(store, o.roomConfig(logf))
	if err != nil {
		return fail(fmt.Errorf("start the room: %w", openError(o.db, err)))
	}
	undo = append(undo, room.Close)

	sock := admin.SocketPath(o.db)
	adm, err := admin.Listen(sock, admin.NewHandler(room, logf), logf)
	if errors.Is(err, admin.ErrPathTooLong) {
		return fail(plainf(err, "the admin socket path %s is too long for a Unix socket (%d bytes, at most %d); keep the database in a shorter path",
			sock, len(sock), admin.MaxPathLen))
	}
	if err != nil {
		return fail(fmt.Errorf("start the admin socket: %w", err))
	}
	undo = append(undo, func() { adm.Close() })

	srv := web.New(room, o.webConfig(logf))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	dbName := o.db
	if abs, err := filepath.Abs(o.db); err == nil {
		dbName = abs
	}
	fmt.Fprintf(out, "chatserver: listening on %s (database %s)\n", displayURL(ln.Addr()), dbName)
	for _, u := range lanURLs(ln.Addr()) {
		fmt.Fprintf(out, "chatserver: on this network: %s\n", u)
	}

	var runErr error
	select {
	case <-ctx.Done():
		// A second Ctrl-C now stops the process the hard way.
		stopSignals()
		fmt.Fprintln(errOut, "chatserver: shutting down")
	case runErr = <-served:
		served = nil
		if runErr == nil {
			runErr = errors.New("the web server stopped unexpectedly")
		}
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logf("shutdown: web server: %v", err)
	}
	if served != nil {
		if err := <-served; err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := adm.Close(); err != nil {
		logf("shutdown: %v", err)
	}
	room.Close()
	if err := store.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close database: %w", err)
	}
	if runErr == nil {
		fmt.Fprintln(errOut, "chatserver: stopped")
	}
	return runErr
}

// listenError explains a failed TCP listen.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return plainf(err, "cannot listen on %s: the port is already in use (is another chatserver or program using it? choose another with --addr)", addr)
	case errors.Is(err, syscall.EACCES):
		return plainf(err, "cannot listen on %s: permission denied (ports below 1024 need privileges; try --addr :8080)", addr)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return plainf(err, "cannot listen on %s: %v", addr, op.Err)
	}
	return plainf(err, "cannot listen on %s: %v", addr, err)
}

// displayURL is the address to open in a browser on this machine.
func displayURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// lanURLs suggests addresses for other devices when the server listens on
// every interface: this machine's non-loopback IPv4 addresses.
func lanURLs(a net.Addr) []string {
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
		urls = append(urls, "http://"+net.JoinHostPort(ipnet.IP.String(), strconv.Itoa(tcp.Port)))
		if len(urls) == maxLANAddrs {
			break
		}
	}
	return urls
}
