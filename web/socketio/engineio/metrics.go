package engineio

import (
	"errors"
	"os"
)

// Metrics is told what the server's sessions do, for monitoring: the
// metrics package implements it, and Config.Metrics nil means nobody is
// told. Its methods are called on the transport's own goroutines, some
// with a session's or the server's lock held: they must be safe for
// concurrent use, return at once and not call the Server or a Session.
type Metrics interface {
	// SessionOpened is called for each session a handshake opens.
	SessionOpened()
	// SessionClosed is called once for each session opened, when it has
	// ended (after its Handler's OnClose), with the reason OnClose got:
	// one of the Reason constants, or what was given to Session.Close.
	SessionClosed(reason string)
	// WriteTimedOut is called when a write to a client did not finish
	// within Config.WriteTimeout: the client (or its network) is too slow
	// to take what it is sent. The session is then closed with
	// ReasonTransportError.
	WriteTimedOut()
}

// noMetrics is the Metrics of a Config without: it does nothing.
type noMetrics struct{}

func (noMetrics) SessionOpened()       {}
func (noMetrics) SessionClosed(string) {}
func (noMetrics) WriteTimedOut()       {}

// countTimeout tells Metrics of a write to a client that failed with err,
// if it failed for want of time (WriteTimeout).
func (s *Server) countTimeout(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.st.Metrics.WriteTimedOut()
	}
}

// Stats is a snapshot of a Server's sessions, for monitoring.
type Stats struct {
	// Sessions is what Count returns: the sessions held, from their
	// handshake until their OnClose has returned (what MaxSessions caps).
	Sessions int
	// Pending is what Pending returns: sessions not established yet.
	Pending int
	// Polling and WebSocket are the open sessions (those that have not
	// begun to close) by their current transport; one being upgraded
	// counts as polling until it has moved.
	Polling, WebSocket int
}

// Stats returns a snapshot of the sessions. It takes each session's lock
// in turn, so it costs a little per session: it is meant for a metrics
// scrape every few seconds, not for every request.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Sessions: s.count, Pending: s.pendingCount}
	sessions := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	// The server's lock may be taken while a session's is held, never
	// the other way round: the sessions are looked at once it is let go.
	for _, sess := range sessions {
		sess.mu.Lock()
		open, transport := !sess.closed(), sess.transport
		sess.mu.Unlock()
		switch {
		case !open:
		case transport == TransportWebSocket:
			st.WebSocket++
		default:
			st.Polling++
		}
	}
	return st
}
