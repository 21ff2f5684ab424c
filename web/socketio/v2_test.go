package socketio

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"chatserver/internal/siotest"
	"chatserver/web/socketio/engineio"
)

// Socket.IO v2 clients (Engine.IO protocol 3): what differs from v4 is
// how namespaces are joined and refused; events, acks and binary are the
// same packets, and a prepared event serves both.

// dialV2 opens a protocol 3 WebSocket to hs; its open packet must not
// carry maxPayload.
func dialV2(t testing.TB, hs *httptest.Server) *siotest.Client {
	t.Helper()
	c := siotest.Dial(t, hs.URL, siotest.Options{Timeout: waitTimeout, EIO: 3})
	if open := c.Open().Packet; strings.Contains(open, "maxPayload") {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// v3Binary is a protocol 3 binary frame carrying b: the type byte 4, then b.
func v3Binary(b []byte) []byte { return append([]byte{4}, b...) }

// v2Config lets Socket.IO v2 clients in.
var v2Config = Config{Engine: engineio.Config{AllowEIO3: true}}

func TestV2JoinsTheDefaultNamespaceUnasked(t *testing.T) {
	disconnects := make(chan string, 4)
	_, hs, _ := startServer(t, v2Config, echoSetup(disconnects))
	c := dialV2(t, hs)
	c.Expect("40")
	c.Expect(`42["auth",{}]`)
	c.SendText(`41`)
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
		{"a query over MaxAuth is refused with a string", `40/custom?t=` + strings.Repeat("a", DefaultMaxAuth) + `,`,
			[]string{`44/custom,"Auth too large"`}},
		{"a query over MaxAuth as sent is refused, however small its object", `40/custom?` + strings.Repeat("x=1&", DefaultMaxAuth/4+1) + `,`,
			[]string{`44/custom,"Auth too large"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialV2(t, hs)
			c.Expect("40")
			c.Expect(`42["auth",{}]`)
			c.SendText(tt.connect)
			for _, want := range tt.want {
				c.Expect(want)
			}
		})
	}
}

func TestV2DefaultNamespaceRefused(t *testing.T) {
	_, hs, _ := startServer(t, v2Config, func(srv *Server) {
		srv.Of("/").OnConnect(func(*Socket) error { return errors.New("go away") })
	})
	c := dialV2(t, hs)
	c.Expect(`44"go away"`)
}

func TestV2EventsAcksAndBinary(t *testing.T) {
	_, hs, _ := startServer(t, v2Config, echoSetup(nil))
	c := dialV2(t, hs)
	c.Expect("40")
	c.Expect(`42["auth",{}]`)

	c.SendText(`421["message-with-ack","héllo 😀",1]`)
	c.Expect(`431["héllo 😀",1]`)

	c.SendText(`451-["message",` + ph(0) + `]`)
	c.SendBinary(v3Binary([]byte{1, 2, 3}))
	c.Expect(`451-["message-back",` + ph(0) + `]`)
	c.ExpectBinary(v3Binary([]byte{1, 2, 3}))

	c.SendText("2")
	c.Expect("3")
}

func TestPreparedEventServesV2AndV4Alike(t *testing.T) {
	sockets := make(chan *Socket, 2)
	_, hs, _ := startServer(t, v2Config, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	})
	v2 := dialV2(t, hs)
	v2.Expect("40")
	s2 := receive(t, sockets)
	v4 := siotest.Dial(t, hs.URL, siotest.Options{Timeout: waitTimeout})
	v4.Connect("/", "")
	s4 := receive(t, sockets)

	p, err := Prepare("/", "messages", "ann: hi 😀", []byte{7})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(s2.Send(p), s4.Send(p)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := `451-["messages","ann: hi 😀",` + ph(0) + `]`
	v2.Expect(want)
	v2.ExpectBinary(v3Binary([]byte{7}))
	v4.Expect(want)
	v4.ExpectBinary([]byte{7})
}
