package throttle

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder collects the lines a Log writes.
type recorder struct {
	mu    sync.Mutex
	lines []string
	wrote chan struct{} // capacity 1: a line was written
}

func newRecorder() *recorder { return &recorder{wrote: make(chan struct{}, 1)} }

func (r *recorder) logf(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	select {
	case r.wrote <- struct{}{}:
	default:
	}
}

// take returns and forgets the lines written so far.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines := r.lines
	r.lines = nil
	return lines
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestLog returns a Log on a fake clock whose timer never fires during
// the test (tests call fire themselves).
func newTestLog(t *testing.T, maxKeys int) (*Log, *recorder, *clock) {
	t.Helper()
	rec := newRecorder()
	clk := &clock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	l := New(rec.logf)
	l.now = clk.Now
	l.window = time.Hour // the real timer stays far away
	if maxKeys > 0 {
		l.maxKeys = maxKeys
	}
	t.Cleanup(l.Close)
	return l, rec, clk
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func TestFirstWarningIsLoggedTheRestSummarisedOncePerWindow(t *testing.T) {
	l, rec, clk := newTestLog(t, 0)
	for i := range 5 {
		l.Warn("chat: flood disconnects", "192.0.2.7", "chat: disconnected f%d from 192.0.2.7", i)
	}
	equal(t, "during the first window", rec.take(), []string{"chat: disconnected f0 from 192.0.2.7"})

	clk.advance(time.Hour)
	l.fire()
	equal(t, "when the window ends", rec.take(), []string{"chat: flood disconnects: 4 more from 192.0.2.7 in the last hour"})

	// Going on: still counted, one summary per window.
	for range 3 {
		l.Warn("chat: flood disconnects", "192.0.2.7", "chat: disconnected again")
	}
	equal(t, "in the next window", rec.take(), nil)
	clk.advance(time.Hour)
	l.fire()
	equal(t, "when the next window ends", rec.take(), []string{"chat: flood disconnects: 3 more from 192.0.2.7 in the last hour"})

	// A quiet window forgets the address: its next warning is logged.
	clk.advance(time.Hour)
	l.fire()
	equal(t, "after a quiet window", rec.take(), nil)
	l.Warn("chat: flood disconnects", "192.0.2.7", "chat: disconnected later")
	equal(t, "a warning after a quiet window", rec.take(), []string{"chat: disconnected later"})
}

func TestKindsAndAddressesAreThrottledApart(t *testing.T) {
	l, rec, _ := newTestLog(t, 0)
	for range 2 {
		l.Warn("a", "192.0.2.7", "a about 192.0.2.7")
		l.Warn("a", "192.0.2.8", "a about 192.0.2.8")
		l.Warn("b", "192.0.2.7", "b about 192.0.2.7")
	}
	equal(t, "first of each", rec.take(), []string{"a about 192.0.2.7", "a about 192.0.2.8", "b about 192.0.2.7"})
	l.Close()
	equal(t, "summaries at Close", rec.take(), []string{
		"a: 1 more from 192.0.2.7 in the last hour",
		"a: 1 more from 192.0.2.8 in the last hour",
		"b: 1 more from 192.0.2.7 in the last hour",
	})
	l.Warn("a", "192.0.2.9", "after Close")
	equal(t, "after Close", rec.take(), nil)
}

func TestAddressesOverTheLimitShareOneKey(t *testing.T) {
	l, rec, _ := newTestLog(t, 2)
	for i := range 6 {
		l.Warn("k", fmt.Sprintf("192.0.2.%d", i), "warning %d", i)
	}
	equal(t, "logged", rec.take(), []string{"warning 0", "warning 1", "warning 2"})
	if n := len(l.keys); n != 3 {
		t.Errorf("%d keys remembered, want 2 and the shared one", n)
	}
	l.Close()
	equal(t, "summary", rec.take(), []string{"k: 3 more from other addresses in the last hour"})
}

func TestSummaryComesWithoutAnotherWarning(t *testing.T) {
	rec := newRecorder()
	l := New(rec.logf)
	l.window = 20 * time.Millisecond
	t.Cleanup(l.Close)
	l.Warn("k", "192.0.2.7", "first")
	l.Warn("k", "192.0.2.7", "second")
	want := "k: 1 more from 192.0.2.7 in the last 20ms"
	deadline := time.After(10 * time.Second)
	var lines []string
	for len(lines) < 2 {
		select {
		case <-rec.wrote:
			lines = append(lines, rec.take()...)
		case <-deadline:
			t.Fatalf("no summary within 10s; logged %q", lines)
		}
	}
	equal(t, "logged", lines, []string{"first", want})
}
