// Package leaktest fails a test that leaves goroutines running.
package leaktest

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Timeout is how long Check waits, after the test, for the goroutines it
// started to end.
const Timeout = 5 * time.Second

// Check notes the goroutines running now and registers a cleanup that,
// after every cleanup registered later has run (so call Check before
// starting the test's servers and clients), waits up to Timeout for
// every goroutine started since to end, and fails the test with the
// stacks of those still running. Goroutines of tests running alongside
// would count too: a test using Check must not run in parallel.
func Check(t testing.TB) {
	t.Helper()
	check(t, Timeout)
}

// check is Check waiting up to timeout.
func check(t testing.TB, timeout time.Duration) {
	t.Helper()
	before := make(map[int]bool)
	for _, g := range goroutines() {
		before[g.id] = true
	}
	t.Cleanup(func() {
		// A goroutine's end is no event anyone can wait on: look again
		// every few milliseconds.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(timeout)
		for {
			self := currentID()
			var left []string
			for _, g := range goroutines() {
				if !before[g.id] && g.id != self {
					left = append(left, g.stack)
				}
			}
			if len(left) == 0 {
				return
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Errorf("%d goroutine(s) the test started still run %s after it:\n\n%s",
					len(left), timeout, strings.Join(left, "\n\n"))
				return
			}
		}
	})
}

// goroutine is one entry of a full stack dump.
type goroutine struct {
	id    int
	stack string
}

// goroutines returns every goroutine's id and stack.
func goroutines() []goroutine {
	var out []goroutine
	for _, block := range strings.Split(stacks(true), "\n\n") {
		if id, ok := parseID(block); ok {
			out = append(out, goroutine{id: id, stack: block})
		}
	}
	return out
}

// currentID returns the id of the calling goroutine.
func currentID() int {
	id, _ := parseID(stacks(false))
	return id
}

// stacks is runtime.Stack with a buffer large enough for all of it.
func stacks(all bool) string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, all)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// parseID reads the id from a stack's first line, "goroutine 12 [...]:".
func parseID(stack string) (int, bool) {
	rest, ok := strings.CutPrefix(stack, "goroutine ")
	if !ok {
		return 0, false
	}
	i := strings.IndexByte(rest, ' ')
	if i < 0 {
		return 0, false
	}
	id, err := strconv.Atoi(rest[:i])
	return id, err == nil
}
