package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Time limits of the suite. Every wait has one, so a broken server fails
// a test instead of hanging it.
const (
	// startTimeout: building nothing, opening a small file and binding a
	// port take milliseconds; seconds mean something is wrong.
	startTimeout = 10 * time.Second
	// stopTimeout covers the server's own graceful shutdown.
	stopTimeout = 15 * time.Second
	// commandTimeout bounds one `chatserver history` or `kick`.
	commandTimeout = 15 * time.Second
	// eventTimeout bounds the wait for one event at a client.
	eventTimeout = 10 * time.Second
	// driverTimeout is the Node driver's own hard limit, in case the test
	// process dies without closing its input.
	driverTimeout = 90 * time.Second
)

var (
	// bin is the chatserver binary built by TestMain.
	bin string
	// nodeDir holds driver.js and package.json.
	nodeDir string
	// nodeMissing says why the Node driver cannot run ("" when it can).
	nodeMissing string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chatserver-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "chatserver")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building chatserver: %v\n%s", err, out)
		return 1
	}
	nodeDir, err = filepath.Abs("node")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	nodeMissing = checkNode()
	return m.Run()
}

// checkNode reports why the driver cannot run, or "".
func checkNode() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	check := exec.CommandContext(ctx, "node", "-e", "require.resolve('socket.io-client')")
	check.Dir = nodeDir
	if err := check.Run(); err != nil {
		return fmt.Sprintf("the npm package socket.io-client is not installed in %s/node_modules or NODE_PATH", nodeDir)
	}
	return ""
}

// requireNode skips the test when the Node driver cannot run, or fails it
// in CI, where it must run.
func requireNode(t testing.TB) {
	t.Helper()
	if nodeMissing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %s; run `make test`, which installs it", nodeMissing)
	}
	t.Skipf("skipping: %s; run `make test` to install it", nodeMissing)
}

// lineWriter hands complete lines to a callback and tells waitFor of
// every write; safe for one writer.
type lineWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	all     bytes.Buffer
	line    func(string)
	written chan struct{} // closed (and dropped) by the next Write; nil if nobody waits
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if w.written != nil {
		close(w.written)
		w.written = nil
	}
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf.Next(i + 1))
		if w.line != nil {
			w.line(strings.TrimSuffix(line, "\n"))
		}
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// waitFor reports whether the output contains want within timeout,
// looking again after each write.
func (w *lineWriter) waitFor(want string, timeout time.Duration) bool {
	return w.waitUntil(func(all string) bool { return strings.Contains(all, want) }, timeout)
}

// waitUntil reports whether cond holds for the output within timeout,
// asking again after each write.
func (w *lineWriter) waitUntil(cond func(all string) bool, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		all := w.all.String()
		if w.written == nil {
			w.written = make(chan struct{})
		}
		written := w.written
		w.mu.Unlock()
		if cond(all) {
			return true
		}
		select {
		case <-written:
		case <-deadline.C:
			return false
		}
	}
}

// server is one running `chatserver serve` process.
type server struct {
	db     string
	url    string
	cmd    *exec.Cmd
	stdout *lineWriter
	stderr *lineWriter
	exited chan struct{} // closed when the process has exited
	err    error         // from Wait, valid once exited is closed
}

// listeningLine is serve's start-up line: on a database file, or as a node
// on a Redis.
var listeningLine = regexp.MustCompile(`^chatserver: listening on (https?://127\.0\.0\.1:\d+) \((?:database (.+)|Redis at .+, node .+)\)$`)

// startServer starts `chatserver serve` on a free port of 127.0.0.1 with
// the database db, waits until it listens, and kills it at the end of the
// test if it is still running.
func startServer(t testing.TB, db string, args ...string) *server {
	t.Helper()
	s := &server{db: db, exited: make(chan struct{})}
	urls := make(chan string, 1)
	s.stdout = &lineWriter{line: func(line string) {
		if m := listeningLine.FindStringSubmatch(line); m != nil {
			select {
			case urls <- m[1]:
			default:
			}
		}
	}}
	s.stderr = &lineWriter{}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start chatserver: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
		checkLogLines(t, s.stderr.String())
		if t.Failed() {
			t.Logf("chatserver output:\n%s%s", s.stdout, s.stderr)
		}
	})
	select {
	case s.url = <-urls:
	case <-s.exited:
		t.Fatalf("chatserver exited before listening: %v\n%s%s", s.err, s.stdout, s.stderr)
	case <-time.After(startTimeout):
		t.Fatalf("chatserver did not report listening within %s\n%s%s", startTimeout, s.stdout, s.stderr)
	}
	return s
}

