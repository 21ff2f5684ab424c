// Package logtest records what code under test logs through log/slog, for
// tests to look at and to wait on.
package logtest

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds Wait: a line the code logs at once arrives within
// milliseconds; seconds mean it never will.
const Timeout = 10 * time.Second

// Record is one logged line.
type Record struct {
	Level slog.Level
	Msg   string
	// Attrs holds every attribute by key, the keys of a group's members
	// prefixed with the group's name and a dot ("conn.sid"), and each
	// value as slog's text handler writes it, unquoted.
	Attrs map[string]string
	keys  []string // Attrs' keys in the order logged
}

// String writes the record as one line: level, message and attributes.
func (r Record) String() string {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteString(" ")
	b.WriteString(r.Msg)
	for _, k := range r.keys {
		b.WriteString(" " + k + "=" + r.Attrs[k])
	}
	return b.String()
}

// has reports whether the record carries every key and value of kv, a
// list of pairs.
func (r Record) has(kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if v, ok := r.Attrs[kv[i]]; !ok || v != kv[i+1] {
			return false
		}
	}
	return true
}

// Recorder holds the records of a logger made by New. It is safe for
// concurrent use.
type Recorder struct {
	t testing.TB

	mu      sync.Mutex // guards the fields below
	records []Record
	changed chan struct{} // closed (and replaced) when a record arrives
	ended   bool          // the test is over: records are not echoed
}

// New returns a logger that records every line, debug level included,
// and echoes each to the test's log while the test runs, and the
// recorder that holds them.
func New(t testing.TB) (*slog.Logger, *Recorder) {
	r := &Recorder{t: t, changed: make(chan struct{})}
	t.Cleanup(func() {
		r.mu.Lock()
		r.ended = true
		r.mu.Unlock()
	})
	return slog.New(&handler{rec: r}), r
}

func (r *Recorder) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	close(r.changed)
	r.changed = make(chan struct{})
	if !r.ended {
		r.t.Log(rec.String())
	}
}

// Records returns every record so far, oldest first.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.records)
}

// Matching returns the records with message msg and, of kv (pairs of
// key and value), every attribute, oldest first.
func (r *Recorder) Matching(msg string, kv ...string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.records {
		if rec.Msg == msg && rec.has(kv) {
			out = append(out, rec)
		}
	}
	return out
}

// Wait returns the first record that Matching(msg, kv...) would return,
// waiting up to Timeout for it; the test fails if none comes.
func (r *Recorder) Wait(t testing.TB, msg string, kv ...string) Record {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if got := r.Matching(msg, kv...); len(got) > 0 {
			return got[0]
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("nothing logged %q with %q within %s; logged:\n%s", msg, kv, Timeout, r)
			return Record{}
		}
	}
}

// String writes every record, one a line.
func (r *Recorder) String() string {
	var b strings.Builder
	for _, rec := range r.Records() {
		b.WriteString(rec.String())
		b.WriteString("\n")
	}
	return b.String()
}

// handler is the slog.Handler of New's logger.
type handler struct {
	rec    *Recorder
	attrs  []slog.Attr // from WithAttrs, keys already qualified
	prefix string      // the open groups' names, each followed by "."
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Msg: r.Message, Attrs: make(map[string]string)}
	for _, a := range h.attrs {
		rec.add("", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.add(h.prefix, a)
		return true
	})
	h.rec.add(rec)
	return nil
}

// add enters a, its key prefixed with prefix, flattening groups.
func (r *Record) add(prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, m := range v.Group() {
			r.add(prefix, m)
		}
		return
	}
	if a.Equal(slog.Attr{}) {
		return
	}
	key := prefix + a.Key
	if _, seen := r.Attrs[key]; !seen {
		r.keys = append(r.keys, key)
	}
	r.Attrs[key] = v.String()
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		if h.prefix != "" {
			a = slog.Attr{Key: h.prefix + a.Key, Value: a.Value}
		}
		h2.attrs = append(h2.attrs, a)
	}
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}
