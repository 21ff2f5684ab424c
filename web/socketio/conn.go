package socketio

import (
	"encoding/json"
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"chatserver/web/socketio/engineio"
)

const (
	// maxQueuedPackets bounds the packets decoded but not yet handled on
	// one connection. When it is full, OnMessage waits, which stops reading
	// from the client: a slow handler slows its own client down instead of
	// letting the server buffer its input without limit.
	maxQueuedPackets = 64

	// maxEarlyPackets bounds what may be emitted to a socket while its
	// OnConnect function runs (those packets wait for the CONNECT reply).
	// It matches the Engine.IO default send queue; more closes the
	// connection as a full send queue would.
	maxEarlyPackets = 1024
)

// Reasons passed to Session.Close, and so to OnDisconnect, when the
// Socket.IO layer itself closes a connection.
const (
	reasonParseError   = "parse error"
	reasonInvalidState = "invalid state"
	reasonHandlerPanic = "handler panic"
	reasonQueueFull    = "send queue full"
	reasonTimeout      = "connect timeout"
	reasonForcedClose  = "forced close"
	// reasons given to OnDisconnect
	reasonClientNamespace = "client namespace disconnect"
	reasonServerNamespace = "server namespace disconnect"
)

var (
	// emptyAuth is the auth of a CONNECT without payload (PROTOCOL.md B5).
	emptyAuth = json.RawMessage("{}")
	// invalidNamespace is the CONNECT_ERROR payload for an unknown namespace.
	invalidNamespace = []byte(`{"message":"Invalid namespace"}`)
)

// conn is one Engine.IO session seen from Socket.IO: the sockets it has in
// each namespace and the goroutine (run) that handles its packets in order.
// It is the session's engineio.Handler.
type conn struct {
	srv  *Server
	sess *engineio.Session

	// Used only by the Engine.IO goroutine that calls OnMessage.
	dec  decoder
	dead bool // a parse error closed the connection: ignore the rest

	in        chan *packet  // OnMessage → run, bounded
	wake      chan struct{} // capacity 1: tasks were queued for run
	closed    chan struct{} // closed by OnClose
	closeOnce sync.Once
	reason    string // why the session ended, set before closed is closed

	failed atomic.Bool // the connection is being closed: handle no more packets

	mu       sync.Mutex // guards sockets, tasks, finished and timer
	sockets  map[string]*Socket
	tasks    []func() // OnDisconnect calls queued by other goroutines
	finished bool     // run has finished: no socket will be added or called
	timer    *time.Timer
}

var _ engineio.Handler = (*conn)(nil)

func newConn(srv *Server, sess *engineio.Session) *conn {
	return &conn{
		srv:     srv,
		sess:    sess,
		in:      make(chan *packet, maxQueuedPackets),
		wake:    make(chan struct{}, 1),
		closed:  make(chan struct{}),
		sockets: make(map[string]*Socket),
	}
}

// armConnectTimeout closes the connection if it has joined no namespace
// when d has passed (as the reference does, a connection that joined and
// left again by then is closed too).
func (c *conn) armConnectTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		idle := len(c.sockets) == 0 && !c.finished
		c.mu.Unlock()
		if idle {
			c.fail(reasonTimeout)
		}
	})
}

// OnMessage decodes one Engine.IO message and queues complete packets for
// run. A parse error closes the whole connection (PROTOCOL.md B5).
func (c *conn) OnMessage(data []byte, binary bool) {
	if c.dead {
		return
	}
	p, err := c.dec.feed(data, binary)
	if err != nil {
		c.dead = true
		c.fail(reasonParseError)
		return
	}
	if p == nil {
		return
	}
	// Blocks while run is busy with a full queue: run keeps draining until
	// OnClose, which the engine calls only after this returns, so the wait
	// lasts as long as the handler running on run, no longer. Once the
	// session is closing, the packet would never be handled: drop it.
	select {
	case c.in <- p:
	case <-c.sess.Closing():
	}
}

// OnClose ends run, which then tells every socket.
func (c *conn) OnClose(reason string) {
	c.closeOnce.Do(func() {
		c.reason = reason
		close(c.closed)
	})
}

// fail closes the whole connection.
func (c *conn) fail(reason string) {
	c.failed.Store(true)
	c.sess.Close(reason)
}

// run handles packets and queued tasks in order until the session closes,
// then runs every remaining socket's OnDisconnect. It is the connection's
// goroutine: every handler of the connection runs here.
func (c *conn) run() {
	for {
		select {
		case <-c.closed:
			c.finish()
			return
		default:
		}
		select {
		case <-c.closed:
			c.finish()
			return
		case <-c.wake:
			c.runTasks()
		case p := <-c.in:
			if !c.failed.Load() {
				c.handle(p)
			}
		}
	}
}

func (c *conn) runTasks() {
	c.mu.Lock()
	tasks := c.tasks
	c.tasks = nil
	c.mu.Unlock()
	for _, t := range tasks {
		t()
	}
}

