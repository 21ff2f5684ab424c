package engineio

import "time"

// A session's heartbeat: the server pings, the client answers with a
// pong, and a session whose pong does not come in time is closed.

// beat is the function of the heartbeat's alarm (alarms): it queues the
// due ping and sets the alarm for its pong deadline, closes the session
// if that deadline has passed unanswered, or, when the ping was answered,
// sets the alarm for the next ping. In protocol 4 the server pings and the
// client answers; protocol 3 sessions go to beat3.
func (s *Session) beat() {
	if s.proto == protocol3 {
		s.beat3()
		return
	}
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	if s.pingOutstandingLocked() {
		if now.Before(s.pongDeadline) {
			s.srv.alarms.set(s, s.pongDeadline.Sub(now))
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.closeWith(ReasonPingTimeout, closeError)
		return
	}
	if now.Before(s.nextPingAt) {
		s.srv.alarms.set(s, s.nextPingAt.Sub(now))
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if deadline, ok := s.queuePing(); ok {
		s.mu.Lock()
		if !s.closed() {
			s.srv.alarms.set(s, time.Until(deadline))
		}
		s.mu.Unlock()
	}
}

// queuePing queues the due ping and returns its pong deadline, which runs
// from queueing the ping, not from its delivery. The deadline is
// counted from when the ping was due, so that a late alarm does
// not stretch the schedule: a client that does not answer is gone exactly
// PingInterval+PingTimeout after the handshake or its last pong.
func (s *Session) queuePing() (time.Time, bool) {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return time.Time{}, false
	}
	if len(s.queue)+1 > s.srv.st.SendQueue {
		s.mu.Unlock()
		s.closeWith(ReasonSendQueueFull, closeError)
		return time.Time{}, false
	}
	s.queue = append(s.queue, pingMessage)
	s.pongDeadline = s.nextPingAt.Add(s.srv.st.PingTimeout)
	deadline := s.pongDeadline
	wake, flush := s.queuedLocked()
	s.mu.Unlock()
	s.notify(wake, flush)
	return deadline, true
}

// onPong records the client's answer to the outstanding ping. A pong with
// no ping outstanding is ignored.
func (s *Session) onPong() {
	s.mu.Lock()
	answered := s.pingOutstandingLocked()
	s.pongDeadline = time.Time{}
	if answered {
		// The alarm, set for the pong deadline, finds the ping
		// answered and is set again for nextPingAt.
		s.nextPingAt = time.Now().Add(s.srv.st.PingInterval)
	}
	s.mu.Unlock()
}

// pongOverdue reports whether, at now, the pong deadline has passed: that
// of the outstanding ping, or, if beat has not queued the due ping yet
// (its goroutine may be late on a busy machine), the deadline that ping
// would have had.
func (s *Session) pongOverdue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proto == protocol3 {
		return !now.Before(s.silenceDeadline())
	}
	if s.pingOutstandingLocked() {
		return !now.Before(s.pongDeadline)
	}
	return !now.Before(s.nextPingAt.Add(s.srv.st.PingTimeout))
}

// pingOutstandingLocked reports whether a ping has been queued and not
// answered yet: then pongDeadline is set (it is never the zero time, being
// counted from nextPingAt). s.mu must be held.
func (s *Session) pingOutstandingLocked() bool { return !s.pongDeadline.IsZero() }
