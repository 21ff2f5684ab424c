package chat

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recMetrics records what a room tells its Metrics.
type recMetrics struct {
	mu                                 sync.Mutex
	received, paced, stored, delivered int
	refused                            map[Code]int
	commits, failedCommits             int
	resubscribed, caughtUp, resets     int
}

func (m *recMetrics) MessageReceived() { m.mu.Lock(); m.received++; m.mu.Unlock() }
func (m *recMetrics) MessagePaced()    { m.mu.Lock(); m.paced++; m.mu.Unlock() }
func (m *recMetrics) MessageRefused(code Code) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refused == nil {
		m.refused = map[Code]int{}
	}
	m.refused[code]++
}
func (m *recMetrics) Committed(n int, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commits++
	if err != nil {
		m.failedCommits++
		return
	}
	m.stored += n
}
func (m *recMetrics) Delivered(n int) { m.mu.Lock(); m.delivered += n; m.mu.Unlock() }
func (m *recMetrics) Resubscribed()   { m.mu.Lock(); m.resubscribed++; m.mu.Unlock() }
func (m *recMetrics) CaughtUp(reset bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reset {
		m.resets++
	} else {
		m.caughtUp++
	}
}

// snapshot is what a recMetrics holds, for comparison.
type snapshot struct {
	received, paced, stored, delivered, commits, failedCommits int
	refused                                                    string // "code=n" in code order
}

func (m *recMetrics) snapshot() snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	var refused []string
	for _, code := range []Code{CodeInvalidMessage, CodeNotJoined, CodeRateLimited, CodeStoreFailed, CodeUnavailable} {
		if n := m.refused[code]; n > 0 {
			refused = append(refused, fmt.Sprintf("%s=%d", code, n))
		}
	}
	return snapshot{m.received, m.paced, m.stored, m.delivered, m.commits, m.failedCommits, strings.Join(refused, " ")}
}

// TestMetricsCountMessages sends messages that are stored, refused for
// each reason a message can be, and lost to a store failure, and checks
// what the room's Metrics were told after each.
func TestMetricsCountMessages(t *testing.T) {
	m := &recMetrics{}
	f := newFixture(t, Config{Metrics: m, Burst: 2, Rate: 1, PaceBacklog: NoPacing})
	alice, _ := f.join(t, "alice")
	_, bobConn := f.join(t, "bob")
	stranger := f.connect(&recConn{}, Peer{})

	steps := []struct {
		name string
		do   func() error
		code Code // "" when the message is stored
		want snapshot
	}{
		{"a message to two chatters", func() error { _, err := alice.Say("hi"); return err }, "",
			snapshot{received: 1, stored: 1, delivered: 2, commits: 1}},
		{"before joining", func() error { _, err := stranger.Say("hello?"); return err }, CodeNotJoined,
			snapshot{received: 2, stored: 1, delivered: 2, commits: 1, refused: "not_joined=1"}},
		{"blank", func() error { _, err := alice.Say("   "); return err }, CodeInvalidMessage,
			snapshot{received: 3, stored: 1, delivered: 2, commits: 1, refused: "invalid_message=1 not_joined=1"}},
		{"not a string", alice.SayNonString, CodeInvalidMessage,
			snapshot{received: 4, stored: 1, delivered: 2, commits: 1, refused: "invalid_message=2 not_joined=1"}},
		{"the second of the burst", func() error { _, err := alice.Say("again"); return err }, "",
			snapshot{received: 5, stored: 2, delivered: 4, commits: 2, refused: "invalid_message=2 not_joined=1"}},
		{"over the rate", func() error { _, err := alice.Say("too fast"); return err }, CodeRateLimited,
			snapshot{received: 6, stored: 2, delivered: 4, commits: 2, refused: "invalid_message=2 not_joined=1 rate_limited=1"}},
		{"to a connection that is gone", func() error {
			f.clock.Advance(time.Minute)
			bobConn.Close() // the transport has not told the room yet
			_, err := alice.Say("still here")
			return err
		}, "",
			snapshot{received: 7, stored: 3, delivered: 5, commits: 3, refused: "invalid_message=2 not_joined=1 rate_limited=1"}},
		{"the store fails", func() error {
			f.store.mu.Lock()
			f.store.failNext = errors.New("disk full")
			f.store.mu.Unlock()
			_, err := alice.Say("lost")
			return err
		}, CodeStoreFailed,
			snapshot{received: 8, stored: 3, delivered: 5, commits: 4, failedCommits: 1,
				refused: "invalid_message=2 not_joined=1 rate_limited=1 store_failed=1"}},
	}
	for _, step := range steps {
		err := step.do()
		if step.code == "" && err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if step.code != "" {
			wantCode(t, err, step.code)
		}
		if got := m.snapshot(); got != step.want {
			t.Errorf("%s: metrics %+v, want %+v", step.name, got, step.want)
		}
	}
	f.room.Close()
	wantCode(t, func() error { _, err := alice.Say("after close"); return err }(), CodeUnavailable)
	if got := m.snapshot().refused; !strings.Contains(got, "unavailable=1") {
		t.Errorf("refusals after close %q, want unavailable=1 among them", got)
	}
}

// TestMetricsCountPacedMessages: a message over the rate limits is counted
// as paced when it starts waiting, then as stored once its turn comes, or
// as refused (unavailable) when it is dropped before.
func TestMetricsCountPacedMessages(t *testing.T) {
	m := &recMetrics{}
	f := newFixture(t, Config{Metrics: m, Burst: 1, Rate: 1})
	alice, _ := f.join(t, "alice")
	var o outcomes
	for _, text := range []string{"at once", "its turn", "dropped"} {
		o.post(alice, text)
	}
	if got, want := m.snapshot(), (snapshot{received: 3, paced: 2, stored: 1, delivered: 1, commits: 1}); got != want {
		t.Errorf("sent: metrics %+v, want %+v", got, want)
	}
	f.clock.Advance(time.Second)
	if got, want := m.snapshot(), (snapshot{received: 3, paced: 2, stored: 2, delivered: 2, commits: 2}); got != want {
		t.Errorf("after one turn: metrics %+v, want %+v", got, want)
	}
	alice.Leave()
	if got, want := m.snapshot(), (snapshot{received: 3, paced: 2, stored: 2, delivered: 2, commits: 2, refused: "unavailable=1"}); got != want {
		t.Errorf("after leaving: metrics %+v, want %+v", got, want)
	}
}
