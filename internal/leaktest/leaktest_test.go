package leaktest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recordingT is a testing.TB whose cleanups run when the test says and
// whose errors are collected rather than reported.
type recordingT struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recordingT) Helper()          {}
func (r *recordingT) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingT) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// finish runs the cleanups, last registered first, as the testing package does.
func (r *recordingT) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// parkedUntil runs until release is closed; its name shows in stacks.
func parkedUntil(release <-chan struct{}, done chan<- struct{}) {
	<-release
	close(done)
}

func TestCheck(t *testing.T) {
	t.Run("a goroutine still running is reported with its stack", func(t *testing.T) {
		rt := &recordingT{TB: t}
		release, done := make(chan struct{}), make(chan struct{})
		check(rt, 50*time.Millisecond)
		go parkedUntil(release, done)
		rt.finish()
		close(release)
		<-done
		if len(rt.errors) != 1 || !strings.Contains(rt.errors[0], "leaktest.parkedUntil") {
			t.Errorf("errors %q, want one naming parkedUntil", rt.errors)
		}
	})

	t.Run("a goroutine ended by a later cleanup is no leak", func(t *testing.T) {
		rt := &recordingT{TB: t}
		release, done := make(chan struct{}), make(chan struct{})
		check(rt, time.Minute)
		go parkedUntil(release, done)
		rt.Cleanup(func() { close(release) })
		rt.finish()
		if len(rt.errors) != 0 {
			t.Errorf("errors %q, want none", rt.errors)
		}
	})

	t.Run("goroutines running before the check do not count", func(t *testing.T) {
		release, done := make(chan struct{}), make(chan struct{})
		go parkedUntil(release, done)
		defer func() { close(release); <-done }()
		rt := &recordingT{TB: t}
		check(rt, 50*time.Millisecond)
		rt.finish()
		if len(rt.errors) != 0 {
			t.Errorf("errors %q, want none", rt.errors)
		}
	})
}
