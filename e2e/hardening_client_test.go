package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// This file is a small Socket.IO v5 client over a raw WebSocket (and a
// few polling helpers), for the hardening tests: it is fast to start, runs
// without Node, and can misbehave on purpose (stop reading, send
// malformed frames).

// dialTimeout bounds one WebSocket dial and handshake.
const dialTimeout = 5 * time.Second

// sioEvent is one event the server sent.
type sioEvent struct {
	Name string
	Args []json.RawMessage
}

// str returns argument i as a string ("" if it is not one).
func (e sioEvent) str(i int) string {
	var s string
	if i < len(e.Args) {
		_ = json.Unmarshal(e.Args[i], &s)
	}
	return s
}

// errClientClosed is returned by requests on a connection that ended.
var errClientClosed = errors.New("connection closed")

// sioClient is one Socket.IO connection to namespace "/". A reader
// goroutine, owned by the client and ended by closing the WebSocket
// (Close, or the server closing it), records events, delivers acks and
// answers pings.
type sioClient struct {
	t  testing.TB
	ws *websocket.Conn

	wmu sync.Mutex // serialises writes: the reader answers pings

	closed   chan struct{} // closed when the reader has ended
	closeErr error         // why, valid once closed is closed
	pause    chan struct{} // closed by stopReading

	mu      sync.Mutex // guards the fields below
	events  []sioEvent
	used    []bool
	acks    map[int]chan []json.RawMessage
	ended   bool // the reader has ended: no ack will come
	nextAck int
	changed chan struct{} // capacity 1: events grew
}

// wsURL turns the server's http:// address into its Socket.IO WebSocket
// endpoint.
func wsURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// dialOptions adjust dialWS.
type dialOptions struct {
	header     http.Header
	readBuffer int // SO_RCVBUF of the client socket; 0: the system's
}

// dialWS opens a WebSocket to the server and reads the Engine.IO open
// packet. It returns the HTTP response of a refused handshake.
func dialWS(base string, opts dialOptions) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: dialTimeout}
	if opts.readBuffer > 0 {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(opts.readBuffer)
			}
			return c, err
		}
	}
	ws, resp, err := d.Dial(wsURL(base), opts.header)
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadDeadline(time.Now().Add(dialTimeout))
	_, open, err := ws.ReadMessage()
	if err != nil || !bytes.HasPrefix(open, []byte("0{")) {
		ws.Close()
		return nil, resp, fmt.Errorf("open packet %q: %v", open, err)
	}
	ws.SetReadDeadline(time.Time{})
	return ws, resp, nil
}

// connectWS connects a client to namespace "/" over WebSocket, failing
// the test if that does not work. The connection is closed at the end of
// the test.
func connectWS(t testing.TB, base string, opts dialOptions) *sioClient {
	t.Helper()
	ws, _, err := dialWS(base, opts)
	if err != nil {
		t.Fatalf("websocket to %s: %v", base, err)
	}
	c := &sioClient{
		t: t, ws: ws,
		closed:  make(chan struct{}),
		pause:   make(chan struct{}),
		acks:    make(map[int]chan []json.RawMessage),
		changed: make(chan struct{}, 1),
	}
	connected := make(chan struct{})
	go c.read(connected)
	t.Cleanup(c.Close)
	c.sendText("40")
	select {
	case <-connected:
	case <-c.closed:
		t.Fatalf("connection closed before the Socket.IO connect reply: %v", c.closeErr)
	case <-time.After(dialTimeout):
		t.Fatalf("no Socket.IO connect reply within %s", dialTimeout)
	}
	return c
}

// joinWS connects and joins as name, failing the test unless the join is
// accepted.
func joinWS(t testing.TB, base, name string) *sioClient {
	t.Helper()
	c := connectWS(t, base, dialOptions{})
	if reply := c.call("join", name); reply["ok"] != true {
		t.Fatalf("join as %q refused: %v", name, reply)
	}
	return c
}

// Close closes the WebSocket and waits for the reader. Idempotent.
func (c *sioClient) Close() {
	c.ws.Close()
	<-c.closed
}

