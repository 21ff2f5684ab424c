package engineio

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// closeKind says how a session ends, which decides what its transport
// still sends.
type closeKind int

const (
	// closeError aborts: the WebSocket is closed at once, a held GET gets
	// "1", queued packets are dropped.
	closeError closeKind = iota
	// closeClient: the client sent "1". A held GET gets "6" (noop), as the
	// reference does and the conformance suite expects. With no GET held,
	// the session lingers up to clientCloseGrace so that a GET the client
	// sent before its "1" (but which arrived after it) gets the same "6"
	// instead of an error.
	closeClient
	// closeGraceful: Session.Close. Queued packets are flushed, on polling
	// followed by "1"; with no GET held, the session lingers (after
	// OnClose) up to WriteTimeout for the client's next GET to carry them.
	closeGraceful
	// closeShutdown: Server.Close. Like closeGraceful but without lingering.
	closeShutdown
)

// Session is one Engine.IO connection (sid), whichever transport it uses.
// Its methods are safe for concurrent use.
type Session struct {
	srv  *Server
	id   string
	req  *http.Request
	slot slot // given back by finish once OnClose has returned

	// dispatchMu serializes Handler calls. newSession takes it and
	// acceptSession releases it, so nothing is delivered before the
	// handler exists.
	dispatchMu  sync.Mutex
	handler     Handler // set once by acceptSession; guarded by dispatchMu
	handlerDone bool    // OnClose has been called; guarded by dispatchMu

	closing    chan struct{} // closed by closeWith
	done       chan struct{} // closed by finish once the session has ended
	pollWake   chan struct{} // capacity 1: re-evaluate the held GET
	lingerDone chan struct{} // closed when a lingering session's last GET is served

	// state is a sessionState. It changes only through become, with mu
	// held; it is read with mu held or, to ask whether the session has
	// closed, without (closed).
	state atomic.Uint32

	mu              sync.Mutex // guards the fields below
	transport       string
	queue           []*Message // packets for the client, oldest first
	spare           []*Message // recycled backing array for queue
	reason          string     // for OnClose; set by closeLocked
	kind            closeKind  // set by closeLocked
	getActive       bool       // a polling GET is held, not yet answered
	postActive      bool       // a polling POST is being served
	pingOutstanding bool
	pongDeadline    time.Time   // while pingOutstanding
	nextPingAt      time.Time   // while !pingOutstanding: when the next ping is due
	ws              *wsConn     // the session's WebSocket, once open
	flusher         *flusher    // writes ws's queue, set with ws
	probeConn       *wsConn     // the probing WebSocket, during an upgrade
	heartbeat       *time.Timer // runs beat: the next ping, or the pong deadline
	writer          writerRole  // who may write ws; changed only by handWriterLocked
	dirty           bool        // handed to the flusher, not flushed yet
	closeFr         []byte      // with closeError: the close frame finish sends first
}

// sessionState is where a session is in its life; the diagram in the
// package doc shows how one leads to another. Only the first three are
// open: from stateClosing on, Send fails and Closing is closed.
type sessionState uint32

const (
	// stateOpen: the session carries traffic on its transport, polling
	// or WebSocket, and no upgrade is in progress.
	stateOpen sessionState = iota
	// stateProbing: on polling, a WebSocket upgrade is reserved (before
	// the 101, so that a second WebSocket is refused) or probing.
	stateProbing
	// stateUpgrading: the probe's "2probe" has been answered with
	// "3probe": a held GET is released with "6" (see upgradeNoopDelay).
	stateUpgrading
	// stateClosing: closed with nothing left to wait for. The finisher
	// writes the WebSocket's goodbye and closes it; on polling a GET
	// held at the close gets the goodbye, any other request 400.
	stateClosing
	// stateLingering: closed by Close or by the client's "1" on polling
	// while no GET was held: the client's next GET gets the goodbye
	// (finish keeps the session reachable for it; see linger).
	stateLingering
	// stateLingered: that last GET has taken the goodbye. A POST that
	// found the session before it was forgotten is still accepted and
	// dropped, as while lingering.
	stateLingered
)

