package socketio

import (
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/web/socketio/engineio"

	"github.com/gorilla/websocket"
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
	srv := NewServer(Config{Logf: b.Logf, Engine: engineio.Config{PingInterval: time.Hour}})
	srv.Of("/").OnConnect(func(s *Socket) error { sockets <- s; return nil })
	hs := httptest.NewServer(srv)
	var received atomic.Int64
	var wg sync.WaitGroup // the client readers
	// Cleanups run last-registered first: the clients' connections are
	// closed before this waits for their readers.
	b.Cleanup(func() {
		srv.Close()
		hs.Close()
		wg.Wait()
	})
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	var socks []*Socket
	for range clients {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ws.Close() })
		if _, _, err := ws.ReadMessage(); err != nil { // open
			b.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil { // CONNECT reply
			b.Fatal(err)
		}
		socks = append(socks, <-sockets)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
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
			if !s.Send(p) {
				b.Fatal("a socket was dropped")
			}
		}
		sent += clients
		if i%batch == batch-1 {
			b.StopTimer()
			for received.Load() < sent {
				time.Sleep(time.Millisecond)
			}
			b.StartTimer()
		}
	}
}
