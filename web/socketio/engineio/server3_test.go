package engineio

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Protocol 3 sessions (Config.AllowEIO3): the handshake, payload framing,
// binary, the client-driven heartbeat and the upgrade, over real HTTP.

// url3 returns the protocol 3 Engine.IO URL with query appended.
func (e *env) url3(query string) string { return e.ts.URL + "/engine.io/?EIO=3&" + query }

// poll3URL returns the protocol 3 polling URL of session sid.
func (e *env) poll3URL(sid string) string { return e.url3("transport=polling&sid=" + sid) }

// dial3 opens a protocol 3 WebSocket with query; the connection is
// closed at cleanup.
func (e *env) dial3(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(e.url3(query), "http")
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
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

// open3 decodes a protocol 3 handshake response: one text payload
// element holding the open packet.
func open3(t testing.TB, resp response) handshake {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Fatalf("handshake: status %d, body %q", resp.status, resp.body)
	}
	ps, err := decodePayload3([]byte(resp.body))
	if err != nil || len(ps) != 1 || ps[0].typ != typeOpen {
		t.Fatalf("handshake body %q is not one open packet: %v", resp.body, err)
	}
	return parseOpen(t, resp.body[strings.IndexByte(resp.body, ':')+1:])
}

// openPolling3 opens a protocol 3 polling session with the extra query.
func (e *env) openPolling3(t testing.TB, query string) (string, *recorder) {
	t.Helper()
	h := open3(t, e.get(t, e.url3("transport=polling"+query)))
	r := e.nextSession(t)
	if r.sess.ID() != h.SID || r.sess.Protocol() != 3 {
		t.Fatalf("accepted session %q (protocol %d), handshake sid %q", r.sess.ID(), r.sess.Protocol(), h.SID)
	}
	return h.SID, r
}

// openWebSocket3 opens a protocol 3 WebSocket-only session.
func (e *env) openWebSocket3(t testing.TB, query string) (*websocket.Conn, handshake, *recorder) {
	t.Helper()
	conn := e.dial3(t, "transport=websocket"+query)
	typ, data := readFrame(t, conn)
	if typ != websocket.TextMessage {
		t.Fatalf("first frame type %d, want text", typ)
	}
	h := parseOpen(t, string(data))
	return conn, h, e.nextSession(t)
}

// eio3 is the configuration of these tests: protocol 3 allowed.
var eio3 = Config{AllowEIO3: true}

func TestProtocol3Handshakes(t *testing.T) {
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})

	resp := e.get(t, e.url3("transport=polling&t=x"))
	h := open3(t, resp)
	open := `0{"sid":"` + h.SID + `","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200}`
	if want := strconv.Itoa(len(open)) + ":" + open; resp.body != want {
		t.Errorf("polling handshake\n got %s\nwant %s", resp.body, want)
	}
	if ct := resp.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if r := e.nextSession(t); r.sess.Protocol() != 3 {
		t.Errorf("Protocol() = %d, want 3", r.sess.Protocol())
	}

	conn := e.dial3(t, "transport=websocket")
	typ, data := readFrame(t, conn)
	h = parseOpen(t, string(data))
	if want := `0{"sid":"` + h.SID + `","upgrades":[],"pingInterval":300,"pingTimeout":200}`; typ != websocket.TextMessage || string(data) != want {
		t.Errorf("WebSocket open frame (type %d)\n got %s\nwant %s", typ, data, want)
	}
	if r := e.nextSession(t); r.sess.Protocol() != 3 {
		t.Errorf("Protocol() = %d, want 3", r.sess.Protocol())
	}

	// Protocol 4 is served beside it, unchanged.
	if h4 := parseOpen(t, e.get(t, e.url("transport=polling")).body); h4.MaxPayload != DefaultMaxPayload {
		t.Errorf("protocol 4 open packet beside protocol 3: %+v", h4)
	}
	if r := e.nextSession(t); r.sess.Protocol() != 4 {
		t.Errorf("Protocol() = %d, want 4", r.sess.Protocol())
	}
}

