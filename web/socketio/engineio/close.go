package engineio

import "time"

// How a session ends: closeWith moves it to a closed state once, and the
// finisher (the worker holding the writer role for good) says goodbye as
// the close kind allows, calls OnClose and, for a polling session whose
// goodbye waits for the client's next GET, lingers.

// Close closes the session: queued packets are flushed where the transport
// allows (best effort, bounded by WriteTimeout), then the connection is
// closed and the handler's OnClose runs with reason. Safe to call more than
// once and from any goroutine, including from the session's Handler.
//
// On WebSocket the queue is written, then a close frame. On polling the
// queue followed by a "1" goes to the held GET, or, if none is held, to
// the client's next GET within WriteTimeout; OnClose does not wait for
// that GET. Send fails as soon as Close has been called.
func (s *Session) Close(reason string) { s.closeWith(reason, closeGraceful) }

// Closing is closed as soon as the session starts to close, whatever the
// cause (Close, the client, a transport error, a ping timeout,
// Server.Close), before OnClose is called; Send fails from then on.
//
// OnClose, Done and Server.Close wait for a Handler call in progress to
// return. So a Handler that waits inside OnMessage or accept (for
// backpressure, say, on a queue that a goroutine of its own drains) must
// also wait on Closing and return once it is closed; otherwise a consumer
// that has stopped would hold the session, and Server.Close, forever.
//
// The channel is made when first asked for (most sessions never are), so
// a session asked after it has started to close gets one closed already.
func (s *Session) Closing() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing == nil {
		if s.closed() {
			return closedChan
		}
		s.closing = make(chan struct{})
	}
	return s.closing
}

// Done is closed when the session has ended, after OnClose has returned;
// by then the session no longer counts in Server.Count or the caps.
// Like Closing's, the channel is made when first asked for.
func (s *Session) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		if s.ended {
			return closedChan
		}
		s.done = make(chan struct{})
	}
	return s.done
}

// closedChan is what Closing and Done return once their event is past.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// closeWith starts closing the session once; later calls do nothing. It
// never blocks on I/O: the worker finishes the transport and calls OnClose.
func (s *Session) closeWith(reason string, kind closeKind) {
	s.mu.Lock()
	s.closeUnlock(reason, kind)
}

// closeUnlock is closeWith called with s.mu held, which it releases, for
// a caller that decided to close under the lock.
func (s *Session) closeUnlock(reason string, kind closeKind) {
	if !s.closeLocked(reason, kind) {
		s.mu.Unlock()
		return
	}
	lingering, ws, probe, fr, conn := s.current() == stateLingering, s.ws, s.probeConn, s.closeFr, s.conn
	closing := s.closing // any made later is made closed (Closing)
	if kind == closeError || kind == closeClient {
		// Nothing will be delivered any more.
		clear(s.queue)
		s.queue, s.spare = nil, nil
	}
	s.srv.alarms.stop(s)
	if s.goneTimer != nil {
		s.goneTimer.Stop()
	}
	s.conn = nil
	s.mu.Unlock()

	if conn != nil {
		conn.detach(s) // a proxy's connection may outlive many sessions
	}

	if ws != nil && (kind == closeError || kind == closeClient) && fr == nil {
		s.srv.closeConn(ws) // unblocks a writer stuck on a client that does not read
	}
	if probe != nil {
		_ = probe.nc.Close()
	}
	if !lingering {
		s.srv.forget(s)
	}
	if closing != nil {
		close(closing)
	}
	signal(s.pollWake)
	s.startWorker() // the worker finishes the session
}

// finish ends the session on the worker after closeWith: it flushes
// and closes the transport as the close kind allows, calls OnClose, and
// closes done.
func (s *Session) finish() {
	s.mu.Lock()
	kind, reason, ws, lingering, fr := s.kind, s.reason, s.ws, s.current().lingers(), s.closeFr
	transport := s.transport
	s.mu.Unlock()

	if ws != nil {
		deadline := time.Now().Add(s.srv.st.WriteTimeout)
		switch {
		case kind == closeGraceful || kind == closeShutdown:
			if s.flushWebSocket(deadline) == nil {
				_ = ws.writeBlocking(closeFrame(closeNormal), deadline)
			}
		case fr != nil:
			// The queue was dropped; finish a half-written frame so
			// that the close frame is read as one.
			if len(ws.pending) == 0 || ws.writeBlocking(ws.pending, deadline) == nil {
				_ = ws.writeBlocking(fr, deadline)
			}
		}
		s.srv.closeConn(ws)
	}
	s.dispatchMu.Lock()
	s.handlerDone = true
	if s.handler != nil {
		s.handler.OnClose(reason)
	}
	s.dispatchMu.Unlock()
	s.srv.lines.Print(s.logKey, "connection closed", "sid", s.id, "transport", transport, "addr", s.addr,
		"eio", int(s.proto), "reason", reason, "duration", time.Since(s.opened).Round(time.Millisecond))

	// The session stops counting (Server.Count, the caps) once OnClose
	// has returned, so the application never holds more sessions than
	// the caps allow; Done tells it the slot is free.
	s.srv.release(s.slot)
	s.srv.st.Metrics.SessionClosed(reason)
	s.mu.Lock()
	s.ended = true
	done := s.done
	s.mu.Unlock()
	if done != nil {
		close(done)
	}

	// A polling session's goodbye waits for the client's next GET, but
	// the application need not: OnClose has run and Done is closed.
	if lingering {
		grace := s.srv.st.WriteTimeout
		if kind == closeClient {
			grace = clientCloseGrace
		}
		s.linger(grace)
		s.dropQueue()
	}
}

// dropQueue releases whatever is still queued.
func (s *Session) dropQueue() {
	s.mu.Lock()
	clear(s.queue)
	s.queue, s.spare = nil, nil
	s.mu.Unlock()
}

// linger keeps a closed polling session reachable for its last GET, for
// at most d or until the server shuts down, then forgets it.
func (s *Session) linger(d time.Duration) {
	t := time.NewTimer(d)
	select {
	case <-s.lingerDone:
	case <-t.C:
	case <-s.srv.shutdown:
	}
	t.Stop()
	s.srv.forget(s)
}
