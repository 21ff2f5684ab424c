package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"chatserver/internal/siotest"
)

// TestSlowReaderIsDisconnectedAndNeverStallsTheRoom: a client joins and
// stops reading its socket while another sends 2 KB messages until the
// server has given up on the first: hundreds of them, every one
// acknowledged and delivered to a third client in order. The reader that
// hangs is disconnected because its send queue is full (the server says
// so) and leaves the chatter list.
func TestSlowReaderIsDisconnectedAndNeverStallsTheRoom(t *testing.T) {
	t.Parallel()
	const (
		size = 2000 // characters: the longest message allowed, about 2 KB
		// minMessages is "hundreds": sent even if the reader that hangs
		// is dropped sooner.
		minMessages = 300
		// maxMessages bounds the test: the kernel buffers of a loopback
		// connection (a few MB at most) and the queue of 128 packets
		// are full long before.
		maxMessages = 6000
		// window is how many messages the sender has in flight: enough
		// to keep the server busy, as a real client pipelines.
		window = 32
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"),
		"--rate", "100000", "--burst", "100000", "--send-queue", "128", "--max-connections", "32", "--recovery-window", "0")
	watcher := joinWS(t, srv.url, "watcher")

	// A small receive buffer, so the kernel holds little for it.
	hang := connectWS(t, srv.url, siotest.Options{ReadBuffer: 4096})
	if reply := call(t, hang, "join", "hang"); reply["ok"] != true {
		t.Fatalf("join: %v", reply)
	}
	hang.StopReading()
	sender := joinWS(t, srv.url, "sender")

	var texts []string
	var inFlight []<-chan siotest.Args
	var lastID float64
	settle := func(ch <-chan siotest.Args) {
		t.Helper()
		reply, err := ackReply(sender.WaitAck(ch))
		if err != nil {
			t.Fatalf("a message was not acknowledged: %v", err)
		}
		id, _ := reply["id"].(float64)
		if reply["ok"] != true || id <= lastID {
			t.Fatalf("message refused or out of order after id %v: %v", lastID, reply)
		}
		lastID = id
	}
	gone := named("remove chatter", "hang")
	for len(texts) < maxMessages && (len(texts) < minMessages || !watcher.Seen(gone)) {
		prefix := fmt.Sprintf("message %d ", len(texts))
		text := prefix + strings.Repeat("x", size-len(prefix))
		texts = append(texts, text)
		inFlight = append(inFlight, sender.EmitWithAck("messages", text))
		if len(inFlight) == window {
			settle(inFlight[0])
			inFlight = inFlight[1:]
		}
	}
	for _, ch := range inFlight {
		settle(ch)
	}
	t.Logf("sent %d messages of %d characters", len(texts), size)
	for i, text := range texts {
		watcher.WaitEvent(fmt.Sprintf("message %d at the watcher", i), messageLine("sender", text))
	}
	watcher.WaitEvent("hang leaving", gone)
	if got := len(watcher.Events("messages")); got != len(texts) {
		t.Errorf("watcher got %d messages, want %d", got, len(texts))
	}
	srv.waitRecord(t, "disconnected a slow client: it did not read its messages and its send queue is full",
		"nick", "hang", "addr", "127.0.0.1")

	// Its nickname is free again: presence was cleared.
	joinWS(t, srv.url, "hang")
}

// TestFloodIsRefusedNeverBroadcastAndDisconnected: with pacing off
// (--pace-backlog 0) and the default limits (5 a second, bursts of 10,
// 20 refusals in a row), a client that fires 60 messages at once gets
// its burst accepted and the rest refused with rate_limited, is
// disconnected, and none of the refused messages reaches anyone;
// meanwhile another chatter's messages are delivered. (With pacing, see
// TestFloodOf300IsContainedAndDisconnected.)
func TestFloodIsRefusedNeverBroadcastAndDisconnected(t *testing.T) {
	t.Parallel()
	const flood = 60
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--pace-backlog", "0")
	watcher := joinWS(t, srv.url, "watcher")
	calm := joinWS(t, srv.url, "calm")
	flooder := joinWS(t, srv.url, "flooder")

	var wg sync.WaitGroup
	replies := make([]map[string]any, flood)
	errs := make([]error, flood)
	for i := range flood {
		ch := flooder.EmitWithAck("messages", fmt.Sprintf("flood %d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = ackReply(flooder.WaitAck(ch))
		}()
	}
	// The room keeps serving others while the flood is refused.
	for i := range 5 {
		text := fmt.Sprintf("calm %d", i)
		say(t, calm, text)
		watcher.WaitEvent(text, messageLine("calm", text))
	}
	wg.Wait()
	flooder.WaitClosed()
	watcher.WaitEvent("flooder leaving", named("remove chatter", "flooder"))
	srv.waitRecord(t, "disconnected a flooding client",
		"nick", "flooder", "addr", "127.0.0.1", "requests", "messages", "refused_in_a_row", "20")

	accepted := map[string]bool{}
	refused := 0
	for i, reply := range replies {
		switch {
		case errs[i] != nil:
			// Not answered: the connection was closed first.
		case reply["ok"] == true:
			accepted[fmt.Sprintf("flood %d", i)] = true
		case reply["error"] == "rate_limited":
			refused++
		default:
			t.Errorf("flood %d: unexpected reply %v", i, reply)
		}
	}
	// The burst of 10, plus what the bucket refilled meanwhile.
	if len(accepted) < 10 || len(accepted) > 15 {
		t.Errorf("%d flood messages accepted, want the burst of 10 (a few more at most)", len(accepted))
	}
	if refused == 0 {
		t.Errorf("no flood message was refused with rate_limited")
	}

	// A marker after the flood: everything the flooder got through was
	// delivered before it, nothing refused at all.
	say(t, calm, "after the flood")
	watcher.WaitEvent("the marker", messageLine("calm", "after the flood"))
	for _, ev := range watcher.Events("messages") {
		line := ev.Args.String(0)
		if text, ok := strings.CutPrefix(line, "flooder: "); ok && !accepted[text] {
			t.Errorf("watcher received %q, which was not accepted", line)
		}
		delete(accepted, strings.TrimPrefix(line, "flooder: "))
	}
	if len(accepted) != 0 {
		t.Errorf("accepted flood messages never delivered: %v", accepted)
	}
	if !watcher.IsOpen() || !calm.IsOpen() {
		t.Error("the flood disconnected other chatters")
	}
}
