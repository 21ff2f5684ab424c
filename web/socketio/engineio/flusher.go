package engineio

import (
	"sync"
	"time"
)

// flusher writes the queues of WebSocket sessions that have something to
// send, on one goroutine, with non-blocking writes: Send only queues and
// names the session to its flusher, so a broadcast to a thousand sessions
// wakes one goroutine, not a thousand, and whatever a session was sent
// while its flusher was busy goes out in one write. A session whose socket
// does not take everything (a slow client) gets a writer goroutine of its
// own (Session.work) until its backlog is written, so a flusher never
// waits on a client. The server runs one flusher per processor and
// spreads sessions over them.
type flusher struct {
	rio      *rawIO        // used only by the flusher goroutine
	wake     chan struct{} // capacity 1
	interval time.Duration // Config.FlushInterval: the pause after each round
	quit     chan struct{} // closed by stop

	mu      sync.Mutex
	due     []*Session // sessions to flush, each at most once (Session.dirty)
	stopped bool
}

// newFlusher starts a flusher that pauses interval after each round of
// writes; stop ends it.
func newFlusher(wg *sync.WaitGroup, interval time.Duration) *flusher {
	f := &flusher{rio: newRawIO(), wake: make(chan struct{}, 1), interval: interval, quit: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.run()
	}()
	return f
}

// add schedules s, which has just been marked dirty, for flushing. Only
// the first session due since the flusher last took the list wakes it: run
// takes the list again before it waits, so the sessions added meanwhile
// (the rest of a broadcast) cost no wake-up each.
func (f *flusher) add(s *Session) {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		s.flushStopped()
		return
	}
	f.due = append(f.due, s)
	first := len(f.due) == 1
	f.mu.Unlock()
	if first {
		signal(f.wake)
	}
}

// stop ends the flusher goroutine once what is due has been flushed.
func (f *flusher) stop() {
	f.mu.Lock()
	if !f.stopped {
		f.stopped = true
		close(f.quit)
	}
	f.mu.Unlock()
	signal(f.wake)
}

// maxSpareDue caps the due list kept between rounds.
const maxSpareDue = 4096

// run flushes due sessions until stop. With an interval, every round of
// writes is followed by a pause in which newly due sessions only gather;
// a round that finds nothing due ends the pause, so the first packet
// after a quiet spell goes out at once.
func (f *flusher) run() {
	var spare []*Session
	var pause *time.Timer
	if f.interval > 0 {
		pause = time.NewTimer(f.interval)
		pause.Stop()
	}
	for range f.wake {
		for {
			f.mu.Lock()
			due, stopped := f.due, f.stopped
			f.due = spare[:0]
			f.mu.Unlock()
			if len(due) == 0 {
				spare = due
				if stopped {
					return
				}
				break
			}
			for _, s := range due {
				s.flushNow(f)
			}
			clear(due)
			if cap(due) > maxSpareDue {
				due = nil
			}
			spare = due
			if pause != nil && !stopped {
				pause.Reset(f.interval)
				select {
				case <-pause.C:
				case <-f.quit:
				}
			}
		}
	}
}
