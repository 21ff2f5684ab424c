package socketio

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"chatserver/internal/siotest"
	"chatserver/web/socketio/engineio"
)

// Socket.IO v2 clients (Engine.IO protocol 3): what differs from v4 is
// how namespaces are joined and refused; events, acks and binary are the
// same packets, and a prepared event serves both.

// v2Client is a raw Socket.IO v2 client over an Engine.IO protocol 3
// WebSocket: it answers nothing by itself (the server never pings).
type v2Client struct {
	t  testing.TB
	ws *websocket.Conn
}

// dialV2 opens a protocol 3 WebSocket to hs and reads the open packet,
// which must not carry maxPayload.
func dialV2(t testing.TB, hs *httptest.Server) *v2Client {
	t.Helper()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=3&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &v2Client{t: t, ws: ws}
	open := c.next()
	if !strings.HasPrefix(open, "0{") || strings.Contains(open, "maxPayload") {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// read returns the next frame.
func (c *v2Client) read() (int, []byte) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return typ, b
}

// next returns the next frame, which must be text.
func (c *v2Client) next() string {
	c.t.Helper()
	typ, b := c.read()
	if typ != websocket.TextMessage {
		c.t.Fatalf("binary frame %x, want text", b)
	}
	return string(b)
}

// expect requires the next frame to be the text want.
func (c *v2Client) expect(want string) {
	c.t.Helper()
	if got := c.next(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectBinary requires the next frame to be a protocol 3 binary message
// carrying b: the type byte 4, then b.
func (c *v2Client) expectBinary(b []byte) {
	c.t.Helper()
	typ, got := c.read()
	if want := append([]byte{4}, b...); typ != websocket.BinaryMessage || string(got) != string(want) {
		c.t.Fatalf("got frame (type %d) %x, want binary %x", typ, got, want)
	}
}

// send writes a text frame.
func (c *v2Client) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// sendBinary writes a protocol 3 binary message carrying b.
func (c *v2Client) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, append([]byte{4}, b...)); err != nil {
		c.t.Fatalf("write binary: %v", err)
	}
}

// v2Config lets Socket.IO v2 clients in.
var v2Config = Config{Engine: engineio.Config{AllowEIO3: true}}

func TestV2JoinsTheDefaultNamespaceUnasked(t *testing.T) {
	disconnects := make(chan string, 4)
	_, hs, _ := startServer(t, v2Config, echoSetup(disconnects))
	c := dialV2(t, hs)
	c.expect("40")
	c.expect(`42["auth",{}]`)
	c.send(`41`)
	if got := receive(t, disconnects); got != "/ client namespace disconnect" {
		t.Errorf("disconnect %q", got)
	}
}

func TestV2NamespaceConnect(t *testing.T) {
	_, hs, _ := startServer(t, v2Config, func(srv *Server) {
		echoSetup(nil)(srv)
		srv.Of("/admin").OnConnect(func(s *Socket) error {
			var auth struct{ Token string }
			_ = json.Unmarshal(s.Auth(), &auth)
			switch auth.Token {
			case "good":
				return s.Emit("welcome")
			case "plain":
				return errors.New("plain <error>")
			}
			return &ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}
		})
	})
	tests := []struct {
		name    string
		connect string
		want    []string
	}{
		{"a namespace without query", `40/custom,`, []string{`40/custom,`, `42/custom,["auth",{}]`}},
		{"the query becomes the auth object, the last of a name winning", `40/custom?token=a%20b&x=1&x=2&flag,`,
			[]string{`40/custom,`, `42/custom,["auth",{"token":"a b","x":"2","flag":""}]`}},
		{"an unknown namespace is refused with a string", `40/nope,`, []string{`44/nope,"Invalid namespace"`}},
		{"an unknown namespace with a query", `40/nope?a=b,`, []string{`44/nope,"Invalid namespace"`}},
		{"a refusal with data sends the data", `40/admin?token=bad,`, []string{`44/admin,{"reason":"bad token"}`}},
		{"a refusal without data sends the message", `40/admin?token=plain,`, []string{`44/admin,"plain <error>"`}},
		{"an accepted connection", `40/admin?token=good,`, []string{`40/admin,`, `42/admin,["welcome"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialV2(t, hs)
			c.expect("40")
			c.expect(`42["auth",{}]`)
			c.send(tt.connect)
			for _, want := range tt.want {
				c.expect(want)
			}
		})
	}
}

func TestV2DefaultNamespaceRefused(t *testing.T) {
	_, hs, _ := startServer(t, v2Config, func(srv *Server) {
		srv.Of("/").OnConnect(func(*Socket) error { return errors.New("go away") })
	})
	c := dialV2(t, hs)
	c.expect(`44"go away"`)
}

func TestV2EventsAcksAndBinary(t *testing.T) {
	_, hs, _ := startServer(t, v2Config, echoSetup(nil))
	c := dialV2(t, hs)
	c.expect("40")
	c.expect(`42["auth",{}]`)

	c.send(`421["message-with-ack","héllo 😀",1]`)
	c.expect(`431["héllo 😀",1]`)

	c.send(`451-["message",` + ph(0) + `]`)
	c.sendBinary([]byte{1, 2, 3})
	c.expect(`451-["message-back",` + ph(0) + `]`)
	c.expectBinary([]byte{1, 2, 3})

	c.send("2")
	c.expect("3")
}

func TestPreparedEventServesV2AndV4Alike(t *testing.T) {
	sockets := make(chan *Socket, 2)
	_, hs, _ := startServer(t, v2Config, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	})
	v2 := dialV2(t, hs)
	v2.expect("40")
	s2 := receive(t, sockets)
	v4 := siotest.Dial(t, hs.URL, siotest.Options{Timeout: waitTimeout})
	v4.Connect("/", "")
	s4 := receive(t, sockets)

	p, err := Prepare("/", "messages", "ann: hi 😀", []byte{7})
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Send(p) || !s4.Send(p) {
		t.Fatal("Send failed")
	}
	want := `451-["messages","ann: hi 😀",` + ph(0) + `]`
	v2.expect(want)
	v2.expectBinary([]byte{7})
	v4.Expect(want)
	v4.ExpectBinary([]byte{7})
}
