package engineio

import (
	"net/http"
	"runtime"
	"time"
)

// serveWebSocketHandshake opens a WebSocket-only session, holding sl: the
// open packet (with "upgrades":[]) is the first frame, then the
// application's accept runs, then the connection is handed to the reader
// (startReading) and the handler returns.
func (srv *Server) serveWebSocketHandshake(w http.ResponseWriter, r *http.Request, sl slot) {
	conn, err := srv.upgrader.Upgrade(w, r, nil)
	if err != nil {
		srv.release(sl)
		return // the upgrader has answered
	}
	nc := conn.NetConn() // gorilla's Conn is done with: frames are read and written here
	sess := srv.newSession(r, TransportWebSocket, sl)
	if sess == nil {
		_ = nc.Close()
		return
	}
	c := newWSConn(sess, nc, srv.st.MaxPayload, false)
	c.b64 = sess.b64
	// Nothing else knows c yet, so this goroutine is its only writer.
	open := appendFrame(nil, opText, srv.openPacket(sess, TransportWebSocket))
	if err := c.writeBlocking(open, time.Now().Add(srv.st.WriteTimeout)); err != nil {
		sess.closeWith(ReasonTransportError, closeError)
		_ = nc.Close()
		sess.dispatchMu.Unlock()
		return
	}
	_ = nc.SetWriteDeadline(time.Time{})
	if !sess.attach(c) {
		_ = nc.Close()
		sess.dispatchMu.Unlock()
		return
	}
	srv.acceptSession(sess)
	srv.startReading(c)
}

// attach makes c the session's transport and flushes what is queued to
// it. It reports false if the session has closed meanwhile.
func (s *Session) attach(c *wsConn) bool {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return false
	}
	s.ws = c
	s.flusher = s.srv.nextFlusher()
	s.mu.Unlock()
	s.startWorker()
	return true
}

// startReading has c read for its session from now on: by the poller
// (no goroutine while the connection is idle), or, where there is none,
// by a goroutine of its own. It must be called while the request is
// counted (between enter and its Done), so that Close's Wait is not yet
// at zero.
func (srv *Server) startReading(c *wsConn) {
	if p := srv.getPoller(); p != nil && c.rc != nil {
		if p.add(c) == nil {
			return
		}
	}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		c.readLoop(make([]byte, fallbackReadBufSize))
	}()
}

// fallbackReadBufSize is the read buffer of a connection read by a
// goroutine of its own (no poller): small, since it lives as long as the
// connection; larger messages take several reads.
const fallbackReadBufSize = 1024

// getPoller returns the server's poller, starting it on first use, or nil
// where there is none (then every connection has a reading goroutine).
func (srv *Server) getPoller() *poller {
	srv.pollerOnce.Do(func() {
		if srv.st.noPoller {
			return
		}
		p, err := newPoller()
		if err == nil {
			srv.poller.Store(p)
		}
	})
	return srv.poller.Load()
}

// nextFlusher returns the flusher for a new WebSocket, starting the
// server's flushers (one per processor) on first use.
func (srv *Server) nextFlusher() *flusher {
	srv.flushOnce.Do(func() {
		n := max(1, runtime.GOMAXPROCS(0))
		srv.flushers = make([]*flusher, n)
		for i := range srv.flushers {
			srv.flushers[i] = newFlusher(&srv.bg, srv.st.FlushInterval)
		}
	})
	i := srv.flushNext.Add(1)
	return srv.flushers[i%uint64(len(srv.flushers))]
}

// closeConn closes c, forgetting its poller registration first.
func (srv *Server) closeConn(c *wsConn) {
	if p := srv.poller.Load(); p != nil {
		p.remove(c)
	}
	_ = c.nc.Close()
}

// serveUpgrade serves a WebSocket request for an existing session: the
// polling → WebSocket upgrade, in which the client probes the new socket
// ("2probe", answered "3probe") and then moves to it ("5"; see
// probeFrame). A second WebSocket for a
// session that is already upgrading or upgraded is accepted and closed at
// once, as the reference does.
func (s *Session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.heardLocked()
	// Reserved before the 101, so that a second socket cannot take over.
	duplicate := !s.reserveProbeLocked()
	s.mu.Unlock()

	conn, err := s.srv.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if !duplicate {
			s.mu.Lock()
			s.endProbeLocked(nil)
			s.mu.Unlock()
		}
		return
	}
	nc := conn.NetConn()
	if duplicate {
		_ = nc.SetWriteDeadline(time.Now().Add(s.srv.st.WriteTimeout))
		_, _ = nc.Write(closeFrame(closeNormal))
		_ = nc.Close()
		return
	}
	c := newWSConn(s, nc, s.srv.st.MaxPayload, true)
	c.b64 = s.proto == protocol3 && wantsBase64(r)
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.probeConn = c
	s.mu.Unlock()
	_ = nc.SetReadDeadline(time.Now().Add(s.srv.st.UpgradeTimeout))
	if c.readLoop(make([]byte, fallbackReadBufSize)) {
		s.srv.startReading(c)
	}
}

