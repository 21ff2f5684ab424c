package web

import (
	"cmp"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"chatserver/chat"
	"chatserver/internal/throttle"
	"chatserver/storage"
	"chatserver/web/socketio"
)

// A room is a Socket.IO namespace: the default room is "/", every other
// room NAME is "/NAME". The default room has no second name: "/general"
// is no room.

// roomOf returns the room of namespace nsp, and false for a namespace
// that cannot be a room.
func roomOf(nsp string) (string, bool) {
	if nsp == "/" {
		return storage.DefaultRoom, true
	}
	name, ok := strings.CutPrefix(nsp, "/")
	if !ok || name == storage.DefaultRoom || storage.CheckRoomName(name) != nil {
		return "", false
	}
	return name, true
}

// namespaceOf returns the namespace of room.
func namespaceOf(room string) string {
	if room == storage.DefaultRoom {
		return "/"
	}
	return "/" + room
}

// lost reports whether a socket that left for reason was lost rather than
// ended: its network dropped or it missed the heartbeat, or the server is
// restarting. A client that comes back within the presence grace is not
// seen to leave (chat.Client.Drop). A client that left (a DISCONNECT, a
// close packet), was made to (a kick, a flood, a full send queue) or broke
// the protocol left on purpose.
func lost(reason socketio.DisconnectReason) bool {
	switch reason {
	case socketio.ReasonTransportClose, socketio.ReasonTransportError, socketio.ReasonPingTimeout,
		socketio.ReasonServerShuttingDown:
		return true
	}
	return false
}

// conn adapts one Socket.IO namespace socket to chat.Conn.
type conn struct {
	sock   *socketio.Socket
	enc    *encoders // of sock's namespace
	person *person
	once   sync.Once
	// offsets: the client recovers its connection state, so every event
	// of a room's log goes to it with its offset as the last argument.
	offsets bool
}

// encoder turns a chat event into a Socket.IO packet.
type encoder = func(ev *chat.Event) (*socketio.Prepared, error)

var _ chat.Conn = (*conn)(nil)

// encoders are the ways one namespace encodes chat events, made once per
// namespace and shared by its sockets. Each has its key, under which every
// chat.Event caches what it made, so a broadcast is encoded once per room
// and kind of client, never once per recipient, and an event never goes
// out under another room's namespace.
type encoders struct {
	plainKey, offsetKey string
	plain               encoder // the event as it is
	offset              encoder // the event with its offset last, for clients that recover
}

// newEncoders returns the encoders of namespace nsp.
func newEncoders(nsp string) *encoders {
	return &encoders{
		plainKey:  nsp,
		offsetKey: nsp + "\x00offset",
		plain: func(ev *chat.Event) (*socketio.Prepared, error) {
			return socketio.Prepare(nsp, ev.Name, ev.Args...)
		},
		offset: func(ev *chat.Event) (*socketio.Prepared, error) {
			return socketio.Prepare(nsp, ev.Name, append(ev.Args[:len(ev.Args):len(ev.Args)], ev.Offset)...)
		},
	}
}

func (c *conn) Send(ev *chat.Event) bool {
	var p *socketio.Prepared
	var err error
	if c.offsets && ev.Offset != "" {
		p, err = chat.Encoded(ev, c.enc.offsetKey, c.enc.offset)
	} else {
		p, err = chat.Encoded(ev, c.enc.plainKey, c.enc.plain)
	}
	if err != nil {
		// Chat events are built from plain strings and structs; failing
		// to encode one is a programming error, not the client's fault.
		panic("web: encoding chat event " + ev.Name + ": " + err.Error())
	}
	switch err := c.sock.Send(p); {
	case err == nil:
		return true
	case errors.Is(err, socketio.ErrClosed), errors.Is(err, socketio.ErrQueueFull):
		return false // the client is gone, or is being disconnected for not reading
	default:
		panic("web: sending chat event " + ev.Name + " to " + c.enc.plainKey + ": " + err.Error())
	}
}

// ID returns the socket's id, which a recovering client keeps.
func (c *conn) ID() string { return c.sock.ID() }

// Close takes the socket out of its room; when it is the connection's
// last room, the whole connection is closed, as it always was for a
// client of one room.
func (c *conn) Close() {
	c.once.Do(func() { c.sock.Disconnect(c.person.release(c.sock)) })
}

// person is one Engine.IO connection's chat.Person with the sockets it
// has in rooms.
type person struct {
	chat *chat.Person

	mu      sync.Mutex
	sockets []*socketio.Socket // one per room entered, a handful at most
}

