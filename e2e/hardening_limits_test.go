package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSilentClientIsDroppedAfterPingTimeout: with a short heartbeat, a
// client that stops answering pings (it stopped reading) is dropped after
// --ping-interval + --ping-timeout and leaves the chatter list, while a
// client that answers stays.
func TestSilentClientIsDroppedAfterPingTimeout(t *testing.T) {
	t.Parallel()
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"),
		"--ping-interval", interval.String(), "--ping-timeout", timeout.String())
	watcher := joinWS(t, srv.url, "watcher")
	silent := joinWS(t, srv.url, "silent")
	start := time.Now()
	silent.StopReading()
	watcher.WaitEvent("silent leaving", named("remove chatter", "silent"))
	if took := time.Since(start); took < timeout {
		t.Errorf("dropped after %s, before the ping timeout of %s", took, timeout)
	}
	// The watcher answered every ping meanwhile and is still there.
	say(t, watcher, "still connected")
	if !watcher.IsOpen() {
		t.Error("a client answering pings was dropped")
	}
}

// TestMessageLimitFollowsTheFlag: --max-message sets the longest message.
func TestMessageLimitFollowsTheFlag(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--max-message", "10")
	c := joinWS(t, srv.url, "alice")
	say(t, c, strings.Repeat("a", 10))
	if reply := call(t, c, "messages", strings.Repeat("a", 11)); reply["error"] != "invalid_message" {
		t.Errorf("11 characters with --max-message 10: %v, want invalid_message", reply)
	}
}
