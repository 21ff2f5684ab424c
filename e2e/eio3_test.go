package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// Socket.IO v2 clients (npm socket.io-client 2.x, Engine.IO protocol 3),
// driven by node2/driver.js, in the same room as v4 clients.

var (
	node2Once sync.Once
	// node2Dir holds the v2 driver and its package.json.
	node2Dir string
	// node2Missing says why the v2 driver cannot run ("" when it can).
	node2Missing string
)

// startDriver2 starts the Socket.IO v2 driver and stops it at the end of
// the test; it skips the test (fails it in CI) when the driver cannot run.
func startDriver2(t testing.TB) *driver {
	t.Helper()
	node2Once.Do(func() {
		dir, err := filepath.Abs("node2")
		if err != nil {
			node2Missing = err.Error()
			return
		}
		node2Dir = dir
		node2Missing = checkNode2(dir)
	})
	if node2Missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s; run `make test`, which installs it", node2Missing)
		}
		t.Skipf("skipping: %s; run `make test` to install it", node2Missing)
	}
	return startDriverIn(t, node2Dir)
}

// checkNode2 reports why the v2 driver cannot run, or "".
func checkNode2(dir string) string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	check := exec.CommandContext(ctx, "node", "driver.js", "--check")
	check.Dir = dir
	if err := check.Run(); err != nil {
		return fmt.Sprintf("the npm package socket.io-client 2.x is not installed in %s/node_modules or SIO2_NODE_MODULES", dir)
	}
	return ""
}

// errorPacket waits for the server's refusal of client's namespace (an
// ERROR packet, which v2 clients emit as "error") and returns its data.
func (d *driver) errorPacket(client string) string {
	d.t.Helper()
	return d.wait(client+" error packet", func(m msg) bool {
		return m.Client == client && m.Type == "error_packet"
	}).Message
}

// TestV2ClientsChatWithV4Clients has a v2 client of every transport kind
// join the room where a v4 client chats: each gets the history, both see
// each other's presence, messages go both ways byte-exact (non-ASCII,
// characters outside the BMP, JSON's special characters), and each
// departure is announced.
func TestV2ClientsChatWithV4Clients(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d4 := startDriver(t)
	d2 := startDriver2(t)
	d4.join("ann", srv.url, "ann")
	d4.eventWith("ann", "add chatter", "ann")

	type line struct{ name, text string }
	var history []line
	say := func(t *testing.T, d *driver, sender string, text string, receivers map[*driver][]string) {
		t.Helper()
		id := ackOK(t, sender, d.call(sender, "messages", text))
		for rd, clients := range receivers {
			for _, c := range clients {
				if got := checkMessage(t, rd.event(c, "messages"), sender, text); got.ID != id {
					t.Errorf("%s got %q with id %v, the ack said %v", c, text, got.ID, id)
				}
			}
		}
		history = append(history, line{sender, text})
	}
	say(t, d4, "ann", "before anyone: Ça va? 😀", map[*driver][]string{d4: {"ann"}})

	for _, kind := range transportKinds {
		c := "v2-" + kind.name
		t.Run(kind.name, func(t *testing.T) {
			defer d4.in(t)()
			defer d2.in(t)()
			d2.connectOn(c, srv.url, kind)
			if ack := d2.call(c, "join", c); ack["ok"] != true || ack["name"] != c || ack["token"] == "" {
				t.Fatalf("%s join ack %v", c, ack)
			}
			for _, h := range history {
				checkMessage(t, d2.event(c, "messages"), h.name, h.text)
			}
			d2.eventWith(c, "add chatter", "ann")
			d2.eventWith(c, "add chatter", c)
			d4.eventWith("ann", "add chatter", c)

			both := map[*driver][]string{d4: {"ann"}, d2: {c}}
			say(t, d2, c, "from v2 "+kind.name+": é中😀שa<&\"\\b 👨‍👩‍👧‍👦 𝄞", both)
			say(t, d4, "ann", "to v2 "+kind.name+": 🇫🇷 ❤️ naïve \u2028 line", both)
			if got := d2.transportOf(c); got != kind.want {
				t.Errorf("%s is on %q after chatting, want %q", c, got, kind.want)
			}

			d2.send(map[string]any{"op": "disconnect", "client": c})
			if got := d2.disconnected(c); got != "io client disconnect" {
				t.Errorf("%s disconnect reason %q", c, got)
			}
			d4.eventWith("ann", "remove chatter", c)
			d2.nothingUnread(t, c)
		})
	}
	d4.nothingUnread(t, "ann")
}

// TestV2UnknownNamespaceIsRefused: a v2 client asking for a namespace
// that is no room gets the v2 refusal, an ERROR packet "Invalid
// namespace", on every transport; and with --allow-eio3=false a v2 client
// cannot connect at all.
func TestV2UnknownNamespaceIsRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver2(t)
	for _, kind := range transportKinds {
		c := "nope-" + kind.name
		d.send(map[string]any{"op": "connect", "client": c, "url": srv.url + "/nope", "opts": map[string]any{"transports": kind.transports}})
		if got := d.errorPacket(c); got != "Invalid namespace" {
			t.Errorf("%s: refused with %q, want \"Invalid namespace\"", c, got)
		}
	}
	d.connect("ok", srv.url, "websocket")
	if ack := d.call("ok", "join", "alice"); ack["ok"] != true {
		t.Errorf("join after the refusals: %v", ack)
	}

	off := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--allow-eio3=false")
	for _, kind := range transportKinds[:2] {
		if msg := d.connectError("off-"+kind.name, off.url, kind.transports...); msg == "" {
			t.Errorf("%s: connect_error without a message", kind.name)
		}
	}
}

// TestV2PingTimeouts: the v2 heartbeat runs from the client, and a dead
// peer is noticed on both sides. A client that stops pinging is dropped by
// the server (its departure announced); a client whose server stops
// answering (SIGSTOP) disconnects with "ping timeout".
func TestV2PingTimeouts(t *testing.T) {
	t.Parallel()
	timing := []string{"--ping-interval", "200ms", "--ping-timeout", "200ms"}

	t.Run("the server drops a client that stops pinging", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), timing...)
		d4 := startDriver(t)
		d2 := startDriver2(t)
		d4.join("watcher", srv.url, "watcher")
		for _, kind := range transportKinds[:2] {
			c := "silent-" + kind.name
			d2.connectOn(c, srv.url, kind)
			if ack := d2.call(c, "join", c); ack["ok"] != true {
				t.Fatalf("%s join ack %v", c, ack)
			}
			d4.eventWith("watcher", "add chatter", c)
			d2.send(map[string]any{"op": "stop-pinging", "client": c})
			d4.eventWith("watcher", "remove chatter", c)
			// The client learns of it from the server, its own timer being
			// stopped.
			if reason := d2.disconnected(c); reason != "transport close" && reason != "transport error" {
				t.Errorf("%s disconnect reason %q, want the server's close", c, reason)
			}
		}
	})

	t.Run("the client notices a server that stops answering", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), timing...)
		d2 := startDriver2(t)
		var clients []string
		for _, kind := range transportKinds[:2] {
			c := "frozen-" + kind.name
			d2.connectOn(c, srv.url, kind)
			if ack := d2.call(c, "join", c); ack["ok"] != true {
				t.Fatalf("%s join ack %v", c, ack)
			}
			clients = append(clients, c)
		}
		if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer srv.cmd.Process.Signal(syscall.SIGCONT)
		for _, c := range clients {
			if reason := d2.disconnected(c); reason != "ping timeout" {
				t.Errorf("%s disconnect reason %q, want \"ping timeout\"", c, reason)
			}
		}
	})
}
