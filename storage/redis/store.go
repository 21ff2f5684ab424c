package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/rueidis"

	"chatserver/internal/randid"
	"chatserver/storage"
)

// Defaults of the Options left zero.
const (
	// DefaultPrefix begins every key and channel name of the store.
	DefaultPrefix = "chatserver:"
	// DefaultLogSize is the entries a room's log keeps: as many events
	// as the chat rooms keep for recovery (chat.DefaultRecoveryEvents).
	DefaultLogSize = 1000
	// DefaultPresenceTTL is how long a node counts as alive after its
	// last heartbeat: the claims of a node that crashed are reaped that
	// much later at most, plus a DefaultReapInterval, so that its
	// chatters are announced gone within 15 s of its end. A live node
	// beats every third of that.
	DefaultPresenceTTL = 14 * time.Second
	// DefaultReapInterval is how often a started node reaps the claims
	// of the nodes that stopped and the graces that ran out.
	DefaultReapInterval = time.Second
	// DefaultDialTimeout bounds connecting to Redis, the TLS handshake
	// and the greeting (AUTH, SELECT) included.
	DefaultDialTimeout = 5 * time.Second
)

// schemaVersion is the layout version this package writes and the newest it
// reads (meta hash, field schema); it counts apart from bolt's file schema.
const schemaVersion = 1

// epochBytes is the entropy of a log's epoch, as the chat rooms make theirs.
const epochBytes = 6

