package memtrim

import (
	"testing"
	"time"
)

// newTest returns a Trimmer whose trims and checks are reported on the
// returned channels.
func newTest(t *testing.T, min int, quiet time.Duration) (tr *Trimmer, trims chan struct{}, checks chan checkOutcome) {
	t.Helper()
	trims = make(chan struct{}, 16)
	checks = make(chan checkOutcome, 16)
	tr = New(min, quiet, func() { trims <- struct{}{} })
	tr.checked = func(deferred, trimmed bool) {
		switch {
		case deferred:
			checks <- checkDeferred
		case trimmed:
			checks <- checkTrimmed
		default:
			checks <- checkKept
		}
	}
	t.Cleanup(tr.Stop)
	return tr, trims, checks
}

// checkOutcome is what one check of a quiet spell did.
type checkOutcome string

const (
	checkDeferred checkOutcome = "waited again" // a connection came meanwhile
	checkTrimmed  checkOutcome = "trimmed"
	checkKept     checkOutcome = "did not trim" // too few since the last trim
)

// settled waits for the check that ends the quiet spell (past those that
// waited again) and returns what it did.
func settled(t *testing.T, checks <-chan checkOutcome) checkOutcome {
	t.Helper()
	for {
		if got := nextCheck(t, checks); got != checkDeferred {
			return got
		}
	}
}

// nextCheck waits for the next check and returns what it did.
func nextCheck(t *testing.T, checks <-chan checkOutcome) checkOutcome {
	t.Helper()
	select {
	case got := <-checks:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("no check within 10 s of the last connection")
		return ""
	}
}

func TestTrimAfterBurst(t *testing.T) {
	tests := []struct {
		name  string
		min   int
		notes int
		want  checkOutcome
	}{
		{"fewer than min", 5, 4, checkKept},
		{"exactly min", 5, 5, checkTrimmed},
		{"more than min", 5, 50, checkTrimmed},
		{"min of one", 1, 1, checkTrimmed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, trims, checks := newTest(t, tt.min, 10*time.Millisecond)
			for range tt.notes {
				tr.Note()
			}
			if got := settled(t, checks); got != tt.want {
				t.Fatalf("after %d connections with min %d: %v, want %v", tt.notes, tt.min, got, tt.want)
			}
			if got := len(trims); got != map[checkOutcome]int{checkKept: 0, checkTrimmed: 1}[tt.want] {
				t.Fatalf("free ran %d times", got)
			}
		})
	}
}

func TestCountCarriesOverUntilTrim(t *testing.T) {
	tr, trims, checks := newTest(t, 6, 10*time.Millisecond)
	for range 3 {
		tr.Note()
	}
	if got := settled(t, checks); got != checkKept {
		t.Fatalf("after 3 of 6: %v", got)
	}
	for range 3 {
		tr.Note()
	}
	if got := settled(t, checks); got != checkTrimmed {
		t.Fatalf("once 6 had come in two bursts: %v", got)
	}
	// The count starts again after a trim.
	tr.Note()
	if got := settled(t, checks); got != checkKept {
		t.Fatalf("after 1 more: %v", got)
	}
	if len(trims) != 1 {
		t.Fatalf("free ran %d times, want 1", len(trims))
	}
}

func TestBusyDefersTrim(t *testing.T) {
	// A quiet spell far longer than the gap between two calls.
	tr, trims, checks := newTest(t, 1, 500*time.Millisecond)
	tr.Note()
	tr.Note() // after the timer was armed: the first check must wait again
	if got := nextCheck(t, checks); got != checkDeferred {
		t.Fatalf("first check: %v, want %v", got, checkDeferred)
	}
	if got := nextCheck(t, checks); got != checkTrimmed {
		t.Fatalf("second check: %v, want %v", got, checkTrimmed)
	}
	if len(trims) != 1 {
		t.Fatalf("free ran %d times, want 1", len(trims))
	}
}

func TestStop(t *testing.T) {
	tr, trims, _ := newTest(t, 1, 10*time.Millisecond)
	tr.Note()
	tr.Stop()
	tr.Note()
	tr.mu.Lock()
	armed, n := tr.timer != nil, tr.n
	tr.mu.Unlock()
	if armed || n != 1 {
		t.Fatalf("after Stop: armed %v, count %d; want disarmed and the Note after Stop ignored", armed, n)
	}
	if len(trims) != 0 {
		t.Fatal("trimmed after Stop")
	}
}

func TestDefaults(t *testing.T) {
	tr := New(0, 0, nil)
	if tr.min != DefaultMin || tr.quiet != DefaultQuiet || tr.free == nil {
		t.Fatalf("New(0, 0, nil) = min %d quiet %v free set %v", tr.min, tr.quiet, tr.free != nil)
	}
}
