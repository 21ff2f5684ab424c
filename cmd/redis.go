package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
	"github.com/spf13/pflag"

	"chatserver/storage"
	"chatserver/storage/redis"
)

// Names of the flags that point a command at Redis.
const (
	redisFlag       = "redis"
	redisPrefixFlag = "redis-prefix"
)

// redisCommandTimeout bounds connecting to Redis for the commands other
// than serve, which fail at once instead of waiting for it.
const redisCommandTimeout = 10 * time.Second

// redisHistory is the history size a command other than serve opens
// Redis with: Open and every append trim each room's history to it, and
// no server keeps more than --history's bound, so nothing a server keeps
// is ever trimmed by a command.
const redisHistory = maxHistory

// redisOptions are --redis and --redis-prefix.
type redisOptions struct {
	url    string
	prefix string
}

// addFlags defines --redis and --redis-prefix on fs; the caller gives
// them their environment variables (withEnv).
func (r *redisOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&r.url, redisFlag, "",
		"keep everything in the Redis at this URL instead of the database file: redis://[:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS")
	fs.StringVar(&r.prefix, redisPrefixFlag, redis.DefaultPrefix,
		"with --redis, the beginning of every key, so that several deployments can share one Redis database")
}

// validate checks the URL's form (the rest is checked on connecting) and
// the prefix. It returns the server's host:port, or "" without --redis.
func (r *redisOptions) validate() (string, error) {
	if r.url == "" {
		return "", nil
	}
	where, err := redisWhere(r.url)
	if err != nil {
		return "", err
	}
	if !validName(r.prefix, 64, ":._-") {
		return "", fmt.Errorf("--redis-prefix must be 1 to 64 characters of letters, digits and \":._-\", got %q", r.prefix)
	}
	return where, nil
}

// where names the Redis for messages: "Redis at HOST:PORT".
func (r *redisOptions) where() string {
	w, err := redisWhere(r.url)
	if err != nil {
		return "Redis"
	}
	return "Redis at " + w
}

// applyStoreEnv is applyEnv for a command that works on the file of
// --db or on the Redis of --redis: both on the command line is a usage
// error, and a --db on the command line wins over CHATSERVER_REDIS.
func applyStoreEnv(fs *pflag.FlagSet, r *redisOptions) error {
	db, rd := fs.Changed("db"), fs.Changed(redisFlag)
	if db && rd {
		return usageError{errors.New("--db and --redis name two different stores: give one of them")}
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if db {
		r.url = ""
	}
	return nil
}

// redisWhere returns the host:port of the Redis URL raw, for messages: it
// never holds the password. A URL that Open would refuse (not redis:// or
// rediss://, no host, a path that is no database number, a query) is a
// plain error that does not repeat the password.
func redisWhere(raw string) (string, error) {
	where, err := redis.Where(raw)
	if err != nil {
		return "", plainf(err, "%v", err)
	}
	return where, nil
}

// validName reports whether s is 1 to n ASCII letters, digits and the
// characters of extra.
func validName(s string, n int, extra string) bool {
	if s == "" || len(s) > n {
		return false
	}
	return strings.IndexFunc(s, func(c rune) bool { return !nameChar(c, extra) }) < 0
}

// nameChar reports whether c is an ASCII letter or digit or one of extra.
func nameChar(c rune, extra string) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)
}

// openRedis connects a command other than serve to Redis, failing at
// once (within redisCommandTimeout) when it cannot.
func (r *redisOptions) openRedis(ctx context.Context) (*redis.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, redisCommandTimeout)
	defer cancel()
	st, err := redis.Open(ctx, r.url, redis.Options{History: redisHistory, Prefix: r.prefix, Logger: discardLogger()})
	if err != nil {
		return nil, redisOpenError(err)
	}
	return st, nil
}

// redisOpenError words a failure of redis.Open as one line. The store's
// own errors name the server (never the password) and say what is
// wrong; a prefix holding another program's data, or a newer layout, gets
// the same advice as a file would.
func redisOpenError(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotChatserver):
		return plainf(err, "%v; it was left untouched (use another --redis-prefix or database)", err)
	case errors.Is(err, storage.ErrNewerSchema):
		return plainf(err, "%v; upgrade chatserver", err)
	}
	return plainf(err, "%v", err)
}

// redisRetriable reports whether err, from redis.Open, means that Redis
// could not be reached (yet), so that serve waits and tries again: a
// network failure, a timeout, or a server still loading its data. A
// refused password, a bad URL, an untrusted certificate or a prefix that
// holds other data are not: trying again would change nothing.
func redisRetriable(err error) bool {
	var re *rueidis.RedisError
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "BUSY") || strings.HasPrefix(msg, "MASTERDOWN")
	}
	var cert *tls.CertificateVerificationError
	var hostname x509.HostnameError
	var record tls.RecordHeaderError
	if errors.As(err, &cert) || errors.As(err, &hostname) || errors.As(err, &record) ||
		errors.Is(err, storage.ErrNotChatserver) || errors.Is(err, storage.ErrNewerSchema) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded)
}

// errRedisUnreachable is what /readyz tells anyone while Redis does not
// answer; the log names the server.
var errRedisUnreachable = errors.New("Redis does not answer")

// redisReady is the readiness of a server on Redis: nil while Redis
// answers and holds chatserver's data, otherwise what /readyz says.
func redisReady(ping func() error) error {
	err := ping()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.ErrDataGone):
		return redis.ErrDataGone
	default:
		return errRedisUnreachable
	}
}

// defaultNode is serve's --node when none is given: this machine's name,
// "-" and the port of addr, in the characters a node name may hold (others
// become "-"), at most 64 of them.
func defaultNode(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "chatserver"
	}
	_, port, _ := net.SplitHostPort(addr)
	return sanitizeNode(host + "-" + port)
}

// sanitizeNode turns s into a node name: every character but letters,
// digits and "._-" becomes "-", and it is cut to 64 bytes.
func sanitizeNode(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !nameChar(rune(c), "._-") {
			b[i] = '-'
		}
	}
	if len(b) > maxNodeName {
		b = b[:maxNodeName]
	}
	return string(b)
}

// maxNodeName is the longest node name, in bytes.
const maxNodeName = 64

// discardLogger is the logger of a store a command opens for a moment:
// what its goroutines would report (a presence refresh) does not concern
// the command.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
