package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeChat is a tiny chat server for the tests: Engine.IO 4 over WebSocket
// and polling (no upgrades), Socket.IO on "/" (or on one room's namespace),
// and the chat contract. With nodeLike it behaves like the Node original: no
// acks, a greeting `messages` with an object argument on connect, no `add
// chatter` for oneself, and `messages` with the line only. It pings every
// fakePingInterval and drops a session whose pong is late, so a client that
// does not answer pings loses.
type fakeChat struct {
	nodeLike bool
	// nsp is the namespace of the chat in packets, as Config.namespace
	// gives it: "" for "/", "/NAME," for the room NAME. A CONNECT to any
	// other namespace is refused, and the other namespaces' packets are
	// ignored; a joined session of a room is also sent noise on "/", which
	// a client of the room must not count.
	nsp string

	mu       sync.Mutex // guards everything below and ordering of queued packets
	sessions map[string]*fakeSession
	joined   map[*fakeSession]string
	order    []*fakeSession // joined sessions in join order
	nextSID  int
	nextMsg  int
	remotes  map[string]bool // RemoteAddr (ip:port) of every request: one per TCP connection
	hosts    map[string]int  // Engine.IO sessions opened, by the Host they asked for

	gotMessage chan struct{} // closed at the first "messages" event, for tests to wait on

	// Faults for the paste tests, by the number of the "messages" event
	// (from 1; 0 for none), set before the first client connects:
	// holdBack is broadcast only after the one following it, drop is
	// acked but never broadcast.
	holdBack, drop int
	held           []byte // the held-back broadcast, until the next one
}

const (
	fakePingInterval = 100 * time.Millisecond
	fakePingTimeout  = 400 * time.Millisecond
	fakeQueue        = 1 << 14 // packets per session; more and the session is dropped
)

type fakeSession struct {
	sid  string
	out  chan []byte
	pong chan struct{}
	done chan struct{}
	once sync.Once
}

func startFakeChat(t testing.TB, nodeLike bool) (*httptest.Server, *fakeChat) {
	t.Helper()
	return startFakeChatIn(t, nodeLike, "")
}

// startFakeChatIn is startFakeChat with the chat on the namespace nsp
// (fakeChat.nsp).
func startFakeChatIn(t testing.TB, nodeLike bool, nsp string) (*httptest.Server, *fakeChat) {
	t.Helper()
	f := &fakeChat{nodeLike: nodeLike, nsp: nsp, sessions: map[string]*fakeSession{}, joined: map[*fakeSession]string{},
		remotes: map[string]bool{}, hosts: map[string]int{}, gotMessage: make(chan struct{})}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv, f
}

// startSharedFakeChat starts n servers that share one chat, as nodes on
// one Redis do: a message sent through any of them reaches the clients of
// all of them.
func startSharedFakeChat(t testing.TB, n int) ([]*httptest.Server, *fakeChat) {
	t.Helper()
	first, f := startFakeChat(t, false)
	srvs := []*httptest.Server{first}
	for range n - 1 {
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
	}
	return srvs, f
}

// sessionsByHost counts the Engine.IO sessions opened, by the host (and
// port) of the server they were opened on.
func (f *fakeChat) sessionsByHost() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := make(map[string]int, len(f.hosts))
	for h, c := range f.hosts {
		n[h] = c
	}
	return n
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	f.remotes[req.RemoteAddr] = true
	f.mu.Unlock()
	q := req.URL.Query()
	if req.URL.Path != "/socket.io/" || q.Get("EIO") != "4" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	switch {
	case q.Get("transport") == "websocket":
		f.serveWebSocket(w, req)
	case q.Get("sid") == "":
		s := f.newSession(req.Host)
		fmt.Fprint(w, f.openPacket(s, `["websocket"]`))
	default:
		f.mu.Lock()
		s := f.sessions[q.Get("sid")]
		f.mu.Unlock()
		if s == nil {
			http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
			return
		}
		if req.Method == http.MethodPost {
			var body bytes.Buffer
			_, _ = body.ReadFrom(req.Body)
			for _, p := range bytes.Split(body.Bytes(), []byte{pollingSeparator}) {
				f.handle(s, p)
			}
			fmt.Fprint(w, "ok")
			return
		}
		f.poll(w, req, s)
	}
}

