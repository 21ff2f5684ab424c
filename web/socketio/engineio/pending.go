package engineio

import (
	"net/http"
	"time"
)

// Pending sessions (Config.MaxPending, MaxPendingPerIP, PendingTimeout):
// a session is pending from its handshake until Session.Establish. Each
// pending session has a place in the list of its client address (its
// group), oldest first; the places are counted under the server's lock
// when the handshake reserves its slot, so that concurrent handshakes
// never overshoot a cap, and given up by Establish, by an eviction, by the
// pending timeout or when the session's slot is released, whichever comes
// first.
//
// Being pending is not one of the session states (sessionState): a
// session is pending or established whatever its transport and state, and
// a closed one holds its place until its slot is released, unless it was
// evicted or timed out (which gives the place up before the close).

// Eviction budget of a handshake over Config.MaxSessions. Its place is
// held by the session it evicts until that session has ended (OnClose has
// returned), which takes microseconds unless the application's OnClose is
// slow.
const (
	// evictWait is how long a handshake waits for the session it evicted
	// to end before it is refused.
	evictWait = time.Second
	// maxEvictions is how many pending sessions one handshake evicts at
	// most to find a place under MaxSessions: a concurrent handshake may
	// take the place freed first, and the next attempt evicts again.
	maxEvictions = 3
)

// pending is a session's place among the pending sessions. Its fields
// are guarded by Server.mu.
type pending struct {
	group  *pendingGroup
	exempt bool     // its address is exempt from MaxPendingPerIP
	held   bool     // the place is counted (Server.pendingCount, group.n)
	sess   *Session // set once newSession links it into group's list
	seq    uint64   // link order: the lower, the older
	timer  *time.Timer
	// prev and next link the group's list, while linked.
	prev, next *pending
}

// pendingGroup holds the pending places of one client address.
type pendingGroup struct {
	key        string
	n          int      // places held, linked or not yet
	head, tail *pending // the linked places, oldest first
}

// takePendingLocked counts p as a pending place of the address key.
// s.mu must be held.
func (s *Server) takePendingLocked(p *pending, key string) {
	g := s.pendingGroups[key]
	if g == nil {
		g = &pendingGroup{key: key}
		s.pendingGroups[key] = g
	}
	g.n++
	s.pendingCount++
	p.group, p.held = g, true
}

// linkPendingLocked puts sess, which holds the place p, at the end of its
// group's list and arms its pending timeout. s.mu must be held.
func (s *Server) linkPendingLocked(p *pending, sess *Session) {
	if !p.held {
		return
	}
	s.pendingSeq++
	p.sess, p.seq = sess, s.pendingSeq
	g := p.group
	p.prev = g.tail
	if g.tail != nil {
		g.tail.next = p
	} else {
		g.head = p
	}
	g.tail = p
	if d := s.st.PendingTimeout; d > 0 {
		p.timer = time.AfterFunc(d, func() { s.expirePending(p) })
	}
}

