package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/web/socketio/engineio"

	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait for an event in these tests; nothing
// should take anywhere near it.
const waitTimeout = 5 * time.Second

// testLog collects Config.Logf lines.
type testLog struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *testLog) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	l.t.Logf("server log: %s", line)
}

func (l *testLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// startServer runs a Server over httptest with setup registering
// namespaces; both are closed when the test ends.
func startServer(t testing.TB, cfg Config, setup func(*Server)) (*Server, *httptest.Server, *testLog) {
	t.Helper()
	lg := &testLog{t: t}
	if cfg.Logf == nil {
		cfg.Logf = lg.logf
	}
	if cfg.Engine.PingInterval == 0 {
		cfg.Engine.PingInterval = time.Minute // no pings in the way
	}
	srv := NewServer(cfg)
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return srv, hs, lg
}

// echoSetup registers "/" and "/custom" like the conformance server (both
// accept binary packets) and reports each socket's disconnect reason on
// the returned channel.
func echoSetup(disconnects chan<- string) func(*Server) {
	return func(srv *Server) {
		onConnect := func(s *Socket) error {
			s.OnDisconnect(func(reason DisconnectReason) {
				if disconnects != nil {
					disconnects <- s.Namespace() + " " + string(reason)
				}
			})
			s.On("message", func(args Args, _ AckFunc) { _ = s.Emit("message-back", args) })
			s.On("message-with-ack", func(args Args, ack AckFunc) {
				if ack != nil {
					_ = ack(args.Values()...)
				}
			})
			return s.Emit("auth", s.Auth())
		}
		for _, name := range []string{"/", "/custom"} {
			ns := srv.Of(name)
			ns.Configure(NamespaceConfig{AllowBinary: true})
			ns.OnConnect(onConnect)
		}
	}
}

// wsClient is a raw Engine.IO WebSocket client speaking Socket.IO packets.
type wsClient struct {
	t   testing.TB
	ws  *websocket.Conn
	sid string // Engine.IO session id
}

func dial(t testing.TB, hs *httptest.Server) *wsClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: t, ws: ws}
	open := c.readText()
	var hs0 struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &hs0) != nil {
		t.Fatalf("open packet = %q", open)
	}
	c.sid = hs0.SID
	return c
}

// send writes one Socket.IO text packet (the Engine.IO "4" is added).
func (c *wsClient) send(packet string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte("4"+packet)); err != nil {
		c.t.Fatalf("send %q: %v", packet, err)
	}
}

func (c *wsClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send binary: %v", err)
	}
}

// next returns the next message other than a ping (which it answers).
func (c *wsClient) next() (data string, binary bool, err error) {
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			return "", false, err
		}
		if typ == websocket.TextMessage && string(b) == "2" {
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(b), typ == websocket.BinaryMessage, nil
	}
}

// readText returns the next text message with its Engine.IO type.
func (c *wsClient) readText() string {
	c.t.Helper()
	data, binary, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if binary {
		c.t.Fatalf("read binary %x, want text", data)
	}
	return data
}

// expect reads the next Socket.IO packet and compares it with want.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	if got := c.readText(); got != "4"+want {
		c.t.Fatalf("got %q, want %q", got, "4"+want)
	}
}

// expectPrefix reads the next Socket.IO packet, checks its start and
// returns the rest.
func (c *wsClient) expectPrefix(prefix string) string {
	c.t.Helper()
	got := c.readText()
	if !strings.HasPrefix(got, "4"+prefix) {
		c.t.Fatalf("got %q, want prefix %q", got, "4"+prefix)
	}
	return got[len(prefix)+1:]
}

func (c *wsClient) expectBinary(want []byte) {
	c.t.Helper()
	data, binary, err := c.next()
	if err != nil || !binary || data != string(want) {
		c.t.Fatalf("got %q (binary %v, err %v), want binary %x", data, binary, err, want)
	}
}

// expectClosed reads until the server closes the connection.
func (c *wsClient) expectClosed() {
	c.t.Helper()
	for {
		data, _, err := c.next()
		if err == nil {
			c.t.Logf("before close: %q", data)
			continue
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("connection still open")
		}
		return
	}
}

