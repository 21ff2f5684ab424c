package bench

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// maxRelErr is the largest relative error a reported percentile may have:
// half a bucket, and a bucket is at most 1/histSub of its lower bound.
const maxRelErr = 1.0 / histSub

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	values := []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 123456789, 1<<40 - 1}
	for _, v := range values {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if hi > lo && float64(hi-lo) > float64(lo)/histSub+1 {
			t.Errorf("bucket %d = [%d, %d] wider than 1/%d of its bound", i, lo, hi, histSub)
		}
	}
	// Consecutive buckets tile the range without gap or overlap.
	for i := 1; i < histBuckets; i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestBucketOfClampsHugeValuesToTheLastBucket(t *testing.T) {
	for _, v := range []uint64{1 << 40, 1 << 50, 1<<63 - 1} {
		if got := bucketOf(v); got != histBuckets-1 {
			t.Errorf("bucketOf(%d) = %d, want %d", v, got, histBuckets-1)
		}
	}
}

func TestPercentilesMatchExactValuesWithinBucketError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"constant 5ms", func() time.Duration { return 5 * time.Millisecond }},
		{"uniform 0-100ms", func() time.Duration { return time.Duration(rng.Int64N(int64(100 * time.Millisecond))) }},
		{"exponential mean 2ms", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond)) }},
		{"bimodal 1ms and 900ms", func() time.Duration {
			if rng.IntN(100) < 95 {
				return time.Millisecond + time.Duration(rng.IntN(1000))
			}
			return 900*time.Millisecond + time.Duration(rng.IntN(1000))
		}},
		{"tiny values under 64ns", func() time.Duration { return time.Duration(rng.IntN(64)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			vals := make([]time.Duration, 20000)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			var s HistogramSnapshot
			h.Snapshot(&s)
			if s.Count() != uint64(len(vals)) {
				t.Fatalf("count %d, want %d", s.Count(), len(vals))
			}
			if s.Max() != vals[len(vals)-1] {
				t.Errorf("max %v, want exactly %v", s.Max(), vals[len(vals)-1])
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				want := vals[max(0, int(q*float64(len(vals))+0.5)-1)]
				got := s.Percentile(q)
				if diff := float64(got - want); diff > maxRelErr*float64(want)+1 || -diff > maxRelErr*float64(want)+1 {
					t.Errorf("p%v = %v, want %v within %.1f%%", q*100, got, want, 100*maxRelErr)
				}
			}
		})
	}
}

func TestEmptyHistogramReportsZero(t *testing.T) {
	var s HistogramSnapshot
	if s.Percentile(0.99) != 0 || s.Max() != 0 || s.Mean() != 0 || s.Count() != 0 {
		t.Errorf("empty snapshot: p99 %v max %v mean %v count %d", s.Percentile(0.99), s.Max(), s.Mean(), s.Count())
	}
}

func TestRecordCountsNegativeDurationsAsZero(t *testing.T) {
	var h Histogram
	h.Record(-time.Second)
	var s HistogramSnapshot
	h.Snapshot(&s)
	if s.Count() != 1 || s.Percentile(1) != 0 || s.Max() != 0 {
		t.Errorf("count %d p100 %v max %v, want 1, 0, 0", s.Count(), s.Percentile(1), s.Max())
	}
}

func TestSubGivesTheHistogramOfOneInterval(t *testing.T) {
	var h Histogram
	var before, after, diff HistogramSnapshot
	for range 1000 {
		h.Record(time.Millisecond)
	}
	h.Record(time.Second)
	h.Snapshot(&before)
	for range 100 {
		h.Record(50 * time.Millisecond)
	}
	h.Snapshot(&after)
	diff.Sub(&after, &before)
	if diff.Count() != 100 {
		t.Fatalf("interval count %d, want 100", diff.Count())
	}
	if p := diff.Percentile(0.99); p < 49*time.Millisecond || p > 51*time.Millisecond {
		t.Errorf("interval p99 %v, want about 50ms", p)
	}
	if m := diff.Max(); m < 50*time.Millisecond || m > 52*time.Millisecond {
		t.Errorf("interval max %v, want the interval's own top bucket, not the earlier 1s", m)
	}
	if mean := diff.Mean(); mean != 50*time.Millisecond {
		t.Errorf("interval mean %v, want 50ms", mean)
	}
}

func TestRecordIsSafeForConcurrentUse(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	var s HistogramSnapshot
	h.Snapshot(&s)
	if s.Count() != 8000 || s.Max() != 7999*time.Microsecond {
		t.Errorf("count %d max %v, want 8000 and 7.999ms", s.Count(), s.Max())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%5000) * time.Microsecond)
	}
}
