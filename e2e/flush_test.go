package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestFlushIntervalHoldsBusyClientsPackets starts the server with a long
// --flush-interval: the first message after a quiet spell reaches a
// watcher at once, and one sent right after it waits for the end of the
// flusher's pause, then arrives.
func TestFlushIntervalHoldsBusyClientsPackets(t *testing.T) {
	t.Parallel()
	const interval = time.Second
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--flush-interval", interval.String())
	watcher := joinWS(t, srv.url, "watcher")
	sender := joinWS(t, srv.url, "sender")
	watcher.waitEvent("the sender's arrival", named("add chatter", "sender"))
	time.Sleep(interval + interval/2) // a quiet spell: every pause the joins began is over

	sender.emit("messages", "first")
	watcher.waitEvent("the first message", messageLine("sender", "first"))
	sender.emit("messages", "second")
	if _, err := watcher.nextEvent(interval/4, messageLine("sender", "second")); err == nil {
		t.Fatal("the second message arrived during the flusher's pause; want it held until the pause ends")
	}
	watcher.waitEvent("the second message, after the pause", messageLine("sender", "second"))
}
