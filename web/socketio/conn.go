package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"chatserver/internal/randid"
	"chatserver/web/socketio/engineio"
)

const (
	// maxQueuedPackets bounds the packets decoded but not yet handled on
	// one connection. When it is full, OnMessage waits, which stops reading
	// from the client: a slow handler slows its own client down instead of
	// letting the server buffer its input without limit.
	maxQueuedPackets = 64

	// maxEarlyPackets bounds what may be emitted to a socket while its
	// OnConnect function runs (those packets wait for the CONNECT reply):
	// room for a recovering client's missed events (a chat room's log
	// keeps 1000) and the broadcasts meanwhile. More closes the
	// connection as a full send queue would.
	maxEarlyPackets = 2048
)

var (
	// emptyAuth is the auth of a CONNECT without payload: an empty object,
	// as the reference server gives it.
	emptyAuth = json.RawMessage("{}")
	// invalidNamespace is the CONNECT_ERROR payload for an unknown namespace.
	invalidNamespace = []byte(`{"message":"Invalid namespace"}`)
	// authTooLarge is the CONNECT_ERROR payload for an auth object over
	// the namespace's MaxAuth.
	authTooLarge = []byte(`{"message":"Auth too large"}`)
)

// conn is one Engine.IO session seen from Socket.IO: the sockets it has in
// each namespace, the packets and tasks waiting to be handled, and the
// worker goroutine that handles them in order. The worker runs only while
// there is work: an idle connection holds no goroutine of its own (and so
// no stack), which is most of what an idle chat client costs. It is the
// session's engineio.Handler.
type conn struct {
	srv  *Server
	sess *engineio.Session
	v2   bool // a Socket.IO v2 client (Engine.IO protocol 3); see v2.go

	// Used only by the Engine.IO goroutine that calls OnMessage (and
	// OnClose, which follows the last OnMessage).
	dec  decoder
	dead bool // a parse error closed the connection: ignore the rest

	failed atomic.Bool // the connection is being closed: handle no more packets

	mu       sync.Mutex    // guards the fields below
	sockets  []*Socket     // one per namespace joined, in the order joined (socketLocked)
	pending  []*packet     // decoded packets not yet handled, oldest first; at most maxQueuedPackets
	room     chan struct{} // capacity 1: the worker took a packet from a full queue; made by the first wait for one
	tasks    []func()      // OnDisconnect calls queued by other goroutines
	running  bool          // a worker goroutine is running (at most one at a time)
	closed   bool          // OnClose was called: the worker finishes the connection
	reason   string        // why the session ended, set with closed
	finished bool          // the connection is finished: no socket will be added or called

	// The connect timeout: the connection is closed if it is in no
	// namespace at connectBy. The timer runs only while the connection is
	// in none (nil otherwise), so that a joined connection does not keep
	// one for the rest of its life.
	connectBy int64       // nanoseconds since monoEpoch
	timer     *time.Timer // checks at connectBy; nil while a socket is in
}

// monoEpoch is the origin of conn.connectBy, which is measured on the
// monotonic clock.
var monoEpoch = time.Now()

var _ engineio.Handler = (*conn)(nil)

func newConn(srv *Server, sess *engineio.Session) *conn {
	return &conn{
		srv:  srv,
		sess: sess,
		dec:  decoder{rules: srv.rules, maxBinary: srv.maxBinary, v2: sess.Protocol() == 3},
		v2:   sess.Protocol() == 3,
	}
}

// armConnectTimeout closes the connection if it is in no namespace when
// d has passed (as the reference does, a connection that joined and left
// again by then is closed too).
func (c *conn) armConnectTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.connectBy = int64(time.Since(monoEpoch) + d)
	c.timer = time.AfterFunc(d, c.checkConnected)
}

// checkConnected is the connect timeout's timer function: it closes the
// connection if it is in no namespace.
func (c *conn) checkConnected() {
	c.mu.Lock()
	idle := len(c.sockets) == 0 && !c.finished
	c.mu.Unlock()
	if idle {
		c.fail(reasonConnectTimeout)
	}
}

// joinedLocked stops the connect timeout's timer once a socket is in:
// while one is, the timeout cannot close the connection. c.mu must be
// held.
func (c *conn) joinedLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// leftLocked arms the connect timeout's timer again when the last socket
// has left before the timeout. c.mu must be held.
func (c *conn) leftLocked() {
	if len(c.sockets) > 0 || c.finished || c.timer != nil {
		return
	}
	if left := time.Duration(c.connectBy) - time.Since(monoEpoch); left > 0 {
		c.timer = time.AfterFunc(left, c.checkConnected)
	}
}

