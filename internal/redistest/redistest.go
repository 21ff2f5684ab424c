// Package redistest runs a real redis-server for a test: Debian's
// redis-server, started by the test on a free port of 127.0.0.1 with no
// persistence (`--save "" --appendonly no`) unless asked for
// (Options.Persist), in a directory of the test's own, and stopped when
// the test ends. A test can stop it early (a server that is gone), start
// it again on the same port (a server that restarted: empty, or with its
// data when it persists), and cut off every connection that is
// subscribed to a channel (`CLIENT KILL TYPE pubsub`), as a network blip
// would.
//
// Without redis-server on PATH the test is skipped with a message saying
// how to install it, except when the CI variable is set: then it fails, as
// the other tests treat the programs they need.
//
// Server.Do speaks RESP2 on a connection of its own, so that tests can
// look at what a store wrote without going through the client library
// under test.
package redistest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Program is the server this package runs, found on PATH.
const Program = "redis-server"

// startTimeout bounds how long a server may take to answer its first PING,
// and stopTimeout how long it may take to exit after SIGTERM before it is
// killed.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
)

// Options tunes Start. The zero value runs a server without a password,
// speaking plain TCP.
type Options struct {
	// Password, when set, is required of every client (`--requirepass`).
	Password string
	// TLS, when set, makes the server speak TLS only, on its port
	// (`--tls-port`, `--port 0`), with this certificate and key (PEM
	// files); clients are not asked for certificates.
	TLS *TLSFiles
	// Persist, when set, has the server keep its data in an append-only
	// file in its directory (`--appendonly yes`, written to disk at
	// every write: `--appendfsync always`), so that a restart finds what
	// was written before it, as a production Redis would.
	Persist bool
}

// TLSFiles names the PEM files of a server speaking TLS.
type TLSFiles struct {
	CertFile, KeyFile string
	// CAFile is the authority that signed CertFile; Do trusts it.
	CAFile string
}

// Server is one redis-server process of a test.
type Server struct {
	tb   testing.TB
	opts Options
	dir  string
	// Port is the server's TCP port on 127.0.0.1; it stays the same across
	// Restart.
	Port int

	mu     sync.Mutex // guards the fields below
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited
	output *logWriter    // what the process wrote, for failure messages
}

// Missing says why a redis-server cannot be run here ("" when it can).
func Missing() string {
	if _, err := exec.LookPath(Program); err != nil {
		return Program + " is not installed (Debian's redis-server package)"
	}
	return ""
}

// Require skips tb when redis-server is missing, or fails it when the CI
// variable is set, where the tests must run.
func Require(tb testing.TB) {
	tb.Helper()
	missing := Missing()
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("CI is set and %s; run `make test`, which installs it", missing)
	}
	tb.Skipf("skipping: %s; run `make test` to install it", missing)
}

// Start runs a new redis-server on a free port of 127.0.0.1 and waits until
// it answers PING; it is stopped when tb ends. It skips or fails tb as
// Require does when the program is missing.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	Require(tb)
	s := &Server{tb: tb, opts: opts, dir: tb.TempDir()}
	tb.Cleanup(s.Stop)
	// A free port may be taken by someone else between the probe and
	// the server's bind: try a few.
	var err error
	for range 5 {
		s.Port = freePort(tb)
		if err = s.start(); err == nil {
			return s
		}
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	tb.Fatalf("start %s: %v", Program, err)
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr is the server's address, host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the address a client is given: redis://127.0.0.1:PORT/0, with
// the password in it when there is one, and rediss:// for TLS.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr(), Path: "/0"}
	if s.opts.TLS != nil {
		u.Scheme = "rediss"
	}
	if s.opts.Password != "" {
		u.User = url.UserPassword("", s.opts.Password)
	}
	return u.String()
}

