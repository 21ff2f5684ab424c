package chat

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"chatserver/storage"
)

// countConn counts what it is sent and drops it, so a benchmark measures
// the room and not a transport.
type countConn struct{ n atomic.Int64 }

func (c *countConn) Send(*Event) bool { c.n.Add(1); return true }
func (c *countConn) Close()           {}

// BenchmarkBroadcast1000 measures one message from one sender delivered to
// 1000 joined connections (the writer's commit path with an in-memory
// store, the broadcast loop, the shared event).
func BenchmarkBroadcast1000(b *testing.B) {
	f := newFixture(b, Config{Rate: 1e9, Burst: 1 << 30, Logger: slog.New(slog.DiscardHandler)})
	conns := make([]*countConn, 1000)
	var sender *Client
	for i := range conns {
		conns[i] = &countConn{}
		c := f.connect(conns[i], Peer{})
		if _, err := c.Join(fmt.Sprintf("user%d", i), ""); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			sender = c
		}
	}
	text := strings.Repeat("x", 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sender.Say(text); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(conns)), "ns/delivery")
}

// BenchmarkJoinWithHistory measures a join into a room holding a full
// history and 100 present chatters: validation, presence, the replay of
// 10 messages and 101 add chatter events to the joiner, the announcement
// to the others.
func BenchmarkJoinWithHistory(b *testing.B) {
	f := newFixture(b, Config{Rate: 1e9, Burst: 1 << 30, Logger: slog.New(slog.DiscardHandler)})
	var sender *Client
	for i := 0; i < 100; i++ {
		c := f.connect(&countConn{}, Peer{})
		if _, err := c.Join(fmt.Sprintf("present%d", i), ""); err != nil {
			b.Fatal(err)
		}
		sender = c
	}
	for i := 0; i < storage.DefaultHistory; i++ {
		if _, err := sender.Say("history line"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := f.connect(&countConn{}, Peer{})
		if _, err := c.Join(fmt.Sprintf("joiner%d", i), ""); err != nil {
			b.Fatal(err)
		}
		c.Leave()
	}
}