// read is the reader goroutine.
func (c *sioClient) read(connected chan struct{}) {
	defer close(c.closed)
	for {
		select {
		case <-c.pause:
			// Stop reading until the connection is closed from our side
			// (Close), as a client that hangs would.
			c.closeErr = errors.New("stopped reading")
			c.endAcks()
			return
		default:
		}
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			c.closeErr = err
			c.endAcks()
			return
		}
		if typ != websocket.TextMessage || len(b) == 0 {
			continue
		}
		switch {
		case string(b) == "2":
			c.write(websocket.TextMessage, []byte("3"))
		case bytes.HasPrefix(b, []byte("40")):
			if connected != nil {
				close(connected)
				connected = nil
			}
		case bytes.HasPrefix(b, []byte("42")):
			var args []json.RawMessage
			if json.Unmarshal(b[2:], &args) != nil || len(args) == 0 {
				c.closeErr = fmt.Errorf("undecodable event %q", b)
				c.ws.Close()
				continue
			}
			var name string
			_ = json.Unmarshal(args[0], &name)
			c.mu.Lock()
			c.events = append(c.events, sioEvent{Name: name, Args: args[1:]})
			c.used = append(c.used, false)
			c.mu.Unlock()
			signalChan(c.changed)
		case bytes.HasPrefix(b, []byte("43")):
			rest := b[2:]
			i := bytes.IndexByte(rest, '[')
			id, err := strconv.Atoi(string(rest[:max(i, 0)]))
			var args []json.RawMessage
			if i < 0 || err != nil || json.Unmarshal(rest[i:], &args) != nil {
				c.closeErr = fmt.Errorf("undecodable ack %q", b)
				c.ws.Close()
				continue
			}
			c.mu.Lock()
			ch := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ch != nil {
				ch <- args
			}
		}
	}
}

// endAcks closes the channel of every ack still awaited, and of every
// later one: the reader has ended.
func (c *sioClient) endAcks() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	for id, ch := range c.acks {
		close(ch)
		delete(c.acks, id)
	}
}

func signalChan(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// stopReading makes the client stop reading its socket for good, as a
// hung or malicious client would; the kernel buffers then fill up.
func (c *sioClient) stopReading() { close(c.pause) }

func (c *sioClient) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(eventTimeout))
	return c.ws.WriteMessage(typ, b)
}

// sendText sends one raw text frame, ignoring a closed connection (the
// tests then see the close).
func (c *sioClient) sendText(s string) { _ = c.write(websocket.TextMessage, []byte(s)) }

// sendBinary sends one raw binary frame.
func (c *sioClient) sendBinary(b []byte) { _ = c.write(websocket.BinaryMessage, b) }

// encodeEvent returns the JSON array [event, args...].
func encodeEvent(t testing.TB, event string, args []any) []byte {
	t.Helper()
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// emit sends an event without an ack.
func (c *sioClient) emit(event string, args ...any) {
	c.t.Helper()
	c.sendText("42" + string(encodeEvent(c.t, event, args)))
}

// emitAck sends an event with an ack id and returns the channel its ack
// arrives on (closed without a value if the connection ends first).
func (c *sioClient) emitAck(event string, args ...any) <-chan []json.RawMessage {
	c.t.Helper()
	payload := encodeEvent(c.t, event, args)
	ch := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		close(ch)
		return ch
	}
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	c.sendText("42" + strconv.Itoa(id) + string(payload))
	return ch
}

// request sends an event with an ack and waits for the ack's first
// argument, decoded as an object.
func (c *sioClient) request(event string, args ...any) (map[string]any, error) {
	c.t.Helper()
	return waitAck(c.emitAck(event, args...))
}

// waitAck waits for one ack within eventTimeout.
func waitAck(ch <-chan []json.RawMessage) (map[string]any, error) {
	select {
	case args, ok := <-ch:
		if !ok {
			return nil, errClientClosed
		}
		var reply map[string]any
		if len(args) == 0 || json.Unmarshal(args[0], &reply) != nil {
			return nil, fmt.Errorf("ack is not an object: %s", args)
		}
		return reply, nil
	case <-time.After(eventTimeout):
		return nil, fmt.Errorf("no ack within %s", eventTimeout)
	}
}

// call is request that fails the test on error.
func (c *sioClient) call(event string, args ...any) map[string]any {
	c.t.Helper()
	reply, err := c.request(event, args...)
	if err != nil {
		c.t.Fatalf("%s: %v", event, err)
	}
	return reply
}

// say sends a message and fails the test unless it is accepted; it
// returns the stored id.
func (c *sioClient) say(text string) uint64 {
	c.t.Helper()
	reply := c.call("messages", text)
	id, ok := reply["id"].(float64)
	if reply["ok"] != true || !ok {
		c.t.Fatalf("message %.40q refused: %v", text, reply)
	}
	return uint64(id)
}

// waitEvent returns the earliest event not yet returned for which match
// is true, within eventTimeout.
func (c *sioClient) waitEvent(what string, match func(sioEvent) bool) sioEvent {
	c.t.Helper()
	ev, err := c.nextEvent(eventTimeout, match)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
	return ev
}

