package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/internal/leaktest"
	"chatserver/internal/logtest"
	"chatserver/internal/siotest"
	"chatserver/web/socketio/engineio"
)

// waitTimeout bounds every wait for an event in these tests; nothing
// should take anywhere near it.
const waitTimeout = 5 * time.Second

// startServer runs a Server over httptest with setup registering
// namespaces; both are closed when the test ends.
func startServer(t testing.TB, cfg Config, setup func(*Server)) (*Server, *httptest.Server, *logtest.Recorder) {
	t.Helper()
	logger, lg := logtest.New(t)
	if cfg.Logger == nil {
		cfg.Logger = logger
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

// dial opens a raw Socket.IO client to hs, closed when the test ends.
func dial(t testing.TB, hs *httptest.Server) *siotest.Client {
	t.Helper()
	return siotest.Dial(t, hs.URL, siotest.Options{Timeout: waitTimeout})
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
		id := c.Connect("/", "")
		if id == c.Open().SID || len(id) != 20 {
			t.Errorf("socket id %q: want 20 chars, not the Engine.IO sid %q", id, c.Open().SID)
		}
		c.Expect(`42["auth",{}]`)
	})

	t.Run("auth object is passed on exactly", func(t *testing.T) {
		c := dial(t, hs)
		c.Connect("/", `{"token":"<123>","n":12345678901234567890}`)
		c.Expect(`42["auth",{"token":"<123>","n":12345678901234567890}]`)
	})

	t.Run("custom namespace with and without trailing comma gets its own socket id", func(t *testing.T) {
		c := dial(t, hs)
		main := c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		c.SendText(`40/custom`)
		rest := c.ExpectPrefix(`40/custom,`)
		c.Expect(`42/custom,["auth",{}]`)
		if strings.Contains(rest, main) {
			t.Errorf("custom namespace reused socket id %q", main)
		}
		c.SendText(`41/custom,`)
		c.SendText(`40/custom,{"token":"abc"}`)
		c.ExpectPrefix(`40/custom,{"sid":"`)
		c.Expect(`42/custom,["auth",{"token":"abc"}]`)
	})

	t.Run("unknown namespace is refused and the connection stays", func(t *testing.T) {
		c := dial(t, hs)
		c.SendText(`40/random`)
		c.Expect(`44/random,{"message":"Invalid namespace"}`)
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
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
	c.SendText(`40/admin,{"token":"bad"}`)
	c.Expect(`44/admin,{"message":"not authorized","data":{"reason":"bad token"}}`)
	c.SendText(`40/admin,{"token":"plain"}`)
	c.Expect(`44/admin,{"message":"plain <error>"}`)
	c.Connect("/admin", `{"token":"good"}`)
	c.Expect(`42/admin,["never","sent"]`)
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
	c.Connect("/", "")

	t.Run("client event with ack id is answered once", func(t *testing.T) {
		c.SendText(`421["hello","x"]`)
		c.Expect(`431["world",42]`)
		if err := receive(t, acked); !errors.Is(err, ErrAckSent) {
			t.Errorf("second ack call: %v, want ErrAckSent", err)
		}
		c.SendText(`42["hello"]`)
		c.Expect(`42["no-ack",0]`) // nothing from the second ack call came first
	})

	t.Run("server acks count from 0 and unknown ids are ignored", func(t *testing.T) {
		c.SendText(`42["ask"]`)
		c.Expect(`420["server-asks","q"]`)
		c.Expect(`421["server-asks","q"]`)
		c.SendText(`4399["stray"]`)
		c.SendText(`431["second"]`)
		c.SendText(`430["first"]`)
		c.SendText(`431["duplicate"]`)
		if got := receive(t, answers); got != "second" {
			t.Errorf("first answer %q, want second", got)
		}
		if got := receive(t, answers); got != "first" {
			t.Errorf("second answer %q, want first", got)
		}
		c.SendText(`42["hello"]`)
		c.Expect(`42["no-ack",0]`)
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
	c.Connect("/", "")
	c.Expect(`42["auth",{}]`)

	t.Run("binary event is echoed with its attachments in order", func(t *testing.T) {
		c.SendText(`452-["message",` + ph(0) + `,` + ph(1) + `]`)
		c.SendBinary([]byte{1, 2, 3})
		c.SendBinary([]byte{4, 5, 6})
		c.Expect(`452-["message-back",` + ph(0) + `,` + ph(1) + `]`)
		c.ExpectBinary([]byte{1, 2, 3})
		c.ExpectBinary([]byte{4, 5, 6})
	})

	t.Run("binary event with ack gets a binary ack", func(t *testing.T) {
		c.SendText(`452-789["message-with-ack",` + ph(0) + `,` + ph(1) + `]`)
		c.SendBinary([]byte{1, 2, 3})
		c.SendBinary([]byte{4, 5, 6})
		c.Expect(`462-789[` + ph(0) + `,` + ph(1) + `]`)
		c.ExpectBinary([]byte{1, 2, 3})
		c.ExpectBinary([]byte{4, 5, 6})
	})

	t.Run("server binary event with a binary ack from the client", func(t *testing.T) {
		c.Connect("/bin", "")
		c.SendText(`42/bin,["go"]`)
		c.Expect(`451-/bin,0["file",{"data":` + ph(0) + `,"name":"f"}]`)
		c.ExpectBinary([]byte{1, 2, 3})
		c.SendText(`461-/bin,0[` + ph(0) + `]`)
		c.SendBinary([]byte{9, 9})
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
			c.Connect("/", "")
			c.Expect(`42["auth",{}]`)
			for _, p := range tt.packets {
				if b, ok := strings.CutPrefix(p, "b:"); ok {
					c.SendBinary([]byte(b))
				} else {
					c.SendText("4" + p)
				}
			}
			c.WaitClosed()
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
			c.Connect("/", "")
			c.SendText(`42["message"]`)
			c.Expect(`42["handled"]`)
			c.SendText("4" + tt.packet)
			c.WaitClosed()
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
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		n := maxAttachmentPayloads
		c.SendText(fmt.Sprintf(`45%d-["message"%s]`, n, placeholders(n)))
		for i := range n {
			c.SendBinary(bin('a' + byte(i)))
		}
		c.Expect(fmt.Sprintf(`45%d-["message-back"%s]`, n, placeholders(n)))
		for i := range n {
			c.ExpectBinary(bin('a' + byte(i)))
		}
	})

	t.Run("an attachment beyond the bound closes the connection", func(t *testing.T) {
		disconnects := make(chan string, 2)
		_, hs, _ := startServer(t, cfg, echoSetup(disconnects))
		c := dial(t, hs)
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		n := maxAttachmentPayloads + 1
		c.SendText(fmt.Sprintf(`45%d-["message"%s]`, n, placeholders(n)))
		for i := range n {
			c.SendBinary(bin('a' + byte(i)))
		}
		c.WaitClosed()
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
		c.Connect("/", auth)
		if got := receive(t, auths); got != "connect "+auth {
			t.Errorf("OnConnect saw %.40q, want the auth object", got)
		}
	})

	t.Run("a larger one gets CONNECT_ERROR and the connection stays", func(t *testing.T) {
		c := dial(t, hs)
		c.SendText("40" + authOf(DefaultMaxAuth+1))
		c.Expect(`44{"message":"Auth too large"}`)
		c.SendText(`40/small,` + authOf(17))
		c.Expect(`44/small,{"message":"Auth too large"}`)
		c.Connect("/small", authOf(16))
		c.Connect("/", "")
		if got := receive(t, auths); got != "connect {}" {
			t.Errorf("OnConnect saw %q after the refusals, want the empty auth", got)
		}
	})

	t.Run("the auth object is dropped after OnConnect unless KeepAuth", func(t *testing.T) {
		c := dial(t, hs)
		c.Connect("/", `{"t":"x"}`)
		receive(t, auths)
		c.SendText(`42["auth?"]`)
		if got := receive(t, auths); got != "later " {
			t.Errorf("Auth after OnConnect: %q, want nothing", got)
		}
		c.Connect("/small", `{"t":"y"}`)
		c.SendText(`42/small,["auth?"]`)
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
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		c.SendText(`41`)
		if got := receive(t, disconnects); got != "/ client namespace disconnect" {
			t.Errorf("OnDisconnect: %q", got)
		}
		c.Connect("/", "") // nothing was sent in between
		c.Expect(`42["auth",{}]`)
	})

	t.Run("a DISCONNECT right before the transport closes still leaves on purpose", func(t *testing.T) {
		disconnects := make(chan string, 4)
		held := make(chan struct{})
		_, hs, _ := startServer(t, Config{}, func(srv *Server) {
			for _, name := range []string{"/", "/custom"} {
				srv.Of(name).OnConnect(func(s *Socket) error {
					s.OnDisconnect(func(reason DisconnectReason) { disconnects <- s.Namespace() + " " + string(reason) })
					// Holds the worker until the session has ended, so that
					// the DISCONNECTs are still waiting when the close comes.
					s.On("hold", func(Args, AckFunc) {
						close(held)
						<-s.conn.sess.Done()
					})
					return nil
				})
			}
		})
		c := dial(t, hs)
		c.Connect("/", "")
		c.Connect("/custom", "")
		c.SendText(`42["hold"]`)
		receive(t, held)
		c.SendText(`41/custom,`)
		c.SendText(`41`)
		c.Close()
		for _, want := range []string{"/custom client namespace disconnect", "/ client namespace disconnect"} {
			if got := receive(t, disconnects); got != want {
				t.Errorf("OnDisconnect: %q, want %q", got, want)
			}
		}
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
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		c.Connect("/admin", "")
		s := receive(t, sockets)
		s.Disconnect(false)
		c.Expect(`41/admin,`)
		if got := receive(t, disconnects); got != "/admin server namespace disconnect" {
			t.Errorf("OnDisconnect: %q", got)
		}
		if err := s.Emit("late"); !errors.Is(err, ErrClosed) {
			t.Errorf("Emit after Disconnect: %v, want ErrClosed", err)
		}
		c.SendText(`42["message","still here"]`)
		c.Expect(`42["message-back","still here"]`)
	})

	t.Run("server Disconnect with closeConn tells every namespace, then closes", func(t *testing.T) {
		hs, sockets, disconnects := withAdmin(t)
		c := dial(t, hs)
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		c.Connect("/admin", "")
		s := receive(t, sockets)
		s.Disconnect(true)
		got := []string{c.NextText(), c.NextText()}
		if !(got[0] == "41" && got[1] == "41/admin,") && !(got[1] == "41" && got[0] == "41/admin,") {
			t.Errorf("got %q, want 41 and 41/admin,", got)
		}
		c.WaitClosed()
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
		c.WaitClosed()
	})

	t.Run("a connection that joined stays open", func(t *testing.T) {
		c := dial(t, hs)
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		// A connection opened after c that joins nothing is closed once its
		// timeout has passed, and so c's, which began earlier, has too.
		later := dial(t, hs)
		later.WaitClosed()
		c.SendText(`42["message","ping"]`)
		c.Expect(`42["message-back","ping"]`)
		if !c.IsOpen() {
			t.Error("the joined connection was closed")
		}
	})

	t.Run("a connection that joined and left before the timeout is closed at it", func(t *testing.T) {
		c := dial(t, hs)
		c.Connect("/", "")
		c.Expect(`42["auth",{}]`)
		c.SendText("41")
		c.WaitClosed()
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
	victim.Connect("/", "")
	bystander.Connect("/", "")
	victim.SendText(`42["boom"]`)
	victim.SendText(`42["message","after"]`) // never handled
	victim.WaitClosed()
	if got := receive(t, disconnects); got != "handler panic" {
		t.Errorf("OnDisconnect: %q", got)
	}
	if got := lg.Matching("handler panic", "handler", "event", "name", "boom", "panic", "kaboom"); len(got) != 1 || got[0].Attrs["stack"] == "" {
		t.Errorf("the panic was not logged with its stack:\n%s", lg)
	}
	bystander.SendText(`42["message","fine"]`)
	bystander.Expect(`42["message-back","fine"]`)
}

func TestHandlersRunInPacketOrder(t *testing.T) {
	_, hs, _ := startServer(t, Config{}, echoSetup(nil))
	c := dial(t, hs)
	c.Connect("/", "")
	c.Expect(`42["auth",{}]`)
	const n = 200
	for i := range n {
		c.SendText(fmt.Sprintf(`42["message",%d]`, i))
	}
	for i := range n {
		c.Expect(fmt.Sprintf(`42["message-back",%d]`, i))
	}
}

// TestHandlersRunInPacketOrderPastAFullQueue holds the first handler
// until more packets have arrived than the connection queues: the rest
// wait (the engine's reading stops) and then run, every one, in order.
func TestHandlersRunInPacketOrderPastAFullQueue(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	sockets := make(chan *Socket, 1)
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error {
			sockets <- s
			first := true
			s.On("message", func(args Args, _ AckFunc) {
				if first {
					first = false
					close(started)
					<-release
				}
				_ = s.Emit("message-back", args)
			})
			return nil
		})
	})
	c := dial(t, hs)
	c.Connect("/", "")
	n := 3 * maxQueuedPackets
	c.SendText(`42["message",0]`)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first handler did not start within 10 s")
	}
	for i := 1; i < n; i++ {
		c.SendText(fmt.Sprintf(`42["message",%d]`, i))
	}
	// Release the first handler only once the queue is full and the
	// engine waits for room in it.
	conn := receive(t, sockets).conn
	for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
		conn.mu.Lock()
		full := len(conn.pending) == maxQueuedPackets && conn.room != nil
		conn.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queue did not fill within 10 s")
		}
	}
	close(release)
	for i := range n {
		c.Expect(fmt.Sprintf(`42["message-back",%d]`, i))
	}
}

