// Package siotest is a Socket.IO v5 client over Engine.IO v4 for tests,
// at the wire level: a test writes packets as the frames they travel in
// (`42["messages","hi"]`), so it can send what no well-behaved client
// would, and reads what the server sent frame by frame or event by event.
//
// A Client is one WebSocket connection. Its reader goroutine, owned by the
// client and ended by Close (a cleanup of the test) or by the server
// closing the connection, answers pings, records every other frame and
// hands acks to the requests waiting for them. A test reads the recorded
// frames in the order they came (Next, Expect) or picks events out of
// them (WaitEvent); a frame returned once is not returned again.
//
// A Polling is one long-polling session driven request by request.
//
// Every wait is bounded by a timeout. The methods that fail the test on
// a timeout (Next, Expect, WaitEvent, Call, ...) call t.Fatal and so
// belong on the test's goroutine; those returning an error (NextFrame,
// NextEvent, WaitAck, ...) may be used from any goroutine.
package siotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultTimeout bounds each wait, dial and write of a client or polling
// session whose Options leave Timeout zero. It is generous: nothing a
// test waits for should take anywhere near it.
const DefaultTimeout = 10 * time.Second

// ErrClosed is what a wait returns once the connection has ended without
// what it waited for.
var ErrClosed = errors.New("siotest: connection closed")

// errStopped is the end of a client that was told to stop reading.
var errStopped = errors.New("siotest: stopped reading")