func TestProtocol3RequestErrors(t *testing.T) {
	const (
		unknownTransport = `{"code":0,"message":"Transport unknown"}`
		badRequest       = `{"code":3,"message":"Bad request"}`
		badVersion       = `{"code":5,"message":"Unsupported protocol version"}`
	)
	t.Run("refused by default", func(t *testing.T) {
		e := newEnv(t, Config{})
		for _, transport := range []string{TransportPolling, TransportWebSocket} {
			resp := e.get(t, e.url3("transport="+transport))
			if resp.status != http.StatusBadRequest || resp.body != badVersion {
				t.Errorf("EIO=3 on %s: %d %q, want 400 %q", transport, resp.status, resp.body, badVersion)
			}
		}
	})
	on := newEnv(t, eio3)
	sid3, _ := on.openPolling3(t, "")
	sid4, _ := on.openPolling(t)
	tests := []struct {
		name     string
		e        *env
		query    string
		wantBody string
	}{
		{"EIO 2", on, "EIO=2&transport=polling", badVersion},
		{"EIO missing", on, "transport=polling", badVersion},
		{"EIO abc", on, "EIO=abc&transport=polling", badVersion},
		{"JSONP polling", on, "EIO=3&transport=polling&j=0", unknownTransport},
		{"JSONP poll of a session", on, "EIO=3&transport=polling&j=0&sid=" + sid3, unknownTransport},
		{"a protocol 3 session polled as protocol 4", on, "EIO=4&transport=polling&sid=" + sid3, badRequest},
		{"a protocol 4 session polled as protocol 3", on, "EIO=3&transport=polling&sid=" + sid4, badRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.e.get(t, tt.e.ts.URL+"/engine.io/?"+tt.query)
			if resp.status != http.StatusBadRequest || resp.body != tt.wantBody {
				t.Errorf("got %d %q, want 400 %q", resp.status, resp.body, tt.wantBody)
			}
		})
	}
}

func TestProtocol3PollingMessages(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		post        string
		contentType string
		body        []byte // POSTed, when post is ""
		want        []received
		polled      []byte // the echo the next GET carries
		polledType  string
	}{
		{name: "text", post: "6:4hello",
			want: []received{{"hello", false}}, polled: []byte("6:4hello"), polledType: "text/plain; charset=UTF-8"},
		{name: "several packets", post: "6:4test16:4test2",
			want: []received{{"test1", false}, {"test2", false}}, polled: []byte("6:4test16:4test2"), polledType: "text/plain; charset=UTF-8"},
		{name: "non-ASCII and an emoji: lengths in UTF-16 code units", post: "8:4é€😀 ok",
			want: []received{{"é€😀 ok", false}}, polled: []byte("8:4é€😀 ok"), polledType: "text/plain; charset=UTF-8"},
		{name: "base64 binary to a base64 client", query: "&b64=1", post: "6:4hello10:b4AQIDBA==",
			want:   []received{{"hello", false}, {"\x01\x02\x03\x04", true}},
			polled: []byte("6:4hello10:b4AQIDBA=="), polledType: "text/plain; charset=UTF-8"},
		{name: "binary to a client with binary support: an XHR2 payload", post: "6:4hello10:b4AQIDBA==",
			want:   []received{{"hello", false}, {"\x01\x02\x03\x04", true}},
			polled: []byte{0, 6, 0xff, '4', 'h', 'e', 'l', 'l', 'o', 1, 5, 0xff, 4, 1, 2, 3, 4}, polledType: "application/octet-stream"},
		{name: "an XHR2 binary POST", contentType: "application/octet-stream",
			body:   []byte{0, 4, 0xff, '4', 0xe2, 0x82, 0xac, 1, 3, 0xff, 4, 9, 8},
			want:   []received{{"€", false}, {"\x09\x08", true}},
			polled: []byte{0, 4, 0xff, '4', 0xe2, 0x82, 0xac, 1, 3, 0xff, 4, 9, 8}, polledType: "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, eio3, echoing)
			sid, r := e.openPolling3(t, tt.query)
			var resp response
			if tt.post != "" {
				resp = e.post(t, e.poll3URL(sid), tt.post)
			} else {
				resp = e.do(t, http.MethodPost, e.poll3URL(sid), tt.contentType, string(tt.body))
			}
			if resp.status != http.StatusOK || resp.body != "ok" {
				t.Fatalf("POST: %d %q", resp.status, resp.body)
			}
			for _, want := range tt.want {
				if got := r.nextMessage(t); got != want {
					t.Errorf("delivered %+v, want %+v", got, want)
				}
			}
			poll := e.get(t, e.poll3URL(sid))
			if poll.status != http.StatusOK || !bytes.Equal([]byte(poll.body), tt.polled) || poll.header.Get("Content-Type") != tt.polledType {
				t.Errorf("GET: %d %q (%s), want %q (%s)", poll.status, poll.body, poll.header.Get("Content-Type"), tt.polled, tt.polledType)
			}
		})
	}
}