// String names the state, for the message of a broken transition.
func (st sessionState) String() string {
	switch st {
	case stateOpen:
		return "open"
	case stateProbing:
		return "probing"
	case stateUpgrading:
		return "upgrading"
	case stateClosing:
		return "closing"
	case stateLingering:
		return "lingering"
	case stateLingered:
		return "lingered"
	}
	return "state(" + strconv.Itoa(int(st)) + ")"
}

// closed reports whether st is one of the closed states.
func (st sessionState) closed() bool { return st >= stateClosing }

// lingers reports whether st is a closed state whose goodbye is (or was)
// carried by the client's next GET.
func (st sessionState) lingers() bool { return st == stateLingering || st == stateLingered }

// transitions is the table of legal state changes: for each state, the
// set (one bit per state) of those it may become.
var transitions = [...]uint8{
	stateOpen:      1<<stateProbing | 1<<stateClosing | 1<<stateLingering,
	stateProbing:   1<<stateUpgrading | 1<<stateOpen | 1<<stateClosing | 1<<stateLingering,
	stateUpgrading: 1<<stateOpen | 1<<stateClosing | 1<<stateLingering,
	stateClosing:   0,
	stateLingering: 1 << stateLingered,
	stateLingered:  0,
}

// current returns the session's state. Without s.mu it may be stale by
// the time the caller acts on it, except that a closed state is final.
func (s *Session) current() sessionState { return sessionState(s.state.Load()) }

// closed reports whether the session has closed. It takes no lock.
func (s *Session) closed() bool { return s.current().closed() }

// become changes the session's state to to, which must be legal from the
// current one: an illegal change is a bug in this package, and panics.
// s.mu must be held. The transition methods below are its only callers.
func (s *Session) become(to sessionState) {
	from := s.current()
	if transitions[from]&(1<<to) == 0 {
		panic("engineio: session state " + from.String() + " cannot become " + to.String())
	}
	s.state.Store(uint32(to))
}

// writerRole says who holds a session's writer role. Its holder is the
// only goroutine that writes the session's WebSocket or touches the
// unwritten tail of a write (wsConn.pending); it hands the role on before
// it stops writing, so that what was queued meanwhile is never left
// behind. The diagram in the package doc shows the hand-offs.
type writerRole uint8

const (
	// writerNone: nobody writes. Send hands the session to its flusher
	// (markDirtyLocked); startWorker starts a worker.
	writerNone writerRole = iota
	// writerFlusher: the flusher writes the queue without waiting
	// (flushNow), then gives the role up or hands it to a worker.
	writerFlusher
	// writerWorker: a worker goroutine (work) writes a slow client's
	// backlog with blocking writes, or finishes a closed session.
	writerWorker
	// writerFinisher: the worker finishes the closed session (finish).
	// The role is never given up, so no other writer starts.
	writerFinisher
)

// String names the role, for the message of a broken hand-off.
func (w writerRole) String() string {
	switch w {
	case writerNone:
		return "nobody"
	case writerFlusher:
		return "the flusher"
	case writerWorker:
		return "a worker"
	case writerFinisher:
		return "the finisher"
	}
	return "writer(" + strconv.Itoa(int(w)) + ")"
}

// writerHandoffs is the table of legal hand-offs of the writer role: for
// each holder, the set (one bit per holder) of those it may pass it to.
var writerHandoffs = [...]uint8{
	writerNone:     1<<writerFlusher | 1<<writerWorker,
	writerFlusher:  1<<writerNone | 1<<writerWorker,
	writerWorker:   1<<writerNone | 1<<writerFinisher,
	writerFinisher: 0,
}

// handWriterLocked passes the writer role to to, which must be legal from
// its current holder: an illegal hand-off is a bug in this package, and
// panics. s.mu must be held.
func (s *Session) handWriterLocked(to writerRole) {
	if writerHandoffs[s.writer]&(1<<to) == 0 {
		panic("engineio: the writer role cannot pass from " + s.writer.String() + " to " + to.String())
	}
	s.writer = to
}

// reserveProbeLocked starts an upgrade (open → probing) if the session is
// open on polling with none in progress; otherwise the WebSocket asking
// for it is a duplicate. s.mu must be held.
func (s *Session) reserveProbeLocked() bool {
	if s.current() != stateOpen || s.transport != TransportPolling {
		return false
	}
	s.become(stateProbing)
	return true
}

