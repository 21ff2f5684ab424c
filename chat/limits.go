package chat

import (
	"container/list"
	"time"
)

// The rate limits (docs/ARCHITECTURE.md, "Rate limits and floods"): a
// message draws one token from the bucket of its connection, of its
// nickname and of its client address; a join or rename draws from the join
// buckets of its connection and of its address. A request is refused
// unless every bucket has a token, and then it takes none.

const (
	// maxAddresses bounds the client addresses whose buckets are kept (a
	// few hundred bytes each). An address is forgotten once its buckets
	// have refilled; only more addresses than this active within one
	// refill time (a botnet) push the least recently used out early.
	maxAddresses = 10_000
	// maxLeftNicknames bounds the buckets kept for nicknames no longer
	// present, so that leaving and coming back does not refill them. A
	// nickname's bucket is forgotten once it has refilled.
	maxLeftNicknames = 10_000
	// maxIdle bounds how long an unused bucket is kept even if it has not
	// refilled yet: only a --rate so slow that refilling takes more than a
	// day gets there.
	maxIdle = 24 * time.Hour
)

// limit is a token bucket's shape: rate tokens a second, burst at most.
type limit struct {
	rate  float64
	burst float64
}

// full returns a bucket of the limit's shape, full at now.
func (l limit) full(now time.Time) bucket { return bucket{tokens: l.burst, last: now} }

// refillTime is how long an empty bucket takes to be full again, so how
// long an unused bucket must be kept before forgetting it loses nothing.
func (l limit) refillTime() time.Duration {
	secs := l.burst / l.rate
	if secs >= maxIdle.Seconds() {
		return maxIdle
	}
	return time.Duration(secs * float64(time.Second))
}

// scaled is the limit of factor connections together.
func (l limit) scaled(factor int) limit {
	return limit{rate: l.rate * float64(factor), burst: l.burst * float64(factor)}
}

// bucket is one token bucket; its limit is kept by its owner.
type bucket struct {
	tokens float64
	last   time.Time
}

// refill adds the tokens earned since the last refill.
func (b *bucket) refill(l limit, now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.tokens+elapsed*l.rate, l.burst)
	}
	b.last = now
}

// draw is one bucket a request draws from, with its limit. A nil bucket
// is a limit that does not apply (an exempt address).
type draw struct {
	b *bucket
	l limit
}

// takeAll takes one token from each bucket if every one has a token, and
// none otherwise.
func takeAll(now time.Time, draws ...draw) bool {
	for _, d := range draws {
		if d.b == nil {
			continue
		}
		d.b.refill(d.l, now)
		if d.b.tokens < 1 {
			return false
		}
	}
	for _, d := range draws {
		if d.b != nil {
			d.b.tokens--
		}
	}
	return true
}

// addrBuckets are the buckets one client address shares among its
// connections.
type addrBuckets struct {
	msgs, joins bucket
}

// recent is a bounded map of values by key, for limits that outlive a
// connection. An entry unused for idle is dropped (its buckets have
// refilled by then, so forgetting it loses nothing); beyond max entries
// the least recently used one is dropped. Not safe for concurrent use.
type recent[V any] struct {
	idle  time.Duration
	max   int
	index map[string]*list.Element
	order list.List // of *recentEntry[V], least recently used first
}

type recentEntry[V any] struct {
	key  string
	used time.Time
	val  V
}

func newRecent[V any](max int, idle time.Duration) *recent[V] {
	return &recent[V]{idle: idle, max: max, index: make(map[string]*list.Element)}
}

// get returns the value of key, made by fresh if there is none, and marks
// it used at now.
func (m *recent[V]) get(key string, now time.Time, fresh func() V) *V {
	m.expire(now)
	if el, ok := m.index[key]; ok {
		e := el.Value.(*recentEntry[V])
		e.used = now
		m.order.MoveToBack(el)
		return &e.val
	}
	e := m.add(key, fresh(), now)
	return &e.val
}

// take removes key's value and returns it, if there is one.
func (m *recent[V]) take(key string, now time.Time) (V, bool) {
	m.expire(now)
	el, ok := m.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	m.remove(el)
	return el.Value.(*recentEntry[V]).val, true
}

// put stores v as key's value, used at now.
func (m *recent[V]) put(key string, v V, now time.Time) {
	m.expire(now)
	if el, ok := m.index[key]; ok {
		m.remove(el)
	}
	m.add(key, v, now)
}

// len returns the number of entries kept.
func (m *recent[V]) len() int { return len(m.index) }

func (m *recent[V]) add(key string, v V, now time.Time) *recentEntry[V] {
	if len(m.index) >= m.max {
		m.remove(m.order.Front())
	}
	e := &recentEntry[V]{key: key, used: now, val: v}
	m.index[key] = m.order.PushBack(e)
	return e
}

func (m *recent[V]) remove(el *list.Element) {
	delete(m.index, el.Value.(*recentEntry[V]).key)
	m.order.Remove(el)
}

// expire drops the entries unused for idle. The order is that of use, so
// they are at the front.
func (m *recent[V]) expire(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		if now.Sub(el.Value.(*recentEntry[V]).used) < m.idle {
			return
		}
		m.remove(el)
	}
}