// Options tunes Open. The zero value takes the defaults.
type Options struct {
	// History is how many messages each room keeps (the newest N); every
	// append trims the room's history to it in the same step. Zero means
	// storage.DefaultHistory; negative values are refused.
	History int
	// LogSize is how many entries each room's log keeps. Zero means
	// DefaultLogSize; negative values are refused.
	LogSize int
	// Prefix begins every key and channel name, so that several
	// deployments can share one Redis database: 1 to 64 characters of
	// letters, digits and ":._-". Empty means DefaultPrefix.
	Prefix string
	// Node names this server among those sharing the Redis: the
	// connections it counts in the nicknames' claims and its recovery
	// state are kept under it. 1 to 64 characters of letters, digits and
	// "._-". Empty means a random name, new at every Open.
	Node string
	// PresenceTTL is how long the node counts as alive after its last
	// heartbeat; a started node (StartNode) beats every third of it until
	// Close. Zero means DefaultPresenceTTL; it must be at least 100 ms.
	PresenceTTL time.Duration
	// ReapInterval is how often a started node reaps the claims of the
	// nodes that stopped and the graces that ran out. Zero means
	// DefaultReapInterval; it must be at least 10 ms.
	ReapInterval time.Duration
	// DialTimeout bounds each connection's setup. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// TLS is the base of the TLS settings of a rediss:// URL (its
	// RootCAs, say); nil means the system's roots. The server name is
	// the URL's host unless set here.
	TLS *tls.Config
	// Logger receives what the store's own goroutines cannot return: a
	// heartbeat or a reap that failed, a published message that is not
	// chatserver's. nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	history, err := storage.HistorySize(o.History)
	if err != nil {
		return o, err
	}
	o.History = history
	switch {
	case o.LogSize < 0:
		return o, fmt.Errorf("the log size must be at least 1, got %d", o.LogSize)
	case o.LogSize == 0:
		o.LogSize = DefaultLogSize
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !validName(o.Prefix, ":._-") {
		return o, fmt.Errorf("the key prefix %q must be 1 to 64 characters of letters, digits and \":._-\"", o.Prefix)
	}
	if o.Node == "" {
		o.Node = randid.Hex(8)
	}
	if !validName(o.Node, "._-") {
		return o, fmt.Errorf("the node name %q must be 1 to 64 characters of letters, digits and \"._-\"", o.Node)
	}
	switch {
	case o.PresenceTTL == 0:
		o.PresenceTTL = DefaultPresenceTTL
	case o.PresenceTTL < 100*time.Millisecond:
		return o, fmt.Errorf("the presence TTL must be at least 100ms, got %s", o.PresenceTTL)
	}
	switch {
	case o.ReapInterval == 0:
		o.ReapInterval = DefaultReapInterval
	case o.ReapInterval < 10*time.Millisecond:
		return o, fmt.Errorf("the reap interval must be at least 10ms, got %s", o.ReapInterval)
	}
	switch {
	case o.DialTimeout < 0:
		return o, fmt.Errorf("the dial timeout must not be negative, got %s", o.DialTimeout)
	case o.DialTimeout == 0:
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// validName reports whether s is 1 to 64 ASCII letters, digits and the
// characters of extra.
func validName(s, extra string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// Store is chatserver's storage in Redis, shared by every node that opens
// the same database with the same prefix. It is safe for concurrent use;
// concurrent calls share the client's connection, pipelined. The caller
// that opened a Store owns it and must Close it.
type Store struct {
	opts   Options
	client rueidis.Client
	// where names the server in errors: host:port, never the password.
	where string

	closed atomic.Bool
	stop   chan struct{}  // closed by Close: the node's goroutines return
	done   sync.WaitGroup // the node's goroutines (StartNode)

	startMu sync.Mutex // held by StartNode
	started bool       // StartNode succeeded

	mu   sync.Mutex // guards subs, and closed with the goroutines' start
	subs map[*Subscription]struct{}
}

// Open connects to the Redis named by rawURL (redis://[:PASSWORD@]HOST[:PORT][/DB],
// rediss:// for TLS; a user name may stand before the password), checks
// that the key prefix holds chatserver's data or nothing, makes the
// default room if it is missing and trims every room's history to
// opts.History. It fails with a plain error, naming the server but never
// the password, for a URL that is not one, a server that cannot be
// reached or refuses the credentials, and a prefix that holds another
// program's data (wrapping storage.ErrNotChatserver) or a newer layout
// (storage.ErrNewerSchema).
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open Redis: %w", err)
	}
	copt, where, err := clientOption(rawURL, opts)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		copt.Dialer.Timeout = min(copt.Dialer.Timeout, max(time.Until(deadline), time.Millisecond))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open Redis at %s: %w", where, err)
	}
	client, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, connectError(where, copt.SelectDB, err)
	}
	s := &Store{
		opts:   opts,
		client: client,
		where:  where,
		stop:   make(chan struct{}),
		subs:   make(map[*Subscription]struct{}),
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	err = s.run(ctx, scriptInit, []string{s.key("meta"), s.key("rooms")},
		strconv.Itoa(schemaVersion), opts.Prefix, storage.DefaultRoom, newEpoch(), now, strconv.Itoa(opts.History)).Error()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("open Redis at %s: %w", where, scriptError(err))
	}
	return s, nil
}