// Options adjust a dial or a polling handshake. The zero value is a plain
// client with DefaultTimeout.
type Options struct {
	// Header holds extra request headers of the handshake.
	Header http.Header
	// ReadBuffer sets the SO_RCVBUF of a WebSocket client's socket, so
	// that a client that stops reading fills it quickly; 0 keeps the
	// system's. Polling ignores it.
	ReadBuffer int
	// Timeout bounds each wait, the dial and each write; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// EIO is the Engine.IO protocol version the WebSocket client asks
	// for: 0 or 4, or 3 for a Socket.IO v2 client. A protocol 3 client
	// sends no pings of its own (tests are short) and its binary frames
	// carry Engine.IO's type byte 4 first: SendBinary and ExpectBinary
	// take the frame as it is on the wire.
	EIO int
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// WebSocketURL is the Socket.IO WebSocket endpoint of the server whose
// http:// address is base.
func WebSocketURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// PollingURL is the Socket.IO long-polling endpoint of the server whose
// address is base, for the session sid ("" for a handshake).
func PollingURL(base, sid string) string {
	u := base + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// Open is an Engine.IO open packet, the server's answer to a handshake.
type Open struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"` // milliseconds
	PingTimeout  int      `json:"pingTimeout"`  // milliseconds
	MaxPayload   int      `json:"maxPayload"`   // bytes
	// Packet is the open packet as it came: "0" and a JSON object.
	Packet string `json:"-"`
}

// ParseOpen decodes an Engine.IO open packet: "0" and a JSON object with
// a session id.
func ParseOpen(packet string) (Open, error) {
	o := Open{Packet: packet}
	body, ok := strings.CutPrefix(packet, "0")
	if !ok || json.Unmarshal([]byte(body), &o) != nil || o.SID == "" {
		return Open{}, fmt.Errorf("not an Engine.IO open packet: %q", packet)
	}
	return o, nil
}

// Frame is one Engine.IO packet the server sent, other than a ping: a
// text frame starting with its Engine.IO packet type (`42[...]`), or a
// binary frame (an attachment).
type Frame struct {
	Data   string // the frame's bytes, as sent
	Binary bool   // a binary frame rather than a text one
	// Received is when the client's reader got the frame.
	Received time.Time
}

// Event is one EVENT packet the server sent (a text frame "42...").
type Event struct {
	Namespace string // "/" unless the packet named another
	Name      string // the first element of the packet's array
	Args      Args   // the elements after the name
	ID        int    // the ack id the server asks for; -1 for none
	// Received is when the client's reader got the frame.
	Received time.Time
}

// Args are the arguments of an event or of an ack, each as raw JSON.
type Args []json.RawMessage

// String returns argument i as a string, "" if it is missing or not a
// string.
func (a Args) String(i int) string {
	var s string
	if i < len(a) {
		_ = json.Unmarshal(a[i], &s)
	}
	return s
}

// Object returns argument i as a JSON object, nil if it is missing or not
// an object.
func (a Args) Object(i int) map[string]any {
	var m map[string]any
	if i < len(a) {
		_ = json.Unmarshal(a[i], &m)
	}
	return m
}

// record is one frame received, with its event decoded.
type record struct {
	Frame
	event *Event // nil unless the frame is an EVENT
	read  bool   // returned by a read, or taken as the answer to EmitWithAck
}

// Client is one Socket.IO connection over a WebSocket. Its methods may be
// called from several goroutines; see the package comment for which fail
// the test.
type Client struct {
	t       testing.TB
	ws      *websocket.Conn
	open    Open
	timeout time.Duration

	wmu sync.Mutex // serialises writes: the reader answers pings

	done      chan struct{} // closed when the reader has ended
	pause     chan struct{} // closed by StopReading
	pauseOnce sync.Once

	mu       sync.Mutex // guards the fields below
	frames   []record
	unread   int           // no frame before this index is unread
	notify   chan struct{} // closed and replaced whenever frames grows or the reader ends
	acks     map[int]chan Args
	nextAck  int
	ended    bool  // the reader has ended
	closeErr error // why, set with ended
	drain    func(Frame)
}

// DialWebSocket opens a WebSocket to the Socket.IO endpoint of the server
// whose http:// address is base, reads the Engine.IO open packet and
// starts the client's reader; the client is closed when the test ends. A
// handshake the server refuses returns its HTTP response (body unread)
// with the error.
func DialWebSocket(t testing.TB, base string, opts Options) (*Client, *http.Response, error) {
	t.Helper()
	timeout := opts.timeout()
	d := websocket.Dialer{HandshakeTimeout: timeout}
	if opts.ReadBuffer > 0 {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(opts.ReadBuffer)
			}
			return c, err
		}
	}
	url := WebSocketURL(base)
	if opts.EIO == 3 {
		url = strings.Replace(url, "EIO=4", "EIO=3", 1)
	}
	ws, resp, err := d.Dial(url, opts.Header)
	if err != nil {
		return nil, resp, fmt.Errorf("websocket to %s: %w", base, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(timeout))
	typ, packet, err := ws.ReadMessage()
	if err == nil && typ != websocket.TextMessage {
		err = fmt.Errorf("binary frame %x", packet)
	}
	var open Open
	if err == nil {
		open, err = ParseOpen(string(packet))
	}
	if err != nil {
		ws.Close()
		return nil, resp, fmt.Errorf("websocket to %s: reading the open packet: %w", base, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	c := &Client{
		t: t, ws: ws, open: open, timeout: timeout,
		done:   make(chan struct{}),
		pause:  make(chan struct{}),
		notify: make(chan struct{}),
		acks:   make(map[int]chan Args),
	}
	go c.read()
	t.Cleanup(c.Close)
	return c, resp, nil
}

// Dial is DialWebSocket failing the test if the connection cannot be
// opened.
func Dial(t testing.TB, base string, opts Options) *Client {
	t.Helper()
	c, _, err := DialWebSocket(t, base, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Open returns the Engine.IO open packet the connection began with.
func (c *Client) Open() Open { return c.open }

// Close closes the connection, without a close frame, as a client that
// vanishes would, and waits for the reader to end. Idempotent.
func (c *Client) Close() {
	c.ws.Close()
	<-c.done
}

// StopReading makes the client stop reading its socket for good, as a
// hung client would: the kernel buffers fill up and pings go unanswered.
// The reader ends after at most one more frame.
func (c *Client) StopReading() { c.pauseOnce.Do(func() { close(c.pause) }) }

// IsOpen reports whether the reader still runs: the server has not closed
// the connection (nor has the client).
func (c *Client) IsOpen() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Done returns a channel closed when the reader has ended: the server
// closed the connection, or the client did.
func (c *Client) Done() <-chan struct{} { return c.done }

// WaitClosed waits until the connection has ended and returns why (the
// reader's error), failing the test if it is still open after the
// timeout.
func (c *Client) WaitClosed() error {
	c.t.Helper()
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closeErr
	case <-time.After(c.timeout):
		c.t.Fatalf("the connection was not closed within %s", c.timeout)
		return nil
	}
}

// Drain makes the client hand every frame it has not returned yet, then
// every frame that arrives, to f instead of keeping it, for a client
// that only has to take a flood of packets. f runs on the reader
// goroutine, one frame at a time, and must not call the client; acks
// still reach EmitWithAck, while reads wait in vain.
func (c *Client) Drain(f func(Frame)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := c.unread; i < len(c.frames); i++ {
		if !c.frames[i].read {
			c.frames[i].read = true
			f(c.frames[i].Frame)
		}
	}
	c.frames, c.unread = nil, 0
	c.drain = f
}

// read is the reader goroutine.
func (c *Client) read() {
	defer close(c.done)
	for {
		select {
		case <-c.pause:
			c.end(errStopped)
			return
		default:
		}
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			c.end(err)
			return
		}
		f := Frame{Data: string(b), Binary: typ == websocket.BinaryMessage, Received: time.Now()}
		if !f.Binary && f.Data == "2" {
			_ = c.write(websocket.TextMessage, []byte("3"))
			continue
		}
		if err := c.record(f); err != nil {
			c.ws.Close()
			c.end(err)
			return
		}
	}
}

// record keeps f, decoding an event and handing an ack to its request. A
// malformed event or ack ends the client: the server must never send one.
func (c *Client) record(f Frame) error {
	r := record{Frame: f}
	var ack Args
	ackID := -1
	if !f.Binary {
		var err error
		switch {
		case strings.HasPrefix(f.Data, "42"):
			r.event, err = parseEvent(f)
		case strings.HasPrefix(f.Data, "43"):
			var nsp string
			nsp, ackID, ack, err = parseAck(f.Data)
			if nsp != "/" {
				ackID = -1
			}
		}
		if err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.acks[ackID]; ch != nil {
		delete(c.acks, ackID)
		ch <- ack
		r.read = true
	}
	if c.drain != nil {
		if !r.read {
			c.drain(f)
		}
		return nil
	}
	c.frames = append(c.frames, r)
	c.wakeLocked()
	return nil
}

// end records why the reader ended and ends every wait.
func (c *Client) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended, c.closeErr = true, err
	for id, ch := range c.acks {
		close(ch)
		delete(c.acks, id)
	}
	c.wakeLocked()
}

func (c *Client) wakeLocked() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// parseEvent decodes an EVENT frame: "42", an optional "/namespace,", an
// optional ack id and a JSON array whose first element is the name.
func parseEvent(f Frame) (*Event, error) {
	nsp, id, args, err := parsePacket(f.Data[2:])
	var name string
	if err == nil && (len(args) == 0 || json.Unmarshal(args[0], &name) != nil) {
		err = errors.New("no event name")
	}
	if err != nil {
		return nil, fmt.Errorf("siotest: undecodable event %q: %v", f.Data, err)
	}
	return &Event{Namespace: nsp, Name: name, Args: args[1:], ID: id, Received: f.Received}, nil
}

// parseAck decodes an ACK frame: "43", an optional "/namespace,", an ack
// id and a JSON array.
func parseAck(data string) (nsp string, id int, args Args, err error) {
	nsp, id, args, err = parsePacket(data[2:])
	if err == nil && id < 0 {
		err = errors.New("no ack id")
	}
	if err != nil {
		return "", -1, nil, fmt.Errorf("siotest: undecodable ack %q: %v", data, err)
	}
	return nsp, id, args, nil
}

// parsePacket decodes what follows the packet type of an EVENT or ACK.
func parsePacket(s string) (nsp string, id int, args Args, err error) {
	nsp, id = "/", -1
	if strings.HasPrefix(s, "/") {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			return "", -1, nil, errors.New("namespace without a comma")
		}
		nsp, s = s[:i], s[i+1:]
	}
	digits := 0
	for digits < len(s) && '0' <= s[digits] && s[digits] <= '9' {
		digits++
	}
	if digits > 0 {
		if id, err = strconv.Atoi(s[:digits]); err != nil {
			return "", -1, nil, err
		}
	}
	if err := json.Unmarshal([]byte(s[digits:]), &args); err != nil {
		return "", -1, nil, err
	}
	return nsp, id, args, nil
}

// await calls take with c.mu held until it reports success, each time
// frames arrive, until the timeout or the end of the reader.
func (c *Client) await(timeout time.Duration, take func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if take() {
			c.mu.Unlock()
			return nil
		}
		ended, closeErr, notify := c.ended, c.closeErr, c.notify
		c.mu.Unlock()
		if ended {
			return fmt.Errorf("%w (%v)", ErrClosed, closeErr)
		}
		select {
		case <-notify:
		case <-deadline.C:
			return fmt.Errorf("nothing within %s", timeout)
		}
	}
}

