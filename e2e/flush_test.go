package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestFlushIntervalHoldsBusyClientsPackets starts the server with a long
// --flush-interval and checks that it takes effect: after the server has
// written a message to a watcher, its flusher pauses for the interval, so
// a message sent as soon as the watcher has the first one reaches the
// watcher no sooner than the interval after the first was written.
//
// The gap is measured between the two arrivals, both timed by the
// watcher's reader goroutine, rather than from the test's own send: the
// test goroutine's reaction time then does not count, and a slow machine
// only delays the second arrival (the server cannot write it before the
// pause ends), which lengthens the gap. Only a reader late by more than
// interval-minGap (half a second) with the first message alone could
// shorten it. With --flush-interval 0s the second message follows in
// milliseconds and the test fails.
//
// That the first message after a quiet spell goes out at once is not
// asserted: that would be a bound on latency, which a loaded machine can
// break.
func TestFlushIntervalHoldsBusyClientsPackets(t *testing.T) {
	t.Parallel()
	const (
		interval = time.Second // the longest the server takes
		minGap   = interval / 2
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--flush-interval", interval.String())
	watcher := joinWS(t, srv.url, "watcher")
	sender := joinWS(t, srv.url, "sender")
	watcher.WaitEvent("the sender's arrival", named("add chatter", "sender"))

	sender.Emit("messages", "first")
	first := watcher.WaitEvent("the first message", messageLine("sender", "first"))
	sender.Emit("messages", "second")
	second := watcher.WaitEvent("the second message", messageLine("sender", "second"))
	gap := second.Received.Sub(first.Received)
	t.Logf("the second message arrived %s after the first", gap)
	if gap < minGap {
		t.Errorf("the second message arrived %s after the first; want the flusher's pause to hold it at least %s", gap, minGap)
	}
}