func TestProtocol3InvalidPayloadClosesTheSession(t *testing.T) {
	for _, body := range []string{"abc", "4hello", "2:4😀", "1:3"} {
		t.Run(body, func(t *testing.T) {
			e := newEnv(t, eio3)
			sid, r := e.openPolling3(t, "")
			if resp := e.post(t, e.poll3URL(sid), body); body != "1:3" && resp.status != http.StatusBadRequest {
				t.Errorf("POST %q: status %d, want 400", body, resp.status)
			}
			// A pong is well formed but goes the wrong way in protocol 3.
			if reason := r.waitClose(t); reason != ReasonParseError {
				t.Errorf("closed with %q, want %q", reason, ReasonParseError)
			}
			if resp := e.get(t, e.poll3URL(sid)); resp.status != http.StatusBadRequest {
				t.Errorf("GET after the close: status %d, want 400", resp.status)
			}
		})
	}
}

func TestProtocol3ClientPingsServerAnswers(t *testing.T) {
	t.Run("polling", func(t *testing.T) {
		e := newEnv(t, eio3)
		sid, _ := e.openPolling3(t, "")
		for range 3 {
			if resp := e.post(t, e.poll3URL(sid), "1:2"); resp.status != http.StatusOK {
				t.Fatalf("POST ping: %d", resp.status)
			}
			if resp := e.get(t, e.poll3URL(sid)); resp.body != "1:3" {
				t.Fatalf("GET after a ping: %q, want the pong 1:3", resp.body)
			}
		}
	})
	t.Run("websocket", func(t *testing.T) {
		e := newEnv(t, eio3)
		conn, _, _ := e.openWebSocket3(t, "")
		for range 3 {
			writeText(t, conn, "2")
			readText(t, conn, "3")
		}
	})
}

func TestProtocol3PingTimeout(t *testing.T) {
	// The server never pings: a client that sends nothing is dropped
	// PingInterval+PingTimeout after its handshake.
	cfg := Config{AllowEIO3: true, PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}
	t.Run("polling", func(t *testing.T) {
		e := newEnv(t, cfg)
		sid, r := e.openPolling3(t, "")
		if reason := r.waitClose(t); reason != ReasonPingTimeout {
			t.Errorf("closed with %q, want %q", reason, ReasonPingTimeout)
		}
		if resp := e.post(t, e.poll3URL(sid), "1:2"); resp.status != http.StatusBadRequest {
			t.Errorf("ping after the timeout: status %d, want 400", resp.status)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		e := newEnv(t, cfg)
		conn, _, r := e.openWebSocket3(t, "")
		if reason := r.waitClose(t); reason != ReasonPingTimeout {
			t.Errorf("closed with %q, want %q", reason, ReasonPingTimeout)
		}
		waitClosed(t, conn)
	})
}

// TestProtocol3HeardTakesNoLock: every packet of a protocol 3 client
// records that it was heard without the session's lock, so that packets
// do not queue behind whatever holds it.
func TestProtocol3HeardTakesNoLock(t *testing.T) {
	s := &Session{}
	s.setHeard(time.Now().Add(-time.Minute))
	before := s.lastHeard()
	s.mu.Lock()
	defer s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.heard()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("heard waited for the session's lock")
	}
	if !s.lastHeard().After(before) {
		t.Errorf("last heard %v, want after %v", s.lastHeard(), before)
	}
}

func TestProtocol3EveryPacketMovesTheDeadline(t *testing.T) {
	// With an hour-long heartbeat nothing times out by itself; the test
	// moves the session's last-heard time back instead of waiting.
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: 30 * time.Minute, PingTimeout: 30 * time.Minute})
	sid, r := e.openPolling3(t, "")
	silent := func(d time.Duration) { r.sess.setHeard(time.Now().Add(-d)) }
	silent(59 * time.Minute)
	if resp := e.post(t, e.poll3URL(sid), "6:4hello"); resp.status != http.StatusOK {
		t.Fatalf("message within the deadline: status %d", resp.status)
	}
	r.nextMessage(t)
	if r.sess.pongOverdue(time.Now().Add(59 * time.Minute)) {
		t.Error("a message did not move the deadline on")
	}
	silent(61 * time.Minute)
	if resp := e.post(t, e.poll3URL(sid), "1:2"); resp.status != http.StatusBadRequest {
		t.Errorf("ping after an hour of silence: status %d, want 400", resp.status)
	}
	if reason := r.waitClose(t); reason != ReasonPingTimeout {
		t.Errorf("closed with %q, want %q", reason, ReasonPingTimeout)
	}
}

