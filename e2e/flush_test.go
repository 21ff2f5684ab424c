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
	watcher.WaitEvent("the sender's arrival", named("add chatter", "sender"))
	time.Sleep(interval + interval/2) // a quiet spell: every pause the joins began is over

	sender.Emit("messages", "first")
	watcher.WaitEvent("the first message", messageLine("sender", "first"))
	sender.Emit("messages", "second")
	if _, err := watcher.NextEvent(interval/4, messageLine("sender", "second")); err == nil {
		t.Fatal("the second message arrived during the flusher's pause; want it held until the pause ends")
	}
	watcher.WaitEvent("the second message, after the pause", messageLine("sender", "second"))
}
