package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/siotest"
)

// pollDropClients is how many polling chatters die at once: enough that
// the first departure's broadcast answers the held GETs of the others,
// few enough for a small machine.
const pollDropClients = 100

// departureDeadline bounds the wait for every departure to be announced:
// generous for a loaded machine, and far below the default heartbeat
// (25 s + 20 s), which used to be the only way to find such a client
// gone.
const departureDeadline = 10 * time.Second

// TestDeadPollingChattersLeaveWithinSeconds: many polling chatters die at
// once, just after a broadcast answered their held GETs, so that none of
// them has a request in flight when its connections close. Each is
// announced gone (remove chatter) within seconds, whichever way its
// requests were carried; a polling chatter that lives on stays.
func TestDeadPollingChattersLeaveWithinSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// join connects n chatters named prefix-i over polling and
		// returns how they die together: after stop they send no
		// request, and kill closes their connections.
		join func(t *testing.T, base, prefix string, n int) (stop, kill func())
	}{
		{"npm clients, a connection per request, their process killed", joinNPM},
		{"clients on keep-alive connections, as browser tabs, connections closed", joinKeepAlive},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
			watcher := joinWS(t, srv.url, "watcher")
			survivors := startDriver(t)
			survivors.connect("survivor", srv.url, "polling")
			if ack := survivors.call("survivor", "join", "survivor"); ack["ok"] != true {
				t.Fatalf("survivor join: %v", ack)
			}

			prefix := fmt.Sprintf("dead%d", i)
			stop, kill := tt.join(t, srv.url, prefix, pollDropClients)
			for j := range pollDropClients {
				watcher.WaitEvent("arrival", named("add chatter", fmt.Sprintf("%s-%d", prefix, j)))
			}

			stop()
			say(t, watcher, "last words") // answers every held GET
			kill()

			deadline := time.Now().Add(departureDeadline)
			var missing []string
			for j := range pollDropClients {
				name := fmt.Sprintf("%s-%d", prefix, j)
				if _, err := watcher.NextEvent(time.Until(deadline), named("remove chatter", name)); err != nil {
					missing = append(missing, name)
				}
			}
			if len(missing) > 0 {
				t.Fatalf("%d of %d dead chatters not announced gone within %s: %s",
					len(missing), pollDropClients, departureDeadline, strings.Join(missing[:min(len(missing), 5)], ", "))
			}

			if watcher.Seen(named("remove chatter", "survivor")) {
				t.Error("the living polling chatter was announced gone")
			}
			if ack := survivors.call("survivor", "messages", "still here"); ack["ok"] != true {
				t.Errorf("the living polling chatter could not speak: %v", ack)
			}
			watcher.WaitEvent("the survivor's message", messageLine("survivor", "still here"))
		})
	}
}

// joinNPM joins n socket.io-client chatters over polling in one Node
// process; its agents open a connection for every request, which the
// server closes after answering. stop stops the process (SIGSTOP), so
// that the answers it gets then are left unread; kill kills it (SIGKILL).
func joinNPM(t *testing.T, base, prefix string, n int) (stop, kill func()) {
	d := startDriver(t)
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		d.send(map[string]any{"op": "connect", "client": name, "url": base, "opts": map[string]any{"transports": []string{"polling"}}})
	}
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		d.wait(name+" connected", func(m msg) bool {
			if m.Client == name && m.Type == "connect_error" {
				t.Fatalf("%s could not connect: %s", name, m.Message)
			}
			return m.Client == name && m.Type == "connect"
		})
		if ack := d.call(name, "join", name); ack["ok"] != true {
			t.Fatalf("%s join: %v", name, ack)
		}
	}
	stop = func() {
		if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("stop the clients' process: %v", err)
		}
	}
	kill = func() {
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill the clients' process: %v", err)
		}
		<-d.exited
	}
	return stop, kill
}

