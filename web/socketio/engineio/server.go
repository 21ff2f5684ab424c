package engineio

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"chatserver/internal/randid"
	"chatserver/internal/throttle"
)

// Reasons passed to Handler.OnClose by the server itself. Session.Close
// passes on whatever reason its caller gives.
const (
	// ReasonTransportClose: the client closed the session (a "1" packet,
	// or its WebSocket closed), or a polling client went away between two
	// GETs (see Server.ConnContext).
	ReasonTransportClose = "transport close"
	// ReasonTransportError: an I/O error, a dropped held GET, a duplicate
	// GET or POST, or a POST body or WebSocket message over MaxPayload.
	ReasonTransportError = "transport error"
	// ReasonPingTimeout: no pong within PingTimeout of a ping being
	// queued; in protocol 3, nothing from the client for
	// PingInterval+PingTimeout.
	ReasonPingTimeout = "ping timeout"
	// ReasonParseError: the client sent an invalid packet or payload (this
	// includes a ping, which v4 clients never send, and a pong, which v3
	// clients never send).
	ReasonParseError = "parse error"
	// ReasonServerShutdown: Server.Close.
	ReasonServerShutdown = "server shutdown"
	// ReasonSendQueueFull: Session.Send overflowed Config.SendQueue.
	ReasonSendQueueFull = "send queue full"
	// ReasonForcedClose: accept returned a nil Handler. It is also the
	// conventional reason for an application's Session.Close.
	ReasonForcedClose = "forced close"
	// ReasonPendingTimeout: the session was still pending (not
	// established) at Config.PendingTimeout.
	ReasonPendingTimeout = "pending timeout"
	// ReasonEvicted: the session was pending and a newer handshake
	// needed its place (Config.MaxPending, MaxPendingPerIP, MaxSessions).
	ReasonEvicted = "evicted"
)

// Error codes of the JSON error body ({"code":N,"message":"..."}) that
// answers a refused request.
const (
	codeTransportUnknown    = 0
	codeUnknownSID          = 1
	codeBadHandshakeMethod  = 2
	codeBadRequest          = 3
	codeForbidden           = 4
	codeUnsupportedProtocol = 5
)

// TooManyConnectionsBody is the JSON body of the HTTP 503 response that
// refuses a handshake over Config.MaxSessions or Config.MaxSessionsPerIP
// (on both transports; a WebSocket handshake is refused before the
// upgrade). Code 4 is the protocol's "Forbidden" code, which clients treat
// as a refusal, not as a malformed request.
const TooManyConnectionsBody = `{"code":4,"message":"Too many connections"}`

// errorBodies holds the exact JSON body for each error code.
var errorBodies = [...]string{
	codeTransportUnknown:    `{"code":0,"message":"Transport unknown"}`,
	codeUnknownSID:          `{"code":1,"message":"Session ID unknown"}`,
	codeBadHandshakeMethod:  `{"code":2,"message":"Bad handshake method"}`,
	codeBadRequest:          `{"code":3,"message":"Bad request"}`,
	codeForbidden:           `{"code":4,"message":"Forbidden"}`,
	codeUnsupportedProtocol: `{"code":5,"message":"Unsupported protocol version"}`,
}

// Buffer sizes given to gorilla's upgrader. Its Conn is used for the
// handshake only (frames are read and written by wsConn), so the buffers
// are kept small and the write buffer pooled: they are garbage once the
// handshake is done.
const (
	wsReadBufferSize  = 512
	wsWriteBufferSize = 4096
)

// sidBytes is the number of random bytes in a session id: 15 bytes are
// 20 URL-safe base64 characters, like the reference's ids.
const sidBytes = 15

// Handler receives what arrives on one session. The server calls its
// methods from one goroutine at a time, in arrival order. OnMessage may
// wait (to push back on a client that sends faster than the application
// consumes), but must return once Session.Closing is closed: the session
// cannot finish, and Server.Close cannot return, while it waits. A Handler
// must not call Server.Close.
type Handler interface {
	// OnMessage is called for each message packet ("4..." or binary). data
	// is valid only during the call; copy what must outlive it.
	OnMessage(data []byte, binary bool)
	// OnClose is called exactly once, after which no method is called
	// again. reason is a short phrase ("transport close", "ping timeout",
	// "parse error", "server shutdown", "send queue full", "forced close",
	// "pending timeout", "evicted"): one of the Reason constants, or what
	// was given to Session.Close.
	OnClose(reason string)
}