// probeFrame handles a frame of the probing WebSocket: "2probe" is
// answered with "3probe" (and held GETs are released with "6"), "5"
// completes the upgrade, anything else, or UpgradeTimeout, aborts it. The
// session itself stays on polling when the upgrade fails. It runs on the
// upgrade request's goroutine, the only one that knows the connection.
func (s *Session) probeFrame(c *wsConn, op byte, data []byte) error {
	deadline := time.Now().Add(s.srv.st.WriteTimeout)
	switch {
	case op == opText && string(data) == string(typePing)+probeData:
		s.mu.Lock()
		// Before "3probe" goes out, so that the client's next GET
		// already sees the upgrade.
		if !s.probeAnsweredLocked() {
			s.mu.Unlock()
			return errStopped // closeWith closed c
		}
		s.mu.Unlock()
		signal(s.pollWake)
		if err := c.writeBlocking(appendFrame(nil, opText, []byte(string(typePong)+probeData)), deadline); err != nil {
			s.abortProbe(c)
			return errStopped
		}
		return nil
	case op == opText && len(data) == 1 && data[0] == typeUpgrade:
		if !s.completeUpgrade(c) {
			return errStopped
		}
		return nil
	case op == opPing:
		if err := c.writeBlocking(appendFrame(nil, opPong, data), deadline); err != nil {
			s.abortProbe(c)
			return errStopped
		}
		return nil
	case op == opPong:
		return nil
	case op == opClose:
		_ = c.writeBlocking(closeReply(data), deadline)
	}
	s.abortProbe(c)
	return errStopped
}

// abortProbe ends a failed upgrade: the probing socket is closed and
// polling carries on.
func (s *Session) abortProbe(c *wsConn) {
	s.mu.Lock()
	s.endProbeLocked(c)
	s.mu.Unlock()
	_ = c.nc.Close()
	signal(s.pollWake)
}

// completeUpgrade makes c the session's transport; the worker flushes the
// queue to it. Polling requests get 400 from now on. The rest of what the
// client sent after "5" is read as the session's.
func (s *Session) completeUpgrade(c *wsConn) bool {
	// The probe's deadlines must not outlive it: reads and writes from
	// now on are bounded by the heartbeat and by each write's own.
	_ = c.nc.SetDeadline(time.Time{})
	s.mu.Lock()
	if !s.upgradedLocked(c) {
		s.mu.Unlock()
		_ = c.nc.Close()
		return false
	}
	s.mu.Unlock()
	signal(s.pollWake)
	if !s.attach(c) {
		// The session closed in between: c was neither its probe nor
		// its WebSocket then, so closeWith did not close it.
		_ = c.nc.Close()
		return false
	}
	s.srv.st.Logger.Debug("connection upgraded", "sid", s.id, "transport", TransportWebSocket, "addr", s.addr)
	return true
}

// wsFrame handles a frame of the session's WebSocket.
func (s *Session) wsFrame(c *wsConn, op byte, data []byte) error {
	switch op {
	case opText:
		decode := decodePacket
		if s.proto == protocol3 {
			decode = decodePacket3
		}
		p, err := decode(data)
		if err != nil {
			s.closeWith(ReasonParseError, closeError)
			return errStopped
		}
		s.handlePacket(p)
	case opBinary:
		if s.proto == protocol3 {
			p, err := decodeBinaryPacket3(data)
			if err != nil {
				s.closeWith(ReasonParseError, closeError)
				return errStopped
			}
			s.handlePacket(p)
			break
		}
		s.deliver(data, true)
	case opPing:
		s.Send(rawFrameMessage(appendFrame(nil, opPong, data)))
	case opClose:
		s.closeWithFrame(c, ReasonTransportClose, closeReply(data))
		return errStopped
	}
	if s.closed() {
		return errStopped
	}
	return nil
}

// closeWithFrame fails the connection c with a close frame: for the
// session's WebSocket the frame is written after anything half written
// (never into the middle of a frame) and the session ends with reason;
// a probing connection is answered and closed, and polling goes on.
func (s *Session) closeWithFrame(c *wsConn, reason string, frame []byte) {
	s.mu.Lock()
	if s.ws != c {
		s.mu.Unlock()
		_ = c.writeBlocking(frame, time.Now().Add(s.srv.st.WriteTimeout))
		s.abortProbe(c)
		return
	}
	if !s.closed() {
		s.closeFr = frame
	}
	s.mu.Unlock()
	s.closeWith(reason, closeError)
}

// closeWS ends what c carries after a failed read: the session, or the
// upgrade it was probing.
func (s *Session) closeWS(c *wsConn, reason string) {
	s.mu.Lock()
	current := s.ws == c
	s.mu.Unlock()
	if current {
		s.closeWith(reason, closeError)
	} else {
		s.abortProbe(c)
	}
}