// stop sends sig and returns the exit code once the process has exited.
func (s *server) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal chatserver: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("chatserver did not exit within %s of %v", stopTimeout, sig)
	}
	return exitCode(s.err)
}

func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		return -1
	}
}

// cliResult is what one run of the binary produced.
type cliResult struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// runCLI runs the binary with args and waits for it, within a limit.
func runCLI(t testing.TB, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errOut.String(), code: exitCode(err), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("chatserver %s did not finish within %s", strings.Join(args, " "), commandTimeout)
	}
	return r
}

// msg is one line of the driver's output.
type msg struct {
	Type    string            `json:"type"`
	Client  string            `json:"client"`
	Event   string            `json:"event"`
	Args    []json.RawMessage `json:"args"`
	Ref     int               `json:"ref"`
	Error   *string           `json:"error"`
	Reason  string            `json:"reason"`
	Message string            `json:"message"`
	ID      string            `json:"id"`
	// Recovered is socket.recovered at a connect: the connection state
	// was recovered.
	Recovered bool `json:"recovered"`
}

// str returns argument i as a string, failing the test otherwise.
func (m msg) str(t testing.TB, i int) string {
	t.Helper()
	var s string
	if i >= len(m.Args) || json.Unmarshal(m.Args[i], &s) != nil {
		t.Fatalf("%s %q: argument %d is not a string: %s", m.Type, m.Event, i, m.Args)
	}
	return s
}

// obj decodes argument i into v, failing the test otherwise.
func (m msg) obj(t testing.TB, i int, v any) {
	t.Helper()
	if i >= len(m.Args) || json.Unmarshal(m.Args[i], v) != nil {
		t.Fatalf("%s %q: argument %d is not a %T: %s", m.Type, m.Event, i, v, m.Args)
	}
}

// driver is one running node/driver.js: many socket.io clients.
type driver struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}

	// ca is a PEM file of the authorities its clients trust for https://
	// URLs; "" for Node's own.
	ca string

	mu      sync.Mutex // guards the fields below
	log     []msg      // everything the driver printed, in order
	used    []bool     // log[i] was returned by a wait
	nextRef int
	changed chan struct{} // capacity 1: log grew
}

// startDriver starts the Node driver and stops it at the end of the test.
func startDriver(t testing.TB) *driver {
	t.Helper()
	requireNode(t)
	return startDriverIn(t, nodeDir)
}

// startDriverIn starts the driver.js of dir, which speaks the protocol
// of node/driver.js, and stops it at the end of the test.
func startDriverIn(t testing.TB, dir string) *driver {
	t.Helper()
	return runDriver(t, "node driver", exec.Command("node", "driver.js"), dir)
}

// runDriver starts cmd in dir as a driver speaking JSON lines (the Node
// and the Python ones), waits for its "ready" and stops it at the end of
// the test, logging what it said if the test failed; name names it in
// messages.
func runDriver(t testing.TB, name string, cmd *exec.Cmd, dir string) *driver {
	t.Helper()
	d := &driver{t: t, cmd: cmd, exited: make(chan struct{}), changed: make(chan struct{}, 1)}
	d.cmd.Dir = dir
	d.cmd.Env = append(os.Environ(), fmt.Sprintf("DRIVER_TIMEOUT_MS=%d", driverTimeout.Milliseconds()))
	stderr := &lineWriter{}
	d.cmd.Stderr = stderr
	d.cmd.Stdout = &lineWriter{line: func(line string) {
		var m msg
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			m = msg{Type: "error", Message: "driver printed non-JSON: " + line}
		}
		d.mu.Lock()
		d.log = append(d.log, m)
		d.used = append(d.used, false)
		d.mu.Unlock()
		select {
		case d.changed <- struct{}{}:
		default:
		}
	}}
	var err error
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stdin.Close()
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			d.mu.Lock()
			for _, m := range d.log {
				b, _ := json.Marshal(m)
				t.Logf("%s: %s", name, b)
			}
			d.mu.Unlock()
			t.Logf("%s stderr: %s", name, stderr)
		}
	})
	d.wait(name+" ready", func(m msg) bool { return m.Type == "ready" })
	return d
}

func (d *driver) send(cmd map[string]any) {
	d.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.stdin.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("write to driver: %v", err)
	}
}

// wait returns the earliest message not yet returned that matches, within
// eventTimeout. A driver error fails the test at once.
func (d *driver) wait(what string, match func(msg) bool) msg {
	d.t.Helper()
	return d.waitWithin(what, eventTimeout, match)
}

