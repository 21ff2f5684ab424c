package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"chatserver/internal/owner"
)

// refusalLogInterval bounds the log lines about refused peers: a process
// of another user hammering the socket gets one line a minute, with a
// count of the refusals in between, instead of one per request.
const refusalLogInterval = time.Minute

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
	logf func(string, ...any)
	// describe names a user in a log line; nil means owner.Describe,
	// which may read the user database, so it is asked only for a line
	// that is logged.
	describe func(uid uint32) string

	mu     sync.Mutex // guards the fields below
	logged time.Time  // when a refusal was last logged
	unsaid int        // refusals since then, not logged
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := r.Context().Value(peerKey{}).(peer)
	switch {
	case !ok:
		g.refuse(w, func() string { return "a connection of unknown origin" })
	case errors.Is(p.err, errNoPeerCred):
		g.next.ServeHTTP(w, r)
	case p.err != nil:
		g.refuse(w, func() string { return fmt.Sprintf("a process whose user could not be read (%v)", p.err) })
	case !owner.Trusted(p.uid):
		g.refuse(w, func() string { return "a process of " + g.describeUser(p.uid) })
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

// refuse answers 403 and logs the refusal, at most once per
// refusalLogInterval, naming the peer as describe says: it is called only
// for a line that is logged.
func (g *guard) refuse(w http.ResponseWriter, describe func() string) {
	me := os.Geteuid()
	g.mu.Lock()
	now := time.Now()
	if g.logged.IsZero() || now.Sub(g.logged) >= refusalLogInterval {
		who := describe()
		more := ""
		if g.unsaid > 0 {
			more = fmt.Sprintf(" (and %d more since the last such line)", g.unsaid)
		}
		g.logf("admin: refused a request on %s from %s: only uid %d and root may use it%s", g.path, who, me, more)
		g.logged, g.unsaid = now, 0
	} else {
		g.unsaid++
	}
	g.mu.Unlock()
	body, _ := json.Marshal(ErrorReply{Error: CodeForbidden,
		Message: fmt.Sprintf("only the user running the server (uid %d) and root may use the admin socket", me)})
	writeBody(w, http.StatusForbidden, body)
}
