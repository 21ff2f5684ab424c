package engineio

import (
	"sync"
	"time"
)

// alarms runs the heartbeats of a server's sessions on one timer. A
// session has at most one alarm, when its beat is next due; the alarms
// are kept in a min-heap by time and the timer is set for the earliest.
// When it fires, the due sessions are taken out and their beat called, one
// after another on the timer's goroutine (beat never blocks on I/O); a beat
// sets the session's next alarm unless it closes the session. A time.Timer per session would cost
// every connection about 150 bytes for its whole life.
type alarms struct {
	mu    sync.Mutex
	heap  []*Session  // by alarmAt, earliest first; each one's alarmIdx is its index + 1
	timer *time.Timer // fires at the earliest alarm; made by the first set
	armed bool        // the timer is set, for at
	at    int64       // when it is set to fire, in nanoseconds since monoEpoch
}

// set makes s's alarm go off once d has passed, replacing any it had.
func (a *alarms) set(s *Session, d time.Duration) {
	at := int64(time.Since(monoEpoch) + max(d, 0))
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.alarmIdx == 0 {
		s.alarmAt = at
		a.heap = append(a.heap, s)
		s.alarmIdx = int32(len(a.heap))
		a.up(len(a.heap) - 1)
	} else {
		i := int(s.alarmIdx) - 1
		later := at > s.alarmAt
		s.alarmAt = at
		if later {
			a.down(i)
		} else {
			a.up(i)
		}
	}
	a.armLocked()
}

// stop takes s's alarm away, if it has one.
func (a *alarms) stop(s *Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.alarmIdx == 0 {
		return
	}
	a.removeLocked(int(s.alarmIdx) - 1)
	a.armLocked()
}

// fire is the timer's function: it takes out the sessions whose alarm is
// due, sets the timer for the next one, and calls their beat.
func (a *alarms) fire() {
	now := int64(time.Since(monoEpoch))
	var due []*Session
	a.mu.Lock()
	a.armed = false
	for len(a.heap) > 0 && a.heap[0].alarmAt <= now {
		due = append(due, a.heap[0])
		a.removeLocked(0)
	}
	a.armLocked()
	a.mu.Unlock()
	for _, s := range due {
		s.beat()
	}
}

// armLocked sets the timer for the earliest alarm, or stops it when there
// is none. a.mu must be held.
func (a *alarms) armLocked() {
	if len(a.heap) == 0 {
		if a.armed {
			a.timer.Stop()
			a.armed = false
		}
		return
	}
	first := a.heap[0].alarmAt
	if a.armed && a.at == first {
		return
	}
	a.armed, a.at = true, first
	d := time.Duration(first) - time.Since(monoEpoch)
	if a.timer == nil {
		a.timer = time.AfterFunc(d, a.fire)
		return
	}
	a.timer.Reset(d)
}

// removeLocked takes the alarm at index i out of the heap. a.mu must be
// held.
func (a *alarms) removeLocked(i int) {
	last := len(a.heap) - 1
	gone := a.heap[i]
	if i != last {
		a.swap(i, last)
	}
	a.heap[last] = nil
	a.heap = a.heap[:last]
	gone.alarmIdx = 0
	if i != last {
		a.down(i)
		a.up(i)
	}
}

// up moves the alarm at i towards the root while it is earlier than its
// parent.
func (a *alarms) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if a.heap[parent].alarmAt <= a.heap[i].alarmAt {
			return
		}
		a.swap(i, parent)
		i = parent
	}
}

// down moves the alarm at i towards the leaves while it is later than one
// of its children.
func (a *alarms) down(i int) {
	for {
		first := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(a.heap) && a.heap[c].alarmAt < a.heap[first].alarmAt {
				first = c
			}
		}
		if first == i {
			return
		}
		a.swap(i, first)
		i = first
	}
}

// swap exchanges the alarms at i and j, keeping their indexes.
func (a *alarms) swap(i, j int) {
	a.heap[i], a.heap[j] = a.heap[j], a.heap[i]
	a.heap[i].alarmIdx = int32(i + 1)
	a.heap[j].alarmIdx = int32(j + 1)
}
