package chat

import (
	"sync"
	"time"

	"chatserver/storage"
)

// Pacing (docs/ARCHITECTURE.md, "Rate limits and floods"): a message over
// the rate limits is not refused but paced, as IRC servers do. It takes
// its tokens ahead, leaving its buckets in debt, and waits in its
// person's backlog until they would have refilled; then it goes to its
// room's writer like any other. A person's messages leave in the order
// they were sent, over all its rooms: one sent while earlier ones wait
// waits behind them, tokens or not.
//
// Where the waiting happens: in the person's backlog, not in the
// transport's goroutine. Post returns at once with a *Paced, so the
// connection keeps reading: its joins, renames and leaves are never held
// behind a paced message, and its next messages are seen as they arrive,
// which is how a flood is told from a paste. One timer per person (not
// per message) wakes the person's release loop when the oldest message is
// due; the loop runs only while messages are due.
//
// Bounds: a person has at most Config.PaceBacklog messages waiting, and a
// bucket lends at most its share of that backlog (the connection's and the
// nickname's: the backlog; the address's: AddressFactor times it), so no
// message waits longer than backlog/Rate (at most Config.PaceDelay). Past
// any of them the message is refused with rate_limited, and those
// refusals count toward the flood limit as before. Each waiting message
// holds its text, at most MaxMessageLen characters.
//
// A paced message is dropped, unsent, when its connection leaves the room
// (a disconnect), is kicked, renames, or is disconnected for flooding, and
// when the room closes or is removed; its sender is answered at once, and
// the tokens it took stay taken.

// Timer is a timer started by Config.AfterFunc.
type Timer interface {
	// Stop keeps the timer from firing, and reports whether it did so:
	// false when it has fired (or been stopped) already.
	Stop() bool
}

