package engineio

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// closeKind says how a session ends, which decides what its transport
// still sends.
type closeKind uint8

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
	slot slot // given back by finish once OnClose has returned

	// The client's address (Config.ClientAddr, for ClientAddr and the
	// log), the key its lines are throttled by (the canonical ClientIP),
	// and when the handshake came. Nothing else of the handshake request
	// is kept: its URL and headers would cost every connection more than
	// half a kilobyte for its whole life.
	addr, logKey string
	opened       time.Time

	// dispatchMu serializes Handler calls. newSession takes it and
	// acceptSession releases it, so nothing is delivered before the
	// handler exists.
	dispatchMu sync.Mutex
	handler    Handler // set once by acceptSession; guarded by dispatchMu

	pollWake   chan struct{} // capacity 1: re-evaluate the held GET; nil for a session opened on a WebSocket
	lingerDone chan struct{} // closed when a lingering session's last GET is served; likewise nil

	// state is a sessionState. It changes only through become, with mu
	// held; it is read with mu held or, to ask whether the session has
	// closed, without (closed).
	state atomic.Uint32

	// established is set once Establish has given up the session's
	// pending place, so that calling it again takes no lock.
	established atomic.Bool

	// The small fields sit together, so that the struct has no padding
	// to speak of: every connection has one. proto and b64 are set by
	// newSession, before the session is shared.
	proto       protocol // the Engine.IO revision of the handshake
	b64         bool     // protocol 3: the handshake asked for binary as base64 (b64)
	handlerDone bool     // OnClose has been called; guarded by dispatchMu
	alarmIdx    int32    // the heartbeat's place in srv.alarms' heap, + 1; 0: none. Guarded by srv.alarms.mu

	// heardAt is, for protocol 3, when the client's last packet arrived,
	// in nanoseconds since monoEpoch (heard, lastHeard). Atomic, so that
	// each packet need not take mu.
	heardAt atomic.Int64

	// alarmAt is when the heartbeat's alarm goes off, in nanoseconds
	// since monoEpoch: beat runs then, for the next ping or the pong
	// deadline (alarms). Guarded by srv.alarms.mu.
	alarmAt int64

	mu           sync.Mutex    // guards the fields below
	closing      chan struct{} // made by Closing when first asked for; closed by closeWith
	done         chan struct{} // made by Done when first asked for; closed by finish
	transport    string
	queue        []*Message // packets for the client, oldest first
	spare        []*Message // recycled backing array for queue
	reason       string     // for OnClose; set by closeLocked
	kind         closeKind  // set by closeLocked
	getActive    bool       // a polling GET is held, not yet answered
	postActive   bool       // a polling POST is being served
	writer       writerRole // who may write ws; changed only by handWriterLocked
	dirty        bool       // handed to the flusher, not flushed yet
	ended        bool       // finish has closed done (or would have, had it been made)
	pongDeadline time.Time  // the outstanding ping's; zero while none is
	nextPingAt   time.Time  // while no ping is outstanding: when the next one is due
	ws           *wsConn    // the session's WebSocket, once open
	flusher      *flusher   // writes ws's queue, set with ws
	probeConn    *wsConn    // the probing WebSocket, during an upgrade
	closeFr      []byte     // with closeError: the close frame finish sends first

	// On polling, what tells a client gone between two GETs (connwatch.go).
	conn      *connWatch  // the connection of the last answered GET, while it is open
	answered  int         // bytes of that GET's answer
	goneAt    time.Time   // the client counts as gone if not heard from by then; zero: not suspected
	goneTimer *time.Timer // runs checkGone; nil until first needed
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

// ClientAddr returns the client's address: what Config.ClientAddr
// returned for the handshake request.
func (s *Session) ClientAddr() string { return s.addr }

// Protocol returns the Engine.IO protocol revision the client speaks: 4,
// or 3 for a Socket.IO v2 client (Config.AllowEIO3).
func (s *Session) Protocol() int { return int(s.proto) }

// Transport returns the current transport name: "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// signal wakes the goroutine waiting on ch without ever blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
