package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/redistest"
)

// The multi-node tests run several `chatserver serve --redis` processes
// (nodes) on one redis-server started by the test (internal/redistest),
// each with a database file of its own, and drive clients on each.

// nodeGrace is the nodes' --presence-grace: short, so that a test that
// waits for a departure that goes through it waits seconds, long enough
// for a recovering client to come back unseen.
const nodeGrace = "2s"

// startNodes starts the nodes n1…nN of one deployment on the Redis at
// redisURL, with fast senders (fastSenders) and args, and stops them all
// at once at the end of the test (SIGTERM, each expected to exit 0).
func startNodes(t *testing.T, redisURL string, n int, args ...string) []*server {
	t.Helper()
	nodes := make([]*server, 0, n)
	for i := range n {
		db := filepath.Join(t.TempDir(), "chat.db")
		flags := []string{"--redis", redisURL, "--node", fmt.Sprintf("n%d", i+1), "--presence-grace", nodeGrace}
		flags = append(append(flags, fastSenders...), args...)
		nodes = append(nodes, startServer(t, db, flags...))
	}
	// Registered after each node's own cleanup, so it runs first.
	t.Cleanup(func() { stopNodes(t, nodes) })
	return nodes
}

// startDeployment starts a Redis with opts, count nodes on it (as
// startNodes does) and a driver: what a multi-node test begins with.
func startDeployment(t *testing.T, opts redistest.Options, count int) (*redistest.Server, []*server, *driver) {
	t.Helper()
	rs := redistest.Start(t, opts)
	nodes := startNodes(t, rs.URL(), count)
	return rs, nodes, startDriver(t)
}

// stopNodes sends SIGTERM to every node still running, then waits for
// each; a node the test ended itself is left alone.
func stopNodes(t *testing.T, nodes []*server) {
	t.Helper()
	var stopping []*server
	for _, s := range nodes {
		select {
		case <-s.exited:
			continue
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err == nil {
			stopping = append(stopping, s)
		}
	}
	deadline := time.After(stopTimeout)
	for _, s := range stopping {
		select {
		case <-s.exited:
			if code := exitCode(s.err); code != 0 {
				t.Errorf("the node at %s exited %d after SIGTERM", s.url, code)
			}
		case <-deadline:
			t.Errorf("the node at %s did not exit within %s of SIGTERM", s.url, stopTimeout)
			return
		}
	}
}

// ackOf waits for the ack of the call ref and returns its first argument.
func (d *driver) ackOf(ref int) map[string]any {
	d.t.Helper()
	m := d.wait(fmt.Sprintf("ack %d", ref), func(m msg) bool { return m.Type == "ack" && m.Ref == ref })
	if m.Error != nil {
		d.t.Fatalf("ack %d of %s: %s", ref, m.Client, *m.Error)
	}
	var reply map[string]any
	m.obj(d.t, 0, &reply)
	return reply
}

// sendRounds has every sender send the numbers from+1 to to, a round at
// a time ("1" from each sender, then "2"…), without waiting for the
// acks, and returns the calls' references in the order they were sent.
func (d *driver) sendRounds(senders []string, from, to int) []int {
	d.t.Helper()
	var refs []int
	for i := from; i < to; i++ {
		for _, s := range senders {
			refs = append(refs, d.callLater(s, "messages", fmt.Sprintf("%d", i+1)))
		}
	}
	return refs
}

// checkAcked waits for the ack of every call in refs and fails the test
// if a message was refused.
func (d *driver) checkAcked(t testing.TB, refs []int) {
	t.Helper()
	for _, ref := range refs {
		if ack := d.ackOf(ref); ack["ok"] != true {
			t.Fatalf("a message was refused: %v", ack)
		}
	}
}

// joinEach has each client join as itself, over WebSocket, on the nodes
// in turn: the first on n1, the second on n2…, and round again after
// the last node.
func (d *driver) joinEach(nodes []*server, clients ...string) {
	d.t.Helper()
	for i, c := range clients {
		d.join(c, nodes[i%len(nodes)].url, c)
	}
}

// line is a messages event as "nick: text #id".
func (m msg) line(t testing.TB) string {
	t.Helper()
	var w wireMessage
	m.obj(t, 1, &w)
	return fmt.Sprintf("%s #%d", m.str(t, 0), int64(w.ID))
}

// lines waits for the next n messages events at client and returns them
// as "nick: text #id", in the order they came.
func (d *driver) lines(t testing.TB, client string, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.event(client, "messages").line(t))
	}
	return out
}