// connect joins nsp and returns the socket id from the CONNECT reply.
func (c *wsClient) connect(nsp, auth string) string {
	c.t.Helper()
	prefix := "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	c.send(prefix + auth)
	var reply struct {
		SID string `json:"sid"`
	}
	rest := c.expectPrefix(prefix)
	if err := json.Unmarshal([]byte(rest), &reply); err != nil || reply.SID == "" {
		c.t.Fatalf("CONNECT reply %q", rest)
	}
	return reply.SID
}

// receive waits for a value on ch.
func receive[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func TestConnect(t *testing.T) {
	_, hs, _ := startServer(t, Config{}, echoSetup(nil))

	t.Run("main namespace replies with a fresh sid, then what OnConnect emitted", func(t *testing.T) {
		c := dial(t, hs)
		id := c.connect("/", "")
		if id == c.sid || len(id) != 20 {
			t.Errorf("socket id %q: want 20 chars, not the Engine.IO sid %q", id, c.sid)
		}
		c.expect(`2["auth",{}]`)
	})

	t.Run("auth object is passed on exactly", func(t *testing.T) {
		c := dial(t, hs)
		c.connect("/", `{"token":"<123>","n":12345678901234567890}`)
		c.expect(`2["auth",{"token":"<123>","n":12345678901234567890}]`)
	})

	t.Run("custom namespace with and without trailing comma gets its own socket id", func(t *testing.T) {
		c := dial(t, hs)
		main := c.connect("/", "")
		c.expect(`2["auth",{}]`)
		c.send(`0/custom`)
		rest := c.expectPrefix(`0/custom,`)
		c.expect(`2/custom,["auth",{}]`)
		if strings.Contains(rest, main) {
			t.Errorf("custom namespace reused socket id %q", main)
		}
		c.send(`1/custom,`)
		c.send(`0/custom,{"token":"abc"}`)
		c.expectPrefix(`0/custom,{"sid":"`)
		c.expect(`2/custom,["auth",{"token":"abc"}]`)
	})

	t.Run("unknown namespace is refused and the connection stays", func(t *testing.T) {
		c := dial(t, hs)
		c.send(`0/random`)
		c.expect(`4/random,{"message":"Invalid namespace"}`)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
	})
}

func TestConnectRefusedByOnConnect(t *testing.T) {
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { return nil })
		srv.Of("/admin").OnConnect(func(s *Socket) error {
			_ = s.Emit("never", "sent")
			var auth struct{ Token string }
			_ = json.Unmarshal(s.Auth(), &auth)
			switch auth.Token {
			case "good":
				return nil
			case "plain":
				return errors.New("plain <error>")
			}
			return fmt.Errorf("wrapped: %w", &ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}})
		})
	})
	c := dial(t, hs)
	c.send(`0/admin,{"token":"bad"}`)
	c.expect(`4/admin,{"message":"not authorized","data":{"reason":"bad token"}}`)
	c.send(`0/admin,{"token":"plain"}`)
	c.expect(`4/admin,{"message":"plain <error>"}`)
	c.connect("/admin", `{"token":"good"}`)
	c.expect(`2/admin,["never","sent"]`)
}

func TestEventsAndAcks(t *testing.T) {
	acked := make(chan error, 1)
	answers := make(chan string, 4)
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error {
			s.On("hello", func(args Args, ack AckFunc) {
				if ack == nil {
					_ = s.Emit("no-ack", args.Len())
					return
				}
				_ = ack("world", 42)
				acked <- ack("again")
			})
			s.On("ask", func(args Args, _ AckFunc) {
				for range 2 {
					err := s.EmitWithAck("server-asks", func(a Args) {
						v, _ := a.String(0)
						answers <- v
					}, "q")
					if err != nil {
						t.Errorf("EmitWithAck: %v", err)
					}
				}
			})
			return nil
		})
	})
	c := dial(t, hs)
	c.connect("/", "")

	t.Run("client event with ack id is answered once", func(t *testing.T) {
		c.send(`21["hello","x"]`)
		c.expect(`31["world",42]`)
		if err := receive(t, acked); !errors.Is(err, ErrAckSent) {
			t.Errorf("second ack call: %v, want ErrAckSent", err)
		}
		c.send(`2["hello"]`)
		c.expect(`2["no-ack",0]`) // nothing from the second ack call came first
	})

	t.Run("server acks count from 0 and unknown ids are ignored", func(t *testing.T) {
		c.send(`2["ask"]`)
		c.expect(`20["server-asks","q"]`)
		c.expect(`21["server-asks","q"]`)
		c.send(`399["stray"]`)
		c.send(`31["second"]`)
		c.send(`30["first"]`)
		c.send(`31["duplicate"]`)
		if got := receive(t, answers); got != "second" {
			t.Errorf("first answer %q, want second", got)
		}
		if got := receive(t, answers); got != "first" {
			t.Errorf("second answer %q, want first", got)
		}
		c.send(`2["hello"]`)
		c.expect(`2["no-ack",0]`)
		select {
		case got := <-answers:
			t.Errorf("an ack callback ran twice (%q)", got)
		default:
		}
	})
}