// probeAnsweredLocked records that "2probe" is about to be answered
// (probing → upgrading; a repeated "2probe" changes nothing). It reports
// false if the session has closed. s.mu must be held.
func (s *Session) probeAnsweredLocked() bool {
	switch s.current() {
	case stateProbing:
		s.become(stateUpgrading)
	case stateClosing, stateLingering, stateLingered:
		return false
	}
	return true
}

// endProbeLocked ends an upgrade that failed (probing or upgrading →
// open, polling going on): that of the probing connection c, or, with c
// nil, one whose WebSocket never opened. s.mu must be held.
func (s *Session) endProbeLocked(c *wsConn) {
	if s.probeConn != c {
		return
	}
	s.probeConn = nil
	if st := s.current(); st == stateProbing || st == stateUpgrading {
		s.become(stateOpen)
	}
}

// upgradedLocked completes the upgrade to c (probing or upgrading → open
// on WebSocket). It reports false if the session has closed. s.mu must be
// held.
func (s *Session) upgradedLocked(c *wsConn) bool {
	if s.closed() {
		return false
	}
	s.become(stateOpen)
	c.probe = false
	s.transport = TransportWebSocket
	s.probeConn = nil
	return true
}

// closeLocked closes the session (any open state → closing or lingering)
// with reason and kind, and reports whether it did: false if it had
// closed already. A polling session closed by Close or by the client with
// no GET held lingers for the client's next GET. s.mu must be held.
func (s *Session) closeLocked(reason string, kind closeKind) bool {
	if s.closed() {
		return false
	}
	s.reason, s.kind = reason, kind
	if (kind == closeGraceful || kind == closeClient) && s.transport == TransportPolling && !s.getActive {
		s.become(stateLingering)
	} else {
		s.become(stateClosing)
	}
	return true
}

// lingerServedLocked hands a lingering session's goodbye to the GET
// calling it (lingering → lingered) and reports whether it did: only the
// first GET after the close gets it. s.mu must be held.
func (s *Session) lingerServedLocked() bool {
	if s.current() != stateLingering {
		return false
	}
	s.become(stateLingered)
	return true
}

// ID returns the session id (the Engine.IO sid).
func (s *Session) ID() string { return s.id }

// Request returns the handshake request (headers, URL query, RemoteAddr).
// It must be treated as read-only and its Body is not readable.
func (s *Session) Request() *http.Request { return s.req }

// Transport returns the current transport name: "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Send queues msgs, in order, as one unit (a Socket.IO packet with its
// attachments never interleaves with another). It never blocks: it returns
// false if the session is closed or if the queue overflowed, in which case
// the session is closed with reason "send queue full". Nil messages are
// skipped. The messages are shared, not copied.
func (s *Session) Send(msgs ...*Message) bool {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return false
	}
	n := 0
	for _, m := range msgs {
		if m != nil {
			n++
		}
	}
	if len(s.queue)+n > s.srv.st.SendQueue {
		s.mu.Unlock()
		s.closeWith(ReasonSendQueueFull, closeError)
		return false
	}
	for _, m := range msgs {
		if m != nil {
			s.queue = append(s.queue, m)
		}
	}
	var wake, flush bool
	if n > 0 {
		wake, flush = s.queuedLocked()
	}
	s.mu.Unlock()
	s.notify(wake, flush)
	return true
}

// queuedLocked says who must learn that packets were just queued: a held
// polling GET (wake), as long as the session has no WebSocket, or else
// the session's flusher (flush; see markDirtyLocked). s.mu must be held;
// the caller passes the answer to notify once it has unlocked.
func (s *Session) queuedLocked() (wake, flush bool) {
	if s.ws == nil {
		return true, false
	}
	return false, s.markDirtyLocked()
}

// notify acts on queuedLocked's answer.
func (s *Session) notify(wake, flush bool) {
	if wake {
		signal(s.pollWake)
	}
	if flush {
		s.flusher.add(s)
	}
}

