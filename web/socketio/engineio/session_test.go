package engineio

import "testing"

// allStates and allWriters list every value of the two enumerations.
var (
	allStates  = []sessionState{stateOpen, stateProbing, stateUpgrading, stateClosing, stateLingering, stateLingered}
	allWriters = []writerRole{writerNone, writerFlusher, writerWorker, writerFinisher}
)

// reachable returns the states reachable from from through transitions.
func reachable(from sessionState) map[sessionState]bool {
	seen := map[sessionState]bool{from: true}
	todo := []sessionState{from}
	for len(todo) > 0 {
		st := todo[0]
		todo = todo[1:]
		for _, to := range allStates {
			if transitions[st]&(1<<to) != 0 && !seen[to] {
				seen[to] = true
				todo = append(todo, to)
			}
		}
	}
	return seen
}

// TestSessionStateTransitions states the shape of the lifecycle: every
// state is reachable from open, every open state can close, and no closed
// state ever leads back to an open one.
func TestSessionStateTransitions(t *testing.T) {
	fromOpen := reachable(stateOpen)
	for _, st := range allStates {
		if !fromOpen[st] {
			t.Errorf("%s cannot be reached from open", st)
		}
		if !st.closed() {
			if transitions[st]&(1<<stateClosing) == 0 || transitions[st]&(1<<stateLingering) == 0 {
				t.Errorf("%s cannot close (to closing and to lingering)", st)
			}
			continue
		}
		for to := range reachable(st) {
			if !to.closed() {
				t.Errorf("closed state %s leads back to open state %s", st, to)
			}
		}
	}
	for _, final := range []sessionState{stateClosing, stateLingered} {
		if transitions[final] != 0 {
			t.Errorf("%s is not final", final)
		}
	}
}

// TestWriterRoleHandoffs states how the writer role moves: nobody and the
// flusher can hand it to a worker (a slow client, a closed session), it
// reaches the finisher only through a worker (the goroutine that finishes
// the session), and the finisher keeps it for good.
func TestWriterRoleHandoffs(t *testing.T) {
	for _, w := range []writerRole{writerNone, writerFlusher} {
		if writerHandoffs[w]&(1<<writerWorker) == 0 {
			t.Errorf("%s cannot hand the writer role to a worker", w)
		}
	}
	for _, w := range allWriters {
		if w != writerWorker && writerHandoffs[w]&(1<<writerFinisher) != 0 {
			t.Errorf("%s hands the writer role straight to the finisher", w)
		}
	}
	if writerHandoffs[writerFinisher] != 0 {
		t.Error("the finisher can give the writer role up")
	}
}

// TestIllegalChangesPanic: a change that the tables do not allow is a bug
// and must not pass silently.
func TestIllegalChangesPanic(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Session)
	}{
		{"closing back to open", func(s *Session) { s.state.Store(uint32(stateClosing)); s.become(stateOpen) }},
		{"open straight to lingered", func(s *Session) { s.become(stateLingered) }},
		{"open to open", func(s *Session) { s.become(stateOpen) }},
		{"the finisher giving the role up", func(s *Session) { s.writer = writerFinisher; s.handWriterLocked(writerNone) }},
		{"the flusher straight to the finisher", func(s *Session) { s.writer = writerFlusher; s.handWriterLocked(writerFinisher) }},
		{"nobody to nobody", func(s *Session) { s.handWriterLocked(writerNone) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.change(&Session{})
		})
	}
}
