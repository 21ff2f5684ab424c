package engineio

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// upgradeNoopDelay is how old a GET must be before it is released with
// "6" while an upgrade is in progress (after "3probe"). A GET that has
// been held a while when the probe arrives (the real client's case) is
// released at once. A younger one waits until it is this old, because it
// may belong to a client that sends "5" right after "2probe": after "5"
// the right answer is 400, polling being over. The reference re-checks
// every 100 ms.
const upgradeNoopDelay = 50 * time.Millisecond

// clientCloseGrace is how long a polling session closed by the client's
// "1" stays reachable for a GET the client sent before the "1" but that
// arrived after it (two HTTP connections race): that GET gets "6".
const clientCloseGrace = time.Second

// pollAction is what a held GET does next.
type pollAction int

const (
	pollWait       pollAction = iota // nothing to send yet
	pollSend                         // write the batch (and tail)
	pollBadRequest                   // the session left polling: 400 code 3
)

// servePollingHandshake opens a polling session: the response is the open
// packet, then the application's accept runs.
func (srv *Server) servePollingHandshake(w http.ResponseWriter, r *http.Request, sl slot) {
	sess := srv.newSession(r, TransportPolling, sl)
	if sess == nil {
		http.Error(w, "engineio: server closed", http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(srv.st.WriteTimeout))
	body := srv.openPacket(sess, TransportPolling)
	if sess.proto == protocol3 {
		body = appendElem3(nil, body)
	}
	writePollingHeaders(w, len(body))
	_, err := w.Write(body)
	if err == nil {
		err = rc.Flush()
	}
	if err != nil {
		sess.closeWith(ReasonTransportError, closeError)
	} else {
		sess.mu.Lock()
		sess.answeredLocked(watchOf(r), len(body))
		sess.mu.Unlock()
	}
	srv.acceptSession(sess)
}

// claimLocked marks a polling request of one kind (GET or POST, whose
// in-flight flag is active) as in flight. It is called with s.mu held and
// releases it. A session that has moved to WebSocket refuses polling with
// code 3; a second request of the same kind at once (the protocol allows
// one of each) kills the session, and the held GET then gets "1". It
// reports whether the caller may go on.
func (s *Session) claimLocked(w http.ResponseWriter, active *bool) bool {
	switch {
	case s.transport != TransportPolling:
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return false
	case *active:
		s.mu.Unlock()
		s.closeWith(ReasonTransportError, closeError)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return false
	}
	*active = true
	s.mu.Unlock()
	return true
}

// servePoll serves a polling GET: it answers at once with what is queued,
// or holds the request until something is queued (at the latest the next
// ping), the session closes, or an upgrade releases it.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	s.mu.Lock()
	if st := s.current(); st == stateClosing || st == stateLingered {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	s.heardLocked()
	// getActive stays set while the GET waits; nextPoll clears it when
	// the GET takes its answer. From then on the session is free for the
	// client's next GET (which may arrive before this handler has
	// returned) and a Close lingers for that GET instead of counting on
	// this one.
	if !s.claimLocked(w, &s.getActive) {
		return
	}

	conn := watchOf(r)
	var noopTimer *time.Timer
	defer func() {
		if noopTimer != nil {
			noopTimer.Stop()
		}
	}()
	for {
		batch, tail, act, noopAt := s.nextPoll(arrived, conn)
		switch act {
		case pollSend:
			var err error
			if s.proto == protocol3 {
				err = s.writePayload3(w, batch, tail)
			} else {
				err = s.writePayload(w, batch, tail)
			}
			s.recycle(batch)
			if err != nil {
				s.srv.countTimeout(err)
				s.closeWith(ReasonTransportError, closeError)
			}
			return
		case pollBadRequest:
			writeError(w, http.StatusBadRequest, codeBadRequest)
			return
		}
		var noopC <-chan time.Time
		if !noopAt.IsZero() {
			if noopTimer == nil {
				noopTimer = time.NewTimer(time.Until(noopAt))
			}
			noopC = noopTimer.C
		}
		select {
		case <-s.pollWake:
		case <-noopC:
		case <-r.Context().Done():
			// The client dropped the held GET: the reference treats
			// this as a transport error.
			s.mu.Lock()
			s.getActive = false
			s.mu.Unlock()
			s.closeWith(ReasonTransportError, closeError)
			return
		}
	}
}

// nextPoll decides what the held GET that arrived at arrived, on
// connection conn, does now. With pollSend, batch (to be recycled) and
// tail (a control packet after it, or nil) are what to write; with
// pollWait and a non-zero noopAt, the GET must re-check at noopAt. Unless
// it says pollWait, the GET is no longer active.
func (s *Session) nextPoll(arrived time.Time, conn *connWatch) (batch []*Message, tail *Message, act pollAction, noopAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if act != pollWait {
			s.getActive = false
		}
		if act == pollSend && !s.closed() {
			s.answeredLocked(conn, payloadSize(batch, tail))
		}
	}()
	if s.closed() {
		if s.lingerServedLocked() {
			// This is the last GET: the session is forgotten before
			// the answer goes out, so the client's next request
			// certainly gets 400.
			close(s.lingerDone)
			s.srv.forget(s)
		}
		switch s.kind {
		case closeClient:
			return nil, noopMessage, pollSend, time.Time{}
		case closeGraceful, closeShutdown:
			return s.takeQueueLocked(), closeMessage, pollSend, time.Time{}
		default:
			return nil, closeMessage, pollSend, time.Time{}
		}
	}
	if s.transport != TransportPolling {
		return nil, nil, pollBadRequest, time.Time{}
	}
	if len(s.queue) > 0 {
		return s.takeQueueLocked(), nil, pollSend, time.Time{}
	}
	if s.current() == stateUpgrading {
		noopAt = arrived.Add(upgradeNoopDelay)
		if !time.Now().Before(noopAt) {
			return nil, noopMessage, pollSend, time.Time{}
		}
	}
	return nil, nil, pollWait, noopAt
}