// release forgets sock, which the server is taking out of its room, and
// reports whether it was the connection's last socket: then the whole
// connection goes. Forgetting it here, not when its OnDisconnect runs
// later, lets a kick from every room at once close the connection with
// the last of them.
func (p *person) release(sock *socketio.Socket) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.sockets, sock)
	if i < 0 {
		return false
	}
	p.sockets = slices.Delete(p.sockets, i, i+1)
	return len(p.sockets) == 0
}

// people finds the person of each Engine.IO connection, by its sid, for
// as long as it has sockets in rooms.
type people struct {
	hub *chat.Hub

	mu sync.Mutex
	m  map[string]*person
}

// enter returns the person of sock's connection, made on its first
// socket, with sock counted among its sockets until leave.
func (pp *people) enter(sock *socketio.Socket, peer chat.Peer) *person {
	sid := sock.SessionID()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	p := pp.m[sid]
	if p == nil {
		p = &person{}
		// A flood on one socket ends the whole connection: Disconnect
		// with closeConn closes it even when that socket is gone.
		p.chat = pp.hub.Connect(peer, func() { sock.Disconnect(true) })
		pp.m[sid] = p
	}
	p.mu.Lock()
	p.sockets = append(p.sockets, sock)
	p.mu.Unlock()
	return p
}

// leave forgets sock; the person goes with its last socket.
func (pp *people) leave(sock *socketio.Socket, p *person) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	p.mu.Lock()
	if i := slices.Index(p.sockets, sock); i >= 0 {
		p.sockets = slices.Delete(p.sockets, i, i+1)
	}
	empty := len(p.sockets) == 0
	p.mu.Unlock()
	if sid := sock.SessionID(); empty && pp.m[sid] == p {
		delete(pp.m, sid)
	}
}

// joinOptions is the optional second argument of join.
type joinOptions struct {
	Token string `json:"token"`
}

// okReply is the ack of a successful request.
type okReply struct {
	OK    bool   `json:"ok"`
	Name  string `json:"name,omitempty"`
	Token string `json:"token,omitempty"`
	ID    uint64 `json:"id,omitempty"`
}

// errorReply is the ack of a refused request.
type errorReply struct {
	Error   chat.Code `json:"error"`
	Message string    `json:"message"`
}

// chatError is the payload of a chat error event.
type chatError struct {
	Code    chat.Code `json:"code"`
	Message string    `json:"message"`
}

// connLogs are where attach logs: internal errors, warnings about the client
// and the chatter lines.
type connLogs struct {
	errs        *slog.Logger
	warn, lines *throttle.Log
}