// Server is an Engine.IO v4 server (and v3, with Config.AllowEIO3). It is
// an http.Handler to be mounted at the Engine.IO path (for example
// "/socket.io/").
type Server struct {
	st       settings
	accept   func(*Session) Handler
	upgrader websocket.Upgrader
	// lines takes the connection lines, warn the refusals (Config.Logger).
	lines, warn *throttle.Log

	// shutdown is closed by Close; lingering sessions stop waiting on it.
	shutdown chan struct{}
	// wg counts request handlers in progress and sessions not yet finished.
	wg sync.WaitGroup

	// The WebSocket machinery, started with the first WebSocket and
	// stopped by Close once every session has finished.
	pollerOnce sync.Once
	poller     atomic.Pointer[poller] // nil where there is none
	flushOnce  sync.Once
	flushers   []*flusher
	flushNext  atomic.Uint64
	bg         sync.WaitGroup // the flushers' goroutines

	// alarms runs the sessions' heartbeats on one timer.
	alarms alarms

	// mu guards the fields below. It may be taken while a Session's mu
	// is held, never the other way round.
	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
	// count is the number of slots held: sessions from their handshake
	// until OnClose has returned (and handshakes about to create one).
	count int
	// perIP counts the slots held per capped client address; an address
	// with none has no entry.
	perIP map[string]int

	// conns follows the HTTP connections (ConnContext, ConnState).
	conns connTable
	// pendingCount is the number of pending places held (pending.go);
	// pendingGroups holds them by client address, an address with none
	// having no entry; pendingSeq numbers them in link order.
	pendingCount  int
	pendingGroups map[string]*pendingGroup
	pendingSeq    uint64
}

// slot is a session's place under the caps, taken by reserve before the
// session exists and given back by release exactly once. It does not
// change once the session exists.
type slot struct {
	ip     string   // canonical client address, when ClientIP was asked
	capped bool     // the slot is counted in perIP[ip]
	pend   *pending // the session's pending place, when they are tracked
}

// NewServer returns a server. accept is called once for each new session,
// after the handshake is sent and before any message is delivered, and
// returns the handler for that session's traffic; a nil Handler closes the
// session with ReasonForcedClose. accept runs on the handshake request's
// goroutine and may call Session.Send and Session.Close; like OnMessage,
// it must return once Session.Closing is closed if it waits.
func NewServer(cfg Config, accept func(*Session) Handler) *Server {
	s := &Server{
		st:       resolve(cfg),
		accept:   accept,
		shutdown: make(chan struct{}),
		sessions: make(map[string]*Session),
		perIP:    make(map[string]int),

		pendingGroups: make(map[string]*pendingGroup),
	}
	s.lines = throttle.New(s.st.Logger, slog.LevelInfo, ConnLogBurst)
	s.warn = throttle.New(s.st.Logger, slog.LevelWarn, 1)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: s.st.WriteTimeout,
		ReadBufferSize:   wsReadBufferSize,
		WriteBufferSize:  wsWriteBufferSize,
		WriteBufferPool:  &sync.Pool{},
		// The origin was checked (with the same rule as for polling)
		// before Upgrade is called.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			writeError(w, status, codeBadRequest)
		},
	}
	return s
}

