package engineio

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWebSocketMessagesBothWays(t *testing.T) {
	e := newEnv(t, Config{}, echoing)
	conn, _, r := e.openWebSocket(t)

	writeText(t, conn, "4hello")
	if got := r.nextMessage(t); got != (received{"hello", false}) {
		t.Errorf("delivered %+v", got)
	}
	readText(t, conn, "4hello")

	// Binary frames carry only the raw bytes, both ways.
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if got := r.nextMessage(t); got != (received{"\x01\x02\x03\x04", true}) {
		t.Errorf("delivered %+v", got)
	}
	if typ, data := readFrame(t, conn); typ != websocket.BinaryMessage || !bytes.Equal(data, []byte{1, 2, 3, 4}) {
		t.Errorf("echo frame (type %d) %v", typ, data)
	}
}

func TestWebSocketSendIsOrderedAcrossUnits(t *testing.T) {
	e := newEnv(t, Config{})
	conn, _, r := e.openWebSocket(t)
	const n = 200
	for i := range n {
		if !r.sess.Send(NewMessage([]byte("x"), false), NewMessage([]byte{byte(i)}, true)) {
			t.Fatalf("Send %d failed", i)
		}
	}
	for i := range n {
		readText(t, conn, "4x")
		if typ, data := readFrame(t, conn); typ != websocket.BinaryMessage || len(data) != 1 || data[0] != byte(i) {
			t.Fatalf("frame %d: (type %d) %v", i, typ, data)
		}
	}
}

func TestWebSocketSessionErrors(t *testing.T) {
	tests := []struct {
		name       string
		send       func(*websocket.Conn) error
		wantReason string
	}{
		{"invalid packet", textFrame("abc"), ReasonParseError},
		{"empty text frame", textFrame(""), ReasonParseError},
		{"ping from the client", textFrame("2"), ReasonParseError},
		{"close packet", textFrame("1"), ReasonTransportClose},
		{"close frame", func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		}, ReasonTransportClose},
		{"message over MaxPayload", textFrame("4" + strings.Repeat("x", 200)), ReasonTransportError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{MaxPayload: 100})
			conn, _, r := e.openWebSocket(t)
			if err := tt.send(conn); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, conn)
			if reason := r.waitClose(t); reason != tt.wantReason {
				t.Errorf("OnClose(%q), want %q", reason, tt.wantReason)
			}
			eventually(t, "Count() back to 0", func() bool { return e.srv.Count() == 0 })
		})
	}
}

func TestWebSocketMessageAtMaxPayloadIsAccepted(t *testing.T) {
	e := newEnv(t, Config{MaxPayload: 100})
	conn, _, r := e.openWebSocket(t)
	writeText(t, conn, "4"+strings.Repeat("x", 99))
	if got := r.nextMessage(t); len(got.data) != 99 {
		t.Errorf("delivered %d bytes", len(got.data))
	}
}

func TestWebSocketHeartbeat(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: timeout})
	conn, _, r := e.openWebSocket(t)
	for range 3 {
		readText(t, conn, "2")
		writeText(t, conn, "3")
	}
	// A client that stops answering is dropped.
	readText(t, conn, "2")
	waitClosed(t, conn)
	if reason := r.waitClose(t); reason != ReasonPingTimeout {
		t.Errorf("OnClose(%q), want %q", reason, ReasonPingTimeout)
	}
}

func TestWebSocketPingsFlowWhileDataFlows(t *testing.T) {
	const interval, timeout = 50 * time.Millisecond, 500 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: timeout}, echoing)
	conn, _, r := e.openWebSocket(t)
	pings := 0
	for pings < 3 {
		writeText(t, conn, "4data")
		r.nextMessage(t)
		for {
			_, data := readFrame(t, conn)
			if string(data) != "2" {
				break // the echo
			}
			pings++
			writeText(t, conn, "3")
		}
	}
}

func TestWebSocketSendQueueOverflow(t *testing.T) {
	e := newEnv(t, Config{SendQueue: 4})
	conn, _, r := e.openWebSocket(t)
	msgs := make([]*Message, 5)
	for i := range msgs {
		msgs[i] = NewMessage([]byte("m"), false)
	}
	if r.sess.Send(msgs...) {
		t.Fatal("Send of 5 packets into a queue of 4 succeeded")
	}
	waitClosed(t, conn)
	if reason := r.waitClose(t); reason != ReasonSendQueueFull {
		t.Errorf("OnClose(%q), want %q", reason, ReasonSendQueueFull)
	}
}

func TestWebSocketClientThatDoesNotReadIsDropped(t *testing.T) {
	e := newEnv(t, Config{SendQueue: 16, WriteTimeout: 200 * time.Millisecond})
	_, _, r := e.openWebSocket(t)
	// The client never reads: socket buffers fill, the writer blocks,
	// the queue fills, and Send (which never blocks) closes the session.
	big := NewMessage(bytes.Repeat([]byte("z"), 64<<10), false)
	deadline := time.Now().Add(waitTimeout)
	for r.sess.Send(big) {
		if time.Now().After(deadline) {
			t.Fatal("session still open although the client reads nothing")
		}
	}
	reason := r.waitClose(t)
	if reason != ReasonSendQueueFull && reason != ReasonTransportError {
		t.Errorf("OnClose(%q), want %q or %q", reason, ReasonSendQueueFull, ReasonTransportError)
	}
}

func TestWebSocketSessionCloseFlushesThenCloses(t *testing.T) {
	e := newEnv(t, Config{})
	conn, _, r := e.openWebSocket(t)
	r.sess.Send(NewMessage([]byte("41"), false))
	r.sess.Close(ReasonForcedClose)
	readText(t, conn, "441")
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("after the queue: %v, want a normal close frame", err)
	}
	if reason := r.waitClose(t); reason != ReasonForcedClose {
		t.Errorf("OnClose(%q)", reason)
	}
}

func TestWebSocketCloseFromHandler(t *testing.T) {
	e := newEnv(t, Config{})
	conn, _, r := e.openWebSocket(t)
	// Close from inside OnMessage must not deadlock.
	closer := &closingHandler{recorder: r}
	r.sess.dispatchMu.Lock()
	r.sess.handler = closer
	r.sess.dispatchMu.Unlock()
	writeText(t, conn, "4bye")
	waitClosed(t, conn)
	if reason := r.waitClose(t); reason != "handler said so" {
		t.Errorf("OnClose(%q)", reason)
	}
}

// closingHandler closes its session on the first message.
type closingHandler struct{ *recorder }

func (h *closingHandler) OnMessage(data []byte, binary bool) {
	h.sess.Close("handler said so")
	h.recorder.OnMessage(data, binary)
}

// textFrame returns a sender of one text frame.
func textFrame(s string) func(*websocket.Conn) error {
	return func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, []byte(s)) }
}