// sameLines waits for the next n messages events at each of clients,
// fails the test unless they all saw the same lines (IDs included) in
// the same order, and returns those lines.
func (d *driver) sameLines(t testing.TB, clients []string, n int) []string {
	t.Helper()
	first := d.lines(t, clients[0], n)
	for _, c := range clients[1:] {
		if got := d.lines(t, c, n); !slices.Equal(got, first) {
			t.Fatalf("%s saw\n%q\n%s saw\n%q", clients[0], first, c, got)
		}
	}
	return first
}

// expectLine waits for the next messages event at each of clients and
// fails the test unless it reads want ("nick: text").
func (d *driver) expectLine(t testing.TB, want string, clients ...string) {
	t.Helper()
	for _, c := range clients {
		if got := texts(d.lines(t, c, 1)); got[0] != want {
			t.Fatalf("%s got %q, want %q", c, got, want)
		}
	}
}

// texts drops the " #id" of lines.
func texts(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if j := strings.LastIndex(l, " #"); j >= 0 {
			l = l[:j]
		}
		out[i] = l
	}
	return out
}

// unreadNames returns, and marks read, the first arguments of the events
// called name that client was sent and no wait has returned, sorted.
func (d *driver) unreadNames(t testing.TB, client, name string) []string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for i, m := range d.log {
		if d.used[i] || m.Client != client || m.Type != "event" || m.Event != name {
			continue
		}
		d.used[i] = true
		var s string
		if len(m.Args) == 0 || json.Unmarshal(m.Args[0], &s) != nil {
			t.Fatalf("%q at %s without a name: %s", name, client, m.Args)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// joinedAt has client join as name, over WebSocket, on the node at url,
// and checks the chatters it is shown: want, in any order.
func (d *driver) joinedAt(t testing.TB, client, url, name string, want ...string) {
	t.Helper()
	d.join(client, url, name)
	slices.Sort(want)
	if got := d.unreadNames(t, client, "add chatter"); !slices.Equal(got, want) {
		t.Fatalf("%s joining on %s was shown the chatters %q, want %q", client, url, got, want)
	}
}

// forwarder passes TCP connections on to one node, and to another when
// told (a load balancer failing over): a client's reconnection reaches a
// node other than the one it left, through the same address.
type forwarder struct {
	ln   net.Listener
	wg   sync.WaitGroup // the accept loop and the copying goroutines
	mu   sync.Mutex     // guards the fields below
	to   string         // host:port connections go to; "" closes them at once
	open map[net.Conn]struct{}
}

// startForwarder listens on a free port of 127.0.0.1 and passes every
// connection on to the host:port to, until the test ends.
func startForwarder(t testing.TB, to string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &forwarder{ln: ln, to: to, open: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.switchTo("")
		f.wg.Wait()
	})
	return f
}

// url is the forwarder's address as a client is given it.
func (f *forwarder) url() string { return "http://" + f.ln.Addr().String() }

// switchTo closes every connection passed on so far, abruptly, and sends
// the next ones to the host:port to; "" refuses them (each is closed as
// soon as it is accepted).
func (f *forwarder) switchTo(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.to = to
	for c := range f.open {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as a failing machine or network gives
		}
		c.Close()
	}
	clear(f.open)
}

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return // closed at the end of the test
		}
		f.mu.Lock()
		to := f.to
		f.mu.Unlock()
		if to == "" {
			in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", to, time.Second)
		if err != nil {
			in.Close()
			continue
		}
		f.mu.Lock()
		if f.to != to {
			f.mu.Unlock()
			in.Close()
			out.Close()
			continue
		}
		f.open[in], f.open[out] = struct{}{}, struct{}{}
		f.mu.Unlock()
		f.wg.Add(2)
		go f.pipe(in, out)
		go f.pipe(out, in)
	}
}

// pipe copies from src to dst until either ends, then closes both.
func (f *forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	// A reset or a close of either side ends the pair.
	_, _ = io.Copy(dst, src)
	f.mu.Lock()
	delete(f.open, dst)
	delete(f.open, src)
	f.mu.Unlock()
	dst.Close()
	src.Close()
}
