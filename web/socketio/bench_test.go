package socketio

import (
	"log/slog"
	"math"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/internal/siotest"
	"chatserver/web/socketio/engineio"
)

// chatMessage is the object the chat server sends with each message.
type chatMessage struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	Text string `json:"text"`
	Time string `json:"time"`
}

func BenchmarkDecodeChatPacket(b *testing.B) {
	text := []byte(`42["messages","hello there, how is everyone doing today?"]`)[1:]
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		var d decoder
		p, err := d.feed(text, false)
		if err != nil || p == nil {
			b.Fatal(err)
		}
		if s, _ := (Args{raw: p.args[1:]}).String(0); s == "" {
			b.Fatal("no text")
		}
	}
}

func BenchmarkPrepareChatEvent(b *testing.B) {
	msg := chatMessage{ID: 12345, Name: "ann", Text: "hello there, how is everyone doing today?", Time: "2026-01-02T03:04:05Z"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Prepare("/", "messages", "ann: "+msg.Text, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareSend1000 broadcasts one chat message to 1000 WebSocket
// clients per iteration: Prepare once, Send to each socket. The timer is
// stopped while the clients catch up, so the figure is the cost of the
// broadcast call itself (the writes happen on the sessions' goroutines).
func BenchmarkPrepareSend1000(b *testing.B) {
	const (
		clients = 1000
		// batch stays under the Engine.IO send queue (1024) so that no
		// client is dropped while the timer runs.
		batch = 256
	)
	sockets := make(chan *Socket, clients)
	srv := NewServer(Config{Logger: slog.New(slog.DiscardHandler), Engine: engineio.Config{PingInterval: time.Hour}})
	srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	// The clients count what they receive; once a waiting count is
	// reached, caughtUp is signalled.
	var received, waitingFor atomic.Int64
	waitingFor.Store(math.MaxInt64)
	caughtUp := make(chan struct{}, 1)
	count := func(siotest.Frame) {
		if received.Add(1) >= waitingFor.Load() {
			select {
			case caughtUp <- struct{}{}:
			default:
			}
		}
	}
	var socks []*Socket
	for range clients {
		c := siotest.Dial(b, hs.URL, siotest.Options{})
		c.Connect("/", "")
		c.Drain(count)
		socks = append(socks, <-sockets)
	}

	msg := chatMessage{ID: 12345, Name: "ann", Text: "hello there, how is everyone doing today?", Time: "2026-01-02T03:04:05Z"}
	var sent int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p, err := Prepare("/", "messages", "ann: "+msg.Text, msg)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range socks {
			if err := s.Send(p); err != nil {
				b.Fatalf("a socket was dropped: %v", err)
			}
		}
		sent += clients
		if i%batch == batch-1 {
			b.StopTimer()
			waitingFor.Store(sent)
			for received.Load() < sent {
				select {
				case <-caughtUp:
				case <-time.After(siotest.DefaultTimeout):
					b.Fatalf("the clients received %d packets of %d", received.Load(), sent)
				}
			}
			waitingFor.Store(math.MaxInt64)
			b.StartTimer()
		}
	}
}