// connectionsByIP counts the TCP connections that sent requests, by the
// client's IP address.
func (f *fakeChat) connectionsByIP(t testing.TB) map[string]int {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[string]int{}
	for addr := range f.remotes {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("remote address %q: %v", addr, err)
		}
		n[host]++
	}
	return n
}

func (f *fakeChat) openPacket(s *fakeSession, upgrades string) string {
	return fmt.Sprintf(`0{"sid":%q,"upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":1000000}`,
		s.sid, upgrades, fakePingInterval.Milliseconds(), fakePingTimeout.Milliseconds())
}

func (f *fakeChat) newSession(host string) *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts[host]++
	f.nextSID++
	s := &fakeSession{sid: "s" + strconv.Itoa(f.nextSID), out: make(chan []byte, fakeQueue),
		pong: make(chan struct{}, 1), done: make(chan struct{})}
	f.sessions[s.sid] = s
	go f.pinger(s)
	return s
}

// pinger pings and drops the session when a pong is late.
func (f *fakeChat) pinger(s *fakeSession) {
	for {
		select {
		case <-s.done:
			return
		case <-time.After(fakePingInterval):
		}
		f.mu.Lock()
		f.queue(s, []byte("2"))
		f.mu.Unlock()
		select {
		case <-s.done:
			return
		case <-s.pong:
		case <-time.After(fakePingTimeout):
			f.close(s)
			return
		}
	}
}

// poll answers a GET with everything queued, waiting for at least one packet.
func (f *fakeChat) poll(w http.ResponseWriter, req *http.Request, s *fakeSession) {
	var payload []byte
	select {
	case p := <-s.out:
		payload = append(payload, p...)
	case <-s.done:
		fmt.Fprint(w, "1")
		return
	case <-req.Context().Done():
		f.close(s)
		return
	}
	for more := true; more; {
		select {
		case p := <-s.out:
			payload = append(append(payload, pollingSeparator), p...)
		default:
			more = false
		}
	}
	_, _ = w.Write(payload)
}

func (f *fakeChat) serveWebSocket(w http.ResponseWriter, req *http.Request) {
	conn, err := (&websocket.Upgrader{}).Upgrade(w, req, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	s := f.newSession(req.Host)
	defer f.close(s)
	go func() { // writer
		for {
			select {
			case p := <-s.out:
				if conn.WriteMessage(websocket.TextMessage, p) != nil {
					f.close(s)
					return
				}
			case <-s.done:
				_ = conn.Close()
				return
			}
		}
	}()
	f.mu.Lock()
	f.queue(s, []byte(f.openPacket(s, "[]")))
	f.mu.Unlock()
	for {
		_, p, err := conn.ReadMessage()
		if err != nil {
			return
		}
		f.handle(s, p)
	}
}

// queue adds p to s's outbound packets; f.mu must be held.
func (f *fakeChat) queue(s *fakeSession, p []byte) {
	select {
	case s.out <- p:
	default:
		go f.close(s)
	}
}

func (f *fakeChat) close(s *fakeSession) {
	s.once.Do(func() {
		close(s.done)
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.sessions, s.sid)
		if name, ok := f.joined[s]; ok {
			delete(f.joined, s)
			for i, o := range f.order {
				if o == s {
					f.order = append(f.order[:i], f.order[i+1:]...)
					break
				}
			}
			f.emitAll(nil, "remove chatter", name)
		}
	})
}

// emitAll queues an event to every joined session but except; f.mu held.
func (f *fakeChat) emitAll(except *fakeSession, args ...any) {
	p := f.eventPacket(args...)
	for _, o := range f.order {
		if o != except {
			f.queue(o, p)
		}
	}
}

