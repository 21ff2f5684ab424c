package siotest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/internal/leaktest"
	"chatserver/internal/logtest"
	"chatserver/internal/siotest"
	"chatserver/web/socketio"

	"github.com/gorilla/websocket"
)

// echoServer is a real Socket.IO server: "/" echoes "echo" events and
// answers "ask" through the ack, and "/admin" greets whoever joins.
func echoServer(t *testing.T) string {
	t.Helper()
	logger, _ := logtest.New(t)
	srv := socketio.NewServer(socketio.Config{Logger: logger})
	srv.Of("/").OnConnect(func(s *socketio.Socket) error {
		s.On("echo", func(args socketio.Args, _ socketio.AckFunc) {
			v, _ := args.String(0)
			_ = s.Emit("echoed", v)
		})
		s.On("ask", func(args socketio.Args, ack socketio.AckFunc) {
			if ack != nil {
				v, _ := args.String(0)
				_ = ack(map[string]any{"answer": v})
			}
		})
		return nil
	})
	srv.Of("/admin").OnConnect(func(s *socketio.Socket) error { return s.Emit("welcome", "admin") })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return hs.URL
}

// scriptedServer accepts one WebSocket, sends an open packet and hands
// the connection to script, whose error fails the test.
func scriptedServer(t *testing.T, script func(*websocket.Conn) error) string {
	t.Helper()
	errs := make(chan error, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			errs <- err
			return
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(siotest.DefaultTimeout))
		err = ws.WriteMessage(websocket.TextMessage, []byte(`0{"sid":"scripted","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		if err == nil {
			err = script(ws)
		}
		errs <- err
	}))
	// Registered before the client's Close, this runs after it.
	t.Cleanup(func() {
		defer hs.Close()
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("scripted server: %v", err)
			}
		case <-time.After(siotest.DefaultTimeout):
			t.Error("the scripted server's script did not end")
		}
	})
	return hs.URL
}

// say writes text frames from a scripted server.
func say(ws *websocket.Conn, frames ...string) error {
	for _, f := range frames {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			return err
		}
	}
	return nil
}

// hear reads one text frame at a scripted server and checks it.
func hear(ws *websocket.Conn, want string) error {
	_, b, err := ws.ReadMessage()
	if err == nil && string(b) != want {
		err = errors.New("got " + string(b) + ", want " + want)
	}
	return err
}

func TestClientTalksToARealServer(t *testing.T) {
	leaktest.Check(t) // the reader ends with the connection
	base := echoServer(t)
	c := siotest.Dial(t, base, siotest.Options{})
	if got := c.Open(); got.SID == "" || !strings.HasPrefix(got.Packet, `0{"sid":"`+got.SID) {
		t.Errorf("open packet %+v", got)
	}

	id := c.Connect("/", "")
	if id == "" || id == c.Open().SID {
		t.Errorf("socket id %q, want one of its own", id)
	}
	c.Connect("/admin", `{"token":"x"}`)
	c.Expect(`42/admin,["welcome","admin"]`)

	c.Emit("echo", "one")
	if ev := c.WaitEvent("the echo", func(ev siotest.Event) bool { return ev.Name == "echoed" }); ev.Args.String(0) != "one" || ev.Namespace != "/" {
		t.Errorf("event %+v", ev)
	}
	if got := c.Call("ask", "why").Object(0); got["answer"] != "why" {
		t.Errorf("ack %v", got)
	}
	// A raw packet with an ack id the client did not pick: its ack stays a
	// frame to read.
	c.SendText(`42/admin,7["unknown"]`)
	c.SendText(`427["ask","raw"]`)
	c.Expect(`437[{"answer":"raw"}]`)

	if n := len(c.Events("echoed")); n != 1 {
		t.Errorf("%d echoed events, want 1", n)
	}
	c.SendText("4hello") // not a Socket.IO packet: the server closes
	if err := c.WaitClosed(); err == nil {
		t.Error("WaitClosed returned no reason")
	}
	if c.IsOpen() {
		t.Error("IsOpen after the server closed")
	}
	if _, err := c.Request("ask", "late"); !errors.Is(err, siotest.ErrClosed) {
		t.Errorf("Request on a closed connection: %v, want ErrClosed", err)
	}

	foreign := siotest.Options{Header: http.Header{"Origin": {"http://evil.example"}}}
	if c, resp, err := siotest.DialWebSocket(t, base, foreign); c != nil || err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("dial from a foreign origin: %v, %v; want a 403 refusal", resp, err)
	}
}

func TestFramesAndEventsAreReadOnceInOrder(t *testing.T) {
	base := scriptedServer(t, func(ws *websocket.Conn) error {
		if err := say(ws, `42["a"]`, `42/x,["b",1]`, `42["c"]`); err != nil {
			return err
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
			return err
		}
		return hear(ws, "done")
	})
	c := siotest.Dial(t, base, siotest.Options{})
	ev := c.WaitEvent("c", func(ev siotest.Event) bool { return ev.Name == "c" })
	if ev.Received.IsZero() || ev.ID != -1 {
		t.Errorf("event %+v", ev)
	}
	if ev := c.WaitEvent("b", func(ev siotest.Event) bool { return ev.Name == "b" }); ev.Namespace != "/x" || string(ev.Args[0]) != "1" {
		t.Errorf("event %+v", ev)
	}
	c.Expect(`42["a"]`) // the one WaitEvent passed over
	c.ExpectBinary([]byte{1, 2})
	if !c.Seen(func(ev siotest.Event) bool { return ev.Name == "c" }) {
		t.Error("Seen misses an event already returned")
	}
	if _, err := c.NextFrame(10 * time.Millisecond); err == nil || errors.Is(err, siotest.ErrClosed) {
		t.Errorf("NextFrame with nothing left: %v, want a timeout", err)
	}
	c.SendText("done")
	if err := c.WaitClosed(); err == nil {
		t.Error("no reason for the end")
	}
}

func TestClientAnswersPingsUnseen(t *testing.T) {
	base := scriptedServer(t, func(ws *websocket.Conn) error {
		if err := say(ws, "2"); err != nil {
			return err
		}
		if err := hear(ws, "3"); err != nil {
			return err
		}
		return say(ws, `42["after the ping"]`)
	})
	c := siotest.Dial(t, base, siotest.Options{})
	c.Expect(`42["after the ping"]`)
}

func TestClientEndsOnAnUndecodableEvent(t *testing.T) {
	base := scriptedServer(t, func(ws *websocket.Conn) error {
		return say(ws, `42{"not":"an array"}`)
	})
	c := siotest.Dial(t, base, siotest.Options{})
	if err := c.WaitClosed(); err == nil || !strings.Contains(err.Error(), "undecodable event") {
		t.Errorf("ended with %v, want an undecodable event", err)
	}
}

func TestStopReadingLeavesFramesUnread(t *testing.T) {
	base := scriptedServer(t, func(ws *websocket.Conn) error {
		if err := say(ws, `42["first"]`); err != nil {
			return err
		}
		if err := hear(ws, "stopped"); err != nil {
			return err
		}
		return say(ws, `42["second"]`, `42["third"]`)
	})
	c := siotest.Dial(t, base, siotest.Options{})
	c.Expect(`42["first"]`)
	c.StopReading()
	c.SendText("stopped")
	// The reader takes at most one more frame and ends.
	if err := c.WaitClosed(); err == nil {
		t.Error("no reason for the end")
	}
	if n := len(c.Events("third")); n != 0 {
		t.Errorf("%d frames read after StopReading, want none past the second", n)
	}
}

func TestDrainHandsOverEveryFrame(t *testing.T) {
	const n = 50
	base := scriptedServer(t, func(ws *websocket.Conn) error {
		for range n {
			if err := say(ws, `42["x"]`); err != nil {
				return err
			}
		}
		return hear(ws, "bye")
	})
	c := siotest.Dial(t, base, siotest.Options{})
	c.Expect(`42["x"]`)
	var got atomic.Int64
	all := make(chan struct{})
	c.Drain(func(f siotest.Frame) {
		if got.Add(1) == n-1 {
			close(all)
		}
	})
	select {
	case <-all:
	case <-time.After(siotest.DefaultTimeout):
		t.Fatalf("Drain got %d frames, want %d", got.Load(), n-1)
	}
	c.SendText("bye")
}

func TestPolling(t *testing.T) {
	base := echoServer(t)
	p := siotest.OpenPolling(t, base, siotest.Options{})
	if p.Open().SID == "" || !strings.Contains(p.URL(), "sid="+p.Open().SID) {
		t.Errorf("session %+v at %s", p.Open(), p.URL())
	}
	if code := p.Post("40\x1e40/admin,"); code != http.StatusOK {
		t.Fatalf("POST: %d", code)
	}
	var got []string
	for len(got) < 3 {
		got = append(got, p.Packets()...)
	}
	if !strings.HasPrefix(got[0], `40{"sid":"`) || !strings.HasPrefix(got[1], `40/admin,{"sid":"`) || got[2] != `42/admin,["welcome","admin"]` {
		t.Errorf("packets %q", got)
	}
	if code := p.Post("1"); code != http.StatusOK {
		t.Fatalf("closing POST: %d", code)
	}
	if !p.Ended() {
		t.Error("the session did not end after the close packet")
	}

	// A refused handshake is reported, not failed.
	foreign := siotest.Options{Header: http.Header{"Origin": {"http://evil.example"}}}
	if p, code, body := siotest.PollingHandshake(t, base, foreign); p != nil || code != http.StatusForbidden {
		t.Errorf("handshake from a foreign origin: %d %q, want 403", code, body)
	}
}