// joinKeepAlive joins n raw polling chatters, each on keep-alive
// connections of its own. After stop each sends nothing once its held GET
// is answered; kill waits for that and closes their connections.
func joinKeepAlive(t *testing.T, base, prefix string, n int) (stop, kill func()) {
	chatters := make([]*pollChatter, n)
	for i := range chatters {
		chatters[i] = joinPolling(t, base, fmt.Sprintf("%s-%d", prefix, i))
	}
	stop = func() {
		for _, c := range chatters {
			c.dead.Store(true)
		}
	}
	kill = func() {
		for _, c := range chatters {
			select {
			case <-c.stopped:
			case <-time.After(eventTimeout):
				t.Fatalf("%s: its held GET was not answered within %s", c.name, eventTimeout)
			}
		}
		for _, c := range chatters {
			c.closeConns()
		}
	}
	return stop, kill
}

// pollChatter is a Socket.IO chatter over raw HTTP long-polling, with an
// HTTP transport of its own (keep-alive, like a browser tab's). Its
// poller goroutine holds a GET at all times, answers pings and hands acks
// over; it ends when a GET fails or the session ends, or, once dead is
// set, when its held GET has been answered. closeConns, also run at
// cleanup, closes its connections and waits for the poller.
type pollChatter struct {
	t       testing.TB
	name    string
	url     string // the polling URL with the sid
	http    *http.Client
	dead    atomic.Bool   // send no more requests
	stopped chan struct{} // closed when the poller has ended
	acks    chan string   // the ack packets received ("43…")

	mu    sync.Mutex
	conns []net.Conn // every connection it dialed
}

// joinPolling connects over polling and joins as name, failing the test
// unless that works.
func joinPolling(t testing.TB, base, name string) *pollChatter {
	t.Helper()
	c := &pollChatter{t: t, name: name, stopped: make(chan struct{}), acks: make(chan string, 4)}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
		}
		return conn, err
	}}
	c.http = &http.Client{Transport: tr, Timeout: 2 * eventTimeout}

	status, body := c.do(http.MethodGet, siotest.PollingURL(base, ""), "")
	var open struct {
		SID string `json:"sid"`
	}
	if status != http.StatusOK || !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		t.Fatalf("%s: polling handshake: %d %q", name, status, body)
	}
	c.url = siotest.PollingURL(base, open.SID)
	if status, body := c.do(http.MethodPost, c.url, "40"); status != http.StatusOK {
		t.Fatalf("%s: connect: %d %q", name, status, body)
	}
	if status, body := c.do(http.MethodGet, c.url, ""); status != http.StatusOK || !strings.HasPrefix(body, "40{") {
		t.Fatalf("%s: connect reply: %d %q", name, status, body)
	}
	go c.poll()
	t.Cleanup(c.closeConns)

	if status, body := c.do(http.MethodPost, c.url, `420["join",`+quote(name)+`]`); status != http.StatusOK {
		t.Fatalf("%s: join: %d %q", name, status, body)
	}
	select {
	case ack := <-c.acks:
		var reply []map[string]any
		if !strings.HasPrefix(ack, "430") || json.Unmarshal([]byte(ack[3:]), &reply) != nil || len(reply) == 0 || reply[0]["ok"] != true {
			t.Fatalf("%s: join answered %q", name, ack)
		}
	case <-c.stopped:
		t.Fatalf("%s: the session ended before the join was answered", name)
	case <-time.After(eventTimeout):
		t.Fatalf("%s: no join ack within %s", name, eventTimeout)
	}
	return c
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// do performs one request and returns the status and body (0 and the
// error if it failed).
func (c *pollChatter) do(method, url, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// poll is the poller goroutine.
func (c *pollChatter) poll() {
	defer close(c.stopped)
	for !c.dead.Load() {
		status, body := c.do(http.MethodGet, c.url, "")
		if status != http.StatusOK {
			return
		}
		for _, p := range strings.Split(body, "\x1e") {
			switch {
			case p == "1":
				return
			case p == "2" && !c.dead.Load():
				c.do(http.MethodPost, c.url, "3")
			case strings.HasPrefix(p, "43"):
				select {
				case c.acks <- p:
				default:
				}
			}
		}
	}
}

// closeConns closes every connection of the chatter, as the kernel does
// for a process that was killed, and waits for the poller. Idempotent.
func (c *pollChatter) closeConns() {
	c.dead.Store(true)
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	<-c.stopped
}