// markDirtyLocked reports whether s must be handed to its flusher for
// what was just queued: not if it has no WebSocket (polling GETs take the
// queue), not if it is already due, and not if the writer role is held
// (its holder writes what was queued before giving it up). s.mu must be
// held.
func (s *Session) markDirtyLocked() bool {
	if s.ws == nil || s.writer != writerNone || s.dirty {
		return false
	}
	s.dirty = true
	return true
}

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
func (s *Session) Closing() <-chan struct{} { return s.closing }

// Done is closed when the session has ended, after OnClose has returned;
// by then the session no longer counts in Server.Count or the caps.
func (s *Session) Done() <-chan struct{} { return s.done }

// closeWith starts closing the session once; later calls do nothing. It
// never blocks on I/O: the worker finishes the transport and calls OnClose.
func (s *Session) closeWith(reason string, kind closeKind) {
	s.mu.Lock()
	if !s.closeLocked(reason, kind) {
		s.mu.Unlock()
		return
	}
	lingering, ws, probe, fr := s.current() == stateLingering, s.ws, s.probeConn, s.closeFr
	if kind == closeError || kind == closeClient {
		// Nothing will be delivered any more.
		clear(s.queue)
		s.queue, s.spare = nil, nil
	}
	s.heartbeat.Stop()
	s.mu.Unlock()

	if ws != nil && (kind == closeError || kind == closeClient) && fr == nil {
		s.srv.closeConn(ws) // unblocks a writer stuck on a client that does not read
	}
	if probe != nil {
		_ = probe.nc.Close()
	}
	if !lingering {
		s.srv.forget(s)
	}
	close(s.closing)
	signal(s.pollWake)
	s.startWorker() // the worker finishes the session
}

// A session has no goroutine of its own while it is idle: its heartbeat
// is a timer (beat runs on the timer's goroutine), its WebSocket is read
// by the server's poller, what it is sent is written by its flusher, and
// a worker goroutine (work) runs only while a slow client has a backlog
// or the session has closed and must be finished.

// startWorker starts the session's worker unless the writer role is held
// (its holder then sees the new work before it gives the role up).
// Nothing is started for a session that is open without a WebSocket yet:
// polling sessions are written by their GET requests.
func (s *Session) startWorker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writer != writerNone || (!s.closed() && !s.hasBacklogLocked()) {
		return
	}
	s.handWriterLocked(writerWorker)
	go s.work()
}

// hasBacklogLocked reports whether the session's WebSocket has something
// to write: queued packets or the unwritten tail of a write. s.mu held.
func (s *Session) hasBacklogLocked() bool {
	return s.ws != nil && (len(s.queue) > 0 || len(s.ws.pending) > 0)
}

