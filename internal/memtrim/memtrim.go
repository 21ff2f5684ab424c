// Package memtrim gives memory back to the operating system once a burst
// of connections has settled.
//
// A join storm leaves the heap full of garbage (every join is announced to
// everyone present), and the Go runtime keeps the heap it grew for it: the
// next collection comes when the heap doubles again, and the scavenger
// only returns what lies above the heap's goal, about twice the live
// heap. An idle server would thus keep twice the memory its connections
// need. A Trimmer watches the connections coming and going and, once
// enough of them (Min) have done so and then none for a quiet spell, runs
// one forced collection that returns every free page
// (runtime/debug.FreeOSMemory). That costs one collection of the live heap
// per burst, as much as any of the collections the storm itself caused,
// and nothing while connections come and go slowly.
package memtrim

import (
	"runtime/debug"
	"sync"
	"time"
)

// Defaults of a Trimmer made by New.
const (
	// DefaultMin: fewer connections than this leave too little garbage
	// to be worth a forced collection.
	DefaultMin = 100
	// DefaultQuiet: a burst counts as settled after this long without
	// a connection coming or going; join storms and the announcements
	// that follow them go quiet well within it.
	DefaultQuiet = 2 * time.Second
)

// Trimmer returns free memory to the operating system after bursts of
// connections (see the package doc). Its methods are safe for concurrent
// use; its zero value is not usable, make one with New.
type Trimmer struct {
	min     int
	quiet   time.Duration
	free    func()
	checked func(deferred, trimmed bool) // tests: after each check

	mu      sync.Mutex
	n       int         // connections come or gone since the last trim
	busy    bool        // one came or went since the timer was armed
	timer   *time.Timer // armed while a quiet spell is being waited for
	stopped bool
}

// New returns a Trimmer that runs free once min connections have come or
// gone since the last time and none for quiet. A nil free is
// runtime/debug.FreeOSMemory; min < 1 or quiet <= 0 take the defaults.
func New(min int, quiet time.Duration, free func()) *Trimmer {
	if min < 1 {
		min = DefaultMin
	}
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	if free == nil {
		free = debug.FreeOSMemory
	}
	return &Trimmer{min: min, quiet: quiet, free: free}
}

// Note counts one connection come or gone. It never blocks on the trim
// itself, which runs on a timer's goroutine.
func (t *Trimmer) Note() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.n++
	if t.timer == nil {
		t.timer = time.AfterFunc(t.quiet, t.check)
		return
	}
	t.busy = true
}

// check runs when a quiet spell may have passed: if something came or
// went meanwhile it waits for another one, otherwise it trims when enough
// has happened since the last trim.
func (t *Trimmer) check() {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	checked := t.checked
	if t.busy {
		t.busy = false
		t.timer.Reset(t.quiet)
		t.mu.Unlock()
		if checked != nil {
			checked(true, false)
		}
		return
	}
	t.timer = nil
	trim := t.n >= t.min
	if trim {
		t.n = 0
	}
	t.mu.Unlock()
	if trim {
		t.free()
	}
	if checked != nil {
		checked(false, trim)
	}
}

// Stop ends the Trimmer: no trim starts after Stop returns, and Note does
// nothing. A trim already running is not waited for.
func (t *Trimmer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}
