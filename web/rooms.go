package web

import (
	"sync"

	"chatserver/chat"
	"chatserver/web/socketio"
)

// EventRooms is the event of the room list, on the default room's
// namespace only: a client emits it with an ack to ask for the list
// (answered {ok: true, rooms: [...]}, joined or not), and the server sends
// it, with the list as its one argument, to every socket of "/" whenever a
// room is added or removed.
const EventRooms = "rooms"

// roomEntry is one room in the list the page shows.
type roomEntry struct {
	Name      string `json:"name"`
	Topic     string `json:"topic"`
	Namespace string `json:"namespace"`
}

// roomsReply is the ack of a rooms request.
type roomsReply struct {
	OK    bool        `json:"ok"`
	Rooms []roomEntry `json:"rooms"`
}

// roomList returns the hub's rooms as the page sees them, the default
// room first.
func roomList(hub *chat.Hub) []roomEntry {
	rooms := hub.Rooms()
	out := make([]roomEntry, len(rooms))
	for i, r := range rooms {
		out[i] = roomEntry{Name: r.Name(), Topic: r.Topic(), Namespace: namespaceOf(r.Name())}
	}
	return out
}

// lobby is the set of sockets of the default namespace, which are told of
// every change to the room list.
type lobby struct {
	mu      sync.Mutex
	sockets map[*socketio.Socket]struct{}
}

func (l *lobby) add(s *socketio.Socket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sockets == nil {
		l.sockets = make(map[*socketio.Socket]struct{})
	}
	l.sockets[s] = struct{}{}
}

func (l *lobby) remove(s *socketio.Socket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sockets, s)
}

// announce sends the room list that list returns to every socket of the
// lobby, encoded once. The list is made under the lobby's lock, so that of
// two changes close together the later list is sent last.
func (l *lobby) announce(list func() []roomEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, err := socketio.Prepare("/", EventRooms, list())
	if err != nil {
		panic("web: encoding the room list: " + err.Error()) // plain structs
	}
	for s := range l.sockets {
		_ = s.Send(p) // a socket that is gone leaves the lobby in its OnDisconnect
	}
}