func TestPrepareSend(t *testing.T) {
	sockets := make(chan *Socket, 8)
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
		srv.Of("/other").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	})
	var clients []*siotest.Client
	var socks []*Socket
	for range 3 {
		c := dial(t, hs)
		c.Connect("/", "")
		clients = append(clients, c)
		socks = append(socks, receive(t, sockets))
	}

	p, err := Prepare("/", "messages", "ann: hi", map[string]any{"id": 1, "text": "<hi>"}, []byte{7})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if err := s.Send(p); err != nil {
			t.Fatalf("Send to %s: %v", s.ID(), err)
		}
	}
	for _, c := range clients {
		c.Expect(`451-["messages","ann: hi",{"id":1,"text":"<hi>"},` + ph(0) + `]`)
		c.ExpectBinary([]byte{7})
	}

	t.Run("refuses a prepared event of another namespace", func(t *testing.T) {
		other, err := Prepare("other", "x")
		if err != nil {
			t.Fatal(err)
		}
		if other.Namespace() != "/other" {
			t.Errorf("Namespace() = %q", other.Namespace())
		}
		if err := socks[0].Send(other); !errors.Is(err, ErrWrongNamespace) {
			t.Errorf("Send of a /other event to a / socket: %v, want ErrWrongNamespace", err)
		}
	})

	t.Run("reports a socket that is gone", func(t *testing.T) {
		clients[1].SendText(`41`)
		// A connection's packets are handled in order: once the CONNECT
		// sent after the DISCONNECT is answered, the socket is gone.
		clients[1].Connect("/", "")
		if again := receive(t, sockets); again == socks[1] {
			t.Fatal("the new CONNECT got the old socket")
		}
		if err := socks[1].Send(p); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after the client disconnected: %v, want ErrClosed", err)
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
	c.Connect("/", "")
	c.Expect(`42["early",0]`)
	c.Expect(`42["early",1]`)
	c.Expect(`42["early",2]`)
	c.Expect(`42["prepared"]`)
	c.Expect(`41`)
}

func TestPollingExchange(t *testing.T) {
	// Over polling, two CONNECTs in one POST are answered in one GET.
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnect(func(s *Socket) error { return nil })
		srv.Of("/admin").OnConnect(func(s *Socket) error { return s.Emit("welcome", "to admin") })
	})
	p := siotest.OpenPolling(t, hs.URL, siotest.Options{Timeout: waitTimeout})
	if code := p.Post("40\x1e40/admin,"); code != http.StatusOK {
		t.Fatalf("POST: %d", code)
	}
	var got []string
	for len(got) < 3 {
		got = append(got, p.Packets()...)
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], `40{"sid":"`) || !strings.HasPrefix(got[1], `40/admin,{"sid":"`) ||
		got[2] != `42/admin,["welcome","to admin"]` {
		t.Errorf("replies %q", got)
	}
}