// ServeHTTP serves Engine.IO requests (polling GET/POST and WebSocket).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "engineio: server closed", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()

	q := r.URL.Query()
	proto, ok := s.st.protocolOf(q)
	if !ok {
		writeError(w, http.StatusBadRequest, codeUnsupportedProtocol)
		return
	}
	transport := q.Get("transport")
	if !s.st.transportEnabled(transport) || (proto == protocol3 && transport == TransportPolling && q.Has("j")) {
		// A protocol 3 "j" asks for JSONP polling, which is not served.
		writeError(w, http.StatusBadRequest, codeTransportUnknown)
		return
	}
	if !s.st.originAllowed(r) {
		writeError(w, http.StatusForbidden, codeForbidden)
		return
	}
	if origin := s.st.corsOrigin(r); origin != "" && answerCORS(w, r, origin) {
		return
	}
	sid := q.Get("sid")
	if sid == "" && r.Method != http.MethodGet {
		writeError(w, http.StatusBadRequest, codeBadHandshakeMethod)
		return
	}
	isWebSocket := websocket.IsWebSocketUpgrade(r)
	if isWebSocket != (transport == TransportWebSocket) {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}

	if sid == "" {
		sl, ok := s.reserve(r)
		if !ok {
			s.warn.Print(canonicalIP(s.st.ClientIP(r)), "connection refused: too many connections",
				"transport", transport, "addr", s.st.ClientAddr(r))
			writeErrorBody(w, http.StatusServiceUnavailable, TooManyConnectionsBody)
			return
		}
		if isWebSocket {
			s.serveWebSocketHandshake(w, r, sl)
		} else {
			s.servePollingHandshake(w, r, sl)
		}
		return
	}

	sess := s.lookup(sid)
	if sess == nil {
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	if sess.proto != proto {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	switch {
	case isWebSocket:
		sess.serveUpgrade(w, r)
	case r.Method == http.MethodGet:
		sess.servePoll(w, r)
	case r.Method == http.MethodPost:
		sess.servePost(w, r)
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest)
	}
}