// dropPendingLocked gives up the place p, if it still holds one, and
// reports whether it did. s.mu must be held.
func (s *Server) dropPendingLocked(p *pending) bool {
	if p == nil || !p.held {
		return false
	}
	p.held = false
	g := p.group
	if p.sess != nil {
		if p.prev != nil {
			p.prev.next = p.next
		} else {
			g.head = p.next
		}
		if p.next != nil {
			p.next.prev = p.prev
		} else {
			g.tail = p.prev
		}
		p.prev, p.next = nil, nil
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	g.n--
	s.pendingCount--
	if g.n == 0 {
		delete(s.pendingGroups, g.key)
	}
	return true
}

// evictLocked gives up p's place and returns its session, which the
// caller closes with ReasonEvicted once s.mu is released. s.mu must be
// held.
func (s *Server) evictLocked(p *pending) *Session {
	sess := p.sess
	s.dropPendingLocked(p)
	return sess
}

// busiestPendingLocked returns the oldest linked place of the address
// with the most pending places (the older one on a tie), or nil if none
// is linked. s.mu must be held.
func (s *Server) busiestPendingLocked() *pending {
	var best *pendingGroup
	for _, g := range s.pendingGroups {
		if g.head == nil {
			continue
		}
		if best == nil || g.n > best.n || (g.n == best.n && g.head.seq < best.head.seq) {
			best = g
		}
	}
	if best == nil {
		return nil
	}
	return best.head
}

// expirePending closes p's session if it is still pending: its
// PendingTimeout has passed.
func (s *Server) expirePending(p *pending) {
	s.mu.Lock()
	sess := p.sess
	held := s.dropPendingLocked(p)
	s.mu.Unlock()
	if held && sess != nil {
		sess.closeWith(ReasonPendingTimeout, closeError)
	}
}

// admitLocked takes the places a handshake needs under the caps, for the
// slot sl, evicting pending sessions where the caps allow (under
// MaxSessions only if mayWait). It returns whether the slot was taken, and
// a session the caller must close with ReasonEvicted (after releasing
// s.mu): when admitted, one evicted to make room under a pending cap; when
// not, one evicted to make room under MaxSessions, whose end the caller
// waits for before trying again. Not admitted with no session to close
// means refused. s.mu must be held.
func (s *Server) admitLocked(sl slot, mayWait bool) (admitted bool, evicted *Session) {
	if sl.capped && s.perIP[sl.ip] >= s.st.MaxSessionsPerIP {
		return false, nil
	}
	if s.st.MaxSessions > 0 && s.count >= s.st.MaxSessions {
		if !s.st.pending || !mayWait {
			return false, nil
		}
		victim := s.busiestPendingLocked()
		if victim == nil {
			return false, nil
		}
		return false, s.evictLocked(victim)
	}
	if p := sl.pend; p != nil {
		g := s.pendingGroups[sl.ip]
		switch {
		case !p.exempt && s.st.MaxPendingPerIP > 0 && g != nil && g.n >= s.st.MaxPendingPerIP:
			if g.head == nil {
				// Its places are all handshakes in progress.
				return false, nil
			}
			evicted = s.evictLocked(g.head)
		case s.st.MaxPending > 0 && s.pendingCount >= s.st.MaxPending:
			victim := s.busiestPendingLocked()
			if victim == nil {
				return false, nil
			}
			evicted = s.evictLocked(victim)
		}
		s.takePendingLocked(p, sl.ip)
	}
	s.count++
	if sl.capped {
		s.perIP[sl.ip]++
	}
	return true, evicted
}

// awaitEnd waits, up to evictWait, for the evicted session sess to end,
// and reports whether it did. It gives up when the server closes or the
// handshake r is abandoned.
func (s *Server) awaitEnd(sess *Session, r *http.Request) bool {
	t := time.NewTimer(evictWait)
	defer t.Stop()
	select {
	case <-sess.Done():
		return true
	case <-t.C:
	case <-s.shutdown:
	case <-r.Context().Done():
	}
	return false
}

// Establish marks the session as established: it is no longer pending
// (Config.MaxPending), so it is neither closed at Config.PendingTimeout
// nor evicted by newer handshakes. The application calls it once the
// client has shown it is a real one. It is idempotent, does nothing when
// pending sessions are not tracked or the session has closed, and may be
// called from any goroutine; once it has returned, calling it again takes
// no lock (an application may call it for every sign of a real client).
func (s *Session) Establish() {
	if s.slot.pend == nil || s.established.Load() {
		return
	}
	s.srv.mu.Lock()
	s.srv.dropPendingLocked(s.slot.pend)
	s.srv.mu.Unlock()
	// Set only now, so that a concurrent first call does not return
	// before the place is given up.
	s.established.Store(true)
}

// Pending returns the number of pending sessions (Config.MaxPending):
// handshakes not yet followed by Session.Establish, nor evicted, timed out
// or ended. It is 0 when pending sessions are not tracked.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingCount
}