// work is the session's worker, started with the writer role held: it
// writes the WebSocket with blocking writes until the backlog is gone,
// and, once the session has closed, finishes it. The session counts in
// the server's WaitGroup from newSession until finish has returned.
func (s *Session) work() {
	for {
		s.mu.Lock()
		if s.closed() {
			s.handWriterLocked(writerFinisher)
			s.mu.Unlock()
			s.finish()
			s.srv.wg.Done()
			return
		}
		if !s.hasBacklogLocked() {
			s.handWriterLocked(writerNone)
			s.mu.Unlock()
			return
		}
		c := s.ws
		s.mu.Unlock()
		if err := s.flushWebSocket(time.Time{}); err != nil {
			s.closeWith(ReasonTransportError, closeError)
			continue
		}
		// The flusher's non-blocking writes would fail on an expired
		// deadline. It is cleared while the role is still held: cleared
		// after giving the role up, it could be the deadline of the next
		// worker's blocking write, which would then wait forever on a
		// client that does not read.
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
}

// flushNow writes what is queued for s without waiting, on the flusher
// f's goroutine, if nobody holds the writer role. What the socket does
// not take is left to a worker goroutine; what was queued meanwhile is
// handed back to f.
func (s *Session) flushNow(f *flusher) {
	s.mu.Lock()
	s.dirty = false
	c := s.ws
	if s.writer != writerNone || s.closed() || c == nil || len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	if c.rc == nil {
		// No non-blocking writes on this connection.
		s.handWriterLocked(writerWorker)
		s.mu.Unlock()
		go s.work()
		return
	}
	s.handWriterLocked(writerFlusher)
	batch := s.takeQueueLocked()
	s.mu.Unlock()

	rest, err := s.writeFrames(c, batch, f.rio, time.Time{})

	s.mu.Lock()
	if len(rest) > 0 {
		// Back to the front of the queue, before what came meanwhile.
		q := make([]*Message, 0, len(rest)+len(s.queue))
		q = append(append(q, rest...), s.queue...)
		clear(s.queue)
		s.queue = q
	}
	var worker, again bool
	switch {
	case err != nil || s.closed() || len(c.pending) > 0 || len(rest) > 0:
		// The role passes to a worker: it writes the backlog, or
		// finishes the session. (A closeWith that ran during the write
		// left that to the role's holder.)
		s.handWriterLocked(writerWorker)
		worker = true
	case len(s.queue) > 0:
		s.handWriterLocked(writerNone)
		again = s.markDirtyLocked()
	default:
		s.handWriterLocked(writerNone)
	}
	s.mu.Unlock()
	s.recycle(batch)
	if err != nil {
		s.closeWith(ReasonTransportError, closeError)
	}
	switch {
	case worker:
		go s.work()
	case again:
		f.add(s)
	}
}

// flushStopped is told by a stopped flusher (the server is closing) that
// s was due: a worker writes what is queued instead.
func (s *Session) flushStopped() {
	s.mu.Lock()
	s.dirty = false
	s.mu.Unlock()
	s.startWorker()
}

// beat is the heartbeat timer's function: it queues the due ping and
// arms the timer for its pong deadline, closes the session if that
// deadline has passed unanswered, or, when the ping was answered, arms
// the timer for the next ping (PROTOCOL.md A8).
func (s *Session) beat() {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	if s.pingOutstanding {
		if now.Before(s.pongDeadline) {
			s.heartbeat.Reset(s.pongDeadline.Sub(now))
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.closeWith(ReasonPingTimeout, closeError)
		return
	}
	if now.Before(s.nextPingAt) {
		s.heartbeat.Reset(s.nextPingAt.Sub(now))
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if deadline, ok := s.queuePing(); ok {
		s.mu.Lock()
		if !s.closed() {
			s.heartbeat.Reset(time.Until(deadline))
		}
		s.mu.Unlock()
	}
}

// queuePing queues the due ping and returns its pong deadline (PROTOCOL.md
// A8: the deadline runs from queueing, not from delivery). The deadline is
// counted from when the ping was due, so that a late timer goroutine does
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
	s.pingOutstanding = true
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
	answered := s.pingOutstanding
	s.pingOutstanding = false
	s.pongDeadline = time.Time{}
	if answered {
		// The timer, armed for the pong deadline, finds the ping
		// answered and re-arms itself for nextPingAt.
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
	if s.pingOutstanding {
		return !now.Before(s.pongDeadline)
	}
	return !now.Before(s.nextPingAt.Add(s.srv.st.PingTimeout))
}

// takeQueueLocked removes and returns everything queued. s.mu must be held.
// The caller hands the slice back with recycle.
func (s *Session) takeQueueLocked() []*Message {
	batch := s.queue
	s.queue = s.spare[:0]
	s.spare = nil
	return batch
}

// recycle clears a batch returned by takeQueueLocked and keeps its array
// for the next one, unless it is larger than maxSpareQueue.
func (s *Session) recycle(batch []*Message) {
	if cap(batch) == 0 || cap(batch) > maxSpareQueue {
		return
	}
	clear(batch)
	s.mu.Lock()
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
}

// maxSpareQueue caps the queue array a session keeps between flushes: a
// join hands one joiner the history and the whole chatter list at once
// (thousands of packets), and keeping that array would cost every idle
// connection tens of kilobytes; steady traffic queues a few at a time.
const maxSpareQueue = 64

// flushWebSocket writes what a non-blocking write left over and
// everything queued to the session's WebSocket, if it has one, waiting up
// to WriteTimeout, or to deadline when it is not zero. Only the holder of
// the writer role calls it.
func (s *Session) flushWebSocket(deadline time.Time) error {
	s.mu.Lock()
	c := s.ws
	if c == nil {
		s.mu.Unlock()
		return nil
	}
	batch := s.takeQueueLocked()
	s.mu.Unlock()
	defer s.recycle(batch)

	if deadline.IsZero() {
		deadline = time.Now().Add(s.srv.st.WriteTimeout)
	}
	if len(c.pending) > 0 {
		if err := c.writeBlocking(c.pending, deadline); err != nil {
			return err
		}
		c.pending = nil
	}
	_, err := s.writeFrames(c, batch, nil, deadline)
	return err
}

// writeFrames writes the frames of batch, each built once per Message
// (wsFrame) and copied into one pooled buffer, so they go out in as few
// writes as possible (one per writeChunk bytes); a frame this large or
// larger is written on its own, without a copy. With rio nil the writes
// wait up to deadline. With rio they do not wait: at the first write the
// socket does not take whole, its unwritten bytes go to c.pending and the
// messages not written yet are returned. Only the holder of the writer
// role calls it, with c.pending empty.
//
// A copy rather than a vectored write: the runtime keeps a descriptor's
// largest iovec array for the life of the connection.
func (s *Session) writeFrames(c *wsConn, batch []*Message, rio *rawIO, deadline time.Time) ([]*Message, error) {
	// write reports whether b was written whole.
	write := func(b []byte) (bool, error) {
		if rio == nil {
			return true, c.writeBlocking(b, deadline)
		}
		n, err := rio.tryWrite(c.rc, b)
		if err != nil {
			return false, err
		}
		if n < len(b) {
			c.pending = append([]byte(nil), b[n:]...)
			return false, nil
		}
		return true, nil
	}
	if len(batch) == 1 {
		_, err := write(batch[0].wsFrame())
		return nil, err
	}
	bp := writeBufPool.Get().(*[]byte)
	defer writeBufPool.Put(bp)
	buf := (*bp)[:0]
	for i, m := range batch {
		f := m.wsFrame()
		if len(buf) > 0 && len(buf)+len(f) > writeChunk {
			if whole, err := write(buf); !whole || err != nil {
				return batch[i:], err
			}
			buf = buf[:0]
		}
		if len(f) >= writeChunk {
			if whole, err := write(f); !whole || err != nil {
				return batch[i+1:], err
			}
			continue
		}
		buf = append(buf, f...)
	}
	if len(buf) > 0 {
		if whole, err := write(buf); !whole || err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// writeChunk bounds one write of gathered frames: large enough that a
// joiner's history and chatter list (thousands of small frames) go out in
// a handful of writes, small enough that the pooled buffers stay cheap.
// A frame this large or larger is written on its own, without a copy.
const writeChunk = 32 << 10

// writeBufPool holds flushWebSocket's gathering buffers, shared by all
// sessions so that an idle session holds none.
var writeBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeChunk)
	return &b
}}

// finish ends the session on the worker after closeWith: it flushes
// and closes the transport as the close kind allows, calls OnClose, and
// closes done.
func (s *Session) finish() {
	s.mu.Lock()
	kind, reason, ws, lingering, fr := s.kind, s.reason, s.ws, s.current().lingers(), s.closeFr
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

	// The session stops counting (Server.Count, the caps) once OnClose
	// has returned, so the application never holds more sessions than
	// the caps allow; Done tells it the slot is free.
	s.srv.release(s.slot)
	close(s.done)

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

// deliver passes one message to the handler, unless the session is
// closing.
func (s *Session) deliver(data []byte, binary bool) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	if s.handlerDone || s.closed() || s.handler == nil {
		return
	}
	s.handler.OnMessage(data, binary)
}

// handlePacket acts on one packet from the client, on either transport.
func (s *Session) handlePacket(p packet) {
	switch {
	case p.binary || p.typ == typeMessage:
		s.deliver(p.data, p.binary)
	case p.typ == typePong:
		s.onPong()
	case p.typ == typeClose:
		s.closeWith(ReasonTransportClose, closeClient)
	case p.typ == typePing:
		// v4 clients never ping; the reference closes the session
		// ("invalid heartbeat direction").
		s.closeWith(ReasonParseError, closeError)
	default:
		// open, upgrade and noop mean nothing here; the reference
		// ignores them too.
	}
}

// signal wakes the goroutine waiting on ch without ever blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
