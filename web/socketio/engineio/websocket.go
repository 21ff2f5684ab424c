package engineio

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// serveWebSocketHandshake opens a WebSocket-only session, holding sl: the
// open packet (with "upgrades":[]) is the first frame, then the
// application's accept runs, then a reader goroutine (goRead) reads the
// socket until the session ends.
func (srv *Server) serveWebSocketHandshake(w http.ResponseWriter, r *http.Request, sl slot) {
	conn, err := srv.upgrader.Upgrade(w, r, nil)
	if err != nil {
		srv.release(sl)
		return // the upgrader has answered
	}
	conn.SetReadLimit(int64(srv.st.MaxPayload))
	sess := srv.newSession(r, TransportWebSocket, sl)
	if sess == nil {
		_ = conn.Close()
		return
	}
	// The worker does not write before sess.ws is set, so this goroutine
	// is the only writer until then.
	_ = conn.SetWriteDeadline(time.Now().Add(srv.st.WriteTimeout))
	if err := conn.WriteMessage(websocket.TextMessage, srv.openPacket(sess.id, TransportWebSocket)); err != nil {
		sess.closeWith(ReasonTransportError, closeError)
		_ = conn.Close()
		sess.dispatchMu.Unlock()
		return
	}
	sess.mu.Lock()
	if sess.isClosed {
		sess.mu.Unlock()
		_ = conn.Close()
		sess.dispatchMu.Unlock()
		return
	}
	sess.ws = conn
	sess.mu.Unlock()
	sess.startWorker()

	srv.acceptSession(sess)
	srv.goRead(sess, conn)
}

// goRead starts the goroutine that reads conn for sess until the session
// ends (readLoop), counted in the server's WaitGroup, and returns, so that
// the HTTP handler returns too. An idle WebSocket then holds a small
// fresh stack rather than the HTTP server's deep one, and the server's
// per-connection state (its 4 KB read buffer, the 4 KB write buffer made
// at hijack) becomes garbage. It must be called while the request is
// counted (between enter and its Done), so that Close's Wait is not yet
// at zero.
func (srv *Server) goRead(sess *Session, conn *websocket.Conn) {
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		sess.readLoop(conn)
	}()
}

// serveUpgrade serves a WebSocket request for an existing session: the
// polling → WebSocket upgrade (PROTOCOL.md A7). A second WebSocket for a
// session that is already upgrading or upgraded is accepted and closed at
// once, as the reference does.
func (s *Session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	duplicate := s.isClosed || s.transport != TransportPolling || s.probing
	if !duplicate {
		s.probing = true // reserved before the 101 so a second socket cannot take over
	}
	s.mu.Unlock()

	conn, err := s.srv.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if !duplicate {
			s.mu.Lock()
			s.probing = false
			s.mu.Unlock()
		}
		return
	}
	if duplicate {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.srv.st.WriteTimeout))
		_ = conn.Close()
		return
	}
	conn.SetReadLimit(int64(s.srv.st.MaxPayload))
	s.mu.Lock()
	if s.isClosed {
		s.probing = false
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.probeConn = conn
	s.mu.Unlock()
	s.probeLoop(conn)
}

// probeLoop reads the probing WebSocket: "2probe" is answered with
// "3probe" (and held GETs are released with "6"), "5" completes the
// upgrade, anything else or UpgradeTimeout aborts it. The session itself
// stays on polling when the upgrade fails.
func (s *Session) probeLoop(conn *websocket.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(s.srv.st.UpgradeTimeout))
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil || typ != websocket.TextMessage {
			s.abortProbe(conn)
			return
		}
		switch {
		case string(data) == string(typePing)+probeData:
			s.mu.Lock()
			if s.isClosed {
				s.mu.Unlock()
				return // closeWith closed conn
			}
			// Set before "3probe" goes out, so that the client's next
			// GET already sees the upgrade.
			s.upgrading = true
			s.mu.Unlock()
			signal(s.pollWake)
			_ = conn.SetWriteDeadline(time.Now().Add(s.srv.st.WriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, []byte(string(typePong)+probeData)); err != nil {
				s.abortProbe(conn)
				return
			}
		case len(data) == 1 && data[0] == typeUpgrade:
			if s.completeUpgrade(conn) {
				s.srv.goRead(s, conn)
			}
			return
		default:
			s.abortProbe(conn)
			return
		}
	}
}

// abortProbe ends a failed upgrade: the probing socket is closed and
// polling carries on.
func (s *Session) abortProbe(conn *websocket.Conn) {
	s.mu.Lock()
	if s.probeConn == conn {
		s.probeConn = nil
		s.probing = false
		s.upgrading = false
	}
	s.mu.Unlock()
	_ = conn.Close()
	signal(s.pollWake)
}

// completeUpgrade makes conn the session's transport; the worker flushes the
// queue to it. Polling requests get 400 from now on.
func (s *Session) completeUpgrade(conn *websocket.Conn) bool {
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		_ = conn.Close()
		return false
	}
	s.transport = TransportWebSocket
	s.ws = conn
	s.probeConn = nil
	s.upgrading = false
	s.mu.Unlock()
	signal(s.pollWake)
	s.startWorker()
	return true
}

// readLoop reads the session's WebSocket until it fails or the session
// closes. A silent peer is cut off after PingInterval+PingTimeout.
func (s *Session) readLoop(conn *websocket.Conn) {
	idle := s.srv.st.PingInterval + s.srv.st.PingTimeout
	for !s.closed.Load() {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		typ, data, err := conn.ReadMessage()
		if err != nil {
			s.closeWith(readErrorReason(err), closeError)
			return
		}
		if typ == websocket.BinaryMessage {
			s.deliver(data, true)
			continue
		}
		p, err := decodePacket(data)
		if err != nil {
			s.closeWith(ReasonParseError, closeError)
			return
		}
		s.handlePacket(p)
	}
}

// readErrorReason names the reason for a failed WebSocket read.
func readErrorReason(err error) string {
	var closeErr *websocket.CloseError
	var netErr net.Error
	switch {
	case errors.As(err, &closeErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonTransportClose
	case errors.As(err, &netErr) && netErr.Timeout():
		return ReasonPingTimeout
	default:
		return ReasonTransportError
	}
}
