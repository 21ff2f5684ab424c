package engineio

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/internal/leaktest"
	"chatserver/internal/logtest"

	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait for an event in these tests. It is
// generous because the machine is shared; nothing here measures speed.
const waitTimeout = 5 * time.Second

// received is one OnMessage call.
type received struct {
	data   string
	binary bool
}

// recorder is a Handler that records what it gets and checks the Handler
// contract: no concurrent calls, nothing after OnClose, OnClose once.
type recorder struct {
	t    testing.TB
	sess *Session
	echo bool

	msgs   chan received
	closed chan string // receives the OnClose reason

	active     atomic.Int32
	closeCalls atomic.Int32
}

func (r *recorder) enter() {
	if r.active.Add(1) != 1 {
		r.t.Errorf("session %s: concurrent Handler calls", r.sess.ID())
	}
	if r.closeCalls.Load() != 0 {
		r.t.Errorf("session %s: Handler called after OnClose", r.sess.ID())
	}
}

// OnMessage records the message. When msgs is full it waits, as a
// Handler applying backpressure does, until the test reads or the session
// closes (a test that failed reads no more; see Session.Closing).
func (r *recorder) OnMessage(data []byte, binary bool) {
	r.enter()
	defer r.active.Add(-1)
	if r.echo {
		r.sess.Send(NewMessage(append([]byte(nil), data...), binary))
	}
	m := received{string(data), binary}
	select {
	case r.msgs <- m:
		return
	default:
	}
	select {
	case r.msgs <- m:
	case <-r.sess.Closing():
	}
}

func (r *recorder) OnClose(reason string) {
	r.enter()
	defer r.active.Add(-1)
	r.closeCalls.Add(1)
	r.closed <- reason
}

// nextMessage waits for the next OnMessage call.
func (r *recorder) nextMessage(t testing.TB) received {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %v", waitTimeout)
		return received{}
	}
}

// waitClose waits for OnClose and returns its reason.
func (r *recorder) waitClose(t testing.TB) string {
	t.Helper()
	select {
	case reason := <-r.closed:
		return reason
	case <-time.After(waitTimeout):
		t.Fatalf("session %s: OnClose not called within %v", r.sess.ID(), waitTimeout)
		return ""
	}
}

// env is a running Engine.IO server on an httptest server, with every
// accepted session reported on accepted.
type env struct {
	srv      *Server
	ts       *httptest.Server
	client   *http.Client
	accepted chan *recorder
	log      *logtest.Recorder // what the server logged, unless cfg had a Logger
	echo     bool              // sessions echo every message back
	msgs     int               // capacity of each recorder's msgs; 0: defaultMsgBuffer
	noPoller bool              // read every WebSocket on a goroutine of its own
	// goneGrace replaces connGoneGrace when not zero.
	goneGrace time.Duration
}

// defaultMsgBuffer is how many delivered messages a recorder holds for the
// test to read before its OnMessage waits.
const defaultMsgBuffer = 256

// msgBuffer is the capacity of each recorder's msgs.
func (e *env) msgBuffer() int {
	if e.msgs == 0 {
		return defaultMsgBuffer
	}
	return e.msgs
}

// envOption adjusts a test environment.
type envOption func(*env)

// echoing makes every session echo its messages back.
func echoing(e *env) { e.echo = true }

// withoutPoller makes the server read each WebSocket on a goroutine of
// its own, as on a platform without a poller.
func withoutPoller(e *env) { e.noPoller = true }

// readModes runs a test once with the poller and once without.
var readModes = []struct {
	name string
	opt  envOption
}{
	{"poller", func(*env) {}},
	{"goroutine per connection", withoutPoller},
}

// withGoneGrace shortens connGoneGrace, for tests that wait for it.
func withGoneGrace(d time.Duration) envOption { return func(e *env) { e.goneGrace = d } }

// withMsgBuffer sets the capacity of each recorder's msgs.
func withMsgBuffer(n int) envOption { return func(e *env) { e.msgs = n } }

// testLogger returns a logger to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	logger, _ := logtest.New(t)
	return logger
}

// newEnv starts a server with cfg and registers its shutdown (and a
// goroutine-leak check) with t.Cleanup.
func newEnv(t testing.TB, cfg Config, opts ...envOption) *env {
	t.Helper()
	checkNoLeaks(t)
	e := &env{accepted: make(chan *recorder, 64)}
	for _, o := range opts {
		o(e)
	}
	if cfg.Logger == nil {
		cfg.Logger, e.log = logtest.New(t)
	}
	e.srv = NewServer(cfg, func(s *Session) Handler {
		r := &recorder{t: t, sess: s, echo: e.echo, msgs: make(chan received, e.msgBuffer()), closed: make(chan string, 1)}
		select {
		case e.accepted <- r:
		case <-s.Closing():
		}
		return r
	})
	e.srv.st.noPoller = e.noPoller
	if e.goneGrace > 0 {
		e.srv.st.connGoneGrace = e.goneGrace
	}
	// The hooks are set as a server using the package sets them.
	e.ts = httptest.NewUnstartedServer(e.srv)
	e.ts.Config.ConnContext = e.srv.ConnContext
	e.ts.Config.ConnState = e.srv.ConnState
	e.ts.Start()
	e.client = e.ts.Client()
	t.Cleanup(func() {
		e.srv.Close()
		e.ts.Close()
	})
	return e
}

