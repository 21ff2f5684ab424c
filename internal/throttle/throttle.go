// Package throttle keeps lines about clients from flooding the log: the
// first lines of a kind about one client address (one, for a warning) are
// logged, the ones that follow within a window are counted and reported in
// one summary line per window, such as
//
//	level=WARN msg="similar lines held back" line="disconnected a flooding client" key=192.0.2.7 count=347 window=1m0s
//
// A client that makes the server log in a loop therefore costs a bounded
// number of lines a minute, and nothing it did is hidden: every line is
// either logged or counted in a summary.
package throttle

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"
)

const (
	// DefaultWindow is how long lines of one kind about one address are
	// counted instead of logged once the window's burst is logged: one
	// summary line a minute at most, about 1,440 lines a day for a client
	// that never stops.
	DefaultWindow = time.Minute
	// DefaultMaxKeys bounds the keys remembered at once (a few hundred
	// bytes each). Lines about further addresses share the key
	// OtherAddresses until some expire, so a crowd of addresses is
	// throttled as one.
	DefaultMaxKeys = 1000
	// DefaultKindBudget bounds the lines of one kind logged per window
	// over all keys: a client with many addresses (an IPv6 network, a
	// botnet) gets no more lines than that, the rest counted under
	// OtherAddresses. With the summaries, one kind costs at most about
	// twice this many lines a window, whatever the number of addresses.
	DefaultKindBudget = 200
	// OtherAddresses is the key lines are counted under while
	// DefaultMaxKeys keys are remembered already, or once their kind has
	// used up DefaultKindBudget in the window.
	OtherAddresses = "other addresses"
	// SummaryMsg is the message of a summary line. Its attributes are
	// line (the message of the lines counted), key (the address they
	// are about), count and window.
	SummaryMsg = "similar lines held back"
)

// Log passes lines on to a logger, at most burst lines per kind and key
// per window, then one summary per window (see the package doc). It is
// safe for concurrent use. Close reports what is still counted.
type Log struct {
	logger  *slog.Logger
	level   slog.Level
	burst   int
	window  time.Duration
	maxKeys int
	budget  int              // DefaultKindBudget; tests set less
	now     func() time.Time // time.Now; tests set another clock

	mu      sync.Mutex // guards the fields below
	keys    map[id]*list.Element
	spent   map[string]*spending // lines logged per kind in its window
	order   list.List            // of *entry, by until: the window ending first in front
	pending int                  // entries with held > 0
	timer   *time.Timer          // fires when the front entry's window ends; nil when none is armed
	closed  bool
}

// id names a window: the kind of its lines (their message) and their key.
type id struct{ kind, key string }

// spending is what one kind of line has logged in its window.
type spending struct {
	until  time.Time
	logged int
}

// entry is one kind and key whose window is open.
type entry struct {
	id     id
	until  time.Time // the window ends
	logged int       // lines logged in the window
	held   int       // lines counted, not logged, in the window
}

// New returns a Log that writes to logger at level, burst lines (at least
// one) of a kind about a key per window, with DefaultWindow and
// DefaultMaxKeys.
func New(logger *slog.Logger, level slog.Level, burst int) *Log {
	return &Log{
		logger:  logger,
		level:   level,
		burst:   max(burst, 1),
		window:  DefaultWindow,
		maxKeys: DefaultMaxKeys,
		budget:  DefaultKindBudget,
		now:     time.Now,
		keys:    make(map[id]*list.Element),
		spent:   make(map[string]*spending),
	}
}

// Print logs msg with args (slog's alternating keys and values, or
// slog.Attr values) as one line, unless burst lines with msg about key
// were logged in the current window: then it is only counted, and the
// count is logged in a summary line (SummaryMsg) when the window ends. A
// window opens with the first line of its kind and key; after a summary
// the next one opens full, so a client that goes on is summarised once a
// window. msg is the same for every line of a kind ("disconnected a
// flooding client"): it is the kind. key is the client address the line
// is about. After Close, or when the logger leaves out the Log's level,
// it does nothing.
func (l *Log) Print(key, msg string, args ...any) {
	if !l.logger.Enabled(context.Background(), l.level) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	now := l.now()
	l.expireLocked(now)
	k := id{msg, key}
	el, open := l.keys[k]
	if !open && len(l.keys) >= l.maxKeys {
		k = id{msg, OtherAddresses}
		el, open = l.keys[k]
	}
	if !open {
		el = l.order.PushBack(&entry{id: k, until: now.Add(l.window)})
		l.keys[k] = el
	}
	e := el.Value.(*entry)
	if e.logged < l.burst {
		sp := l.spent[msg]
		if sp == nil || !now.Before(sp.until) {
			sp = &spending{until: now.Add(l.window)}
			l.spent[msg] = sp
		}
		if sp.logged < l.budget {
			sp.logged++
			e.logged++
			l.logger.Log(context.Background(), l.level, msg, args...)
			return
		}
		// The kind's budget is spent: count it with the crowd.
		if k.key != OtherAddresses {
			k = id{msg, OtherAddresses}
			if el, open = l.keys[k]; !open {
				el = l.order.PushBack(&entry{id: k, until: now.Add(l.window), logged: l.burst})
				l.keys[k] = el
			}
			e = el.Value.(*entry)
		}
	}
	if e.held == 0 {
		l.pending++
	}
	e.held++
	l.armLocked(now)
}

// Close logs the summaries of every window still open and stops the
// timer; later lines are dropped. Idempotent.
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	for el := l.order.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry); e.held > 0 {
			l.summaryLocked(e)
		}
	}
	l.order.Init()
	clear(l.keys)
	clear(l.spent)
	l.pending = 0
}

// expireLocked ends the windows that are over at now: one with lines held
// logs its summary and opens a new, full window (so a client that goes on
// is summarised once per window), one without is forgotten. l.mu held.
func (l *Log) expireLocked(now time.Time) {
	for el := l.order.Front(); el != nil; el = l.order.Front() {
		e := el.Value.(*entry)
		if now.Before(e.until) {
			return
		}
		l.order.Remove(el)
		if e.held == 0 {
			delete(l.keys, e.id)
			continue
		}
		l.summaryLocked(e)
		l.pending--
		e.held, e.logged, e.until = 0, l.burst, now.Add(l.window)
		l.keys[e.id] = l.order.PushBack(e)
	}
}

func (l *Log) summaryLocked(e *entry) {
	l.logger.Log(context.Background(), l.level, SummaryMsg,
		"line", e.id.kind, "key", e.id.key, "count", e.held, "window", l.window)
}

// armLocked makes sure a timer will end the front window while summaries
// are pending, so a count is logged even if no line follows. l.mu held.
func (l *Log) armLocked(now time.Time) {
	if l.pending == 0 || l.timer != nil {
		return
	}
	front := l.order.Front().Value.(*entry)
	l.timer = time.AfterFunc(max(front.until.Sub(now), 0), l.fire)
}

// fire is the timer's function: it ends the windows that are over and
// arms the timer again for the next pending summary.
func (l *Log) fire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if l.timer != nil {
		l.timer.Stop() // fire may be called early (tests); no second timer
		l.timer = nil
	}
	now := l.now()
	l.expireLocked(now)
	l.armLocked(now)
}