// Close closes every session with reason "server shutdown" and waits until
// their goroutines have ended. New requests are refused afterwards.
// Idempotent. It must not be called from a Handler method.
func (s *Server) Close() {
	s.mu.Lock()
	var sessions []*Session
	if !s.closed {
		s.closed = true
		close(s.shutdown)
		sessions = make([]*Session, 0, len(s.sessions))
		for _, sess := range s.sessions {
			sessions = append(sessions, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.closeWith(ReasonServerShutdown, closeShutdown)
	}
	s.wg.Wait()
	// No session is left: stop the WebSocket machinery. (A first
	// WebSocket cannot start it any more: requests are refused.)
	s.flushOnce.Do(func() {})
	for _, f := range s.flushers {
		f.stop()
	}
	s.bg.Wait()
	s.pollerOnce.Do(func() {})
	if p := s.poller.Load(); p != nil {
		p.close()
	}
	s.lines.Close()
	s.warn.Close()
}

// Count returns the number of open sessions: those from their handshake
// until their OnClose has returned (when Session.Done is closed). It is the
// number that Config.MaxSessions caps.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// reserve takes a slot for a handshake from r, or reports that the caps
// refuse it, evicting pending sessions where the caps allow (admitLocked).
// The caller gives the slot to newSession or back to release.
func (s *Server) reserve(r *http.Request) (slot, bool) {
	var sl slot
	exempt := false
	if s.st.needIP {
		sl.ip = canonicalIP(s.st.ClientIP(r))
		exempt = s.st.ExemptIP(sl.ip)
		sl.capped = s.st.MaxSessionsPerIP > 0 && !exempt
	}
	if s.st.pending {
		sl.pend = &pending{exempt: exempt}
	}
	for evictions := 0; ; evictions++ {
		s.mu.Lock()
		admitted, evicted := s.admitLocked(sl, evictions < maxEvictions)
		s.mu.Unlock()
		if evicted != nil {
			evicted.closeWith(ReasonEvicted, closeError)
		}
		if admitted {
			return sl, true
		}
		if evicted == nil || !s.awaitEnd(evicted, r) {
			return slot{}, false
		}
	}
}

// release gives back a slot taken by reserve.
func (s *Server) release(sl slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(sl)
}

// releaseLocked is release with s.mu held.
func (s *Server) releaseLocked(sl slot) {
	s.dropPendingLocked(sl.pend)
	s.count--
	if sl.capped {
		if n := s.perIP[sl.ip] - 1; n > 0 {
			s.perIP[sl.ip] = n
		} else {
			delete(s.perIP, sl.ip)
		}
	}
}

// enter registers a request in progress; it fails once Close has begun.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// lookup returns the session sid, or nil if it is unknown or has just
// missed its pong deadline (checked here as well as by the session's timer
// so that the answer does not depend on goroutine scheduling).
func (s *Server) lookup(sid string) *Session {
	s.mu.Lock()
	sess := s.sessions[sid]
	s.mu.Unlock()
	if sess == nil {
		return nil
	}
	if sess.pongOverdue(time.Now()) {
		sess.closeWith(ReasonPingTimeout, closeError)
		return nil
	}
	return sess
}

// newSession creates and registers a session on transport, holding sl,
// and sets its heartbeat's alarm (no goroutine is started); the session
// gives sl back once OnClose has returned. It returns nil, having given sl
// back, once Close has begun. The session's dispatch lock is held: the
// caller releases it through acceptSession (or unlocks it if the
// handshake failed).
func (s *Server) newSession(r *http.Request, transport string, sl slot) *Session {
	proto, _ := s.st.protocolOf(r.URL.Query())
	sess := &Session{
		srv:       s,
		slot:      sl,
		proto:     proto,
		b64:       proto == protocol3 && wantsBase64(r),
		transport: transport,
	}
	if transport == TransportPolling {
		// Only polling uses them, and a session never goes back to
		// polling: one opened on a WebSocket goes without.
		sess.pollWake = make(chan struct{}, 1)
		sess.lingerDone = make(chan struct{})
	}
	sess.dispatchMu.Lock()

	sess.addr, sess.logKey, sess.opened = s.st.ClientAddr(r), sl.ip, time.Now()
	if !s.st.needIP {
		sess.logKey = canonicalIP(s.st.ClientIP(r))
	}

	s.mu.Lock()
	if s.closed {
		s.releaseLocked(sl)
		s.mu.Unlock()
		return nil
	}
	for {
		sess.id = randid.URLSafe(sidBytes)
		if _, taken := s.sessions[sess.id]; !taken {
			break
		}
	}
	sess.mu.Lock()
	if proto == protocol3 {
		sess.startHeartbeat3Locked()
	} else {
		sess.nextPingAt = time.Now().Add(s.st.PingInterval)
		s.alarms.set(sess, s.st.PingInterval)
	}
	sess.mu.Unlock()
	s.sessions[sess.id] = sess
	if sl.pend != nil {
		s.linkPendingLocked(sl.pend, sess)
	}
	s.st.Metrics.SessionOpened()
	s.wg.Add(1) // done by the worker once it has finished the session
	s.mu.Unlock()
	s.lines.Print(sess.logKey, "connection opened",
		"sid", sess.id, "transport", transport, "addr", sess.addr, "eio", int(proto))
	return sess
}

// acceptSession asks the application for sess's handler and releases the
// dispatch lock taken by newSession.
func (s *Server) acceptSession(sess *Session) {
	defer sess.dispatchMu.Unlock()
	defer func() {
		// A nil handler (or a panic in accept) leaves nobody to
		// receive the session's traffic.
		if sess.handler == nil {
			sess.closeWith(ReasonForcedClose, closeGraceful)
		}
	}()
	sess.handler = s.accept(sess)
}

// forget removes sess from the session table.
func (s *Server) forget(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	s.mu.Unlock()
}

// openPacket returns the open packet for sess, new on transport:
// exactly five keys, "upgrades" listing websocket only for polling
// sessions of a server that has it enabled. Protocol 3 has no
// "maxPayload", so four keys there.
func (s *Server) openPacket(sess *Session, transport string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, typeOpen)
	b = append(b, `{"sid":"`...)
	b = append(b, sess.id...)
	b = append(b, `","upgrades":[`...)
	if transport == TransportPolling && s.st.websocket {
		b = append(b, `"websocket"`...)
	}
	b = append(b, `],"pingInterval":`...)
	b = strconv.AppendInt(b, s.st.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, s.st.PingTimeout.Milliseconds(), 10)
	if sess.proto == protocol3 {
		return append(b, '}')
	}
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, int64(s.st.MaxPayload), 10)
	return append(b, '}')
}

// answerCORS adds the CORS headers for origin, one of AllowedOrigins, to
// the response to r, and answers r itself if it is a CORS preflight
// (OPTIONS): 204, the methods polling uses, the request's headers echoed.
// It reports whether it answered.
func answerCORS(w http.ResponseWriter, r *http.Request, origin string) bool {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Credentials", "true")
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET,POST")
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		h.Set("Access-Control-Allow-Headers", asked)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// writeError writes an Engine.IO JSON error response.
func writeError(w http.ResponseWriter, status, code int) {
	body := errorBodies[codeBadRequest]
	if code >= 0 && code < len(errorBodies) {
		body = errorBodies[code]
	}
	writeErrorBody(w, status, body)
}

// writeErrorBody writes a JSON error response with the given body.
func writeErrorBody(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
