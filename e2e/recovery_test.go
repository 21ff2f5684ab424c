package e2e

import (
	"fmt"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
)

// fastSenders lets the tests' senders go as fast as their acks come back.
var fastSenders = []string{"--rate", "1000", "--burst", "1000"}

// reconnecting are the options of a client that reconnects by itself,
// after a pause long enough for the test to send while it is away.
func reconnecting(delayMS int) map[string]any {
	return map[string]any{
		"reconnection": true, "reconnectionDelay": delayMS, "reconnectionDelayMax": delayMS,
		"randomizationFactor": 0, "transports": []string{"websocket"},
	}
}

// sendAll has client send texts, each acked, in order.
func (d *driver) sendAll(t testing.TB, client string, texts []string) {
	t.Helper()
	for _, text := range texts {
		if ack := d.call(client, "messages", text); ack["ok"] != true {
			t.Fatalf("%s: %q refused: %v", client, text, ack)
		}
	}
}

// expectMessages waits for texts at client, in order, as messages from
// name, and fails if any other messages event comes first.
func (d *driver) expectMessages(t testing.TB, client, name string, texts []string) {
	t.Helper()
	for _, text := range texts {
		m := d.event(client, "messages")
		if got := m.str(t, 0); got != name+": "+text {
			t.Fatalf("%s got %q, want %q", client, got, name+": "+text)
		}
		var off string
		if m.Args != nil && len(m.Args) == 3 {
			off = m.str(t, 2)
		}
		if off == "" {
			t.Fatalf("%s got %q without an offset", client, text)
		}
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i+1)
	}
	return out
}

// TestABlipIsRecoveredWithEveryMissedMessageOnce: a client whose
// connection drops comes back by itself and recovers: the 15 messages
// sent while it was away (more than the history keeps) arrive once, in
// order; the history is not sent again; the others see no presence
// change; it can send at once without joining again.
func TestABlipIsRecoveredWithEveryMissedMessageOnce(t *testing.T) {
	t.Parallel()
	requireNode(t)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), fastSenders...)
	d := startDriver(t)
	d.join("bob", srv.url, "bob")
	d.sendAll(t, "bob", numbered("before", 3))
	if first := d.connectWith("ann", srv.url, reconnecting(1500)); first.Recovered {
		t.Fatal("a first connection claims to be recovered")
	}
	if ack := d.call("ann", "join", "ann"); ack["ok"] != true {
		t.Fatal(ack)
	}
	d.expectMessages(t, "ann", "bob", numbered("before", 3)) // the history, at the join
	if got := d.unread("ann", "add chatter"); len(got) != 2 {
		t.Fatalf("ann's join listed %v", got)
	}
	d.eventWith("bob", "add chatter", "ann")
	d.unread("bob", "add chatter", "messages")

	d.send(map[string]any{"op": "close-engine", "client": "ann"})
	d.disconnected("ann")
	missed := numbered("while away", 15)
	d.sendAll(t, "bob", missed)
	if again := d.connected("ann"); !again.Recovered {
		t.Fatal("ann reconnected without recovering")
	}
	d.expectMessages(t, "ann", "bob", missed)
	if ack := d.call("ann", "messages", "back"); ack["ok"] != true {
		t.Fatalf("a recovered client could not send: %v", ack)
	}
	d.expectMessages(t, "ann", "ann", []string{"back"})
	d.expectMessages(t, "bob", "bob", missed)
	d.expectMessages(t, "bob", "ann", []string{"back"})
	if leaks := d.unread("bob", "remove chatter", "add chatter"); len(leaks) > 0 {
		t.Fatalf("bob saw %v", leaks)
	}
	d.nothingUnread(t, "ann")
}

// TestRecoverySurvivesARestart: the server is stopped (SIGTERM) and
// started again on the same file and port; the client recovers what was
// sent after the restart and before it came back.
func TestRecoverySurvivesARestart(t *testing.T) {
	t.Parallel()
	requireNode(t)
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db, fastSenders...)
	u, _ := url.Parse(srv.url)
	d := startDriver(t)
	d.connectWith("ann", srv.url, reconnecting(3000))
	if ack := d.call("ann", "join", "ann"); ack["ok"] != true {
		t.Fatal(ack)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	d.disconnected("ann")
	srv = startServer(t, db, append([]string{"--addr", u.Host}, fastSenders...)...)
	d.join("bob", srv.url, "bob")
	if leaks := d.unread("bob", "add chatter"); len(leaks) != 2 {
		// ann is held present through the restart's grace, and bob.
		t.Fatalf("bob's join showed %v, want ann and bob", leaks)
	}
	missed := numbered("after the restart", 12)
	d.sendAll(t, "bob", missed)
	if again := d.connected("ann"); !again.Recovered {
		t.Fatal("ann reconnected after the restart without recovering")
	}
	d.expectMessages(t, "ann", "bob", missed)
	if leaks := d.unread("bob", "remove chatter", "add chatter"); len(leaks) > 0 {
		t.Fatalf("bob saw %v", leaks)
	}
}

// TestAnUnknownOrForgedSessionIsANewConnection: a pid nobody has, a real
// pid with a forged offset, or one of another room are normal new
// connections: not recovered, not joined, never an error, never someone
// else's seat.
func TestAnUnknownOrForgedSessionIsANewConnection(t *testing.T) {
	t.Parallel()
	requireNode(t)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	d.join("bob", srv.url, "bob")
	for i, auth := range []map[string]any{
		{"pid": "0123456789abcdef0123456789abcdef", "offset": "x-1"},
		{"pid": "not even hex", "offset": 42},
		{"pid": 7},
	} {
		client := fmt.Sprintf("forger%d", i)
		m := d.connectWith(client, srv.url, map[string]any{"auth": auth, "transports": []string{"websocket"}})
		if m.Recovered {
			t.Fatalf("%v recovered a session", auth)
		}
		if ack := d.call(client, "messages", "hi"); ack["error"] != "not_joined" {
			t.Fatalf("%v: a message without joining: %v", auth, ack)
		}
	}
}