// NextFrame returns the earliest frame not returned yet, waiting up to
// timeout for one.
func (c *Client) NextFrame(timeout time.Duration) (Frame, error) {
	var f Frame
	err := c.await(timeout, func() bool {
		for ; c.unread < len(c.frames); c.unread++ {
			if r := &c.frames[c.unread]; !r.read {
				r.read = true
				f = r.Frame
				return true
			}
		}
		return false
	})
	return f, err
}

// Next returns the earliest frame not returned yet, failing the test if
// none comes within the timeout.
func (c *Client) Next() Frame {
	c.t.Helper()
	f, err := c.NextFrame(c.timeout)
	if err != nil {
		c.t.Fatalf("waiting for a frame: %v", err)
	}
	return f
}

// NextText is Next for a text frame: a binary one fails the test.
func (c *Client) NextText() string {
	c.t.Helper()
	f := c.Next()
	if f.Binary {
		c.t.Fatalf("got binary frame %x, want a text frame", f.Data)
	}
	return f.Data
}

// Expect reads the next frame and fails the test unless it is the text
// frame want.
func (c *Client) Expect(want string) {
	c.t.Helper()
	if got := c.NextText(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// ExpectPrefix reads the next frame, fails the test unless it is a text
// frame starting with prefix, and returns the rest.
func (c *Client) ExpectPrefix(prefix string) string {
	c.t.Helper()
	got := c.NextText()
	rest, ok := strings.CutPrefix(got, prefix)
	if !ok {
		c.t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	return rest
}

// ExpectBinary reads the next frame and fails the test unless it is the
// binary frame want.
func (c *Client) ExpectBinary(want []byte) {
	c.t.Helper()
	if f := c.Next(); !f.Binary || f.Data != string(want) {
		c.t.Fatalf("got %q (binary %v), want binary %x", f.Data, f.Binary, want)
	}
}

// NextEvent returns the earliest event not returned yet for which match
// is true, waiting up to timeout for one; the events it passes over stay
// unread. match runs with the client locked and must not call it.
func (c *Client) NextEvent(timeout time.Duration, match func(Event) bool) (Event, error) {
	var ev Event
	err := c.await(timeout, func() bool {
		for i := c.unread; i < len(c.frames); i++ {
			if r := &c.frames[i]; !r.read && r.event != nil && match(*r.event) {
				r.read = true
				ev = *r.event
				return true
			}
		}
		return false
	})
	return ev, err
}

// WaitEvent is NextEvent within the client's timeout, failing the test
// (with what it waited for) if no such event comes.
func (c *Client) WaitEvent(what string, match func(Event) bool) Event {
	c.t.Helper()
	ev, err := c.NextEvent(c.timeout, match)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
	return ev
}

// Seen reports, without waiting, whether an event for which match is true
// has been received, returned or not. match runs with the client locked.
func (c *Client) Seen(match func(Event) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.frames {
		if r.event != nil && match(*r.event) {
			return true
		}
	}
	return false
}

// Events returns every event called name received so far, returned or
// not, in order.
func (c *Client) Events(name string) []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Event
	for _, r := range c.frames {
		if r.event != nil && r.event.Name == name {
			out = append(out, *r.event)
		}
	}
	return out
}

func (c *Client) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.ws.WriteMessage(typ, b)
}

// SendText sends one text frame as it is: an Engine.IO packet type and
// its data (`42["messages","hi"]`, "40", "1"), or anything else. A write
// on a connection that has ended is dropped: the test sees the end where
// it waits.
func (c *Client) SendText(frame string) { _ = c.write(websocket.TextMessage, []byte(frame)) }

// SendBinary sends one binary frame (an attachment), dropped like
// SendText's on a connection that has ended.
func (c *Client) SendBinary(b []byte) { _ = c.write(websocket.BinaryMessage, b) }

// Connect joins namespace nsp ("/" or "/name") with auth (a JSON object,
// or "" for none) and returns the socket id of the server's CONNECT
// reply, which must be the next frame; anything else fails the test.
func (c *Client) Connect(nsp, auth string) string {
	c.t.Helper()
	prefix := "40"
	if nsp != "/" {
		prefix += nsp + ","
	}
	c.SendText(prefix + auth)
	rest := c.ExpectPrefix(prefix)
	var reply struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(rest), &reply); err != nil || reply.SID == "" {
		c.t.Fatalf("CONNECT reply %q%s: want a socket id", prefix, rest)
	}
	return reply.SID
}