func TestProtocol3WebSocketBinary(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		send   func(t *testing.T, conn *websocket.Conn)
		want   received
		echoTy int
		echo   string
	}{
		{name: "binary frames carry the type byte", send: func(t *testing.T, conn *websocket.Conn) {
			if err := conn.WriteMessage(websocket.BinaryMessage, []byte{4, 1, 2, 3}); err != nil {
				t.Fatal(err)
			}
		}, want: received{"\x01\x02\x03", true}, echoTy: websocket.BinaryMessage, echo: "\x04\x01\x02\x03"},
		{name: "a base64 client sends and gets text", query: "&b64=1", send: func(t *testing.T, conn *websocket.Conn) {
			writeText(t, conn, "b4AQID")
		}, want: received{"\x01\x02\x03", true}, echoTy: websocket.TextMessage, echo: "b4AQID"},
		{name: "text", send: func(t *testing.T, conn *websocket.Conn) {
			writeText(t, conn, "4héllo 😀")
		}, want: received{"héllo 😀", false}, echoTy: websocket.TextMessage, echo: "4héllo 😀"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, eio3, echoing)
			conn, _, r := e.openWebSocket3(t, tt.query)
			tt.send(t, conn)
			if got := r.nextMessage(t); got != tt.want {
				t.Errorf("delivered %+v, want %+v", got, tt.want)
			}
			if typ, data := readFrame(t, conn); typ != tt.echoTy || string(data) != tt.echo {
				t.Errorf("echo (type %d) %q, want (type %d) %q", typ, data, tt.echoTy, tt.echo)
			}
		})
	}
	t.Run("a binary frame of another type closes the session", func(t *testing.T) {
		e := newEnv(t, eio3)
		conn, _, r := e.openWebSocket3(t, "")
		if err := conn.WriteMessage(websocket.BinaryMessage, []byte{2, 1}); err != nil {
			t.Fatal(err)
		}
		if reason := r.waitClose(t); reason != ReasonParseError {
			t.Errorf("closed with %q, want %q", reason, ReasonParseError)
		}
	})
}

func TestProtocol3Upgrade(t *testing.T) {
	e := newEnv(t, eio3, echoing)
	sid, r := e.openPolling3(t, "")
	held := e.asyncGet(t, e.poll3URL(sid))
	conn := e.dial3(t, "transport=websocket&sid="+sid)
	writeText(t, conn, "2probe")
	readText(t, conn, "3probe")
	if resp := await(t, held); resp.body != "1:6" {
		t.Errorf("held GET released with %q, want the noop 1:6", resp.body)
	}
	writeText(t, conn, "5")
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{4, 7}); err != nil {
		t.Fatal(err)
	}
	if got := r.nextMessage(t); got != (received{"\x07", true}) {
		t.Errorf("delivered %+v after the upgrade", got)
	}
	if typ, data := readFrame(t, conn); typ != websocket.BinaryMessage || string(data) != "\x04\x07" {
		t.Errorf("echo (type %d) %q, want binary 04 07", typ, data)
	}
	writeText(t, conn, "2")
	readText(t, conn, "3")
	if resp := e.get(t, e.poll3URL(sid)); resp.status != http.StatusBadRequest {
		t.Errorf("GET after the upgrade: status %d, want 400", resp.status)
	}
}

func TestProtocol3ClientClose(t *testing.T) {
	e := newEnv(t, eio3)
	sid, r := e.openPolling3(t, "")
	held := e.asyncGet(t, e.poll3URL(sid))
	eventually(t, "GET held", func() bool {
		r.sess.mu.Lock()
		defer r.sess.mu.Unlock()
		return r.sess.getActive
	})
	if resp := e.post(t, e.poll3URL(sid), "1:1"); resp.status != http.StatusOK {
		t.Fatalf("POST close: %d", resp.status)
	}
	if resp := await(t, held); resp.body != "1:6" {
		t.Errorf("held GET got %q, want 1:6", resp.body)
	}
	if reason := r.waitClose(t); reason != ReasonTransportClose {
		t.Errorf("closed with %q, want %q", reason, ReasonTransportClose)
	}
}