// OnMessage decodes one Engine.IO message and queues complete packets for
// the worker. A parse error closes the whole connection, as the reference
// server does.
func (c *conn) OnMessage(data []byte, binary bool) {
	if c.dead {
		return
	}
	p, err := c.dec.feed(data, binary)
	if err != nil {
		c.dead = true
		c.dec.reset()
		c.fail(ReasonParseError)
		return
	}
	if p == nil {
		return
	}
	// Waits while the queue is full: the worker keeps draining until
	// OnClose, which the engine calls only after this returns, so the wait
	// lasts as long as the handler running on the worker, no longer. Once
	// the session is closing, the packet would never be handled: drop it.
	for {
		c.mu.Lock()
		if c.finished {
			c.mu.Unlock()
			return
		}
		if len(c.pending) < maxQueuedPackets {
			c.pending = append(c.pending, p)
			c.startLocked()
			c.mu.Unlock()
			return
		}
		if c.room == nil {
			c.room = make(chan struct{}, 1)
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-c.sess.Closing():
			return
		}
	}
}

// OnClose has the worker finish the connection, which tells every socket.
// The attachments of a packet left incomplete are dropped.
func (c *conn) OnClose(reason string) {
	c.dec.reset()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed, c.reason = true, reason
	c.startLocked()
}

// fail closes the whole connection; its sockets get reason.
func (c *conn) fail(reason DisconnectReason) {
	c.failed.Store(true)
	c.sess.Close(string(reason))
}

// startLocked starts the worker unless it is already running (it then
// sees the new work before it stops) or the connection is finished.
// c.mu must be held.
func (c *conn) startLocked() {
	if c.running || c.finished {
		return
	}
	c.running = true
	go c.work()
}

// work is the connection's worker: it handles queued tasks and packets in
// order until there are none left, and finishes the connection once
// OnClose has been called, running every remaining socket's OnDisconnect.
// Every handler of the connection runs on a worker, one at a time: a new
// worker is started (by startLocked) only after the previous one has
// given up running under c.mu. The connection is counted in the server's
// WaitGroup from accept until the worker has finished it.
func (c *conn) work() {
	for {
		c.mu.Lock()
		if c.closed {
			left := c.pending
			c.pending = nil
			c.mu.Unlock()
			c.leave(left)
			c.finish()
			c.srv.wg.Done()
			return
		}
		if tasks := c.tasks; len(tasks) > 0 {
			c.tasks = nil
			c.mu.Unlock()
			for _, t := range tasks {
				t()
			}
			continue
		}
		if len(c.pending) == 0 {
			c.pending = nil // an idle connection keeps no queue array
			c.running = false
			c.mu.Unlock()
			return
		}
		p := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		room := c.room
		c.mu.Unlock()
		if room != nil {
			select {
			case room <- struct{}{}:
			default:
			}
		}
		if !c.failed.Load() {
			c.handle(p)
		}
	}
}

// leave handles the DISCONNECTs among the packets left unhandled when the
// transport closed: a client leaving on purpose sends them right before it
// closes (a page being closed, say), and those sockets left on purpose,
// as with the reference server, whose packets are all handled before the
// close. The other packets are dropped.
func (c *conn) leave(left []*packet) {
	if c.failed.Load() {
		return
	}
	for _, p := range left {
		if p.typ != packetDisconnect {
			continue
		}
		if s := c.socket(p.nsp); s != nil {
			c.remove(s, false, ReasonClientNamespaceDisconnect, true)
		}
	}
}

func (c *conn) finish() {
	c.mu.Lock()
	c.finished = true
	c.pending = nil
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

// handle acts on one packet. A CONNECT joins a namespace; any other packet
// for a namespace the client has not joined, or a CONNECT_ERROR (only
// servers send those), closes the whole connection.
func (c *conn) handle(p *packet) {
	if p.typ == packetConnect {
		c.connect(p)
		return
	}
	s := c.socket(p.nsp)
	if s == nil || p.typ == packetConnectError {
		c.fail(ReasonInvalidState)
		return
	}
	switch p.typ {
	case packetDisconnect:
		c.remove(s, false, ReasonClientNamespaceDisconnect, true)
	case packetEvent, packetBinaryEvent:
		s.onEvent(p)
	case packetAck, packetBinaryAck:
		s.onAck(p)
	}
}

func (c *conn) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.socketLocked(nsp)
}

