package socketio

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"chatserver/web/socketio/engineio"
)

// Errors returned by Socket methods.
var (
	// ErrClosed is returned when sending on a socket that has left its
	// namespace or whose connection has closed.
	ErrClosed = errors.New("socketio: socket closed")
	// ErrReservedEvent is returned when emitting a reserved event name
	// (connect, connect_error, disconnect, disconnecting, newListener,
	// removeListener).
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrAckSent is returned by an AckFunc called a second time.
	ErrAckSent = errors.New("socketio: ack already sent")
	// ErrTooManyPendingAcks is returned by EmitWithAck when the client has
	// left 1024 acknowledgements on that socket unanswered.
	ErrTooManyPendingAcks = errors.New("socketio: too many unanswered acks")
	// ErrWrongNamespace is returned by Send for an event prepared for
	// another namespace than the socket's: a programming error, never the
	// client's.
	ErrWrongNamespace = errors.New("socketio: event prepared for another namespace")
	// ErrInvalidNamespace, returned by an OnConnect function, refuses the
	// CONNECT exactly as a namespace that does not exist is refused
	// ("Invalid namespace"), for namespaces that come and go.
	ErrInvalidNamespace = errors.New("socketio: invalid namespace")
	// ErrQueueFull is returned when more than 1024 packets are emitted to
	// a socket whose OnConnect function is still running; the connection
	// is closed once it returns.
	ErrQueueFull = errors.New("socketio: send queue full")
)

// maxPendingAcks bounds the acknowledgements a socket waits for: a client
// that never answers cannot make the server keep callbacks without limit.
const maxPendingAcks = 1024

type socketState int

const (
	stateConnecting socketState = iota // OnConnect is running
	stateConnected
	stateClosed
)

// Socket is one client's connection to one namespace. It is created by the
// server when the client connects and is valid, for sending, until it
// leaves the namespace; its methods may be called from any goroutine.
type Socket struct {
	id   string
	nsp  *Namespace
	conn *conn
	sess *engineio.Session // conn.sess, one pointer fewer to follow per packet sent

	mu                sync.Mutex // guards the fields below and orders sends
	pid               string     // private session id of the CONNECT reply, or ""
	auth              json.RawMessage
	state             socketState
	early             [][]*engineio.Message // sent while connecting, wait for the reply
	earlyOverflow     bool
	pendingDisconnect bool // Disconnect was called while connecting
	pendingClose      bool
	handlers          []handlerEntry // a handful, so a scan beats a map
	onDisconnect      func(reason DisconnectReason)
	acks              map[int64]func(Args)
	nextAckID         int64
}

// ID returns the Socket.IO socket id (distinct from the Engine.IO sid).
func (s *Socket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Recover prepares the CONNECT reply of a client that recovers its
// connection state (Socket.IO 4.6 and later): pid is the private session
// id the reply carries (and that the client sends back, with the offset
// of the last event it saw, in the auth of its next CONNECT), and id,
// when not "", the socket id to keep from the socket it had before. It
// takes effect only when called in OnConnect, and only for clients of
// Socket.IO protocol 5 (ProtocolV2 false): v2 clients know nothing of it.
func (s *Socket) Recover(pid, id string) {
	if s.conn.v2 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateConnecting {
		return
	}
	s.pid = pid
	if id != "" {
		s.id = id
	}
}

// ProtocolV2 reports whether the client speaks Socket.IO protocol 4 (a
// v2 client over Engine.IO 3) rather than 5.
func (s *Socket) ProtocolV2() bool { return s.conn.v2 }

// Namespace returns the namespace name, e.g. "/".
func (s *Socket) Namespace() string { return s.nsp.name }

// Auth returns the CONNECT auth object exactly as sent, or {} when absent.
// It must not be modified. Once OnConnect has returned it is nil, unless
// the namespace's NamespaceConfig.KeepAuth is set: read what is needed of
// it in OnConnect.
func (s *Socket) Auth() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth
}

// dropAuth forgets the auth object, so that the socket does not hold it
// for its whole life.
func (s *Socket) dropAuth() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = nil
}

// ClientAddr returns the client's address: what the engine's
// Config.ClientAddr returned for the Engine.IO handshake request.
func (s *Socket) ClientAddr() string { return s.conn.sess.ClientAddr() }

// SessionID returns the id of the Engine.IO session (the sid) that
// carries the socket, which the transport's log lines name.
func (s *Socket) SessionID() string { return s.conn.sess.ID() }

// Transport returns "polling" or "websocket".
func (s *Socket) Transport() string { return s.conn.sess.Transport() }