// queueAll queues p to every joined session; f.mu held.
func (f *fakeChat) queueAll(p []byte) {
	for _, o := range f.order {
		f.queue(o, p)
	}
}

// eventPacket is an EVENT with args on the chat's namespace.
func (f *fakeChat) eventPacket(args ...any) []byte {
	b, _ := json.Marshal(args)
	return append([]byte("42"+f.nsp), b...)
}

func (f *fakeChat) handle(s *fakeSession, p []byte) {
	switch {
	case bytes.Equal(p, []byte("3")):
		select {
		case s.pong <- struct{}{}:
		default:
		}
	case bytes.Equal(p, []byte("1")):
		f.close(s)
	case bytes.HasPrefix(p, []byte("40")) && string(p[2:]) != f.nsp:
		f.mu.Lock()
		f.queue(s, []byte(`44`+string(p[2:])+`{"message":"Invalid namespace"}`))
		f.mu.Unlock()
	case bytes.Equal(p, []byte("40"+f.nsp)):
		f.mu.Lock()
		f.queue(s, []byte(`40`+f.nsp+`{"sid":"x`+s.sid+`"}`))
		if f.nodeLike {
			f.queue(s, f.eventPacket("messages", map[string]string{"hello": "world"}))
		}
		f.mu.Unlock()
	case bytes.HasPrefix(p, []byte("42"+f.nsp)):
		rest := p[2+len(f.nsp):]
		if f.nsp == "" && len(rest) > 0 && rest[0] == '/' {
			return // another namespace's
		}
		i := bytes.IndexByte(rest, '[')
		if i < 0 {
			return
		}
		ack := string(rest[:i])
		var args []any
		if json.Unmarshal(rest[i:], &args) != nil || len(args) < 2 {
			return
		}
		name, _ := args[0].(string)
		text, _ := args[1].(string)
		f.mu.Lock()
		defer f.mu.Unlock()
		switch name {
		case "join":
			if _, ok := f.joined[s]; ok {
				return
			}
			for _, o := range f.order {
				f.queue(s, f.eventPacket("add chatter", f.joined[o]))
			}
			f.emitAll(s, "add chatter", text)
			f.joined[s] = text
			f.order = append(f.order, s)
			if !f.nodeLike {
				f.queue(s, f.eventPacket("add chatter", text))
			}
			if f.nsp != "" {
				// What the default room would say: not the run's.
				f.queue(s, []byte(`42["add chatter","`+text+`"]`))
				idx := text[strings.LastIndexByte(text, '-')+1:]
				f.queue(s, []byte(`42["messages","`+text+`: b`+idx+`:0:1:"]`))
				f.queue(s, []byte(`430[{"ok":true}]`))
			}
			f.ack(s, ack, `{"ok":true,"name":`+strconv.Quote(text)+`}`)
		case "messages":
			nick, ok := f.joined[s]
			if !ok {
				f.ack(s, ack, `{"error":"not_joined","message":"join first"}`)
				return
			}
			if f.nextMsg++; f.nextMsg == 1 {
				close(f.gotMessage)
			}
			line := nick + ": " + text
			var p []byte
			if f.nodeLike {
				p = f.eventPacket("messages", line)
			} else {
				p = f.eventPacket("messages", line, map[string]any{"id": f.nextMsg, "name": nick, "text": text, "time": "2025-01-01T00:00:00Z"})
			}
			switch f.nextMsg {
			case f.holdBack:
				f.held = p
			case f.drop:
			default:
				f.queueAll(p)
				if f.held != nil {
					f.queueAll(f.held)
					f.held = nil
				}
			}
			f.ack(s, ack, `{"ok":true,"id":`+strconv.Itoa(f.nextMsg)+`}`)
		}
	}
}

// ack answers an event's ack id (none when empty, or like Node, never); f.mu held.
func (f *fakeChat) ack(s *fakeSession, id, reply string) {
	if id != "" && !f.nodeLike {
		f.queue(s, []byte("43"+f.nsp+id+"["+reply+"]"))
	}
}
