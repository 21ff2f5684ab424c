// Package throttle keeps warnings about clients from flooding the log: the
// first warning of a kind about one client address is logged, the ones that
// follow within a window are counted and reported in one summary line per
// window, such as
//
//	chat: flood disconnects: 347 more from 192.0.2.7 in the last minute
//
// A client that makes the server warn in a loop therefore costs one line a
// minute, and nothing it did is hidden: every warning is either logged or
// counted in a summary.
package throttle

import (
	"container/list"
	"fmt"
	"sync"
	"time"
)

const (
	// DefaultWindow is how long warnings of one kind about one address are
	// counted instead of logged after the first: one summary line a minute
	// at most, about 1,440 lines a day for a client that never stops.
	DefaultWindow = time.Minute
	// DefaultMaxKeys bounds the addresses remembered at once (a few hundred
	// bytes each). Warnings about further addresses share the key
	// OtherAddresses until some expire, so a crowd of addresses is
	// throttled as one.
	DefaultMaxKeys = 1000
	// OtherAddresses is the address warnings are counted under while
	// DefaultMaxKeys addresses are remembered already.
	OtherAddresses = "other addresses"
)

// Log passes warnings on to a printf-style log function, at most one line
// per kind and address per window after the first (see the package doc).
// It is safe for concurrent use. Close reports what is still counted.
type Log struct {
	logf    func(format string, args ...any)
	window  time.Duration
	maxKeys int
	now     func() time.Time // time.Now; tests set another clock

	mu      sync.Mutex // guards the fields below
	keys    map[key]*list.Element
	order   list.List   // of *entry, by until: the window ending first in front
	pending int         // entries with held > 0
	timer   *time.Timer // fires when the front entry's window ends; nil when none is armed
	closed  bool
}

type key struct{ kind, addr string }

// entry is one kind and address whose window is open.
type entry struct {
	key   key
	until time.Time // the window ends
	held  int       // warnings counted, not logged, in the window
}

// New returns a Log that writes through logf, with DefaultWindow and
// DefaultMaxKeys.
func New(logf func(format string, args ...any)) *Log {
	return &Log{
		logf:    logf,
		window:  DefaultWindow,
		maxKeys: DefaultMaxKeys,
		now:     time.Now,
		keys:    make(map[key]*list.Element),
	}
}

// Warn logs format and args as one line, unless a warning of the same kind
// about addr was logged less than a window ago: then it is only counted,
// and the count is logged as "<kind>: N more from <addr> in the last
// minute" when the window ends. kind is a short phrase, the same for every
// warning of a kind ("chat: flood disconnects"). After Close it does
// nothing.
func (l *Log) Warn(kind, addr string, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	now := l.now()
	l.expireLocked(now)
	k := key{kind, addr}
	el, open := l.keys[k]
	if !open && len(l.keys) >= l.maxKeys {
		k = key{kind, OtherAddresses}
		el, open = l.keys[k]
	}
	if open {
		e := el.Value.(*entry)
		if e.held == 0 {
			l.pending++
		}
		e.held++
		l.armLocked(now)
		return
	}
	l.keys[k] = l.order.PushBack(&entry{key: k, until: now.Add(l.window)})
	l.logf(format, args...)
}

// Close logs the summaries of every window still open and stops the
// timer; later warnings are dropped. Idempotent.
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
	l.pending = 0
}

// expireLocked ends the windows that are over at now: one with warnings
// held logs its summary and opens a new window (so a client that goes on
// is summarised once per window), one without is forgotten. l.mu held.
func (l *Log) expireLocked(now time.Time) {
	for el := l.order.Front(); el != nil; el = l.order.Front() {
		e := el.Value.(*entry)
		if now.Before(e.until) {
			return
		}
		l.order.Remove(el)
		if e.held == 0 {
			delete(l.keys, e.key)
			continue
		}
		l.summaryLocked(e)
		l.pending--
		e.held, e.until = 0, now.Add(l.window)
		l.keys[e.key] = l.order.PushBack(e)
	}
}

func (l *Log) summaryLocked(e *entry) {
	l.logf("%s: %d more from %s in the last %s", e.key.kind, e.held, e.key.addr, describe(l.window))
}

// armLocked makes sure a timer will end the front window while summaries
// are pending, so a count is logged even if no warning follows. l.mu held.
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

// describe writes a window as the end of "in the last ...".
func describe(d time.Duration) string {
	switch d {
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	}
	return fmt.Sprint(d)
}