func TestBinary(t *testing.T) {
	binAck := make(chan []byte, 1)
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		echoSetup(nil)(srv)
		srv.Of("/bin").Configure(NamespaceConfig{AllowBinary: true})
		srv.Of("/bin").OnConnect(func(s *Socket) error {
			s.On("go", func(Args, AckFunc) {
				_ = s.EmitWithAck("file", func(a Args) {
					b, _ := a.Bytes(0)
					binAck <- b
				}, map[string]any{"name": "f", "data": []byte{1, 2, 3}})
			})
			return nil
		})
	})
	c := dial(t, hs)
	c.connect("/", "")
	c.expect(`2["auth",{}]`)

	t.Run("binary event is echoed with its attachments in order", func(t *testing.T) {
		c.send(`52-["message",` + ph(0) + `,` + ph(1) + `]`)
		c.sendBinary([]byte{1, 2, 3})
		c.sendBinary([]byte{4, 5, 6})
		c.expect(`52-["message-back",` + ph(0) + `,` + ph(1) + `]`)
		c.expectBinary([]byte{1, 2, 3})
		c.expectBinary([]byte{4, 5, 6})
	})

	t.Run("binary event with ack gets a binary ack", func(t *testing.T) {
		c.send(`52-789["message-with-ack",` + ph(0) + `,` + ph(1) + `]`)
		c.sendBinary([]byte{1, 2, 3})
		c.sendBinary([]byte{4, 5, 6})
		c.expect(`62-789[` + ph(0) + `,` + ph(1) + `]`)
		c.expectBinary([]byte{1, 2, 3})
		c.expectBinary([]byte{4, 5, 6})
	})

	t.Run("server binary event with a binary ack from the client", func(t *testing.T) {
		c.connect("/bin", "")
		c.send(`2/bin,["go"]`)
		c.expect(`51-/bin,0["file",{"data":` + ph(0) + `,"name":"f"}]`)
		c.expectBinary([]byte{1, 2, 3})
		c.send(`61-/bin,0[` + ph(0) + `]`)
		c.sendBinary([]byte{9, 9})
		if got := receive(t, binAck); string(got) != "\x09\x09" {
			t.Errorf("ack bytes = %x", got)
		}
	})
}

func TestProtocolErrorsCloseTheConnection(t *testing.T) {
	tests := []struct {
		name    string
		packets []string // "b:" marks a binary message
		reason  string   // OnDisconnect of "/" ("" when it was never joined)
	}{
		{"unknown packet type", []string{"abc"}, "parse error"},
		{"event payload not an array", []string{`2{}`}, "parse error"},
		{"letters as ack id", []string{`2abc["message-with-ack",1]`}, "parse error"},
		{"reserved event name", []string{`2["disconnect"]`}, "parse error"},
		{"unexpected binary", []string{"b:\x01"}, "parse error"},
		{"text while waiting for an attachment", []string{`51-["message",` + ph(0) + `]`, `2["message"]`}, "parse error"},
		{"event for a namespace not joined", []string{`2/custom,["message"]`}, "invalid state"},
		{"second CONNECT to a joined namespace", []string{`0`}, "invalid state"},
		{"CONNECT_ERROR from the client", []string{`4{"message":"x"}`}, "invalid state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disconnects := make(chan string, 4)
			_, hs, _ := startServer(t, Config{}, echoSetup(disconnects))
			c := dial(t, hs)
			c.connect("/", "")
			c.expect(`2["auth",{}]`)
			for _, p := range tt.packets {
				if b, ok := strings.CutPrefix(p, "b:"); ok {
					c.sendBinary([]byte(b))
				} else {
					c.send(p)
				}
			}
			c.expectClosed()
			if got := receive(t, disconnects); got != "/ "+tt.reason {
				t.Errorf("OnDisconnect: %q, want %q", got, "/ "+tt.reason)
			}
		})
	}
}

