package engineio

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// A polling client that dies between two GETs leaves nothing behind to
// notice: its held GET was answered (a broadcast answers every held GET
// at once), the handler returned, and the TCP connection that closes
// afterwards carries no request whose context could end. Left to the
// heartbeat, the session would stay open for up to PingInterval +
// PingTimeout. So the Server watches the connections of its polling
// GETs, through the http.Server hooks ConnContext and ConnState: when the
// connection that carried a session's last answered GET closes, and
// nothing is heard from the client within a grace period, the session
// closes (ReasonTransportClose). A live client sends its next GET as soon
// as it has an answer, on the same connection or on a new one.

// connGoneGrace is how long a polling client whose last answered GET's
// connection has closed has to be heard from again (any request for its
// session) before it counts as gone. A live client sends its next GET at
// once after an answer, but possibly on a new connection (a browser
// trims its pool; a client or proxy sending "Connection: close" gets each
// connection closed by the server after the answer): a TCP handshake and
// the request, a couple of round trips even on a poor mobile network.
const connGoneGrace = 3 * time.Second

// slowLinkRate, in bytes per second, is the throughput of a poor mobile
// link. The grace grows with the last answer's size at that rate: when
// the server closes the connection after answering ("Connection: close",
// or a proxy that buffers), the answer may still be on its way to a
// client on such a link, which sends its next GET only once it has it.
const slowLinkRate = 8 << 10

// goneGrace is the grace for a client whose last answer was n bytes.
func (st *settings) goneGrace(n int) time.Duration {
	return st.connGoneGrace + time.Duration(n)*time.Second/slowLinkRate
}

// connWatch follows one HTTP connection for the polling sessions whose
// last answered GET it carried. Its mu is taken after a Session's, never
// the other way round.
//
// A set, since a session leaves it on every answered GET that came on
// another connection: behind a reverse proxy that spreads its clients
// over a pool of connections, each holds many sessions and they move
// from one to another all the time.
type connWatch struct {
	mu       sync.Mutex
	closed   bool
	sessions map[*Session]struct{} // each with conn == this watch; nil while empty
}

// attach adds sess, reporting false if the connection has closed.
func (w *connWatch) attach(sess *Session) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if w.sessions == nil {
		w.sessions = make(map[*Session]struct{})
	}
	w.sessions[sess] = struct{}{}
	return true
}

// detach removes sess, if it is there.
func (w *connWatch) detach(sess *Session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sessions, sess)
}

// close marks the connection closed and returns the sessions attached to
// it.
func (w *connWatch) close() []*Session {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	sessions := make([]*Session, 0, len(w.sessions))
	for sess := range w.sessions {
		sessions = append(sessions, sess)
	}
	w.sessions = nil
	return sessions
}

// connTable maps the connections of a Server's http.Server to their
// watches, from ConnContext until ConnState reports them closed or
// hijacked.
type connTable struct {
	mu    sync.Mutex
	conns map[net.Conn]*connWatch
}

// connWatchKey is the context key of a request's connWatch.
type connWatchKey struct{}

// watchOf returns the watch of r's connection, or nil if the http.Server
// has no ConnContext hook from this package.
func watchOf(r *http.Request) *connWatch {
	w, _ := r.Context().Value(connWatchKey{}).(*connWatch)
	return w
}

// ConnContext is the hook for http.Server.ConnContext: with it and
// ConnState set, a polling client that dies between two GETs is noticed
// within seconds (its session closes with ReasonTransportClose) instead of
// at its ping timeout. It returns ctx carrying what the Server follows of
// c.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	w := &connWatch{}
	s.conns.mu.Lock()
	if s.conns.conns == nil {
		s.conns.conns = make(map[net.Conn]*connWatch)
	}
	s.conns.conns[c] = w
	s.conns.mu.Unlock()
	return context.WithValue(ctx, connWatchKey{}, w)
}

// ConnState is the hook for http.Server.ConnState, to be set together
// with ConnContext: it learns when a connection has closed.
func (s *Server) ConnState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	s.conns.mu.Lock()
	w := s.conns.conns[c]
	delete(s.conns.conns, c)
	s.conns.mu.Unlock()
	if w == nil {
		return
	}
	// A hijacked connection is a WebSocket now; its session notices
	// the socket closing itself. The polling sessions that last used it
	// are left to the heartbeat.
	sessions := w.close()
	if state == http.StateClosed {
		for _, sess := range sessions {
			sess.connClosed(w)
		}
	}
}

// answeredLocked records that the GET on connection w (nil: not watched)
// has taken its answer of n bytes. s.mu must be held.
func (s *Session) answeredLocked(w *connWatch, n int) {
	s.answered = n
	if s.conn == w {
		return
	}
	if s.conn != nil {
		s.conn.detach(s)
	}
	s.conn = w
	if w != nil && !w.attach(s) {
		// The connection closed already (not with net/http's HTTP/1,
		// which reports it only after the handler has returned).
		s.suspectLocked(w)
	}
}

// heardLocked records a sign of life from the client (a request for its
// session, or the end of a POST): it is not gone. s.mu must be held.
func (s *Session) heardLocked() {
	if !s.goneAt.IsZero() {
		s.goneAt = time.Time{}
		s.goneTimer.Stop()
	}
}

// connClosed is called when connection w has closed: if it carried the
// session's last answered GET, the client is suspected gone.
func (s *Session) connClosed(w *connWatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == w {
		s.suspectLocked(w)
	}
}

// suspectLocked starts the grace after which the client counts as gone,
// unless the session is past polling or a GET is held (on another
// connection, whose closing the GET notices itself). s.mu must be held.
func (s *Session) suspectLocked(w *connWatch) {
	s.conn = nil
	if s.closed() || s.transport != TransportPolling || s.getActive {
		return
	}
	grace := s.srv.st.goneGrace(s.answered)
	s.goneAt = time.Now().Add(grace)
	if s.goneTimer == nil {
		s.goneTimer = time.AfterFunc(grace, s.checkGone)
	} else {
		s.goneTimer.Reset(grace)
	}
}

// goneVerdictLocked decides, at now, about a client suspected gone:
// whether it is gone, or else how long to wait before deciding again (0:
// the suspicion is over). s.mu must be held.
func (s *Session) goneVerdictLocked(now time.Time) (gone bool, wait time.Duration) {
	switch {
	case s.goneAt.IsZero() || s.closed() || s.transport != TransportPolling || s.getActive:
		s.goneAt = time.Time{}
		return false, 0
	case now.Before(s.goneAt):
		return false, s.goneAt.Sub(now)
	case s.postActive || s.current() != stateOpen:
		// A POST still uploading, or an upgrade in progress: the client
		// is there. Look again once they are over.
		s.goneAt = now.Add(s.srv.st.connGoneGrace)
		return false, s.srv.st.connGoneGrace
	}
	s.goneAt = time.Time{}
	return true, 0
}

// checkGone is the grace timer's function: it closes the session of a
// client that has not been heard from.
func (s *Session) checkGone() {
	s.mu.Lock()
	gone, wait := s.goneVerdictLocked(time.Now())
	if gone {
		s.closeUnlock(ReasonTransportClose, closeError)
		return
	}
	if wait > 0 {
		s.goneTimer.Reset(wait)
	}
	s.mu.Unlock()
}
