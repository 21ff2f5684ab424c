package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	errlog "chatserver/internal/logger"
	"chatserver/internal/randid"
	"chatserver/internal/throttle"
)

// MaxPathLen is the longest Unix socket address the kernel accepts: the
// 108-byte sun_path of Linux less its terminating NUL.
const MaxPathLen = 107

// Timings of the admin channel. Requests are tiny and local; anything slow
// is a stuck peer, not a slow network.
const (
	// probeTimeout bounds the connect that tells a live socket from a
	// stale one.
	probeTimeout = time.Second
	// readTimeout and writeTimeout bound one admin request on the server;
	// a kick or a history read takes milliseconds.
	readTimeout  = 5 * time.Second
	writeTimeout = 5 * time.Second
	// closeTimeout is how long Close lets in-flight requests finish before
	// cutting their connections.
	closeTimeout = 2 * time.Second
	// socketMode: only the user running the server may talk to it.
	socketMode = 0o600
)

// The temporary directory in which the socket is bound (bindPrivate).
const (
	// privateDirPrefix and privateDirRandom (bytes, twice as many hex
	// digits) name it, so that a leftover from a crash says what it was;
	// privateDir shortens the name near MaxPathLen.
	privateDirPrefix = ".sock-"
	privateDirRandom = 3
	// tmpSocketName is the socket's name inside it.
	tmpSocketName = "s"
	// privateDirTries bounds the attempts at a free name; even the short
	// name has 256 of them.
	privateDirTries = 100
	// privateDirMode: only the user running the server may enter.
	privateDirMode = 0o700
)

var (
	// ErrNoServer is returned by Dial (and by Client calls) when nothing
	// listens on the socket: it does not exist, or it is a stale file left
	// by a server that crashed. Callers then use the database file itself.
	ErrNoServer = errors.New("no chatserver is listening on the admin socket")

	// ErrInUse is returned by Listen when another process answers on the
	// socket path: another server is running on the same database.
	ErrInUse = errors.New("another chatserver is listening on the admin socket")

	// ErrPathTooLong is returned by Listen and Dial when the socket path
	// does not fit in a Unix socket address, even as a relative path.
	ErrPathTooLong = errors.New("admin socket path is too long for a Unix socket")
)

// SocketPath returns the admin socket path of the database file dbPath:
// the same path with ".sock" appended.
func SocketPath(dbPath string) string { return dbPath + ".sock" }

// address returns the name under which path is bound or dialled: path
// itself when it fits in a socket address, otherwise a shorter name of the
// same file relative to the working directory.
func address(path string) (string, error) {
	if len(path) <= MaxPathLen {
		return path, nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && len(rel) <= MaxPathLen {
				return rel, nil
			}
		}
	}
	return "", fmt.Errorf("%s is %d bytes long, a Unix socket allows %d (move the database to a shorter path): %w",
		path, len(path), MaxPathLen, ErrPathTooLong)
}

// Server serves the admin channel on a Unix socket. Listen starts it; the
// caller owns it and must Close it.
type Server struct {
	path string      // as given to Listen, for messages
	addr string      // the name bound (path, or a shorter relative name)
	info os.FileInfo // the socket file as created, to remove only our own
	http *http.Server
	warn *throttle.Log  // the refused requests and the HTTP server's errors
	wg   sync.WaitGroup // the serving goroutine

	once     sync.Once
	closeErr error
}