func TestNamespaceRefusesBinaryByDefault(t *testing.T) {
	tests := []struct {
		name   string
		packet string
	}{
		{"binary event", `51-["message",` + ph(0) + `]`},
		{"binary event without attachments", `50-["message"]`},
		{"binary ack", `61-0[` + ph(0) + `]`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" closes the connection before any attachment", func(t *testing.T) {
			disconnects := make(chan string, 1)
			_, hs, _ := startServer(t, Config{}, func(srv *Server) {
				srv.Of("/").OnConnect(func(s *Socket) error {
					s.OnDisconnect(func(r DisconnectReason) { disconnects <- string(r) })
					s.On("message", func(Args, AckFunc) { _ = s.Emit("handled") })
					return nil
				})
			})
			c := dial(t, hs)
			c.connect("/", "")
			c.send(`2["message"]`)
			c.expect(`2["handled"]`)
			c.send(tt.packet)
			c.expectClosed()
			if got := receive(t, disconnects); got != string(ReasonParseError) {
				t.Errorf("OnDisconnect: %q, want %q", got, ReasonParseError)
			}
		})
	}
}

func TestAttachmentsOfOnePacketAreBounded(t *testing.T) {
	// maxBinary is maxAttachmentPayloads payloads of maxPayload bytes.
	const maxPayload = 1000
	cfg := Config{Engine: engineio.Config{MaxPayload: maxPayload}}
	bin := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), maxPayload)) }
	placeholders := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("," + ph(i))
		}
		return b.String()
	}

	t.Run("a packet within the bound is delivered", func(t *testing.T) {
		_, hs, _ := startServer(t, cfg, echoSetup(nil))
		c := dial(t, hs)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
		n := maxAttachmentPayloads
		c.send(fmt.Sprintf(`5%d-["message"%s]`, n, placeholders(n)))
		for i := range n {
			c.sendBinary(bin('a' + byte(i)))
		}
		c.expect(fmt.Sprintf(`5%d-["message-back"%s]`, n, placeholders(n)))
		for i := range n {
			c.expectBinary(bin('a' + byte(i)))
		}
	})

	t.Run("an attachment beyond the bound closes the connection", func(t *testing.T) {
		disconnects := make(chan string, 2)
		_, hs, _ := startServer(t, cfg, echoSetup(disconnects))
		c := dial(t, hs)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
		n := maxAttachmentPayloads + 1
		c.send(fmt.Sprintf(`5%d-["message"%s]`, n, placeholders(n)))
		for i := range n {
			c.sendBinary(bin('a' + byte(i)))
		}
		c.expectClosed()
		if got := receive(t, disconnects); got != "/ parse error" {
			t.Errorf("OnDisconnect: %q, want %q", got, "/ parse error")
		}
	})
}

func TestConnectAuthLimits(t *testing.T) {
	auths := make(chan string, 4)
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		// "/" has the zero configuration.
		srv.Of("/").OnConnect(func(s *Socket) error {
			auths <- "connect " + string(s.Auth())
			s.On("auth?", func(Args, AckFunc) { auths <- "later " + string(s.Auth()) })
			return nil
		})
		small := srv.Of("/small")
		small.Configure(NamespaceConfig{MaxAuth: 16, KeepAuth: true})
		small.OnConnect(func(s *Socket) error {
			s.On("auth?", func(Args, AckFunc) { auths <- "later " + string(s.Auth()) })
			return nil
		})
	})
	// authOf returns an auth object of exactly n bytes.
	authOf := func(n int) string { return `{"t":"` + strings.Repeat("a", n-len(`{"t":""}`)) + `"}` }

	t.Run("an auth object of DefaultMaxAuth bytes is accepted", func(t *testing.T) {
		c := dial(t, hs)
		auth := authOf(DefaultMaxAuth)
		c.connect("/", auth)
		if got := receive(t, auths); got != "connect "+auth {
			t.Errorf("OnConnect saw %.40q, want the auth object", got)
		}
	})

	t.Run("a larger one gets CONNECT_ERROR and the connection stays", func(t *testing.T) {
		c := dial(t, hs)
		c.send("0" + authOf(DefaultMaxAuth+1))
		c.expect(`4{"message":"Auth too large"}`)
		c.send(`0/small,` + authOf(17))
		c.expect(`4/small,{"message":"Auth too large"}`)
		c.connect("/small", authOf(16))
		c.connect("/", "")
		if got := receive(t, auths); got != "connect {}" {
			t.Errorf("OnConnect saw %q after the refusals, want the empty auth", got)
		}
	})

	t.Run("the auth object is dropped after OnConnect unless KeepAuth", func(t *testing.T) {
		c := dial(t, hs)
		c.connect("/", `{"t":"x"}`)
		receive(t, auths)
		c.send(`2["auth?"]`)
		if got := receive(t, auths); got != "later " {
			t.Errorf("Auth after OnConnect: %q, want nothing", got)
		}
		c.connect("/small", `{"t":"y"}`)
		c.send(`2/small,["auth?"]`)
		if got := receive(t, auths); got != `later {"t":"y"}` {
			t.Errorf("Auth after OnConnect with KeepAuth: %q, want the auth object", got)
		}
	})
}

