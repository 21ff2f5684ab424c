package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// received returns the first argument of every name event client has
// received so far, returned by a wait or not, in order.
func (d *driver) received(client, name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, m := range d.log {
		var s string
		if m.Type == "event" && m.Client == client && m.Event == name && len(m.Args) > 0 && json.Unmarshal(m.Args[0], &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// TestPasteArrivesWholeAndInOrder: with the default limits (bursts of 10,
// 5 a second), a real socket.io-client pasting 30 lines at once, without
// acks, as the classic client does, gets every one of them to another
// chatter, in order: the lines past the burst wait their turn instead of
// being refused (which the client would never show).
func TestPasteArrivesWholeAndInOrder(t *testing.T) {
	t.Parallel()
	requireNode(t)
	const lines = 30
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	d.join("watcher", srv.url, "watcher")
	d.join("alice", srv.url, "alice")
	for i := range lines {
		d.emit("alice", "messages", fmt.Sprintf("line %d", i))
	}
	for i := range lines {
		if got, want := d.event("watcher", "messages").str(t, 0), fmt.Sprintf("alice: line %d", i); got != want {
			t.Fatalf("the watcher's message %d is %q, want %q", i, got, want)
		}
	}
	// A marker from alice: nothing of the paste was refused on the way.
	if ack := d.call("alice", "messages", "done"); ack["ok"] != true {
		t.Fatalf("alice's marker: %v", ack)
	}
	d.eventWith("watcher", "messages", "alice: done")
	if errs := d.received("alice", "chat error"); len(errs) != 0 {
		t.Errorf("alice was sent chat errors: %q", errs)
	}
}

// TestFloodOf300IsContainedAndDisconnected: with the default limits, a
// client firing 300 messages at once gets its burst through and a few
// paced ones at most, fills its backlog, is refused until --flood-limit
// refusals in a row disconnect it, and its backlog goes with it: fewer
// than 100 of its messages reach the room, in order. Another chatter is
// served throughout.
func TestFloodOf300IsContainedAndDisconnected(t *testing.T) {
	t.Parallel()
	requireNode(t)
	const flood = 300
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	d.join("watcher", srv.url, "watcher")
	d.join("calm", srv.url, "calm")
	d.join("flooder", srv.url, "flooder")
	for i := range flood {
		d.emit("flooder", "messages", fmt.Sprintf("flood %d", i))
	}
	for i := range 3 {
		text := fmt.Sprintf("calm %d", i)
		if ack := d.call("calm", "messages", text); ack["ok"] != true {
			t.Fatalf("calm's %q during the flood: %v", text, ack)
		}
		d.eventWith("watcher", "messages", "calm: "+text)
	}
	d.disconnected("flooder")
	srv.waitRecord(t, "disconnected a flooding client",
		"nick", "flooder", "addr", "127.0.0.1", "requests", "messages", "refused_in_a_row", "20")
	d.eventWith("watcher", "remove chatter", "flooder")

	// A marker after the disconnect: what the flooder got through came
	// before it.
	if ack := d.call("calm", "messages", "after the flood"); ack["ok"] != true {
		t.Fatalf("the marker: %v", ack)
	}
	d.eventWith("watcher", "messages", "calm: after the flood")
	var got []string
	for _, line := range d.received("watcher", "messages") {
		if text, ok := strings.CutPrefix(line, "flooder: "); ok {
			got = append(got, text)
		}
	}
	t.Logf("%d of the flood's %d messages reached the room", len(got), flood)
	if len(got) < 10 || len(got) >= 100 {
		t.Errorf("%d of the flood's %d messages reached the room, want the burst of 10 and fewer than 100", len(got), flood)
	}
	for i, text := range got {
		if want := fmt.Sprintf("flood %d", i); text != want {
			t.Fatalf("the watcher's flood message %d is %q, want %q (in order, none missing)", i, text, want)
		}
	}
}