// afterFunc is Config.AfterFunc's default.
func afterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Paced is a message waiting its turn under the rate limits (see
// Client.Post). It is answered once: with the message as stored, or with
// a refusal (*Error) when it was dropped or could not be stored.
type Paced struct {
	client   *Client
	presence *presence // the nickname it was sent under: gone or changed, it is dropped
	due      time.Time // when its tokens would have refilled
	pending  pending   // what the writer is given when it is due

	mu      sync.Mutex // guards the fields below
	settled bool
	res     result
	then    func(storage.Message, error)
	done    chan struct{} // closed once settled
}

// Then has f called once with the message's answer, the one Say would
// return: at once in this goroutine if it is in already, otherwise in the
// goroutine that settles the message (the person's release loop, or the
// Leave, kick or Close that drops it), with no lock of the chat package
// held. f must not block.
func (w *Paced) Then(f func(storage.Message, error)) {
	w.mu.Lock()
	if !w.settled {
		w.then = f
		w.mu.Unlock()
		return
	}
	res := w.res
	w.mu.Unlock()
	f(res.msg, res.err)
}

// wait blocks until the message is settled and returns its answer.
func (w *Paced) wait() (storage.Message, error) {
	<-w.done
	return w.res.msg, w.res.err
}

// settle answers the message, once; a refusal is counted as one
// (Config.Metrics).
func (w *Paced) settle(res result) {
	w.mu.Lock()
	if w.settled {
		w.mu.Unlock()
		return
	}
	w.settled, w.res = true, res
	f := w.then
	w.then = nil
	close(w.done)
	w.mu.Unlock()
	if res.err != nil {
		w.client.room.cfg.Metrics.MessageRefused(ErrorCode(res.err))
	}
	if f != nil {
		f(res.msg, res.err)
	}
}

// settleAll answers every message of ws with err.
func settleAll(ws []*Paced, err error) {
	for _, w := range ws {
		w.settle(result{err: err})
	}
}

// The refusals of dropped paced messages.
var (
	errLeftWhilePaced    = errorf(CodeUnavailable, "the connection left the room before your message's turn came; it was not sent")
	errRenamedWhilePaced = errorf(CodeUnavailable, "your nickname changed before your message's turn came; it was not sent")
)

// takeMessage decides a message from c, under the nickname pres, at now:
// sent at once (nil, true: its tokens are taken), paced (a *Paced now in
// the person's backlog: its tokens are taken ahead), or refused (nil,
// false: nothing is taken). The caller holds c's room's lock.
func (l *limiter) takeMessage(c *Client, pres *presence, text string, now time.Time) (*Paced, bool) {
	p := c.person
	l.mu.Lock()
	defer l.mu.Unlock()
	var addr *bucket
	if a := l.addrLocked(p.peer, now); a != nil {
		addr = &a.msgs
	}
	// Behind messages already waiting (or being released), a message
	// waits too, so that the person's messages keep their order.
	queued := len(p.waiting) > 0 || p.releasing
	full := len(p.waiting) >= l.backlog
	if queued && full {
		return nil, false
	}
	wait, ok := reserveAll(now, !full, draw{&p.msgs, l.msg}, draw{&pres.msgs.b, l.msg}, draw{addr, l.addrMsg})
	switch {
	case !ok:
		return nil, false
	case wait == 0 && !queued:
		return nil, true
	}
	due := now.Add(wait)
	if n := len(p.waiting); n > 0 && p.waiting[n-1].due.After(due) {
		due = p.waiting[n-1].due
	}
	w := &Paced{
		client:   c,
		presence: pres,
		due:      due,
		pending:  pending{msg: storage.Message{Name: pres.name, Text: text}, done: make(chan result, 1)},
		done:     make(chan struct{}),
	}
	p.waiting = append(p.waiting, w)
	if !p.releasing && p.timer == nil {
		p.armLocked(due.Sub(now))
	}
	return w, true
}

// armLocked starts the person's timer for its release loop. The hub's
// pacers count it until the loop has run, or until it is stopped.
// hub.lim.mu held, no timer armed, no loop running.
func (p *Person) armLocked(d time.Duration) {
	if p.releaseFn == nil {
		p.releaseFn = p.release
	}
	p.hub.pacers.Add(1)
	p.timer = p.hub.cfg.AfterFunc(d, p.releaseFn)
}

// release is the person's release loop, run by its timer: it hands the
// messages that are due, oldest first, to their rooms' writers, each once
// the one before is stored, and arms the timer again for the next one.
func (p *Person) release() {
	h := p.hub
	defer h.pacers.Done()
	l := h.lim
	l.mu.Lock()
	p.timer = nil
	p.releasing = true
	for len(p.waiting) > 0 {
		w := p.waiting[0]
		now := h.cfg.Now()
		if w.due.After(now) {
			p.armLocked(w.due.Sub(now))
			break
		}
		p.waiting[0] = nil
		p.waiting = p.waiting[1:]
		l.mu.Unlock()
		w.client.sendPaced(w)
		l.mu.Lock()
	}
	if len(p.waiting) == 0 {
		p.waiting = nil // an idle person keeps no backlog array
	}
	p.releasing = false
	l.mu.Unlock()
}

// dropLocked takes the waiting messages of c (of every room when c is
// nil) out of the person's backlog and appends them to out, to be
// settled once no lock is held; the timer is stopped when nothing is left
// waiting. hub.lim.mu held.
func (p *Person) dropLocked(c *Client, out []*Paced) []*Paced {
	if len(p.waiting) == 0 {
		return out
	}
	kept := p.waiting[:0]
	for _, w := range p.waiting {
		if c == nil || w.client == c {
			out = append(out, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(p.waiting[len(kept):])
	p.waiting = kept
	if len(kept) == 0 {
		p.waiting = nil
		// A timer that has fired already is left to its loop, which
		// finds nothing and clears it.
		if p.timer != nil && p.timer.Stop() {
			p.timer = nil
			p.hub.pacers.Done()
		}
	}
	return out
}

// drop is dropLocked taking the limiter's lock.
func (p *Person) drop(c *Client, out []*Paced) []*Paced {
	l := p.hub.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	return p.dropLocked(c, out)
}

// sendPaced hands a paced message that is due to the writer, unless its
// client has left the room, been kicked or renamed meanwhile, or the room
// has closed, and settles it with the answer.
func (c *Client) sendPaced(w *Paced) {
	r := c.room
	r.mu.Lock()
	var err error
	switch {
	case r.closed:
		err = r.closedError()
	case c.presence != w.presence:
		err = errLeftWhilePaced
	}
	r.mu.Unlock()
	if err != nil {
		w.settle(result{err: err})
		return
	}
	msg, err := r.write(&w.pending)
	w.settle(result{msg: msg, err: err})
}