// Establish marks the socket's connection as established once the client
// has shown it is a real one: the transport no longer counts it as pending
// (engineio.Config.MaxPending), so it is neither closed at the pending
// timeout nor evicted by newer connections. Idempotent; safe from any
// goroutine.
func (s *Socket) Establish() { s.conn.sess.Establish() }

// AckFunc answers a client's event. It is nil when the client asked for no
// acknowledgement; calling it more than once sends nothing the second time
// (and returns ErrAckSent). It may be called from any goroutine, also
// after the handler returned. Arguments are encoded as for Emit.
type AckFunc func(args ...any) error

// EventHandler handles one incoming event. Handlers of one socket run one
// at a time in packet order, on the connection's goroutine: a handler that
// blocks delays only its own connection. A panic is recovered, logged and
// closes only that connection.
type EventHandler func(args Args, ack AckFunc)

// On sets the handler for event name (a nil h removes it). Events without
// a handler are ignored (an ack they ask for is never sent). An event whose
// name arrives as a JSON number is looked up by the number's text.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.handlers, func(e handlerEntry) bool { return e.event == event })
	switch {
	case h == nil && i >= 0:
		s.handlers = slices.Delete(s.handlers, i, i+1)
	case h == nil:
	case i >= 0:
		s.handlers[i].h = h
	default:
		s.handlers = append(s.handlers, handlerEntry{event: event, h: h})
	}
}

// handlerEntry is the handler of one event name (Socket.On).
type handlerEntry struct {
	event string
	h     EventHandler
}

// handlerLocked returns the handler of event, or nil. s.mu must be held.
func (s *Socket) handlerLocked(event string) EventHandler {
	for _, e := range s.handlers {
		if e.event == event {
			return e.h
		}
	}
	return nil
}

// OnDisconnect sets the function called once when the socket leaves the
// namespace, with the reason (ReasonClientNamespaceDisconnect,
// ReasonTransportClose, ReasonPingTimeout, ...; see DisconnectReason). It
// runs on the connection's goroutine, never inside the call that caused it
// (Disconnect, Emit), so it may take locks the caller of Disconnect holds.
func (s *Socket) OnDisconnect(f func(reason DisconnectReason)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onDisconnect = f
}

// Emit sends an event. args are encoded as JavaScript's JSON.stringify would
// (no HTML escaping, struct field order kept); json.RawMessage is sent as
// is; []byte becomes a binary attachment (also inside []any and
// map[string]any values; inside other types encoding/json's base64 rules
// apply); *BinaryJSON is sent with its attachments; an Args value stands
// for all the arguments it holds and re-emits exactly what was received
// (binary stays binary). It never blocks; it returns an error for a
// reserved event name, an unencodable argument, or a closed socket.
func (s *Socket) Emit(event string, args ...any) error {
	p, err := Prepare(s.nsp.name, event, args...)
	if err != nil {
		return err
	}
	return s.send(p.msgs)
}

// EmitWithAck sends an event asking the client for an acknowledgement; ack
// runs on the connection's goroutine when it arrives. It is never called if
// the socket leaves the namespace first. A nil ack makes it Emit. Ack ids
// count up from 0 per socket.
func (s *Socket) EmitWithAck(event string, ack func(Args), args ...any) error {
	if ack == nil {
		return s.Emit(event, args...)
	}
	if reservedEvents[event] {
		return ErrReservedEvent
	}
	e := getEncoder()
	defer putEncoder(e)
	if err := e.argsArray(event, true, args); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return ErrClosed
	}
	if len(s.acks) >= maxPendingAcks {
		return ErrTooManyPendingAcks
	}
	id := s.nextAckID
	s.nextAckID++
	if s.nextAckID > maxAckID {
		s.nextAckID = 0
	}
	if err := s.sendLocked(e.messages(packetEvent, s.nsp.name, id)); err != nil {
		return err
	}
	if s.acks == nil {
		s.acks = make(map[int64]func(Args))
	}
	s.acks[id] = ack
	return nil
}

// Prepared is an event encoded once, to be sent to many sockets of the same
// namespace without encoding it again. It is immutable and may be used
// from any goroutine for as long as needed.
type Prepared struct {
	nsp  string
	msgs []*engineio.Message
}

// Prepare encodes an event for namespace nsp (see Emit for args). Sending
// the result to a socket costs one queue slot per Engine.IO message, no
// encoding and no allocation.
func Prepare(nsp, event string, args ...any) (*Prepared, error) {
	if reservedEvents[event] {
		return nil, ErrReservedEvent
	}
	e := getEncoder()
	defer putEncoder(e)
	if err := e.argsArray(event, true, args); err != nil {
		return nil, err
	}
	nsp = normalizeNamespace(nsp)
	return &Prepared{nsp: nsp, msgs: e.messages(packetEvent, nsp, noAckID)}, nil
}

