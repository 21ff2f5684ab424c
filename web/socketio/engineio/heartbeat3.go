package engineio

import "time"

// A protocol 3 session's heartbeat runs the other way round: the client
// pings, the server answers each ping with a pong, and a session from
// which nothing has been heard for PingInterval+PingTimeout (its handshake
// counts as heard) is closed with ReasonPingTimeout, as the reference
// does. Every packet the client sends counts, not only pings.

// pongMessage answers a protocol 3 client's ping. Like the reference's,
// it carries no data.
var pongMessage = controlMessage(typePong, "")

// startHeartbeat3Locked sets a new protocol 3 session's alarm for its
// silence deadline. s.mu must be held.
func (s *Session) startHeartbeat3Locked() {
	s.setHeard(time.Now())
	s.srv.alarms.set(s, s.srv.st.PingInterval+s.srv.st.PingTimeout)
}

// silenceDeadline returns when a protocol 3 session that hears nothing
// more from its client times out. It needs no lock: a packet heard just
// after it was read moves the deadline on for the next look (beat3 sets
// the alarm again rather than being reset by each packet), as one heard
// just after the decision would have.
func (s *Session) silenceDeadline() time.Time {
	return s.lastHeard().Add(s.srv.st.PingInterval + s.srv.st.PingTimeout)
}

// beat3 is beat for protocol 3: it closes the session once its silence
// deadline has passed, or sets the alarm again for the deadline, which
// packets heard meanwhile have moved on (the alarm is not reset for each
// packet: it finds out when it goes off).
func (s *Session) beat3() {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	if deadline := s.silenceDeadline(); now.Before(deadline) {
		s.srv.alarms.set(s, deadline.Sub(now))
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.closeWith(ReasonPingTimeout, closeError)
}

// monoEpoch is the origin of heardAt. Durations since it are measured on
// the monotonic clock, so that a step of the wall clock moves no deadline.
var monoEpoch = time.Now()

// heard records that a packet arrived from a protocol 3 client. It takes
// no lock: every packet of the session calls it.
func (s *Session) heard() { s.setHeard(time.Now()) }

// setHeard records t as when the client was last heard from.
func (s *Session) setHeard(t time.Time) { s.heardAt.Store(int64(t.Sub(monoEpoch))) }

// lastHeard returns when the client was last heard from.
func (s *Session) lastHeard() time.Time { return monoEpoch.Add(time.Duration(s.heardAt.Load())) }