// socketLocked returns the socket of namespace nsp, or nil. A connection
// joins a handful of namespaces at most, so a scan beats a map. c.mu must
// be held.
func (c *conn) socketLocked(nsp string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// connectDefault has a v2 client join the default namespace, which it
// does not ask for: the worker handles a CONNECT to "/" before anything
// the client sends.
func (c *conn) connectDefault() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, &packet{typ: packetConnect, nsp: "/", id: noAckID})
	c.startLocked()
}

// connect handles a CONNECT packet.
func (c *conn) connect(p *packet) {
	name, auth := p.nsp, json.RawMessage(p.data)
	ns := c.srv.lookup(name)
	if ns == nil {
		c.refuseNamespace(name)
		return
	}
	if c.socket(name) != nil {
		c.fail(ReasonInvalidState)
		return
	}
	if p.authTooLarge || len(auth) > ns.config().MaxAuth {
		payload := authTooLarge
		if c.v2 {
			payload = authTooLarge2
		}
		c.sess.Send(controlMessage(packetConnectError, ns.name, payload))
		return
	}
	if auth == nil {
		auth = emptyAuth
	}
	s := &Socket{id: randid.URLSafe(socketIDBytes), nsp: ns, conn: c, sess: c.sess, auth: auth}

	var err error
	if f := ns.connectFunc(); f != nil {
		if !c.call("connect", ns.name, func() { err = f(s) }) {
			// The application may have registered the socket somewhere
			// before panicking: let its OnDisconnect clean up.
			if s.markClosed(false) {
				s.disconnected(ReasonHandlerPanic)
			}
			return
		}
	}
	if errors.Is(err, ErrInvalidNamespace) {
		s.markClosed(false)
		c.refuseNamespace(ns.name)
		return
	}
	if err != nil {
		s.markClosed(false)
		payload := connectErrorPayload
		if c.v2 {
			payload = connectErrorPayload2
		}
		c.sess.Send(controlMessage(packetConnectError, ns.name, payload(c.srv, err)))
		return
	}
	if !ns.config().KeepAuth {
		s.dropAuth()
	}

	var reply []byte // a v2 client is told nothing but the namespace
	if !c.v2 {
		s.mu.Lock()
		id, pid := s.id, s.pid
		s.mu.Unlock()
		reply = make([]byte, 0, 20+len(id)+len(pid))
		reply = append(reply, `{"sid":`...)
		reply = strconv.AppendQuote(reply, id)
		if pid != "" {
			reply = append(reply, `,"pid":`...)
			reply = strconv.AppendQuote(reply, pid)
		}
		reply = append(reply, '}')
	}

	c.mu.Lock()
	if i := slices.IndexFunc(c.sockets, func(o *Socket) bool { return o.nsp.name == ns.name }); i >= 0 {
		c.sockets[i] = s
	} else {
		c.sockets = append(c.sockets, s)
	}
	c.joinedLocked()
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
	c.srv.cfg.Logger.Debug("socket connected", "namespace", ns.name, "socket", s.id, "sid", c.sess.ID())

	switch {
	case overflow:
		c.fail(ReasonSendQueueFull)
	case disconnect:
		s.Disconnect(closeConn)
	}
}

// refuseNamespace answers a CONNECT to a namespace that does not exist.
func (c *conn) refuseNamespace(name string) {
	payload := invalidNamespace
	if c.v2 {
		payload = invalidNamespace2
	}
	c.sess.Send(controlMessage(packetConnectError, name, payload))
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
		srv.cfg.Logger.Error("connect error data not encodable, sent without it", "err", mErr)
		b, _ = marshalJS(payload{Message: pl.Message})
	}
	return b
}

// remove takes s out of the connection. With sendDisconnect the client is
// told (server-side disconnect). OnDisconnect runs now when runNow is set
// (the caller is the worker), otherwise it is queued for the worker.
func (c *conn) remove(s *Socket, sendDisconnect bool, reason DisconnectReason, runNow bool) {
	c.mu.Lock()
	if !s.markClosed(sendDisconnect) {
		c.mu.Unlock()
		return
	}
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
		c.leftLocked()
	}
	if !runNow {
		c.tasks = append(c.tasks, func() { s.disconnected(reason) })
		c.startLocked()
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
	socks := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, s := range socks {
		c.remove(s, true, ReasonServerNamespaceDisconnect, false)
	}
	c.fail(ReasonForcedClose)
}

// call runs a user function, recovering a panic: it is logged and closes
// this connection only. It reports whether f returned normally.
func (c *conn) call(kind, name string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.cfg.Logger.Error("handler panic", "handler", kind, "name", name, "sid", c.sess.ID(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.fail(ReasonHandlerPanic)
			ok = false
		}
	}()
	f()
	return true
}