// take marks and returns the first unused event that matches.
func (c *sioClient) take(match func(sioEvent) bool) (sioEvent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ev := range c.events {
		if !c.used[i] && match(ev) {
			c.used[i] = true
			return ev, true
		}
	}
	return sioEvent{}, false
}

// nextEvent is waitEvent returning an error instead of failing.
func (c *sioClient) nextEvent(timeout time.Duration, match func(sioEvent) bool) (sioEvent, error) {
	deadline := time.After(timeout)
	for {
		if ev, ok := c.take(match); ok {
			return ev, nil
		}
		select {
		case <-c.changed:
		case <-c.closed:
			// One last look: the event may have come just before.
			if ev, ok := c.take(match); ok {
				return ev, nil
			}
			return sioEvent{}, fmt.Errorf("connection closed (%v)", c.closeErr)
		case <-deadline:
			return sioEvent{}, fmt.Errorf("nothing within %s", timeout)
		}
	}
}

// named matches an event by name and first argument.
func named(name, arg string) func(sioEvent) bool {
	return func(ev sioEvent) bool { return ev.Name == name && ev.str(0) == arg }
}

// messageLine matches a messages event carrying "nick: text".
func messageLine(nick, text string) func(sioEvent) bool { return named("messages", nick+": "+text) }

// seen reports, without waiting, whether an event matching was received
// (it does not mark it returned).
func (c *sioClient) seen(match func(sioEvent) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if match(ev) {
			return true
		}
	}
	return false
}

// allEvents returns every event received so far called name.
func (c *sioClient) allEvents(name string) []sioEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sioEvent
	for _, ev := range c.events {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// waitClosed waits until the server has closed the connection and
// returns the reader's error.
func (c *sioClient) waitClosed(what string) error {
	c.t.Helper()
	select {
	case <-c.closed:
		return c.closeErr
	case <-time.After(eventTimeout):
		c.t.Fatalf("%s: the connection was not closed within %s", what, eventTimeout)
		return nil
	}
}

// isOpen reports whether the reader still runs.
func (c *sioClient) isOpen() bool {
	select {
	case <-c.closed:
		return false
	default:
		return true
	}
}

// waitLog waits until the server has written a line containing want to
// its standard error (its log), within eventTimeout.
func (s *server) waitLog(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !strings.Contains(s.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q within %s", want, eventTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pollURL is the server's polling endpoint, with sid if not empty.
func pollURL(base, sid string) string {
	u := base + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// pollClient is an HTTP client for polling tests: requests never hang.
var pollClient = &http.Client{Timeout: 2 * eventTimeout}

// pollHandshake opens a polling session with the given extra headers and
// returns the HTTP status, the body and, on success, the sid.
func pollHandshake(t testing.TB, base string, header http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, pollURL(base, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := pollClient.Do(req)
	if err != nil {
		t.Fatalf("polling handshake: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(body), ""
	}
	var open struct {
		SID string `json:"sid"`
	}
	if !bytes.HasPrefix(body, []byte("0")) || json.Unmarshal(body[1:], &open) != nil || open.SID == "" {
		t.Fatalf("polling handshake answered %q", body)
	}
	return resp.StatusCode, string(body), open.SID
}

// pollPost posts body to a polling session and returns the status.
func pollPost(t testing.TB, base, sid, body string) int {
	t.Helper()
	resp, err := pollClient.Post(pollURL(base, sid), "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		// The server may cut a request it refuses before reading it all.
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// pollGet fetches what the server has queued for a polling session.
func pollGet(t testing.TB, base, sid string) (int, string) {
	t.Helper()
	resp, err := pollClient.Get(pollURL(base, sid))
	if err != nil {
		t.Fatalf("polling GET: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// pollConnect opens a polling session and connects it to namespace "/",
// returning the sid.
func pollConnect(t testing.TB, base string) string {
	t.Helper()
	code, body, sid := pollHandshake(t, base, nil)
	if code != http.StatusOK {
		t.Fatalf("polling handshake: %d %s", code, body)
	}
	if code := pollPost(t, base, sid, "40"); code != http.StatusOK {
		t.Fatalf("polling connect: status %d", code)
	}
	if code, body := pollGet(t, base, sid); code != http.StatusOK || !strings.HasPrefix(body, "40{") {
		t.Fatalf("polling connect reply: %d %q", code, body)
	}
	return sid
}

// pollEnded waits until the polling session sid is gone: a GET is refused
// (400) or delivers the close packet "1".
func pollEnded(t testing.TB, base, sid string) bool {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for time.Now().Before(deadline) {
		code, body := pollGet(t, base, sid)
		if code == http.StatusBadRequest {
			return true
		}
		for _, p := range strings.Split(body, "\x1e") {
			if p == "1" {
				return true
			}
		}
	}
	return false
}