func (c *conn) finish() {
	c.mu.Lock()
	c.finished = true
	if c.timer != nil {
		c.timer.Stop()
	}
	tasks := c.tasks
	c.tasks = nil
	var gone []*Socket
	for _, s := range c.sockets {
		if s.markClosed(false) {
			gone = append(gone, s)
		}
	}
	c.sockets = nil
	c.mu.Unlock()

	for _, t := range tasks {
		t()
	}
	reason := disconnectReason(c.reason)
	for _, s := range gone {
		s.disconnected(reason)
	}
}

// disconnectReason turns an Engine.IO close reason into the one given to
// OnDisconnect, using the reference implementation's words where they
// differ.
func disconnectReason(engineReason string) string {
	if engineReason == "server shutdown" {
		return "server shutting down"
	}
	return engineReason
}

// handle acts on one packet (PROTOCOL.md B5).
func (c *conn) handle(p *packet) {
	if p.typ == packetConnect {
		c.connect(p)
		return
	}
	s := c.socket(p.nsp)
	if s == nil || p.typ == packetConnectError {
		c.fail(reasonInvalidState)
		return
	}
	switch p.typ {
	case packetDisconnect:
		c.remove(s, false, reasonClientNamespace, true)
	case packetEvent, packetBinaryEvent:
		s.onEvent(p)
	case packetAck, packetBinaryAck:
		s.onAck(p)
	}
}

func (c *conn) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets[nsp]
}

// connect handles a CONNECT packet.
func (c *conn) connect(p *packet) {
	ns := c.srv.namespace(p.nsp)
	if ns == nil {
		c.sess.Send(controlMessage(packetConnectError, p.nsp, invalidNamespace))
		return
	}
	if c.socket(p.nsp) != nil {
		c.fail(reasonInvalidState)
		return
	}
	auth := json.RawMessage(p.data)
	if auth == nil {
		auth = emptyAuth
	}
	s := &Socket{id: newSocketID(), nsp: ns, conn: c, auth: auth}

	var err error
	if f := ns.connectFunc(); f != nil {
		if !c.call("connect", ns.name, func() { err = f(s) }) {
			// The application may have registered the socket somewhere
			// before panicking: let its OnDisconnect clean up.
			if s.markClosed(false) {
				s.disconnected(reasonHandlerPanic)
			}
			return
		}
	}
	if err != nil {
		s.markClosed(false)
		c.sess.Send(controlMessage(packetConnectError, ns.name, connectErrorPayload(c.srv, err)))
		return
	}

	reply := make([]byte, 0, 10+len(s.id))
	reply = append(reply, `{"sid":"`...)
	reply = append(reply, s.id...) // base64url: nothing to escape
	reply = append(reply, `"}`...)

	c.mu.Lock()
	c.sockets[ns.name] = s
	s.mu.Lock()
	c.sess.Send(controlMessage(packetConnect, ns.name, reply))
	for _, msgs := range s.early {
		c.sess.Send(msgs...)
	}
	s.early = nil
	s.state = stateConnected
	overflow, disconnect, closeConn := s.earlyOverflow, s.pendingDisconnect, s.pendingClose
	s.mu.Unlock()
	c.mu.Unlock()

	switch {
	case overflow:
		c.fail(reasonQueueFull)
	case disconnect:
		s.Disconnect(closeConn)
	}
}

// connectErrorPayload is the CONNECT_ERROR payload for an OnConnect error.
func connectErrorPayload(srv *Server, err error) []byte {
	type payload struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}
	pl := payload{Message: err.Error()}
	var ce *ConnectError
	if errors.As(err, &ce) {
		pl = payload{Message: ce.Message, Data: ce.Data}
	}
	b, mErr := marshalJS(pl)
	if mErr != nil {
		srv.cfg.Logf("socketio: connect error data not encodable, sent without it: %v", mErr)
		b, _ = marshalJS(payload{Message: pl.Message})
	}
	return b
}

// remove takes s out of the connection. With sendDisconnect the client is
// told (server-side disconnect). OnDisconnect runs now when runNow is set
// (the caller is run), otherwise it is queued for run.
func (c *conn) remove(s *Socket, sendDisconnect bool, reason string, runNow bool) {
	c.mu.Lock()
	if !s.markClosed(sendDisconnect) {
		c.mu.Unlock()
		return
	}
	if c.sockets[s.nsp.name] == s {
		delete(c.sockets, s.nsp.name)
	}
	if !runNow {
		c.tasks = append(c.tasks, func() { s.disconnected(reason) })
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	if runNow {
		s.disconnected(reason)
	}
}

// closeAll disconnects every socket of the connection, telling the
// client, then closes the session.
func (c *conn) closeAll() {
	c.mu.Lock()
	socks := make([]*Socket, 0, len(c.sockets))
	for _, s := range c.sockets {
		socks = append(socks, s)
	}
	c.mu.Unlock()
	for _, s := range socks {
		c.remove(s, true, reasonServerNamespace, false)
	}
	c.fail(reasonForcedClose)
}

// call runs a user function, recovering a panic: it is logged and closes
// this connection only. It reports whether f returned normally.
func (c *conn) call(kind, name string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.cfg.Logf("socketio: panic in %s handler %q (session %s): %v\n%s",
				kind, name, c.sess.ID(), r, debug.Stack())
			c.fail(reasonHandlerPanic)
			ok = false
		}
	}()
	f()
	return true
}
