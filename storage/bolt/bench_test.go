package bolt

import (
	"strings"
	"testing"
	"time"

	"chatserver/storage"
)

// benchHistory is the history kept while benchmarking: the serve default,
// so every append also trims, as in production.
const benchHistory = storage.DefaultHistory

// benchAppend measures durable appends of batch messages per AppendMessages
// call (one transaction, one fsync each) and reports messages per second.
// The file lives in a temporary directory on the disk the tests run on;
// on a file system where fsync is free (tmpfs) the two benchmarks converge.
func benchAppend(b *testing.B, batch int) {
	s := openStore(b, testPath(b), Options{History: benchHistory})
	ms := make([]storage.Message, batch)
	text := strings.Repeat("lorem ipsum ", 10) // a typical short chat line
	for i := range ms {
		ms[i] = storage.Message{Name: "bench", Text: text, Time: time.Now()}
	}
	calls := 0
	for b.Loop() {
		if _, err := s.AppendMessages(ms); err != nil {
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
func BenchmarkAppendOnePerTx(b *testing.B) { benchAppend(b, 1) }

// BenchmarkAppendBatch64 is group commit: 64 messages share one transaction
// and one fsync. Compare its msgs/s with BenchmarkAppendOnePerTx.
func BenchmarkAppendBatch64(b *testing.B) { benchAppend(b, 64) }