// waitDone waits until sess has ended (OnClose has returned).
func waitDone(t testing.TB, sess *Session) {
	t.Helper()
	select {
	case <-sess.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("session %s: Done not closed within %v", sess.ID(), waitTimeout)
	}
}

// nextSession waits for the next accepted session.
func (e *env) nextSession(t testing.TB) *recorder {
	t.Helper()
	select {
	case r := <-e.accepted:
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("no session accepted within %v", waitTimeout)
		return nil
	}
}

// url returns the Engine.IO URL with query appended to "EIO=4&".
func (e *env) url(query string) string { return e.ts.URL + "/engine.io/?EIO=4&" + query }

// pollURL returns the polling URL of session sid.
func (e *env) pollURL(sid string) string { return e.url("transport=polling&sid=" + sid) }

// wsURL returns the WebSocket URL with query appended to "EIO=4&".
func (e *env) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(e.url(query), "http")
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request and reads the whole response.
func (e *env) do(t testing.TB, method, url, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.send(t, req)
}

// send performs req and reads the whole response.
func (e *env) send(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// get polls once.
func (e *env) get(t testing.TB, url string) response {
	t.Helper()
	return e.do(t, http.MethodGet, url, "", "")
}

// post sends a payload as the real client does.
func (e *env) post(t testing.TB, url, payload string) response {
	t.Helper()
	return e.do(t, http.MethodPost, url, "text/plain;charset=UTF-8", payload)
}

// asyncGet starts a GET whose response arrives on the returned channel.
func (e *env) asyncGet(t testing.TB, url string) <-chan response {
	t.Helper()
	ch := make(chan response, 1)
	go func() {
		resp, err := e.client.Get(url)
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- response{resp.StatusCode, resp.Header, string(b)}
	}()
	return ch
}

// await waits for an asynchronous response.
func await(t testing.TB, ch <-chan response) response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("no response within %v", waitTimeout)
		return response{}
	}
}

// handshake is the decoded open packet.
type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// parseOpen decodes an open packet.
func parseOpen(t testing.TB, packet string) handshake {
	t.Helper()
	if !strings.HasPrefix(packet, "0") {
		t.Fatalf("open packet %q does not start with 0", packet)
	}
	var h handshake
	if err := json.Unmarshal([]byte(packet[1:]), &h); err != nil {
		t.Fatalf("open packet %q: %v", packet, err)
	}
	return h
}

// openPolling performs a polling handshake and returns the session's
// server side.
func (e *env) openPolling(t testing.TB) (string, *recorder) {
	t.Helper()
	resp := e.get(t, e.url("transport=polling"))
	if resp.status != http.StatusOK {
		t.Fatalf("handshake: status %d, body %q", resp.status, resp.body)
	}
	h := parseOpen(t, resp.body)
	r := e.nextSession(t)
	if r.sess.ID() != h.SID {
		t.Fatalf("accepted session %q, handshake sid %q", r.sess.ID(), h.SID)
	}
	return h.SID, r
}

// dial opens a WebSocket to the server; the connection is closed at
// cleanup.
func (e *env) dial(t testing.TB, query string, header http.Header) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(e.wsURL(query), header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", query, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// openWebSocket opens a WebSocket-only session.
func (e *env) openWebSocket(t testing.TB) (*websocket.Conn, handshake, *recorder) {
	t.Helper()
	conn := e.dial(t, "transport=websocket", nil)
	typ, data := readFrame(t, conn)
	if typ != websocket.TextMessage {
		t.Fatalf("first frame type %d, want text", typ)
	}
	h := parseOpen(t, string(data))
	return conn, h, e.nextSession(t)
}

// readFrame reads one WebSocket message with a deadline.
func readFrame(t testing.TB, conn *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return typ, data
}

// readText reads one message and requires it to be the text want.
func readText(t testing.TB, conn *websocket.Conn, want string) {
	t.Helper()
	typ, data := readFrame(t, conn)
	if typ != websocket.TextMessage || string(data) != want {
		t.Fatalf("got frame (type %d) %q, want text %q", typ, data, want)
	}
}

// writeText writes a text frame.
func writeText(t testing.TB, conn *websocket.Conn, s string) {
	t.Helper()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

// waitClosed reads until the server closes conn, skipping pings and
// other frames, and fails if that does not happen in time.
func waitClosed(t testing.TB, conn *websocket.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v", waitTimeout)
			}
			return
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNoLeaks fails the test if goroutines it started still run after
// all other cleanups. Tests using it do not run in parallel.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	leaktest.Check(t)
}