// args are the command-line arguments of the server.
func (s *Server) args() []string {
	appendonly := []string{"--appendonly", "no"}
	if s.opts.Persist {
		appendonly = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	args := []string{
		"--bind", "127.0.0.1",
		"--save", "",
	}
	args = append(args, appendonly...)
	args = append(args,
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
		"--databases", "16",
	)
	port := strconv.Itoa(s.Port)
	if t := s.opts.TLS; t != nil {
		args = append(args, "--port", "0", "--tls-port", port,
			"--tls-cert-file", t.CertFile, "--tls-key-file", t.KeyFile,
			"--tls-ca-cert-file", t.CAFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", port)
	}
	if s.opts.Password != "" {
		args = append(args, "--requirepass", s.opts.Password)
	}
	return args
}

// start runs the process and waits until it says it is ready and answers
// PING, or exits.
func (s *Server) start() error {
	cmd := exec.Command(Program, s.args()...)
	cmd.Dir = s.dir
	out := newLogWriter(readyLine)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	// The waiter ends when the process does; Stop makes sure it does.
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.output = cmd, exited, out
	s.mu.Unlock()

	select {
	case <-out.seen:
	case <-exited:
		return fmt.Errorf("%s exited: %s", Program, out)
	case <-time.After(startTimeout):
		s.Stop()
		return fmt.Errorf("%s was not ready within %s: %s", Program, startTimeout, out)
	}
	if reply, err := s.Do("PING"); err != nil || reply != "PONG" {
		s.Stop()
		return fmt.Errorf("%s said it was ready but answers PING with %v, %v: %s", Program, reply, err, out)
	}
	return nil
}

// readyLine is what redis-server logs once it accepts connections.
const readyLine = "Ready to accept connections"

// Stop ends the server (SIGTERM, then SIGKILL after a while) and waits for
// it to exit; with no persistence it saves nothing, with Persist its
// append-only file holds every write. Calling it again, or
// on a server already stopped, does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart stops the server and starts a new one on the same port: empty,
// what a client sees of a Redis restarted without persistence, or with
// everything written before when the server persists (Options.Persist).
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.StartAgain()
}

// StartAgain starts the server again on its port after Stop, with its
// data when it persists, and waits until it answers PING; a server that
// is running is left alone. Between Stop and StartAgain a test sees a
// Redis that is down.
func (s *Server) StartAgain() {
	s.tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return
	}
	if err := s.start(); err != nil {
		s.tb.Fatalf("start %s again on port %d: %v", Program, s.Port, err)
	}
}

// KillPubSub closes every client connection that is subscribed to a
// channel or a pattern (`CLIENT KILL TYPE pubsub`) and returns how many
// it closed.
func (s *Server) KillPubSub() int {
	s.tb.Helper()
	n, err := s.Do("CLIENT", "KILL", "TYPE", "pubsub")
	if err != nil {
		s.tb.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
	}
	return int(n.(int64))
}

// Output is what the server wrote so far (its log).
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// Do sends one command on a new connection (authenticated when the server
// has a password) and returns its reply: a string for a simple or bulk
// string, int64 for an integer, nil for a nil reply, []any for an array,
// and an error for an error reply or a failure to talk.
func (s *Server) Do(args ...string) (any, error) {
	conn, err := s.dial()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	if s.opts.Password != "" {
		if _, err := roundTrip(conn, r, "AUTH", s.opts.Password); err != nil {
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return roundTrip(conn, r, args...)
}

// dial connects to the server as a client would.
func (s *Server) dial() (net.Conn, error) {
	d := &net.Dialer{Timeout: time.Second}
	if t := s.opts.TLS; t != nil {
		ca, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{ServerName: "127.0.0.1", RootCAs: certPool(ca)}
		return tls.DialWithDialer(d, "tcp", s.Addr(), cfg)
	}
	return d.Dial("tcp", s.Addr())
}

// roundTrip writes one command and reads its reply.
func roundTrip(w io.Writer, r *bufio.Reader, args ...string) (any, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return readReply(r)
}

// ReplyError is an error reply of the server.
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, ReplyError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			// An error inside an array (EXEC) stays an element.
			v, err := readReply(r)
			var re ReplyError
			if errors.As(err, &re) {
				v, err = re, nil
			}
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// logWriter keeps what the process writes, for the test to read, and
// closes seen once the output holds the line it waits for.
type logWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func newLogWriter(want string) *logWriter {
	return &logWriter{want: want, seen: make(chan struct{})}
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.want != "" && bytes.Contains(w.buf.Bytes(), []byte(w.want)) {
		close(w.seen)
		w.want = ""
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// certPool is a pool of the PEM certificates in pem.
func certPool(pem []byte) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}
