package engineio

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHeldGETOutlivesHTTPServerWriteTimeout(t *testing.T) {
	checkNoLeaks(t)
	const interval = 300 * time.Millisecond
	srv := NewServer(Config{PingInterval: interval, PingTimeout: time.Second, Logger: testLogger(t)}, func(*Session) Handler { return nopHandler{} })
	ts := httptest.NewUnstartedServer(srv)
	// Shorter than the hold: the package must extend the deadline itself.
	ts.Config.WriteTimeout = interval / 3
	ts.Start()
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e := &env{srv: srv, ts: ts, client: ts.Client()}

	h := parseOpen(t, e.get(t, e.url("transport=polling")).body)
	if got := e.get(t, e.pollURL(h.SID)); got.status != http.StatusOK || got.body != "2" {
		t.Errorf("GET held past the server's WriteTimeout: %d %q, want the ping", got.status, got.body)
	}
}

// nopHandler ignores everything.
type nopHandler struct{}

func (nopHandler) OnMessage([]byte, bool) {}
func (nopHandler) OnClose(string)         {}

// BenchmarkBroadcastWebSocket sends one shared Message to many WebSocket
// sessions per iteration; the frame is encoded once per Message.
func BenchmarkBroadcastWebSocket(b *testing.B) {
	const clients = 50
	sessions := make(chan *Session, clients)
	srv := NewServer(Config{Logger: slog.New(slog.DiscardHandler)}, func(s *Session) Handler { sessions <- s; return nopHandler{} })
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/engine.io/?EIO=4&transport=websocket"
	conns := make([]*websocket.Conn, clients)
	targets := make([]*Session, clients)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, _, err := c.ReadMessage(); err != nil { // open packet
			b.Fatal(err)
		}
		conns[i] = c
		targets[i] = <-sessions
	}
	payload := []byte(`2["messages","alice: hello",{"id":1,"name":"alice","text":"hello"}]`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m := NewMessage(payload, false)
		for _, s := range targets {
			if !s.Send(m) {
				b.Fatal("Send failed")
			}
		}
		for _, c := range conns {
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFrameReader decodes a chat message frame as a client sends it
// (masked), the work the server does for every incoming message.
func BenchmarkFrameReader(b *testing.B) {
	frame := joinFrames(text(`42["messages","hello there, how is everyone doing today?"]`))
	buf := make([]byte, len(frame))
	var sink countingSink
	r := frameReader{maxPayload: DefaultMaxPayload}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, frame) // feed unmasks in place
		if err := r.feed(buf, &sink); err != nil {
			b.Fatal(err)
		}
	}
	if sink.n == 0 {
		b.Fatal("nothing decoded")
	}
}

type countingSink struct{ n int }

func (s *countingSink) onFrame(byte, []byte) error { s.n++; return nil }