// waitWithin is wait with a deadline of its own, for events that take
// longer than eventTimeout by design (a crashed node's presence expiring).
func (d *driver) waitWithin(what string, timeout time.Duration, match func(msg) bool) msg {
	d.t.Helper()
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		for i, m := range d.log {
			if d.used[i] {
				continue
			}
			if m.Type == "error" {
				d.mu.Unlock()
				d.t.Fatalf("driver error while waiting for %s: %s", what, m.Message)
			}
			if match(m) {
				d.used[i] = true
				d.mu.Unlock()
				return m
			}
		}
		d.mu.Unlock()
		select {
		case <-d.changed:
		case <-d.exited:
			d.t.Fatalf("driver exited while waiting for %s", what)
		case <-deadline:
			d.t.Fatalf("no %s within %s", what, timeout)
		}
	}
}

// connect opens a socket.io-client connection named client and waits until
// it is connected. Without transports the client's default is used.
func (d *driver) connect(client, url string, transports ...string) {
	d.t.Helper()
	opts := map[string]any{}
	if len(transports) > 0 {
		opts["transports"] = transports
	}
	d.connectWith(client, url, opts)
}

// connectWith opens a connection named client with the driver's options
// opts, waits until it is connected and returns the connect report.
func (d *driver) connectWith(client, url string, opts map[string]any) msg {
	d.t.Helper()
	d.send(d.connectCommand(client, url, opts))
	return d.connected(client)
}

// connected waits for client's next connect report.
func (d *driver) connected(client string) msg {
	d.t.Helper()
	// The refusal is reported once wait has returned: failing inside
	// match would end the test with the driver's lock held, and its
	// cleanup would wait for the lock forever.
	m := d.wait(client+" connected", func(m msg) bool {
		return m.Client == client && (m.Type == "connect" || m.Type == "connect_error")
	})
	if m.Type == "connect_error" {
		d.t.Fatalf("%s could not connect: %s", client, m.Message)
	}
	return m
}

// connectCommand is the driver's connect command, trusting d.ca if set.
func (d *driver) connectCommand(client, url string, opts map[string]any) map[string]any {
	cmd := map[string]any{"op": "connect", "client": client, "url": url, "opts": opts}
	if d.ca != "" {
		cmd["ca"] = d.ca
	}
	return cmd
}

// emit sends an event without an ack.
func (d *driver) emit(client, event string, args ...any) {
	d.t.Helper()
	d.send(map[string]any{"op": "emit", "client": client, "event": event, "args": args})
}

// callLater sends an event with an ack and returns the reference that
// ackOf waits on, so that many calls can be in flight at once.
func (d *driver) callLater(client, event string, args ...any) int {
	d.t.Helper()
	d.mu.Lock()
	d.nextRef++
	ref := d.nextRef
	d.mu.Unlock()
	d.send(map[string]any{"op": "emit", "client": client, "event": event, "args": args, "ack": ref})
	return ref
}

// call sends an event with an ack and returns the ack's first argument.
func (d *driver) call(client, event string, args ...any) map[string]any {
	d.t.Helper()
	return d.ackOf(d.callLater(client, event, args...))
}

// event waits for the next event called name at client.
func (d *driver) event(client, name string) msg {
	d.t.Helper()
	return d.wait(fmt.Sprintf("%q at %s", name, client), func(m msg) bool {
		return m.Type == "event" && m.Client == client && m.Event == name
	})
}

// eventWith waits for an event called name at client whose first argument
// is the string arg.
func (d *driver) eventWith(client, name, arg string) msg {
	d.t.Helper()
	want, _ := json.Marshal(arg)
	return d.wait(fmt.Sprintf("%q %q at %s", name, arg, client), func(m msg) bool {
		return m.Type == "event" && m.Client == client && m.Event == name && len(m.Args) > 0 && bytes.Equal(m.Args[0], want)
	})
}

// disconnected waits until client is disconnected and returns the reason.
func (d *driver) disconnected(client string) string {
	d.t.Helper()
	return d.wait(client+" disconnected", func(m msg) bool { return m.Type == "disconnect" && m.Client == client }).Reason
}

// join connects client over WebSocket and joins as name, returning the
// join ack.
func (d *driver) join(client, url, name string) map[string]any {
	d.t.Helper()
	d.connect(client, url, "websocket")
	ack := d.call(client, "join", name)
	if ack["ok"] != true {
		d.t.Fatalf("%s could not join as %s: %v", client, name, ack)
	}
	return ack
}
