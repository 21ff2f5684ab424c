package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"

	"chatserver/internal/owner"
	"chatserver/internal/throttle"
)

// errNoPeerCred is what peerUID returns on systems where this package
// cannot learn who is at the other end of a socket.
var errNoPeerCred = errors.New("peer credentials are not available on this system")

// UntrustedError is returned by Dial and by Client calls when the process
// serving the admin socket runs as another user than this process and
// root: it could answer anything, so the client refuses to talk to it.
type UntrustedError struct {
	Path string // the socket path
	UID  uint32 // the user the serving process runs as
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("the admin socket %s is served by %s, not by you or root; refusing to trust it "+
		"(run the command as that user if it is your server, or remove the socket)", e.Path, owner.Describe(e.UID))
}

// checkServer makes sure that conn, dialled to the socket at addr (path
// in messages), is served by this process's user or root. Where the
// system gives no peer credentials, the socket file's owner stands in for
// them.
func checkServer(conn net.Conn, path, addr string) error {
	uid, err := peerUID(conn)
	if errors.Is(err, errNoPeerCred) {
		fi, statErr := os.Lstat(addr)
		if statErr != nil {
			return fmt.Errorf("inspect admin socket %s: %w", path, statErr)
		}
		var ok bool
		if uid, ok = owner.Of(fi); !ok {
			return nil // nothing to check against
		}
	} else if err != nil {
		return fmt.Errorf("check who serves the admin socket %s: %w", path, err)
	}
	if !owner.Trusted(uid) {
		return &UntrustedError{Path: path, UID: uid}
	}
	return nil
}

// peerKey is the request context key of the connecting process's user.
type peerKey struct{}

// peer is what the server learnt about a connection's other end.
type peer struct {
	uid uint32
	err error // errNoPeerCred where the system does not say
}

// withPeer records the user of the process at the other end of c in the
// context of every request read from c (http.Server.ConnContext).
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uid, err := peerUID(c)
	return context.WithValue(ctx, peerKey{}, peer{uid: uid, err: err})
}

// guard passes on the requests of processes running as the server's user
// or root and refuses the others with HTTP 403. The socket's mode already
// keeps other users out; this holds even if that mode is lost. Where the
// system gives no peer credentials, the mode is the only protection.
type guard struct {
	next http.Handler
	path string
	// warn takes the refusals: a process of another user hammering the
	// socket gets one line a minute, and a count of the refusals in
	// between, instead of one per request.
	warn *throttle.Log
	// describe names a user in a log line; nil means owner.Describe,
	// which may read the user database, so it is asked only for a line
	// that is logged.
	describe func(uid uint32) string
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := r.Context().Value(peerKey{}).(peer)
	switch {
	case !ok:
		g.refuse(w, "unknown", func() string { return "a connection of unknown origin" })
	case errors.Is(p.err, errNoPeerCred):
		g.next.ServeHTTP(w, r)
	case p.err != nil:
		g.refuse(w, "unreadable", func() string { return fmt.Sprintf("a process whose user could not be read (%v)", p.err) })
	case !owner.Trusted(p.uid):
		g.refuse(w, "uid "+strconv.FormatUint(uint64(p.uid), 10), func() string { return "a process of " + g.describeUser(p.uid) })
	default:
		g.next.ServeHTTP(w, r)
	}
}

// describeUser names the user uid for a log line.
func (g *guard) describeUser(uid uint32) string {
	if g.describe != nil {
		return g.describe(uid)
	}
	return owner.Describe(uid)
}

// lazyText is a log value worked out only for a line that is written.
type lazyText func() string

// LogValue is the text.
func (f lazyText) LogValue() slog.Value { return slog.StringValue(f()) }

// refuse answers 403 and logs the refusal, throttled by key (one line a
// minute per kind of peer, the rest counted), naming the peer as who
// says: it is worked out only for a line that is logged.
func (g *guard) refuse(w http.ResponseWriter, key string, who lazyText) {
	me := os.Geteuid()
	g.warn.Print(key, "refused an admin request: only the server's user and root may use the socket",
		"socket", g.path, "from", who, "allowed_uid", me)
	body, _ := json.Marshal(ErrorReply{Error: CodeForbidden,
		Message: fmt.Sprintf("only the user running the server (uid %d) and root may use the admin socket", me)})
	writeBody(w, http.StatusForbidden, body)
}