func TestCloseEndsEverySocketAndGoroutine(t *testing.T) {
	leaktest.Check(t)
	disconnects := make(chan string, 8)
	logger, _ := logtest.New(t)
	srv := NewServer(Config{Logger: logger, Engine: engineio.Config{PingInterval: time.Minute}})
	echoSetup(disconnects)(srv)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c1, c2 := dial(t, hs), dial(t, hs)
	c1.Connect("/", "")
	c2.Connect("/custom", "")
	srv.Close()
	srv.Close() // idempotent
	for range 2 {
		if got := receive(t, disconnects); !strings.HasSuffix(got, " server shutting down") {
			t.Errorf("OnDisconnect: %q", got)
		}
	}
	c1.Close()
	c2.Close()
	hs.Close()
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
		c.SendText(`40`)
		c.WaitClosed()
		if got := receive(t, disconnects); got != "handler panic" {
			t.Errorf("OnDisconnect: %q", got)
		}
		if got := lg.Matching("handler panic", "handler", "connect", "name", "/", "panic", "connect boom"); len(got) != 1 {
			t.Errorf("the panic was not logged:\n%s", lg)
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
		c.SendText(`40`)
		if err := receive(t, errs); !errors.Is(err, ErrQueueFull) {
			t.Errorf("Emit error %v, want ErrQueueFull", err)
		}
		c.WaitClosed()
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
		c.Connect("/", "")
		c.SendText(`42["go"]`)
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
	poll := siotest.OpenPolling(t, hs.URL, siotest.Options{Timeout: waitTimeout})
	if code := poll.Post("40"); code != http.StatusOK {
		t.Fatalf("CONNECT: %d", code)
	}
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

func TestMatchServesNamespacesThatComeAndGo(t *testing.T) {
	var mu sync.Mutex
	open := map[string]bool{"/games": true}
	isOpen := func(name string) bool {
		mu.Lock()
		defer mu.Unlock()
		return open[name]
	}
	var setups atomic.Int32 // the server's goroutines count, the test reads
	_, hs, _ := startServer(t, Config{}, func(srv *Server) {
		srv.Match(isOpen, func(n *Namespace) {
			setups.Add(1)
			n.OnConnect(func(s *Socket) error {
				if !isOpen(s.Namespace()) {
					return ErrInvalidNamespace
				}
				return s.Emit("hello", s.Namespace())
			})
		})
	})
	c := dial(t, hs)

	c.Connect("/games", "")
	c.Expect(`42/games,["hello","/games"]`)
	c.SendText(`40/nope,`)
	c.Expect(`44/nope,{"message":"Invalid namespace"}`)

	// Gone: refused exactly as a namespace that never was, although it
	// stays registered; the connection is not hurt.
	mu.Lock()
	open["/games"] = false
	open["/later"] = true
	mu.Unlock()
	other := dial(t, hs)
	other.SendText(`40/games,`)
	other.Expect(`44/games,{"message":"Invalid namespace"}`)
	other.Connect("/later", "")
	other.Expect(`42/later,["hello","/later"]`)
	if n := setups.Load(); n != 2 {
		t.Errorf("setup ran %d times for two namespaces", n)
	}
}
