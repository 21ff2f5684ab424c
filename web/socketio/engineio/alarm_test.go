package engineio

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestAlarmsKeepTheEarliestFirst sets, moves and stops the alarms of many
// sessions, all far in the future so that none goes off, and checks after
// every step that the heap is ordered, that every session knows its place
// in it, and that the timer is set for the earliest alarm.
func TestAlarmsKeepTheEarliestFirst(t *testing.T) {
	var a alarms
	t.Cleanup(func() {
		if a.timer != nil {
			a.timer.Stop()
		}
	})
	rng := rand.New(rand.NewPCG(1, 2))
	sessions := make([]*Session, 64)
	for i := range sessions {
		sessions[i] = &Session{}
	}
	set := map[*Session]bool{}
	for step := range 2000 {
		s := sessions[rng.IntN(len(sessions))]
		if rng.IntN(4) == 0 {
			a.stop(s)
			delete(set, s)
		} else {
			a.set(s, time.Hour+time.Duration(rng.IntN(1000))*time.Second)
			set[s] = true
		}
		checkAlarms(t, step, &a, set)
	}
	for s := range set {
		a.stop(s)
	}
	checkAlarms(t, -1, &a, nil)
}

// TestAlarmsGoOffInOrder has three sessions' alarms taken out due, the
// way fire takes them, and checks they come in the order of their times,
// whatever the order they were set in.
func TestAlarmsGoOffInOrder(t *testing.T) {
	var a alarms
	t.Cleanup(func() { a.timer.Stop() })
	first, second, third := &Session{id: "first"}, &Session{id: "second"}, &Session{id: "third"}
	a.set(third, 3*time.Hour)
	a.set(first, 4*time.Hour)
	a.set(second, 2*time.Hour)
	a.set(first, time.Hour) // moved earlier
	var got []string
	a.mu.Lock()
	for len(a.heap) > 0 {
		got = append(got, a.heap[0].id)
		a.removeLocked(0)
	}
	a.mu.Unlock()
	if want := []string{"first", "second", "third"}; !slices.Equal(got, want) {
		t.Errorf("alarms went off in the order %q, want %q", got, want)
	}
	for _, s := range []*Session{first, second, third} {
		if s.alarmIdx != 0 {
			t.Errorf("%s: alarmIdx %d after going off, want 0", s.id, s.alarmIdx)
		}
	}
}

// checkAlarms fails the test unless a holds exactly the sessions of want,
// in heap order, each with its own index, and its timer is set for the
// earliest (or not set when there is none).
func checkAlarms(t *testing.T, step int, a *alarms, want map[*Session]bool) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.heap) != len(want) {
		t.Fatalf("step %d: %d alarms, want %d", step, len(a.heap), len(want))
	}
	for i, s := range a.heap {
		if !want[s] {
			t.Fatalf("step %d: a stopped session has an alarm", step)
		}
		if int(s.alarmIdx) != i+1 {
			t.Fatalf("step %d: the session at %d has alarmIdx %d", step, i, s.alarmIdx)
		}
		if i > 0 && a.heap[(i-1)/2].alarmAt > s.alarmAt {
			t.Fatalf("step %d: the alarm at %d is earlier than its parent's", step, i)
		}
	}
	switch {
	case len(a.heap) == 0 && a.armed:
		t.Fatalf("step %d: the timer is set with no alarm", step)
	case len(a.heap) > 0 && (!a.armed || a.at != a.heap[0].alarmAt):
		t.Fatalf("step %d: the timer is not set for the earliest alarm", step)
	}
}