// clientOption turns the URL into the client's options, with the server's
// host:port for errors.
func clientOption(rawURL string, opts Options) (rueidis.ClientOption, string, error) {
	var copt rueidis.ClientOption
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, password and all: only its reason,
		// and not even that when a password may be in it (an invalid
		// port or escape quotes a piece of the text).
		if strings.Contains(rawURL, "@") {
			return copt, "", errors.New("the Redis URL is not valid " +
				"(want redis://[:PASSWORD@]HOST:PORT/DB or rediss://…; write / ? # % in the password as %2F %3F %23 %25)")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return copt, "", fmt.Errorf("the Redis URL is not valid: %v (want redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://…)", err)
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if opts.TLS != nil {
			cfg = opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		copt.TLSConfig = cfg
	default:
		return copt, "", fmt.Errorf("the Redis URL %s must begin with redis:// or rediss://", Redacted(rawURL))
	}
	if u.Hostname() == "" {
		return copt, "", fmt.Errorf("the Redis URL %s names no host", Redacted(rawURL))
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	where := net.JoinHostPort(u.Hostname(), port)
	if u.RawQuery != "" || u.Fragment != "" {
		return copt, "", fmt.Errorf("the Redis URL %s has a query or a fragment, which chatserver does not read", Redacted(rawURL))
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			if strings.Contains(u.Path, "@") { // a password's end, not a path
				return copt, "", fmt.Errorf("the Redis URL %s: the path must be a database number, such as /0", Redacted(rawURL))
			}
			return copt, "", fmt.Errorf("the Redis URL %s: the path must be a database number, such as /0, got %q", Redacted(rawURL), u.Path)
		}
		copt.SelectDB = db
	}
	if u.User != nil {
		copt.Username = u.User.Username()
		copt.Password, _ = u.User.Password()
	}
	copt.InitAddress = []string{where}
	copt.Dialer = net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	copt.ConnWriteTimeout = opts.DialTimeout
	copt.ClientName = "chatserver-" + opts.Node
	// One server, not a cluster: the scripts touch several keys.
	copt.ForceSingleClient = true
	// No client-side caching: nothing is read often enough to want it.
	copt.DisableCache = true
	return copt, where, nil
}

// Where checks rawURL as Open does, without connecting, and returns the
// server's host:port; its errors are Open's, without the password.
func Where(rawURL string) (string, error) {
	_, where, err := clientOption(rawURL, Options{})
	return where, err
}

// Redacted is rawURL for messages, without its password: the password
// replaced by xxxxx. When the URL does not parse into a user and a host
// but holds an "@" anyway (a password with an unencoded / ? or # ends the
// host early, so that it reads as a path), everything between the scheme
// and the last "@" is replaced.
func Redacted(rawURL string) string {
	at := strings.LastIndex(rawURL, "@")
	if at < 0 {
		return rawURL // no user information, so no password
	}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		return u.Redacted()
	}
	start := 0
	if i := strings.Index(rawURL, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return rawURL[:start] + "xxxxx" + rawURL[at:]
}

// connectError explains a failure to connect: unreachable, refused
// credentials, no such database, TLS.
func connectError(where string, db int, err error) error {
	if re, ok := rueidis.IsRedisErr(err); ok {
		msg := re.Error()
		switch {
		case strings.HasPrefix(msg, "WRONGPASS"):
			return fmt.Errorf("Redis at %s refused the user name or password of the URL: %w", where, err)
		case strings.HasPrefix(msg, "NOAUTH"):
			return fmt.Errorf("Redis at %s wants a password: give it in the URL (redis://:PASSWORD@%s/%d): %w", where, where, db, err)
		case strings.Contains(msg, "DB index is out of range"):
			return fmt.Errorf("Redis at %s has no database %d: %w", where, db, err)
		}
		return fmt.Errorf("Redis at %s refused the connection: %w", where, err)
	}
	var cert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cert):
		return fmt.Errorf("cannot connect to Redis at %s: its TLS certificate is not trusted: %w", where, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot connect to Redis at %s: nothing listens there (is redis-server running?): %w", where, err)
	}
	return fmt.Errorf("cannot connect to Redis at %s: %w", where, err)
}

// Close stops the node's heartbeat and reaper, ends the subscriptions and
// closes the connections, waiting for calls in progress. It is
// idempotent; every other method returns storage.ErrClosed after Close.
// The connections this node counted in the nicknames' claims are left
// for the other nodes to reap once its heartbeat expires (or for this
// node's next StartNode).
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	close(s.stop)
	s.mu.Unlock()
	s.done.Wait()
	s.mu.Lock()
	subs := make([]*Subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.end(storage.ErrClosed)
		<-sub.stopped
	}
	s.client.Close()
	return nil
}

// Node is the name this store counts its connections in the claims and
// keeps its recovery state under (Options.Node).
func (s *Store) Node() string { return s.opts.Node }

// pingTimeout bounds Ping: a readiness check must answer quickly.
const pingTimeout = 2 * time.Second

