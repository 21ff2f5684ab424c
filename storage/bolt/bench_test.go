package bolt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

// benchHistory is the history kept while benchmarking: the serve default,
// so every append also trims, as in production.
const benchHistory = storage.DefaultHistory

// benchAppend measures durable appends of batch messages per AppendMessages
// call (one transaction, one fsync each) to one room, while other rooms
// with a full history each share the file, and reports messages per
// second. The file lives in a temporary directory on the disk the tests
// run on; on a file system where fsync is free (tmpfs) the batched and
// unbatched benchmarks converge.
func benchAppend(b *testing.B, batch, others int) {
	s := openStore(b, testPath(b), Options{History: benchHistory})
	text := strings.Repeat("lorem ipsum ", 10) // a typical short chat line
	full := make([]storage.Message, benchHistory)
	for i := range full {
		full[i] = storage.Message{Name: "bench", Text: text, Time: time.Now()}
	}
	for i := range others {
		room := fmt.Sprintf("other-%d", i)
		storetest.MustAddRoom(b, s, room)
		storetest.MustAppendTo(b, s, room, full)
	}
	storetest.MustAddRoom(b, s, "bench")
	ms := make([]storage.Message, batch)
	for i := range ms {
		ms[i] = storage.Message{Name: "bench", Text: text, Time: time.Now()}
	}
	calls := 0
	for b.Loop() {
		if _, err := s.AppendMessages(b.Context(), "bench", ms); err != nil {
			b.Fatal(err)
		}
		calls++
	}
	msgs := float64(calls * batch)
	b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
}

// BenchmarkAppendOnePerTx is the cost without group commit: one fsync per
// message.
func BenchmarkAppendOnePerTx(b *testing.B) { benchAppend(b, 1, 0) }

// BenchmarkAppendBatch64 is group commit: 64 messages share one transaction
// and one fsync. Compare its msgs/s with BenchmarkAppendOnePerTx.
func BenchmarkAppendBatch64(b *testing.B) { benchAppend(b, 64, 0) }

// BenchmarkAppendBatch64Among100Rooms is BenchmarkAppendBatch64 in a file
// of 100 other rooms: a room's append touches only its own buckets, so
// the two should be close.
func BenchmarkAppendBatch64Among100Rooms(b *testing.B) { benchAppend(b, 64, 100) }