// eventJSON returns the JSON array [event, args...].
func (c *Client) eventJSON(event string, args []any) string {
	c.t.Helper()
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		c.t.Fatalf("encoding event %q: %v", event, err)
	}
	return string(b)
}

// Emit sends event with args (each encoded as JSON) to namespace "/",
// without an ack.
func (c *Client) Emit(event string, args ...any) {
	c.t.Helper()
	c.SendText("42" + c.eventJSON(event, args))
}

// EmitWithAck sends event with args to namespace "/" with the next ack id
// (counted from 0) and returns the channel its ack arrives on, closed
// without a value if the connection ends first.
func (c *Client) EmitWithAck(event string, args ...any) <-chan Args {
	c.t.Helper()
	payload := c.eventJSON(event, args)
	ch := make(chan Args, 1)
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
	c.SendText("42" + strconv.Itoa(id) + payload)
	return ch
}

// WaitAck waits up to the client's timeout for the ack on ch (from
// EmitWithAck); it returns ErrClosed if the connection ended first.
func (c *Client) WaitAck(ch <-chan Args) (Args, error) {
	select {
	case args, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		return args, nil
	case <-time.After(c.timeout):
		return nil, fmt.Errorf("no ack within %s", c.timeout)
	}
}

// Request sends event with an ack id and waits for the ack.
func (c *Client) Request(event string, args ...any) (Args, error) {
	c.t.Helper()
	return c.WaitAck(c.EmitWithAck(event, args...))
}

// Call is Request failing the test if no ack comes.
func (c *Client) Call(event string, args ...any) Args {
	c.t.Helper()
	reply, err := c.Request(event, args...)
	if err != nil {
		c.t.Fatalf("%s: %v", event, err)
	}
	return reply
}