func TestDisconnect(t *testing.T) {
	t.Run("client DISCONNECT drops the socket and keeps the session", func(t *testing.T) {
		disconnects := make(chan string, 4)
		_, hs, _ := startServer(t, Config{}, echoSetup(disconnects))
		c := dial(t, hs)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
		c.send(`1`)
		if got := receive(t, disconnects); got != "/ client namespace disconnect" {
			t.Errorf("OnDisconnect: %q", got)
		}
		c.connect("/", "") // nothing was sent in between
		c.expect(`2["auth",{}]`)
	})

	// withAdmin starts a server with "/", "/custom" and "/admin", whose
	// sockets it hands out.
	withAdmin := func(t *testing.T) (hs *httptest.Server, sockets chan *Socket, disconnects chan string) {
		sockets = make(chan *Socket, 4)
		disconnects = make(chan string, 4)
		_, hs, _ = startServer(t, Config{}, func(srv *Server) {
			echoSetup(disconnects)(srv)
			srv.Of("/admin").OnConnect(func(s *Socket) error {
				s.OnDisconnect(func(reason DisconnectReason) { disconnects <- "/admin " + string(reason) })
				sockets <- s
				return nil
			})
		})
		return hs, sockets, disconnects
	}

	t.Run("server Disconnect sends DISCONNECT for its namespace only", func(t *testing.T) {
		hs, sockets, disconnects := withAdmin(t)
		c := dial(t, hs)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
		c.connect("/admin", "")
		s := receive(t, sockets)
		s.Disconnect(false)
		c.expect(`1/admin,`)
		if got := receive(t, disconnects); got != "/admin server namespace disconnect" {
			t.Errorf("OnDisconnect: %q", got)
		}
		if err := s.Emit("late"); !errors.Is(err, ErrClosed) {
			t.Errorf("Emit after Disconnect: %v, want ErrClosed", err)
		}
		c.send(`2["message","still here"]`)
		c.expect(`2["message-back","still here"]`)
	})

	t.Run("server Disconnect with closeConn tells every namespace, then closes", func(t *testing.T) {
		hs, sockets, disconnects := withAdmin(t)
		c := dial(t, hs)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
		c.connect("/admin", "")
		s := receive(t, sockets)
		s.Disconnect(true)
		got := []string{c.readText(), c.readText()}
		if !(got[0] == "41" && got[1] == "41/admin,") && !(got[1] == "41" && got[0] == "41/admin,") {
			t.Errorf("got %q, want 41 and 41/admin,", got)
		}
		c.expectClosed()
		reasons := []string{receive(t, disconnects), receive(t, disconnects)}
		for _, r := range reasons {
			if !strings.HasSuffix(r, " server namespace disconnect") {
				t.Errorf("OnDisconnect: %q", r)
			}
		}
	})
}