// recoveryAuth is what a recovering client adds to its CONNECT auth.
type recoveryAuth struct {
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

// attach wires one namespace socket to its room. p is the person of the
// socket's connection and peer where it comes from; leave runs when the
// socket has left the room. A Socket.IO v4 client with a recovery session
// in its CONNECT auth gets its seat back with what it missed (see
// chat.Room.Resume); any other becomes a new member, told a private
// session id to recover with if the room keeps them.
func attach(room *chat.Room, sock *socketio.Socket, enc *encoders, p *person, peer chat.Peer, logs connLogs, leave func()) error {
	cn := &conn{sock: sock, enc: enc, person: p, offsets: !sock.ProtocolV2()}
	var c *chat.Client
	nick := ""
	if cn.offsets {
		var auth recoveryAuth
		if decodeObject(sock.Auth(), &auth) && auth.PID != "" {
			var rec chat.Recovered
			var ok bool
			if c, rec, ok = room.Resume(cn, p.chat, auth.PID, auth.Offset); ok {
				sock.Recover(auth.PID, rec.SocketID)
				sock.Establish() // a chatter already
				nick = rec.Name
				logs.lines.Print(cmp.Or(peer.Key, peer.Addr), "chatter recovered", "nick", rec.Name, "room", room.Name(),
					"sid", sock.SessionID(), "socket", sock.ID(), "addr", peer.Addr, "missed", rec.Missed)
			}
		}
	}
	if c == nil {
		var err error
		if c, err = room.Connect(cn, p.chat); err != nil {
			return err
		}
		if pid := c.PID(); pid != "" && cn.offsets {
			sock.Recover(pid, "")
		} else {
			cn.offsets = false // no session, no offsets
			c.ForgoRecovery()  // a v2 client knows nothing of it
		}
	}
	// The log names the chatter by the nickname it joined with, and
	// throttles the lines about it by its address.
	ch := &chatter{c: c, sock: sock, logs: logs, leave: leave, roomName: room.Name(), key: cmp.Or(peer.Key, peer.Addr),
		addr: peer.Addr, nick: nick}
	sock.OnDisconnect(ch.disconnected)
	sock.On(chat.EventJoin, ch.join)
	sock.On(chat.EventMessages, ch.messages)
	return nil
}

// chatter is one namespace socket wired to its room: what its handlers
// share, in one struct rather than captured by a closure each (the
// closures cost every socket about half a kilobyte). The handlers and
// disconnected run one at a time, on the connection's goroutine; answer
// and refuse may also run on the goroutine that settles a paced message,
// and read only what never changes.
type chatter struct {
	c        *chat.Client
	sock     *socketio.Socket
	logs     connLogs
	leave    func() // runs once the socket has left the room
	roomName string
	key      string // the log's throttling key: the peer's, or its address
	addr     string // the client's address, for the log
	nick     string // the nickname joined with, for the log; "" before the first join
}

// disconnected is the socket's OnDisconnect.
func (ch *chatter) disconnected(reason socketio.DisconnectReason) {
	if reason == socketio.ReasonSendQueueFull {
		// Worth a line: the client (or its network) cannot keep up,
		// and an operator seeing many of these may raise --send-queue.
		who := ch.c.Name()
		if who == "" {
			who = "(not joined)"
		}
		ch.logs.warn.Print(ch.key, "disconnected a slow client: it did not read its messages and its send queue is full",
			"nick", who, "room", ch.roomName, "addr", ch.addr, "sid", ch.sock.SessionID())
	}
	if lost(reason) {
		ch.c.Drop()
	} else {
		ch.c.Leave()
	}
	ch.leave()
	if ch.nick != "" {
		ch.logs.lines.Print(ch.key, "chatter left", "nick", ch.nick, "room", ch.roomName, "sid", ch.sock.SessionID(), "socket", ch.sock.ID(),
			"addr", ch.addr, "reason", string(reason))
	}
}

// refuse answers a refused request: through the ack when there is one,
// otherwise with a chat error event.
func (ch *chatter) refuse(ack socketio.AckFunc, err error) {
	code, msg := chat.ErrorCode(err), chat.ErrorMessage(err)
	if code == chat.CodeInternal {
		ch.logs.errs.Error("request failed", "room", ch.roomName, "sid", ch.sock.SessionID(), "socket", ch.sock.ID(), "err", err)
	}
	if ack != nil {
		_ = ack(errorReply{Error: code, Message: msg})
		return
	}
	_ = ch.sock.Emit(chat.EventChatError, chatError{Code: code, Message: msg})
}

// join handles the join event.
func (ch *chatter) join(args socketio.Args, ack socketio.AckFunc) {
	name, ok := args.String(0)
	if !ok {
		ch.refuse(ack, chat.InvalidName())
		return
	}
	var token string
	if raw := args.Raw(1); raw != nil {
		var opts joinOptions
		if decodeObject(raw, &opts) {
			token = opts.Token
		}
	}
	res, err := ch.c.Join(name, token)
	if err != nil {
		ch.refuse(ack, err)
		return
	}
	ch.sock.Establish() // a chatter now: no longer pending, see Config.SocketIO
	switch ch.nick {
	case res.Name:
	case "":
		ch.logs.lines.Print(ch.key, "chatter joined", "nick", res.Name, "room", ch.roomName, "sid", ch.sock.SessionID(), "socket", ch.sock.ID(),
			"addr", ch.addr)
	default:
		ch.logs.lines.Print(ch.key, "chatter renamed", "nick", res.Name, "previous", ch.nick, "room", ch.roomName, "sid", ch.sock.SessionID(),
			"socket", ch.sock.ID(), "addr", ch.addr)
	}
	ch.nick = res.Name
	if ack != nil {
		_ = ack(okReply{OK: true, Name: res.Name, Token: res.Token})
	}
}

// answer answers a message once it is stored or refused; from the
// connection's goroutine, or for a paced message from the goroutine that
// settles it (both are safe for refuse and ack).
func (ch *chatter) answer(ack socketio.AckFunc, msg storage.Message, err error) {
	if err != nil {
		ch.refuse(ack, err)
		return
	}
	if ack != nil {
		_ = ack(okReply{OK: true, ID: msg.ID})
	}
}

// messages handles the messages event.
func (ch *chatter) messages(args socketio.Args, ack socketio.AckFunc) {
	text, ok := args.String(0)
	if !ok {
		ch.refuse(ack, ch.c.SayNonString())
		return
	}
	// A paced message is answered later: the handler returns at once,
	// so that the connection's next packets (more messages, a join, a
	// disconnect) are handled meanwhile.
	msg, paced, err := ch.c.Post(text)
	if paced != nil {
		paced.Then(func(msg storage.Message, err error) { ch.answer(ack, msg, err) })
		return
	}
	ch.answer(ack, msg, err)
}
