package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// unread returns, and marks read, the events called one of names that
// client was sent and no wait has returned, as "name args".
func (d *driver) unread(client string, names ...string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for i, m := range d.log {
		if d.used[i] || m.Client != client || m.Type != "event" || !slices.Contains(names, m.Event) {
			continue
		}
		d.used[i] = true
		b, _ := json.Marshal(m.Args)
		out = append(out, m.Event+" "+string(b))
	}
	return out
}

// TestADroppedChatterWhoComesBackIsNotSeenToLeave: a connection lost to
// the network keeps its nickname through --presence-grace; the page that
// reconnects and joins with its token takes it back, and the others see
// neither remove chatter nor add chatter. A chatter who leaves on purpose
// is announced at once, long before the grace would end.
func TestADroppedChatterWhoComesBackIsNotSeenToLeave(t *testing.T) {
	t.Parallel()
	requireNode(t)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--presence-grace", "1m")
	d := startDriver(t)
	d.join("watcher", srv.url, "watcher")
	ack := d.join("ann", srv.url, "ann")
	d.eventWith("watcher", "add chatter", "ann")
	d.unread("watcher", "add chatter") // its own, from its join

	cur := "ann"
	for _, how := range []string{"drop", "close-engine"} {
		d.send(map[string]any{"op": how, "client": cur})
		d.disconnected(cur)
		d.connect("ann-"+how, srv.url, "websocket")
		again := d.call("ann-"+how, "join", "ann", map[string]any{"token": ack["token"]})
		if again["ok"] != true {
			t.Fatalf("the token did not take the nickname back after %s: %v", how, again)
		}
		ack["token"] = again["token"]
		// The watcher's events come in order: its own message after the
		// rejoin would come after any presence change.
		d.emit("watcher", "messages", "after "+how)
		m := d.event("watcher", "messages")
		if got := m.str(t, 0); got != "watcher: after "+how {
			t.Fatalf("after %s the watcher saw %q first", how, got)
		}
		if leaks := d.unread("watcher", "remove chatter", "add chatter"); len(leaks) > 0 {
			t.Fatalf("after %s the watcher saw %v", how, leaks)
		}
		d.send(map[string]any{"op": "disconnect", "client": "ann-" + how})
		d.eventWith("watcher", "remove chatter", "ann") // on purpose: at once, not after a minute
		cur = "ann-again-" + how
		ack = d.join(cur, srv.url, "ann")
		d.eventWith("watcher", "add chatter", "ann")
	}
}

// TestAChatterNotBackWhenTheGraceEndsIsAnnounced: with nobody taking the
// nickname back, remove chatter goes out when the grace ends.
func TestAChatterNotBackWhenTheGraceEndsIsAnnounced(t *testing.T) {
	t.Parallel()
	requireNode(t)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--presence-grace", "500ms")
	d := startDriver(t)
	d.join("watcher", srv.url, "watcher")
	d.join("ann", srv.url, "ann")
	d.eventWith("watcher", "add chatter", "ann")
	d.send(map[string]any{"op": "drop", "client": "ann"})
	d.eventWith("watcher", "remove chatter", "ann")
}
