package web

import (
	"cmp"
	"log/slog"
	"sync"

	"chatserver/chat"
	"chatserver/internal/throttle"
	"chatserver/web/socketio"
)

// conn adapts a Socket.IO socket to chat.Conn.
type conn struct {
	sock *socketio.Socket
	once sync.Once
}

var _ chat.Conn = (*conn)(nil)

// encode turns a chat event into a Socket.IO packet for namespace "/";
// chat.Event caches the result so a broadcast is encoded once.
func encode(name string, args []any) (any, error) {
	return socketio.Prepare("/", name, args...)
}

func (c *conn) Send(ev *chat.Event) bool {
	p, err := ev.Encoded(encode)
	if err != nil {
		// Chat events are built from plain strings and structs; failing
		// to encode one is a programming error, not the client's fault.
		panic("web: encoding chat event " + ev.Name + ": " + err.Error())
	}
	return c.sock.Send(p.(*socketio.Prepared))
}

func (c *conn) Close() {
	c.once.Do(func() { c.sock.Disconnect(true) })
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

// attach wires one socket of namespace "/" to the room. peer is where the
// socket comes from.
func attach(room *chat.Room, sock *socketio.Socket, peer chat.Peer, logs connLogs) {
	c := room.Connect(&conn{sock: sock}, peer)
	// The log names the chatter by the nickname it joined with, and
	// throttles the lines about it by its address. nick is used by the
	// handlers and OnDisconnect only, which run one at a time.
	key, nick := cmp.Or(peer.Key, peer.Addr), ""
	sock.OnDisconnect(func(reason socketio.DisconnectReason) {
		if reason == socketio.ReasonSendQueueFull {
			// Worth a line: the client (or its network) cannot keep up,
			// and an operator seeing many of these may raise --send-queue.
			who := c.Name()
			if who == "" {
				who = "(not joined)"
			}
			logs.warn.Print(key, "disconnected a slow client: it did not read its messages and its send queue is full",
				"nick", who, "addr", peer.Addr, "sid", sock.SessionID())
		}
		c.Leave()
		if nick != "" {
			logs.lines.Print(key, "chatter left", "nick", nick, "sid", sock.SessionID(), "socket", sock.ID(),
				"addr", peer.Addr, "reason", string(reason))
		}
	})

	// refuse answers a refused request: through the ack when there is one,
	// otherwise with a chat error event.
	refuse := func(ack socketio.AckFunc, err error) {
		code, msg := chat.ErrorCode(err), chat.ErrorMessage(err)
		if code == chat.CodeInternal {
			logs.errs.Error("request failed", "sid", sock.SessionID(), "socket", sock.ID(), "err", err)
		}
		if ack != nil {
			_ = ack(errorReply{Error: code, Message: msg})
			return
		}
		_ = sock.Emit(chat.EventChatError, chatError{Code: code, Message: msg})
	}

	sock.On(chat.EventJoin, func(args socketio.Args, ack socketio.AckFunc) {
		name, ok := args.String(0)
		if !ok {
			refuse(ack, chat.InvalidName())
			return
		}
		var token string
		if raw := args.Raw(1); raw != nil {
			var opts joinOptions
			if decodeObject(raw, &opts) {
				token = opts.Token
			}
		}
		res, err := c.Join(name, token)
		if err != nil {
			refuse(ack, err)
			return
		}
		sock.Establish() // a chatter now: no longer pending, see Config.SocketIO
		switch nick {
		case res.Name:
		case "":
			logs.lines.Print(key, "chatter joined", "nick", res.Name, "sid", sock.SessionID(), "socket", sock.ID(), "addr", peer.Addr)
		default:
			logs.lines.Print(key, "chatter renamed", "nick", res.Name, "previous", nick, "sid", sock.SessionID(),
				"socket", sock.ID(), "addr", peer.Addr)
		}
		nick = res.Name
		if ack != nil {
			_ = ack(okReply{OK: true, Name: res.Name, Token: res.Token})
		}
	})

	sock.On(chat.EventMessages, func(args socketio.Args, ack socketio.AckFunc) {
		text, ok := args.String(0)
		if !ok {
			refuse(ack, c.SayNonString())
			return
		}
		msg, err := c.Say(text)
		if err != nil {
			refuse(ack, err)
			return
		}
		if ack != nil {
			_ = ack(okReply{OK: true, ID: msg.ID})
		}
	})
}
