package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// Bounds of the crash test: it stops after durabilityCycles kills or
// once durabilityBudget has passed, whichever comes first (each cycle
// takes a fraction of a second on a quiet machine).
const (
	durabilityCycles = 25
	durabilityBudget = 30 * time.Second
	// durabilityHistory is the history kept: more than one cycle sends,
	// so the check sees messages from several runs of the server.
	durabilityHistory = 200
	// maxKillDelay bounds how long a cycle sends before the kill; the
	// delay is random below it, so the kill lands at any point of a
	// write (before, during or after the fsync).
	maxKillDelay = 150 * time.Millisecond
)

// storedMessage is a messages event as the crash test checks it.
type storedMessage struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	Text string `json:"text"`
	Time string `json:"time"`
}

// TestAckedMessagesSurviveSIGKILL kills the server with SIGKILL at a
// random moment while a client sends messages one after another, each
// waiting for its ack, then restarts it: every acknowledged message is
// still there, and the retained history is contiguous and in order.
func TestAckedMessagesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("random seed %d", seed)
	args := []string{"--history", fmt.Sprint(durabilityHistory), "--rate", "100000", "--burst", "100000"}

	sent := make(map[uint64]string) // acknowledged id → text
	sentTexts := make(map[string]bool)
	var lastAcked uint64
	// unacked is how many messages may be stored beyond lastAcked: each
	// kill can catch one message stored but not yet acknowledged, so one
	// per cycle since the last one that got an ack (the writer sends one
	// message at a time).
	var unacked uint64
	start := time.Now()
	cycles := 0
	for ; cycles < durabilityCycles && time.Since(start) < durabilityBudget; cycles++ {
		srv := startServer(t, db, args...)
		checkRetained(t, srv.url, fmt.Sprintf("reader%d", cycles), sent, sentTexts, lastAcked, unacked)

		w := joinWS(t, srv.url, fmt.Sprintf("writer%d", cycles))
		delay := time.Duration(rng.Int64N(int64(maxKillDelay)))
		kill := time.AfterFunc(delay, func() { srv.cmd.Process.Kill() })
		acked := 0
		for i := 0; ; i++ {
			text := fmt.Sprintf("cycle %d message %d", cycles, i)
			sentTexts[text] = true
			reply, err := ackReply(w.Request("messages", text))
			if err != nil {
				break // the server is gone; this message may or may not be stored
			}
			id, ok := reply["id"].(float64)
			if reply["ok"] != true || !ok {
				t.Fatalf("cycle %d: message %d refused: %v", cycles, i, reply)
			}
			if uint64(id) <= lastAcked {
				t.Fatalf("cycle %d: id %v after %d: ids must increase", cycles, id, lastAcked)
			}
			lastAcked = uint64(id)
			sent[lastAcked] = text
			acked++
		}
		kill.Stop()
		if acked > 0 {
			unacked = 1
		} else {
			unacked++
		}
		select {
		case <-srv.exited:
		case <-time.After(stopTimeout):
			t.Fatalf("cycle %d: the server did not die of SIGKILL", cycles)
		}
		w.Close()
		t.Logf("cycle %d: killed after %s, %d messages acked (last id %d)", cycles, delay.Round(time.Millisecond), acked, lastAcked)
	}

	srv := startServer(t, db, args...)
	checkRetained(t, srv.url, "final reader", sent, sentTexts, lastAcked, unacked)
	if cycles < 3 || len(sent) == 0 {
		t.Errorf("only %d cycles and %d acked messages within %s: the test proved little", cycles, len(sent), durabilityBudget)
	}
}

// checkRetained joins as name and checks the history the server replays:
// ids consecutive and increasing, times in order, every text one that was
// sent (acked ones with their id), the last acked message present, and
// at most unacked messages after it (those in flight at the kills).
func checkRetained(t *testing.T, url, name string, acked map[uint64]string, sentTexts map[string]bool, lastAcked, unacked uint64) {
	t.Helper()
	r := joinWS(t, url, name)
	defer r.Close()
	var msgs []storedMessage
	for _, ev := range r.Events("messages") {
		var m storedMessage
		if len(ev.Args) < 2 || json.Unmarshal(ev.Args[1], &m) != nil {
			t.Fatalf("%s: history event %v is not a message", name, ev.Args)
		}
		msgs = append(msgs, m)
	}
	if lastAcked == 0 {
		if uint64(len(msgs)) > unacked {
			t.Fatalf("%s: history %v, but nothing was acknowledged and at most %d were in flight", name, msgs, unacked)
		}
		return
	}
	if len(msgs) == 0 {
		t.Fatalf("%s: empty history, but message %d was acknowledged", name, lastAcked)
	}
	foundLast := false
	for i, m := range msgs {
		if i > 0 {
			prev := msgs[i-1]
			if m.ID != prev.ID+1 {
				t.Fatalf("%s: history ids %d then %d: not contiguous", name, prev.ID, m.ID)
			}
			if m.Time < prev.Time {
				t.Fatalf("%s: history times %s then %s: out of order", name, prev.Time, m.Time)
			}
		}
		if want, ok := acked[m.ID]; ok && m.Text != want {
			t.Fatalf("%s: message %d is %q, but %q was acknowledged with that id", name, m.ID, m.Text, want)
		}
		if !sentTexts[m.Text] {
			t.Fatalf("%s: message %d %q was never sent", name, m.ID, m.Text)
		}
		foundLast = foundLast || m.ID == lastAcked
	}
	if !foundLast {
		t.Fatalf("%s: the last acknowledged message %d (%q) is missing; history ids %d..%d",
			name, lastAcked, acked[lastAcked], msgs[0].ID, msgs[len(msgs)-1].ID)
	}
	// Only the messages in flight at the kills may follow the last ack.
	if newest := msgs[len(msgs)-1].ID; newest > lastAcked+unacked {
		t.Fatalf("%s: newest message %d, but the last acked was %d and at most %d were in flight", name, newest, lastAcked, unacked)
	}
	if len(msgs) < min(durabilityHistory, len(acked)) {
		t.Fatalf("%s: %d messages retained, want at least %d", name, len(msgs), min(durabilityHistory, len(acked)))
	}
}
