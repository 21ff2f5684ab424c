package redis

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"chatserver/internal/leaktest"
	"chatserver/storage"
	"chatserver/storage/storetest"
)

// receive reads the next batch of sub, failing the test when none comes
// within a deadline or the subscription ends.
func receive(tb testing.TB, sub storage.Subscription) storage.Batch {
	tb.Helper()
	select {
	case b, ok := <-sub.Batches():
		if !ok {
			tb.Fatalf("the subscription ended: %v", sub.Err())
		}
		return b
	case <-time.After(10 * time.Second):
		tb.Fatal("no batch within 10s")
	}
	return storage.Batch{}
}

// ended waits for sub to end and returns why, failing the test when it
// delivers a batch first or does not end within a deadline.
func ended(tb testing.TB, sub storage.Subscription) error {
	tb.Helper()
	select {
	case b, ok := <-sub.Batches():
		if ok {
			tb.Fatalf("a batch %+v, want the subscription to end", b)
		}
		return sub.Err()
	case <-time.After(10 * time.Second):
		tb.Fatal("the subscription did not end within 10s")
	}
	return nil
}

// mustSubscribe subscribes s, failing the test on error, and closes the
// subscription when the test ends.
func mustSubscribe(tb testing.TB, s *Store) storage.Subscription {
	tb.Helper()
	sub, err := s.Subscribe(tb.Context())
	if err != nil {
		tb.Fatalf("Subscribe: %v", err)
	}
	tb.Cleanup(sub.Close)
	return sub
}