// Listen creates the Unix socket at path with mode 0600 and serves h on it
// in a goroutine until Close. Every request is checked first: a process
// running as another user than this one and root gets HTTP 403 (see
// guard).
//
// The socket is never reachable by others, whatever the umask: it is
// bound inside a new directory of mode 0700 beside path, given its mode
// there, and renamed into place (bindPrivate).
//
// A socket file left at path by a server that crashed (nobody answers on
// it) is replaced. If a process answers on it, Listen fails with an error
// wrapping ErrInUse; if path is something other than a socket, Listen
// fails and leaves it alone. The caller is expected to hold the database
// lock already, so that no second server races for the path. logger
// receives the HTTP server's own errors and the refused requests as
// warnings, one a minute per kind and peer, the rest counted; nil means
// slog.Default().
func Listen(path string, h http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	addr, err := address(path)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(path, addr); err != nil {
		return nil, err
	}
	ln, info, err := bindPrivate(path, addr)
	if err != nil {
		return nil, err
	}
	warn := throttle.New(logger, slog.LevelWarn, 1)
	s := &Server{
		path: path,
		addr: addr,
		info: info,
		warn: warn,
		http: &http.Server{
			Handler:           &guard{next: h, path: path, warn: warn},
			ConnContext:       withPeer,
			ReadHeaderTimeout: readTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			ErrorLog:          errlog.New(warn, "admin http server error", nil),
		},
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin socket stopped serving", "socket", path, "err", err)
		}
	}()
	return s, nil
}

// checkTarget makes sure that a new socket may take the name addr:
// nothing is there, or a stale socket nobody answers on.
func checkTarget(path, addr string) error {
	fi, err := os.Lstat(addr)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("inspect admin socket %s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%s exists and is not a socket; not replacing it", path)
	}
	conn, err := net.DialTimeout("unix", addr, probeTimeout)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe admin socket %s: %w", path, unwrapOp(err))
	}
	return nil
}

// bindPrivate returns a socket listening at addr that no other user could
// reach at any moment, and the file's information. A socket file is
// created with the mode the umask leaves; under a lax umask another user
// could connect between bind and chmod and keep that connection. So the
// socket is bound inside a new directory of mode 0700 beside addr, given
// mode 0600 there, and renamed to addr, replacing a stale socket in one
// step. (Setting the umask around bind would do too, but the umask
// belongs to the whole process, not to this call.)
func bindPrivate(path, addr string) (*net.UnixListener, os.FileInfo, error) {
	dir, err := privateDir(filepath.Dir(addr))
	if err != nil {
		return nil, nil, fmt.Errorf("set up admin socket %s: %w", path, err)
	}
	defer os.Remove(dir)
	tmp := filepath.Join(dir, tmpSocketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("listen on admin socket %s: %w", path, unwrapOp(err))
	}
	// Close removes the file itself, and only if it is still ours.
	ln.SetUnlinkOnClose(false)
	err = os.Chmod(tmp, socketMode)
	if err == nil {
		err = os.Rename(tmp, addr)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, nil, fmt.Errorf("set up admin socket %s: %w", path, err)
	}
	info, err := os.Lstat(addr)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("set up admin socket %s: %w", path, err)
	}
	return ln, info, nil
}

// privateDir creates a new, empty directory of mode 0700 in parent, named
// so that tmpSocketName inside it fits a socket address wherever the
// admin socket itself does: ".sock-" and 6 hex digits, or, when that is
// too long, "." and 2 hex digits (shorter than any "<db>.sock").
func privateDir(parent string) (string, error) {
	prefix, random := privateDirPrefix, privateDirRandom
	if len(filepath.Join(parent, prefix+randid.Hex(random), tmpSocketName)) > MaxPathLen {
		prefix, random = ".", 1
	}
	for range privateDirTries {
		dir := filepath.Join(parent, prefix+randid.Hex(random))
		err := os.Mkdir(dir, privateDirMode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		// The umask may have taken bits from the owner too.
		if err := os.Chmod(dir, privateDirMode); err != nil {
			os.Remove(dir)
			return "", err
		}
		return dir, nil
	}
	return "", fmt.Errorf("no free temporary name in %s after %d tries", parent, privateDirTries)
}

// Close stops accepting requests, lets in-flight ones finish for a short
// while, waits for the serving goroutine and removes the socket file. It is
// idempotent and safe to call from several goroutines; every call returns
// the first call's result.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
		}
		s.wg.Wait()
		s.warn.Close()
		if fi, err := os.Lstat(s.addr); err == nil && os.SameFile(fi, s.info) {
			if err := os.Remove(s.addr); err != nil {
				s.closeErr = fmt.Errorf("remove admin socket %s: %w", s.path, err)
			}
		}
	})
	return s.closeErr
}

// unwrapOp drops the *net.OpError layer, whose text repeats the address.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
