package chat

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/storage"
)

// countConn counts what it is sent and drops it, so a benchmark measures
// the room and not a transport.
type countConn struct{ n atomic.Int64 }

func (c *countConn) Send(*Event) bool { c.n.Add(1); return true }
func (c *countConn) Close()           {}
func (c *countConn) ID() string       { return "count" }

// BenchmarkBroadcast1000 measures one message from one sender delivered to
// 1000 joined connections (the writer's commit path with an in-memory
// store, the broadcast loop, the shared event).
func BenchmarkBroadcast1000(b *testing.B) {
	benchBroadcast1000(b, Config{Rate: 1e9, Burst: 1 << 30, Logger: slog.New(slog.DiscardHandler)})
}

// benchBroadcast1000 is BenchmarkBroadcast1000 in a room configured by cfg.
func benchBroadcast1000(b *testing.B, cfg Config) {
	f := newFixture(b, cfg)
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

// BenchmarkBroadcast1000Recovery is BenchmarkBroadcast1000 with recovery
// on: each message also takes its place in the room's log and carries an
// offset. Compare the two side by side.
func BenchmarkBroadcast1000Recovery(b *testing.B) {
	benchBroadcast1000(b, Config{Rate: 1e9, Burst: 1 << 30, RecoveryWindow: time.Minute, Logger: slog.New(slog.DiscardHandler)})
}

// BenchmarkResume1000 measures a recovery that sends 1000 missed events
// (a full log) to the client that comes back.
func BenchmarkResume1000(b *testing.B) {
	f := newFixture(b, Config{Rate: 1e9, Burst: 1 << 30, RecoveryWindow: time.Hour, RecoveryEvents: 1000, PresenceGrace: time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	sender, _ := f.join(b, "sender")
	text := strings.Repeat("x", 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		away, conn := f.join(b, "away")
		pid, off := away.PID(), conn.lastOffset()
		away.Drop()
		for range 1000 {
			if _, err := sender.Say(text); err != nil {
				b.Fatal(err)
			}
		}
		back := &countConn{}
		b.StartTimer()
		c, rec, ok := f.room.Resume(back, f.hub.Connect(Peer{}, back.Close), pid, off)
		if !ok || rec.Missed != 1000 {
			b.Fatalf("Resume: %+v, %v", rec, ok)
		}
		b.StopTimer()
		c.Leave()
		b.StartTimer()
	}
}

// BenchmarkBroadcastRooms measures one message from one sender delivered
// to the 100 joined connections of its room, with and without other rooms
// beside it: a room's message must cost no more because other rooms exist.
// In the busy case each of the other rooms has a sender of its own saying
// messages in a loop for as long as the timer runs; "ns/delivery" is then
// still the measured room's, and "all-ns/delivery" is the elapsed time per
// delivery made in all the rooms together, which falls below the one room's
// figure as far as the rooms run in parallel on the machine's cores.
// gc-cpu-ns/msg is the garbage collector's CPU time per message of all the
// rooms: the other rooms' clients are live data every cycle marks.
func BenchmarkBroadcastRooms(b *testing.B) {
	for _, bc := range []struct {
		name  string
		rooms int
		busy  bool
	}{
		{"1room_100", 1, false},
		{"10rooms_100each", 10, false},
		{"10rooms_100each_busy", 10, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkRooms(b, bc.rooms, 100, bc.busy) })
	}
}

// benchmarkRooms is BenchmarkBroadcastRooms with rooms rooms of perRoom
// joined connections each; the measured sender is in the default room.
func benchmarkRooms(b *testing.B, rooms, perRoom int, busy bool) {
	f := newFixture(b, Config{Rate: 1e9, Burst: 1 << 30, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	senders := make([]*Client, rooms)
	for r := range rooms {
		room := f.room
		if r > 0 {
			room = f.addRoom(b, fmt.Sprintf("room%d", r), "")
		}
		for i := range perRoom {
			c := f.connectTo(room, &countConn{}, Peer{})
			if _, err := c.Join(fmt.Sprintf("r%d-user%d", r, i), ""); err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				senders[r] = c
			}
		}
	}
	text := strings.Repeat("x", 64)

	// The other rooms' senders, when busy: each says messages until stop
	// is closed and counts those that were delivered.
	var (
		others atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	if busy {
		for _, s := range senders[1:] {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.Say(text); err != nil {
						b.Error(err)
						return
					}
					others.Add(1)
				}
			})
		}
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// allocs/op counts every allocation of the process, the busy rooms'
	// too: all-allocs/msg divides them by the messages of all the rooms.
	sender := senders[0]
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	gcBefore := gcCPU()
	othersBefore := others.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sender.Say(text); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	msgs := float64(int64(b.N) + others.Load() - othersBefore)
	gcSpent := gcCPU() - gcBefore
	runtime.ReadMemStats(&after)
	elapsed := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(elapsed/float64(b.N*perRoom), "ns/delivery")
	b.ReportMetric(gcSpent*1e9/msgs, "gc-cpu-ns/msg")
	if busy {
		b.ReportMetric(elapsed/(msgs*float64(perRoom)), "all-ns/delivery")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/msgs, "all-allocs/msg")
	}
}

// gcCPU returns the CPU seconds the garbage collector has used so far.
func gcCPU() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}