// entryMessages returns the message of each entry.
func entryMessages(es []storage.Entry) []storage.Message {
	out := make([]storage.Message, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func TestAppendsArePublishedInOrder(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAddRoom(t, s, "games")
	sub := mustSubscribe(t, s)
	log, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	games, err := s.LogSince(t.Context(), "games", storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	epochs := map[string]string{storage.DefaultRoom: log.Epoch, "games": games.Epoch}
	if log.Epoch == games.Epoch {
		t.Errorf("two rooms share the epoch %s", log.Epoch)
	}

	steps := []struct {
		room  string
		texts []string
		seqs  []uint64
	}{
		{storage.DefaultRoom, []string{"a", "b"}, []uint64{1, 2}},
		{"games", []string{"x"}, []uint64{1}},
		{storage.DefaultRoom, []string{"c"}, []uint64{3}},
		{"games", []string{"y", "z", "w"}, []uint64{2, 3, 4}},
	}
	for _, st := range steps {
		stored := storetest.MustAppendTo(t, s, st.room, storetest.Msgs(st.texts...))
		b := receive(t, sub)
		if b.Room != st.room {
			t.Errorf("a batch of room %q, want %q", b.Room, st.room)
		}
		if got := entryMessages(b.Entries); !slices.Equal(got, stored) {
			t.Errorf("published %+v\nstored %+v", got, stored)
		}
		for i, e := range b.Entries {
			if e.Epoch != epochs[st.room] || e.Seq != st.seqs[i] {
				t.Errorf("entry %d of %s at %s-%d, want %s-%d", i, st.room, e.Epoch, e.Seq, epochs[st.room], st.seqs[i])
			}
		}
	}
}

func TestAppendIsAtomicAndOrderedUnderConcurrentAppenders(t *testing.T) {
	const (
		appenders = 3  // per store
		batches   = 20 // per appender
		maxBatch  = 4
	)
	srv := startServer(t)
	prefix := testPrefix()
	opts := Options{Prefix: prefix, History: 1000, LogSize: 1000}
	stores := []*Store{
		openStore(t, srv, Options{Prefix: prefix, History: 1000, LogSize: 1000, Node: "a"}),
		openStore(t, srv, Options{Prefix: prefix, History: 1000, LogSize: 1000, Node: "b"}),
	}
	opts.Node = "reader"
	reader := openStore(t, srv, opts)
	sub := mustSubscribe(t, reader)

	// Each appender sends batches of 1 to maxBatch messages, with times
	// that jump about as the clocks of several nodes would.
	var mu sync.Mutex
	var appended [][]storage.Message // each append's stored batch
	sent := map[string]bool{}
	var wg sync.WaitGroup
	for si, s := range stores {
		for a := range appenders {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(si), uint64(a)))
				for b := range batches {
					batch := make([]storage.Message, 1+r.IntN(maxBatch))
					for i := range batch {
						text := fmt.Sprintf("store %d appender %d batch %d message %d", si, a, b, i)
						batch[i] = storage.Message{Name: "ann", Text: text, Time: storetest.BaseTime.Add(time.Duration(r.IntN(1000)) * time.Millisecond)}
					}
					stored, err := s.AppendMessages(t.Context(), storage.DefaultRoom, batch)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					appended = append(appended, stored)
					for _, m := range batch {
						sent[m.Text] = true
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every batch got consecutive IDs: no other append came between its
	// messages. Together they are 1..total, each once.
	var all []storage.Message
	for _, b := range appended {
		for i := 1; i < len(b); i++ {
			if b[i].ID != b[i-1].ID+1 {
				t.Fatalf("a batch got IDs %v: not consecutive", storetest.IDs(b))
			}
		}
		all = append(all, b...)
	}
	slices.SortFunc(all, func(a, b storage.Message) int { return int(a.ID) - int(b.ID) })
	for i, m := range all {
		if m.ID != uint64(i+1) {
			t.Fatalf("IDs given out: %v…, want 1 to %d each once", storetest.IDs(all)[:i+1], len(all))
		}
		if !sent[m.Text] {
			t.Fatalf("message %d %q was never sent", m.ID, m.Text)
		}
		if i > 0 && m.Time.Before(all[i-1].Time) {
			t.Fatalf("message %d at %v, before message %d at %v", m.ID, m.Time, all[i-1].ID, all[i-1].Time)
		}
	}
	if len(all) != len(sent) {
		t.Fatalf("%d messages stored, %d sent", len(all), len(sent))
	}

	// The history and the log hold them all, in ID order; the log's
	// positions are 1..total.
	if got := storetest.MustRecentOf(t, reader, storage.DefaultRoom); !slices.Equal(got, all) {
		t.Errorf("the history differs from what the appends returned")
	}
	log, err := reader.LogSince(t.Context(), storage.DefaultRoom, storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if got := entryMessages(log.Entries); !slices.Equal(got, all) {
		t.Errorf("the log differs from what the appends returned")
	}
	for i, e := range log.Entries {
		if e.Seq != uint64(i+1) || e.Epoch != log.Epoch {
			t.Fatalf("entry %d at %s-%d, want %s-%d", i, e.Epoch, e.Seq, log.Epoch, i+1)
		}
	}
	if !log.Complete || log.Seq != uint64(len(all)) {
		t.Errorf("LogSince(start) = position %d, complete %v; want %d, true", log.Seq, log.Complete, len(all))
	}

	// The subscriber got one batch per append, in the order of the
	// positions, each batch whole.
	byFirst := map[uint64][]storage.Message{}
	for _, b := range appended {
		byFirst[b[0].ID] = b
	}
	var next uint64 = 1
	for next <= uint64(len(all)) {
		b := receive(t, sub)
		if b.Entries[0].Seq != next {
			t.Fatalf("a batch beginning at %d, want %d: out of order or lost", b.Entries[0].Seq, next)
		}
		if want := byFirst[b.Entries[0].Message.ID]; !slices.Equal(entryMessages(b.Entries), want) {
			t.Fatalf("published batch %v, want the append's %v", storetest.IDs(entryMessages(b.Entries)), storetest.IDs(want))
		}
		next += uint64(len(b.Entries))
	}
}

func TestTheLogIsBounded(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{LogSize: 5, History: 3})
	for _, batch := range [][]string{{"1", "2"}, {"3", "4", "5", "6"}, {"7"}, {"8", "9", "10", "11", "12"}} {
		storetest.MustAppend(t, s, storetest.Msgs(batch...))
		if n := do(t, srv, "XLEN", s.roomKey(storage.DefaultRoom)+":log").(int64); n > 5 {
			t.Fatalf("the log holds %d entries, want at most 5", n)
		}
	}
	head, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	epoch := head.Epoch
	tests := []struct {
		name     string
		from     storage.Position
		want     []string // the texts of the entries
		complete bool
	}{
		{"from the start, trimmed", storage.Position{Epoch: epoch}, []string{"8", "9", "10", "11", "12"}, false},
		{"from the zero position, trimmed", storage.Position{}, []string{"8", "9", "10", "11", "12"}, false},
		{"from the first entry's predecessor", storage.Position{Epoch: epoch, Seq: 7}, []string{"8", "9", "10", "11", "12"}, true},
		{"from within", storage.Position{Epoch: epoch, Seq: 10}, []string{"11", "12"}, true},
		{"from the newest", storage.Position{Epoch: epoch, Seq: 12}, nil, true},
		{"from past the newest", storage.Position{Epoch: epoch, Seq: 13}, nil, false},
		{"from before what is kept", storage.Position{Epoch: epoch, Seq: 3}, []string{"8", "9", "10", "11", "12"}, false},
		{"from another epoch", storage.Position{Epoch: "0123456789ab", Seq: 10}, []string{"8", "9", "10", "11", "12"}, false},
		{"from another epoch's start", storage.Position{Epoch: "0123456789ab"}, []string{"8", "9", "10", "11", "12"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := s.LogSince(t.Context(), storage.DefaultRoom, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			if got := storetest.Texts(entryMessages(l.Entries)); !slices.Equal(got, tt.want) {
				t.Errorf("entries %q, want %q", got, tt.want)
			}
			if l.Complete != tt.complete || l.Epoch != epoch || l.Seq != 12 {
				t.Errorf("LogSince(%+v) = epoch %s, position %d, complete %v; want %s, 12, %v", tt.from, l.Epoch, l.Seq, l.Complete, epoch, tt.complete)
			}
		})
	}
}

func TestALostSubscriptionCatchesUpFromTheLog(t *testing.T) {
	leaktest.Check(t)
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	sub := mustSubscribe(t, s)
	storetest.MustAppend(t, s, storetest.Msgs("a"))
	last := receive(t, sub).Entries[0]

	if n := srv.KillPubSub(); n != 1 {
		t.Fatalf("KillPubSub() = %d, want the one subscription", n)
	}
	if err := ended(t, sub); !errors.Is(err, ErrSubscriptionLost) {
		t.Errorf("the subscription ended with %v, want ErrSubscriptionLost", err)
	}
	// The store's own connection was not the one killed: appends go on.
	missed := storetest.MustAppend(t, s, storetest.Msgs("b", "c"))

	again := mustSubscribe(t, s)
	l, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{Epoch: last.Epoch, Seq: last.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Complete || !slices.Equal(entryMessages(l.Entries), missed) {
		t.Errorf("caught up with %+v (complete %v), want %+v", entryMessages(l.Entries), l.Complete, missed)
	}
	d := storetest.MustAppend(t, s, storetest.Msgs("d"))
	if b := receive(t, again); !slices.Equal(entryMessages(b.Entries), d) || b.Entries[0].Seq != l.Seq+1 {
		t.Errorf("the new subscription received %+v, want %+v at %d", b.Entries, d, l.Seq+1)
	}
}

func TestARestartOfRedisEndsTheSubscription(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	sub := mustSubscribe(t, s)
	storetest.MustAppend(t, s, storetest.Msgs("a"))
	last := receive(t, sub).Entries[0]

	srv.Restart()
	if err := ended(t, sub); !errors.Is(err, ErrSubscriptionLost) {
		t.Errorf("the subscription ended with %v, want ErrSubscriptionLost", err)
	}
	// Redis lost everything: the default room starts a new log, which a
	// node that catches up is told is not the one it knew.
	waitFor(t, "the store to reach the restarted server", func() bool {
		_, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("b"))
		return err == nil
	})
	l, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{Epoch: last.Epoch, Seq: last.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if l.Complete || l.Epoch == last.Epoch || storetest.Texts(entryMessages(l.Entries))[0] != "b" {
		t.Errorf("LogSince across the restart = %+v, want a new epoch, incomplete, from b", l)
	}
}

func TestASlowReaderEndsItsSubscription(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{History: 1, LogSize: 1})
	sub := mustSubscribe(t, s)
	for range SubscriptionBuffer {
		storetest.MustAppend(t, s, storetest.Msgs("x"))
	}
	waitFor(t, "the buffer to fill", func() bool { return len(sub.Batches()) == SubscriptionBuffer })
	storetest.MustAppend(t, s, storetest.Msgs("one too many"))
	waitFor(t, "the subscription to end", func() bool { return sub.Err() != nil })
	for i := range SubscriptionBuffer {
		if b := receive(t, sub); b.Entries[0].Seq != uint64(i+1) {
			t.Fatalf("batch %d at %d, want %d", i, b.Entries[0].Seq, i+1)
		}
	}
	if err := ended(t, sub); !errors.Is(err, ErrSubscriptionOverflow) {
		t.Errorf("the subscription ended with %v, want ErrSubscriptionOverflow", err)
	}
}

func TestClosingEndsSubscriptions(t *testing.T) {
	leaktest.Check(t)
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	closed := mustSubscribe(t, s)
	closed.Close()
	if err := ended(t, closed); err != nil {
		t.Errorf("a subscription closed ended with %v, want nil", err)
	}
	closed.Close() // again: nothing to do

	open := mustSubscribe(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ended(t, open); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("a subscription of a closed store ended with %v, want ErrClosed", err)
	}
}
