package throttle

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/internal/logtest"
)

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

// lines hands out, as text, what a recorder got since the last call.
type lines struct {
	rec  *logtest.Recorder
	seen int
}

func (l *lines) take() []string {
	all := l.rec.Records()
	var out []string
	for _, r := range all[l.seen:] {
		out = append(out, r.String())
	}
	l.seen = len(all)
	return out
}

// newTestLog returns a Log of level warn and the given burst (0: 1) on a
// fake clock whose timer never fires during the test (tests call fire
// themselves).
func newTestLog(t *testing.T, burst, maxKeys int) (*Log, *lines, *clock) {
	t.Helper()
	logger, rec := logtest.New(t)
	clk := &clock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	l := New(logger, slog.LevelWarn, burst)
	l.now = clk.Now
	l.window = time.Hour // the real timer stays far away
	if maxKeys > 0 {
		l.maxKeys = maxKeys
	}
	t.Cleanup(l.Close)
	return l, &lines{rec: rec}, clk
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// summary is how a summary line reads in the recorder.
func summary(level, line, key string, count int, window string) string {
	return fmt.Sprintf("%s %s line=%s key=%s count=%d window=%s", level, SummaryMsg, line, key, count, window)
}

func TestFirstLineIsLoggedTheRestSummarisedOncePerWindow(t *testing.T) {
	l, rec, clk := newTestLog(t, 0, 0)
	for i := range 5 {
		l.Print("192.0.2.7", "flood", "nick", fmt.Sprint("f", i))
	}
	equal(t, "during the first window", rec.take(), []string{"WARN flood nick=f0"})

	clk.advance(time.Hour)
	l.fire()
	equal(t, "when the window ends", rec.take(), []string{summary("WARN", "flood", "192.0.2.7", 4, "1h0m0s")})

	// Going on: still counted, one summary per window.
	for range 3 {
		l.Print("192.0.2.7", "flood", "nick", "again")
	}
	equal(t, "in the next window", rec.take(), nil)
	clk.advance(time.Hour)
	l.fire()
	equal(t, "when the next window ends", rec.take(), []string{summary("WARN", "flood", "192.0.2.7", 3, "1h0m0s")})

	// A quiet window forgets the address: its next line is logged.
	clk.advance(time.Hour)
	l.fire()
	equal(t, "after a quiet window", rec.take(), nil)
	l.Print("192.0.2.7", "flood", "nick", "later")
	equal(t, "a line after a quiet window", rec.take(), []string{"WARN flood nick=later"})
}

func TestABurstIsLoggedBeforeCounting(t *testing.T) {
	l, rec, clk := newTestLog(t, 3, 0)
	for i := range 5 {
		l.Print("192.0.2.7", "opened", "n", i)
	}
	equal(t, "during the first window", rec.take(), []string{"WARN opened n=0", "WARN opened n=1", "WARN opened n=2"})
	clk.advance(time.Hour)
	l.fire()
	equal(t, "when the window ends", rec.take(), []string{summary("WARN", "opened", "192.0.2.7", 2, "1h0m0s")})
	// The window after a summary opens full: a client that goes on is
	// only counted.
	l.Print("192.0.2.7", "opened", "n", 5)
	equal(t, "in the next window", rec.take(), nil)
	clk.advance(time.Hour)
	l.fire()
	clk.advance(time.Hour)
	l.fire()
	equal(t, "after two more windows", rec.take(), []string{summary("WARN", "opened", "192.0.2.7", 1, "1h0m0s")})
	l.Print("192.0.2.7", "opened", "n", 6)
	equal(t, "after a quiet window", rec.take(), []string{"WARN opened n=6"})
}

func TestLinesComeAtTheLogsLevel(t *testing.T) {
	logger, rec := logtest.New(t)
	l := New(logger, slog.LevelInfo, 1)
	l.Print("192.0.2.7", "opened")
	l.Print("192.0.2.7", "opened")
	l.Close()
	equal(t, "logged", (&lines{rec: rec}).take(), []string{"INFO opened", summary("INFO", "opened", "192.0.2.7", 1, "1m0s")})
}

func TestKindsAndAddressesAreThrottledApart(t *testing.T) {
	l, rec, _ := newTestLog(t, 0, 0)
	for range 2 {
		l.Print("192.0.2.7", "a", "about", "192.0.2.7")
		l.Print("192.0.2.8", "a", "about", "192.0.2.8")
		l.Print("192.0.2.7", "b", "about", "192.0.2.7")
	}
	equal(t, "first of each", rec.take(), []string{"WARN a about=192.0.2.7", "WARN a about=192.0.2.8", "WARN b about=192.0.2.7"})
	l.Close()
	equal(t, "summaries at Close", rec.take(), []string{
		summary("WARN", "a", "192.0.2.7", 1, "1h0m0s"),
		summary("WARN", "a", "192.0.2.8", 1, "1h0m0s"),
		summary("WARN", "b", "192.0.2.7", 1, "1h0m0s"),
	})
	l.Print("192.0.2.9", "a", "about", "after Close")
	equal(t, "after Close", rec.take(), nil)
}

func TestAddressesOverTheLimitShareOneKey(t *testing.T) {
	l, rec, _ := newTestLog(t, 0, 2)
	for i := range 6 {
		l.Print(fmt.Sprintf("192.0.2.%d", i), "k", "n", i)
	}
	equal(t, "logged", rec.take(), []string{"WARN k n=0", "WARN k n=1", "WARN k n=2"})
	if n := len(l.keys); n != 3 {
		t.Errorf("%d keys remembered, want 2 and the shared one", n)
	}
	l.Close()
	equal(t, "summary", rec.take(), []string{summary("WARN", "k", OtherAddresses, 3, "1h0m0s")})
}

func TestAKindLogsNoMoreThanItsBudgetOverAllAddresses(t *testing.T) {
	l, rec, clk := newTestLog(t, 2, 0)
	l.budget = 3
	for i := range 5 { // five addresses, two lines each
		for j := range 2 {
			l.Print(fmt.Sprintf("2001:db8:%d::/64", i), "opened", "n", 10*i+j)
		}
	}
	l.Print("192.0.2.1", "other kind", "n", 0)
	equal(t, "logged", rec.take(), []string{"WARN opened n=0", "WARN opened n=1", "WARN opened n=10", "WARN other kind n=0"})
	clk.advance(2 * time.Hour) // a new window: the budget is back
	l.Print("2001:db8:9::/64", "opened", "n", 90)
	equal(t, "after the window", rec.take(), []string{
		summary("WARN", "opened", OtherAddresses, 7, "1h0m0s"),
		"WARN opened n=90",
	})
}

func TestSummaryComesWithoutAnotherLine(t *testing.T) {
	logger, rec := logtest.New(t)
	l := New(logger, slog.LevelWarn, 1)
	l.window = 20 * time.Millisecond
	t.Cleanup(l.Close)
	l.Print("192.0.2.7", "first")
	l.Print("192.0.2.7", "first")
	got := rec.Wait(t, SummaryMsg, "line", "first", "key", "192.0.2.7", "count", "1")
	if got.Level != slog.LevelWarn {
		t.Errorf("summary at %s, want WARN", got.Level)
	}
}

func TestNothingIsCountedBelowTheLoggersLevel(t *testing.T) {
	logger, rec := logtest.New(t)
	warnOnly := slog.New(&levelFilter{Handler: logger.Handler(), min: slog.LevelWarn})
	l := New(warnOnly, slog.LevelInfo, 1)
	for range 3 {
		l.Print("192.0.2.7", "opened")
	}
	if n := len(l.keys); n != 0 {
		t.Errorf("%d keys remembered for lines nobody logs", n)
	}
	l.Close()
	if got := rec.Records(); len(got) != 0 {
		t.Errorf("logged %v below the logger's level", got)
	}
}

// levelFilter passes on the records of min and above.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f *levelFilter) Enabled(_ context.Context, l slog.Level) bool { return l >= f.min }
