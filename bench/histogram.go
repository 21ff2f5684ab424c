package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: log-linear buckets in the style of HdrHistogram. Values
// below 2*histSub nanoseconds get one bucket each; above that, every power of
// two is split into histSub equal buckets, so a bucket is never wider than
// 1/histSub of its lower bound (relative error below 3.2% with the midpoint).
const (
	// histSubBits is log2 of the buckets per power of two: 32 buckets keep
	// the error of a reported percentile around 1.5%, which is far below the
	// noise of a shared machine, for 9 KB of counters.
	histSubBits = 5
	histSub     = 1 << histSubBits
	// histMaxBits bounds the values kept: 2^40 ns is about 18 minutes, longer
	// than any latency worth measuring; larger values land in the top bucket
	// (Max still reports them exactly).
	histMaxBits = 40
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// Histogram counts durations in fixed log-linear buckets: bounded memory,
// no allocation per recorded value, safe for concurrent use (every field is
// updated atomically, so any number of receiving goroutines record into one
// Histogram without a lock). The zero value is ready to use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; wraps only after 584 years of latency
	max    atomic.Int64
}

// bucketOf returns the bucket index of v nanoseconds (v >= 0).
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	if shift > histMaxBits-histSubBits-1 {
		return histBuckets - 1
	}
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// bucketRange returns the smallest and largest value that fall in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i)
	}
	shift := uint(i/histSub - 1)
	m := uint64(i%histSub + histSub)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one duration. Negative durations (a clock step) count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Snapshot copies the current counts into s (a value the caller owns and may
// reuse), so that percentiles can be read while recording goes on. The copy
// is not one atomic instant, which only matters to a value or two recorded
// during the copy.
func (h *Histogram) Snapshot(s *HistogramSnapshot) {
	for i := range h.counts {
		s.counts[i] = h.counts[i].Load()
	}
	s.total = h.total.Load()
	s.sum = h.sum.Load()
	s.max = h.max.Load()
}

// HistogramSnapshot is a point-in-time copy of a Histogram, owned by whoever
// made it. Its zero value is an empty histogram.
type HistogramSnapshot struct {
	counts [histBuckets]uint64
	total  uint64
	sum    uint64
	max    int64
}

// Count is the number of recorded values.
func (s *HistogramSnapshot) Count() uint64 { return s.total }

// Max is the largest recorded value, exact.
func (s *HistogramSnapshot) Max() time.Duration { return time.Duration(s.max) }

// Mean is the average recorded value, or 0 when nothing was recorded.
func (s *HistogramSnapshot) Mean() time.Duration {
	if s.total == 0 {
		return 0
	}
	return time.Duration(s.sum / s.total)
}

// Percentile returns the value below or at which fraction q (0..1) of the
// recorded values lie: the midpoint of the bucket holding that rank, never
// more than Max. It returns 0 when nothing was recorded.
func (s *HistogramSnapshot) Percentile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(q*float64(s.total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > s.total {
		rank = s.total
	}
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := time.Duration(lo + (hi-lo)/2)
			if v > time.Duration(s.max) {
				v = time.Duration(s.max)
			}
			return v
		}
	}
	return time.Duration(s.max)
}

// Sub sets s to the values recorded between earlier and later (both
// snapshots of the same Histogram, earlier taken first): the histogram of one
// interval. Max is the later snapshot's maximum only when it grew during the
// interval, otherwise the largest bucket bound seen in the interval.
func (s *HistogramSnapshot) Sub(later, earlier *HistogramSnapshot) {
	top := -1
	for i := range s.counts {
		s.counts[i] = later.counts[i] - earlier.counts[i]
		if s.counts[i] != 0 {
			top = i
		}
	}
	s.total = later.total - earlier.total
	s.sum = later.sum - earlier.sum
	switch {
	case top < 0:
		s.max = 0
	case later.max > earlier.max:
		s.max = later.max
	default:
		_, hi := bucketRange(top)
		s.max = int64(hi)
	}
}