// payloadSize is the length of the polling payload of batch and tail.
func payloadSize(batch []*Message, tail *Message) int {
	n := payloadLen(batch)
	if tail != nil {
		if n > 0 {
			n++
		}
		n += len(tail.pollingBytes())
	}
	return n
}

// writePayload writes batch and tail as one polling payload.
func (s *Session) writePayload(w http.ResponseWriter, batch []*Message, tail *Message) error {
	n := payloadSize(batch, tail)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.srv.st.WriteTimeout))
	writePollingHeaders(w, n)
	sep := []byte{recordSeparator}
	for i, m := range batch {
		if i > 0 {
			if _, err := w.Write(sep); err != nil {
				return err
			}
		}
		if _, err := w.Write(m.pollingBytes()); err != nil {
			return err
		}
	}
	if tail != nil {
		if len(batch) > 0 {
			if _, err := w.Write(sep); err != nil {
				return err
			}
		}
		if _, err := w.Write(tail.pollingBytes()); err != nil {
			return err
		}
	}
	return nil
}

// servePost serves a polling POST: the body is a payload from the client
// (see decodePayload). Any violation closes the session.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if st := s.current(); st.closed() {
		s.mu.Unlock()
		if st.lingers() {
			// The session is saying goodbye on the next GET; what the
			// client still sends is accepted and dropped.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, int64(s.srv.st.MaxPayload)))
			writeOK(w)
			return
		}
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	s.heardLocked()
	if !s.claimLocked(w, &s.postActive) {
		return
	}
	defer func() {
		s.mu.Lock()
		s.postActive = false
		s.heardLocked() // the client was there until its body ended
		s.mu.Unlock()
	}()

	decode := decodePayload
	if s.proto == protocol3 {
		decode = decodePayload3
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/octet-stream" {
		if s.proto != protocol3 {
			// EIO3's binary POST; v4 sends binary as "b"+base64 only.
			s.closeWith(ReasonParseError, closeError)
			writeError(w, http.StatusBadRequest, codeBadRequest)
			return
		}
		decode = decodeBinaryPayload3
	}
	maxPayload := s.srv.st.MaxPayload
	if r.ContentLength > int64(maxPayload) {
		s.closeWith(ReasonTransportError, closeError)
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	// A client that cannot upload its body within a heartbeat period is
	// treated like one that does not answer pings.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.srv.st.PingInterval + s.srv.st.PingTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxPayload)+1))
	if err != nil {
		s.closeWith(ReasonTransportError, closeError)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	if len(body) > maxPayload {
		s.closeWith(ReasonTransportError, closeError)
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	packets, err := decode(body)
	if err != nil {
		s.closeWith(ReasonParseError, closeError)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	for _, p := range packets {
		if s.closed() {
			break
		}
		s.handlePacket(p)
	}
	writeOK(w)
}

// writePollingHeaders sets the headers of a polling payload response and
// writes the status line.
func writePollingHeaders(w http.ResponseWriter, n int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
}

// writeOK answers a successful POST with "ok", as the reference does.
func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}