func TestConnectTimeout(t *testing.T) {
	_, hs, _ := startServer(t, Config{ConnectTimeout: 200 * time.Millisecond}, echoSetup(nil))

	t.Run("a connection that joins no namespace is closed", func(t *testing.T) {
		c := dial(t, hs)
		c.expectClosed()
	})

	t.Run("a connection that joined stays open", func(t *testing.T) {
		c := dial(t, hs)
		c.connect("/", "")
		c.expect(`2["auth",{}]`)
		// Wait past the timeout by round trips, not by sleeping blind.
		deadline := time.Now().Add(400 * time.Millisecond)
		for time.Now().Before(deadline) {
			c.send(`2["message","ping"]`)
			c.expect(`2["message-back","ping"]`)
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	disconnects := make(chan string, 4)
	_, hs, lg := startServer(t, Config{}, func(srv *Server) {
		echoSetup(disconnects)(srv)
		srv.Of("/").OnConnect(func(s *Socket) error {
			s.OnDisconnect(func(reason DisconnectReason) { disconnects <- string(reason) })
			s.On("boom", func(Args, AckFunc) { panic("kaboom") })
			s.On("message", func(args Args, _ AckFunc) { _ = s.Emit("message-back", args) })
			return nil
		})
	})
	victim, bystander := dial(t, hs), dial(t, hs)
	victim.connect("/", "")
	bystander.connect("/", "")
	victim.send(`2["boom"]`)
	victim.send(`2["message","after"]`) // never handled
	victim.expectClosed()
	if got := receive(t, disconnects); got != "handler panic" {
		t.Errorf("OnDisconnect: %q", got)
	}
	if !lg.contains("kaboom") {
		t.Error("the panic was not logged")
	}
	bystander.send(`2["message","fine"]`)
	bystander.expect(`2["message-back","fine"]`)
}

func TestHandlersRunInPacketOrder(t *testing.T) {
	_, hs, _ := startServer(t, Config{}, echoSetup(nil))
	c := dial(t, hs)
	c.connect("/", "")
	c.expect(`2["auth",{}]`)
	const n = 200
	for i := range n {
		c.send(fmt.Sprintf(`2["message",%d]`, i))
	}
	for i := range n {
		c.expect(fmt.Sprintf(`2["message-back",%d]`, i))
	}
}

func TestPrepareSend(t *testing.T) {
	sockets := make(chan *Socket, 8)
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
		srv.Of("/other").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	})
	var clients []*wsClient
	var socks []*Socket
	for range 3 {
		c := dial(t, hs)
		c.connect("/", "")
		clients = append(clients, c)
		socks = append(socks, receive(t, sockets))
	}

	p, err := Prepare("/", "messages", "ann: hi", map[string]any{"id": 1, "text": "<hi>"}, []byte{7})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if !s.Send(p) {
			t.Fatalf("Send to %s failed", s.ID())
		}
	}
	for _, c := range clients {
		c.expect(`51-["messages","ann: hi",{"id":1,"text":"<hi>"},` + ph(0) + `]`)
		c.expectBinary([]byte{7})
	}

	t.Run("refuses a prepared event of another namespace", func(t *testing.T) {
		other, err := Prepare("other", "x")
		if err != nil {
			t.Fatal(err)
		}
		if other.Namespace() != "/other" {
			t.Errorf("Namespace() = %q", other.Namespace())
		}
		if socks[0].Send(other) {
			t.Error("Send of a /other event to a / socket succeeded")
		}
	})

	t.Run("reports a socket that is gone", func(t *testing.T) {
		clients[1].send(`1`)
		deadline := time.Now().Add(waitTimeout)
		for socks[1].Send(p) {
			if time.Now().After(deadline) {
				t.Fatal("Send still succeeds after the client disconnected")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestEmitDuringOnConnectFollowsTheReply(t *testing.T) {
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error {
			p, _ := Prepare("/", "prepared")
			for i := range 3 {
				_ = s.Emit("early", i)
			}
			s.Send(p)
			s.Disconnect(false) // takes effect after the reply
			return nil
		})
	})
	c := dial(t, hs)
	c.connect("/", "")
	c.expect(`2["early",0]`)
	c.expect(`2["early",1]`)
	c.expect(`2["early",2]`)
	c.expect(`2["prepared"]`)
	c.expect(`1`)
}

func TestPollingExchange(t *testing.T) {
	// Over polling, two CONNECTs in one POST are answered in one GET.
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { return nil })
		srv.Of("/admin").OnConnect(func(s *Socket) error { return s.Emit("welcome", "to admin") })
	})
	base := hs.URL + "/socket.io/?EIO=4&transport=polling"
	get := func(url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	open := get(base)
	var h struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &h); err != nil {
		t.Fatalf("handshake %q: %v", open, err)
	}
	url := base + "&sid=" + h.SID
	resp, err := http.Post(url, "text/plain;charset=UTF-8", strings.NewReader("40\x1e40/admin,"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var got []string
	for len(got) < 3 {
		got = append(got, strings.Split(get(url), "\x1e")...)
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], `40{"sid":"`) || !strings.HasPrefix(got[1], `40/admin,{"sid":"`) ||
		got[2] != `42/admin,["welcome","to admin"]` {
		t.Errorf("replies %q", got)
	}
}

func TestCloseEndsEverySocketAndGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	disconnects := make(chan string, 8)
	srv := NewServer(Config{Logf: t.Logf, Engine: engineio.Config{PingInterval: time.Minute}})
	echoSetup(disconnects)(srv)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c1, c2 := dial(t, hs), dial(t, hs)
	c1.connect("/", "")
	c2.connect("/custom", "")
	srv.Close()
	srv.Close() // idempotent
	for range 2 {
		if got := receive(t, disconnects); !strings.HasSuffix(got, " server shutting down") {
			t.Errorf("OnDisconnect: %q", got)
		}
	}
	c1.ws.Close()
	c2.ws.Close()
	hs.Close()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOnConnectLimitsAndFailures(t *testing.T) {
	t.Run("a panic closes the connection and runs the OnDisconnect it set", func(t *testing.T) {
		disconnects := make(chan string, 1)
		_, hs, lg := startServer(t, Config{}, func(srv *Server) {
			srv.Of("/").OnConnect(func(s *Socket) error {
				s.OnDisconnect(func(reason DisconnectReason) { disconnects <- string(reason) })
				panic("connect boom")
			})
		})
		c := dial(t, hs)
		c.send(`0`)
		c.expectClosed()
		if got := receive(t, disconnects); got != "handler panic" {
			t.Errorf("OnDisconnect: %q", got)
		}
		if !lg.contains("connect boom") {
			t.Error("the panic was not logged")
		}
	})

	t.Run("too much emitted before the reply closes the connection", func(t *testing.T) {
		errs := make(chan error, 1)
		_, hs, _ := startServer(t, Config{}, func(srv *Server) {
			srv.Of("/").OnConnect(func(s *Socket) error {
				for i := 0; ; i++ {
					if err := s.Emit("flood", i); err != nil {
						errs <- err
						return nil
					}
				}
			})
		})
		c := dial(t, hs)
		c.send(`0`)
		if err := receive(t, errs); !errors.Is(err, ErrQueueFull) {
			t.Errorf("Emit error %v, want ErrQueueFull", err)
		}
		c.expectClosed()
	})

	t.Run("unanswered acks are bounded", func(t *testing.T) {
		errs := make(chan error, 1)
		_, hs, _ := startServer(t, Config{Engine: engineio.Config{SendQueue: 4 * maxPendingAcks}}, func(srv *Server) {
			srv.Of("/").OnConnect(func(s *Socket) error {
				s.On("go", func(Args, AckFunc) {
					for i := 0; ; i++ {
						if err := s.EmitWithAck("q", func(Args) {}, i); err != nil {
							if i != maxPendingAcks {
								t.Errorf("EmitWithAck failed after %d, want %d", i, maxPendingAcks)
							}
							errs <- err
							return
						}
					}
				})
				return nil
			})
		})
		c := dial(t, hs)
		c.connect("/", "")
		c.send(`2["go"]`)
		if err := receive(t, errs); !errors.Is(err, ErrTooManyPendingAcks) {
			t.Errorf("EmitWithAck error %v, want ErrTooManyPendingAcks", err)
		}
	})
}

func TestSendPreparedDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	sockets := make(chan *Socket, 1)
	_, hs, _ := startServer(t, Config{Engine: engineio.Config{SendQueue: 4096}}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	})
	// A polling client that never polls: nothing drains the queue, so no
	// writer allocates while we count.
	base := hs.URL + "/socket.io/?EIO=4&transport=polling"
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	open, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h struct{ SID string }
	if err := json.Unmarshal(open[1:], &h); err != nil {
		t.Fatalf("handshake %q: %v", open, err)
	}
	resp, err = http.Post(base+"&sid="+h.SID, "text/plain;charset=UTF-8", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := receive(t, sockets)
	p, err := Prepare("/", "messages", "ann: hi")
	if err != nil {
		t.Fatal(err)
	}
	s.Send(p) // the CONNECT reply and this grow the queue once
	if n := testing.AllocsPerRun(1000, func() { s.Send(p) }); n != 0 {
		t.Errorf("Send allocates %v times per call, want 0", n)
	}
}
