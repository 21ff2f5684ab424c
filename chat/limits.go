package chat

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// The rate limits (docs/ARCHITECTURE.md, "Rate limits and floods"): a
// message draws one token from the bucket of its connection, of its
// nickname and of its client address; a join or rename draws from the join
// buckets of its connection and of its address. A join is refused unless
// every bucket has a token, and then it takes none. A message that finds
// a bucket empty is paced instead (pace.go): it takes its tokens ahead,
// leaving the buckets in debt, and waits until they would have refilled;
// only past each bucket's debt bound is it refused. The buckets are a
// person's, not a room's: a connection in three rooms, a nickname held in
// two, an address with connections everywhere each have one allowance for
// all of them (the hub's limiter).

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

// limit is a token bucket's shape: rate tokens a second, burst at most,
// and debt tokens at most taken ahead by paced messages (0: none, a
// request without a token is refused).
type limit struct {
	rate  float64
	burst float64
	debt  float64
}

// full returns a bucket of the limit's shape, full at now.
func (l limit) full(now time.Time) bucket { return bucket{tokens: l.burst, last: now} }

// refillTime is how long a bucket at its deepest debt takes to be full
// again, so how long an unused bucket must be kept before forgetting it
// loses nothing.
func (l limit) refillTime() time.Duration {
	secs := (l.burst + l.debt) / l.rate
	if secs >= maxIdle.Seconds() {
		return maxIdle
	}
	return time.Duration(secs * float64(time.Second))
}

// scaled is the limit of factor connections together.
func (l limit) scaled(factor int) limit {
	f := float64(factor)
	return limit{rate: l.rate * f, burst: l.burst * f, debt: l.debt * f}
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

// reserveAll takes one token from each bucket, and reports how long the
// request must wait for them: 0 when every bucket had a token. With pace
// set, a bucket without a token lends one down to its limit's debt, and
// the wait is until the most indebted bucket would be back at zero;
// without, or past a debt, nothing is taken and ok is false.
func reserveAll(now time.Time, pace bool, draws ...draw) (wait time.Duration, ok bool) {
	var secs float64
	for _, d := range draws {
		if d.b == nil {
			continue
		}
		d.b.refill(d.l, now)
		if d.b.tokens >= 1 {
			continue
		}
		if !pace || d.b.tokens-1 < -d.l.debt {
			return 0, false
		}
		secs = max(secs, (1-d.b.tokens)/d.l.rate)
	}
	for _, d := range draws {
		if d.b != nil {
			d.b.tokens--
		}
	}
	// Rounded up: a paced request is never sent before its tokens are.
	return time.Duration(math.Ceil(secs * float64(time.Second))), true
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

// limiter holds the buckets that span rooms: of connections (in their
// Person), of nicknames and of client addresses, and every person's
// paced messages. It has its own lock, taken after a room's when both are
// held, never before.
type limiter struct {
	msg, join         limit // per connection (msg also per nickname)
	addrMsg, addrJoin limit // per client address
	backlog           int   // paced messages one person may have waiting; 0: no pacing

	mu    sync.Mutex             // guards the fields below and every Person's buckets and paced messages
	addrs *recent[addrBuckets]   // per-address buckets, by Peer.Key
	nicks map[string]*nickBucket // nicknames present in some room, by nick.Key
	left  *recent[bucket]        // message buckets of nicknames present nowhere, by nick.Key
}

// nickBucket is the message bucket of a nickname, shared by every room
// it is present in.
type nickBucket struct {
	refs int // presences holding it
	b    bucket
}

func newLimiter(cfg Config) *limiter {
	backlog := cfg.paceBacklog()
	msg := limit{rate: cfg.Rate, burst: float64(cfg.Burst), debt: float64(backlog)}
	join := limit{rate: cfg.JoinRate, burst: float64(cfg.JoinBurst)}
	l := &limiter{msg: msg, join: join, addrMsg: msg.scaled(cfg.AddressFactor), addrJoin: join.scaled(cfg.AddressFactor), backlog: backlog}
	l.addrs = newRecent[addrBuckets](maxAddresses, max(l.addrMsg.refillTime(), l.addrJoin.refillTime()))
	l.left = newRecent[bucket](maxLeftNicknames, msg.refillTime())
	l.nicks = make(map[string]*nickBucket)
	return l
}

// acquireNick returns the message bucket of the nickname key, for one
// more presence: the one its other rooms share, or the one it left with
// if that has not refilled yet, or a full one.
func (l *limiter) acquireNick(key string, now time.Time) *nickBucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	nb := l.nicks[key]
	if nb == nil {
		nb = &nickBucket{}
		if b, ok := l.left.take(key, now); ok {
			nb.b = b
		} else {
			nb.b = l.msg.full(now)
		}
		l.nicks[key] = nb
	}
	nb.refs++
	return nb
}

// releaseNick gives back one presence's hold on the nickname's bucket;
// the last one keeps it among those that left until it has refilled, for
// the nickname's return.
func (l *limiter) releaseNick(key string, nb *nickBucket, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if nb.refs--; nb.refs > 0 {
		return
	}
	if l.nicks[key] == nb {
		delete(l.nicks, key)
	}
	if nb.b.refill(l.msg, now); nb.b.tokens < l.msg.burst {
		l.left.put(key, nb.b, now)
	}
}

// takeJoin draws a join token from the person's connection and address,
// or from neither.
func (l *limiter) takeJoin(p *Person, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	var addr *bucket
	if a := l.addrLocked(p.peer, now); a != nil {
		addr = &a.joins
	}
	return takeAll(now, draw{&p.joins, l.join}, draw{addr, l.addrJoin})
}

// addrLocked returns the buckets of peer's address, or nil when it is
// exempt. l.mu held.
func (l *limiter) addrLocked(peer Peer, now time.Time) *addrBuckets {
	if peer.Key == "" {
		return nil
	}
	return l.addrs.get(peer.Key, now, func() addrBuckets {
		return addrBuckets{msgs: l.addrMsg.full(now), joins: l.addrJoin.full(now)}
	})
}