// Namespace returns the namespace p was prepared for.
func (p *Prepared) Namespace() string { return p.nsp }

// Send queues a prepared event. It never blocks. It returns ErrClosed when
// the socket is gone (closed, or its send queue overflowed and it was
// disconnected), ErrQueueFull when too much was sent while it was
// connecting, and ErrWrongNamespace, sending nothing, when p was prepared
// for another namespace (or is nil).
func (s *Socket) Send(p *Prepared) error {
	if p == nil || p.nsp != s.nsp.name {
		return ErrWrongNamespace
	}
	return s.send(p.msgs)
}

// Disconnect removes the socket from its namespace, telling the client
// (DISCONNECT packet, which the client treats as final). With closeConn the
// whole Engine.IO connection is closed too, after a DISCONNECT for each of
// its namespaces. OnDisconnect runs later on the connection's goroutine
// with ReasonServerNamespaceDisconnect. Calling it on a socket that
// is gone does nothing (with closeConn, the connection is still closed).
func (s *Socket) Disconnect(closeConn bool) {
	s.mu.Lock()
	if s.state == stateConnecting {
		s.pendingDisconnect = true
		s.pendingClose = s.pendingClose || closeConn
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if closeConn {
		s.conn.closeAll()
		return
	}
	s.conn.remove(s, true, ReasonServerNamespaceDisconnect, false)
}

// send queues msgs as one unit.
func (s *Socket) send(msgs []*engineio.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(msgs)
}

func (s *Socket) sendLocked(msgs []*engineio.Message) error {
	switch s.state {
	case stateConnecting:
		if len(s.early) >= maxEarlyPackets {
			s.earlyOverflow = true
			return ErrQueueFull
		}
		s.early = append(s.early, msgs)
		return nil
	case stateConnected:
		if !s.sess.Send(msgs...) {
			return ErrClosed
		}
		return nil
	default:
		return ErrClosed
	}
}

// markClosed moves s to the closed state, sending the client a DISCONNECT
// when sendDisconnect is set and s was connected. It reports whether s was
// open before. The caller holds s.conn.mu or is the connection goroutine
// refusing a connecting socket.
func (s *Socket) markClosed(sendDisconnect bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return false
	}
	if sendDisconnect && s.state == stateConnected {
		s.conn.sess.Send(controlMessage(packetDisconnect, s.nsp.name, nil))
	}
	s.state = stateClosed
	s.early = nil
	s.acks = nil
	return true
}

// disconnected runs OnDisconnect; on the connection goroutine.
func (s *Socket) disconnected(reason DisconnectReason) {
	s.mu.Lock()
	f := s.onDisconnect
	s.mu.Unlock()
	s.conn.srv.cfg.Logger.Debug("socket disconnected", "namespace", s.nsp.name, "socket", s.id, "sid", s.conn.sess.ID(),
		"reason", string(reason))
	if f != nil {
		s.conn.call("disconnect", s.nsp.name, func() { f(reason) })
	}
}

// onEvent dispatches an EVENT packet; on the connection goroutine.
func (s *Socket) onEvent(p *packet) {
	name := eventName(p.args[0])
	s.mu.Lock()
	h := s.handlerLocked(name)
	s.mu.Unlock()
	if h == nil {
		return
	}
	var ack AckFunc
	if p.id != noAckID {
		ack = s.ackFunc(p.id)
	}
	args := Args{raw: p.args[1:], bins: p.attachments}
	s.conn.call("event", name, func() { h(args, ack) })
}

// ackFunc returns the AckFunc answering the client's ack id.
func (s *Socket) ackFunc(id int64) AckFunc {
	var sent atomic.Bool
	return func(args ...any) error {
		e := getEncoder()
		defer putEncoder(e)
		if err := e.argsArray("", false, args); err != nil {
			return err
		}
		if !sent.CompareAndSwap(false, true) {
			return ErrAckSent
		}
		return s.send(e.messages(packetAck, s.nsp.name, id))
	}
}

// onAck runs the callback waiting for an ACK packet; unknown ids are
// ignored. On the connection goroutine.
func (s *Socket) onAck(p *packet) {
	if p.id == noAckID {
		return
	}
	s.mu.Lock()
	f := s.acks[p.id]
	delete(s.acks, p.id)
	s.mu.Unlock()
	if f == nil {
		return
	}
	args := Args{raw: p.args, bins: p.attachments}
	s.conn.call("ack", s.nsp.name, func() { f(args) })
}