// Ping reports whether Redis answers and still holds chatserver's data
// under the prefix: nil, or an error wrapping storage.ErrClosed after
// Close, ErrDataGone when the data is gone (the database flushed, or the
// server restarted without persistence), or the failure to reach it.
func (s *Store) Ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := s.begin(ctx, "ping"); err != nil {
		return err
	}
	app, err := s.client.Do(ctx, s.client.B().Hget().Key(s.key("meta")).Field("app").Build()).ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return fmt.Errorf("ping: %w", ErrDataGone)
	case err != nil:
		return s.fail("ping", err)
	case app != "chatserver":
		return fmt.Errorf("ping: the meta hash names the program %q: %w", app, storage.ErrNotChatserver)
	}
	return nil
}

// ErrDataGone is returned by Ping when the prefix no longer holds
// chatserver's data: the database was flushed, or the server restarted
// without persistence. The rooms a node has open are not in Redis any
// more; a new Open makes the default room again.
var ErrDataGone = errors.New("chatserver's data is gone from Redis")

// begin returns the error a call named op gives when the store is closed or
// ctx is already done, or nil.
func (s *Store) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("%s: %w", op, storage.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// fail wraps err of the call op: a closed client is storage.ErrClosed, a
// script's refusal its storage error.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, rueidis.ErrClosing) && s.closed.Load() {
		return fmt.Errorf("%s: %w", op, storage.ErrClosed)
	}
	return fmt.Errorf("%s: %w", op, scriptError(err))
}

// scriptError turns the error replies of the scripts into storage's
// errors.
func scriptError(err error) error {
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		return err
	}
	code, _, _ := strings.Cut(re.Error(), " ")
	switch code {
	case "NOROOM":
		return storage.ErrNoSuchRoom
	case "ROOMEXISTS":
		return storage.ErrRoomExists
	case "NAMETAKEN":
		return storage.ErrNameTaken
	case "NOTCHATSERVER":
		return fmt.Errorf("the key prefix holds another program's data (%s): %w", re.Error(), storage.ErrNotChatserver)
	case "NEWERSCHEMA":
		return fmt.Errorf("%s, this chatserver understands up to %d: %w", re.Error(), schemaVersion, storage.ErrNewerSchema)
	}
	return err
}

// run executes script with keys and args: EVALSHA, and EVAL when the server
// does not have the script yet.
func (s *Store) run(ctx context.Context, script *rueidis.Lua, keys []string, args ...string) rueidis.RedisResult {
	return script.Exec(ctx, s.client, keys, args)
}

// key is the name of the key k under the prefix.
func (s *Store) key(k string) string { return s.opts.Prefix + k }

// roomKey is the name of the hash of room name; its other keys are named
// after it (roomKey + ":history", …).
func (s *Store) roomKey(name string) string { return s.opts.Prefix + "room:" + name }

// channel is the name of the channel the appends to room publish on.
func (s *Store) channel(room string) string { return s.opts.Prefix + "events:" + room }

// control is the name of the channel AddRoom and RemoveRoom publish on.
func (s *Store) control() string { return s.opts.Prefix + "control" }

// isDefault is "1" for the default room, "0" for any other, as the
// scripts take it.
func isDefault(room string) string {
	if room == storage.DefaultRoom {
		return "1"
	}
	return "0"
}

// roomOp names a call on a room in errors: "append messages to room
// games". A name that is not a room name is quoted.
func roomOp(verb, room string) string {
	if room != storage.DefaultRoom && storage.CheckRoomName(room) != nil {
		room = strconv.Quote(room)
	}
	return verb + " room " + room
}

// validRoom reports whether room can name a room.
func validRoom(room string) bool {
	return room == storage.DefaultRoom || storage.CheckRoomName(room) == nil
}

// newEpoch returns the epoch of a new log.
func newEpoch() string { return randid.Hex(epochBytes) }
