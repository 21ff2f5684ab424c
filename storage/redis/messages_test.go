package redis

import (
	"errors"
	"slices"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestTimesNeverGoBackwardsInARoom(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	at := func(d time.Duration, text string) storage.Message {
		return storage.Message{Name: "ann", Text: text, Time: storetest.BaseTime.Add(d)}
	}
	tests := []struct {
		batch []storage.Message
		want  []time.Time
	}{
		{[]storage.Message{at(0, "a")}, []time.Time{storetest.BaseTime}},
		// A node whose clock is behind: raised to the room's last time.
		{[]storage.Message{at(-time.Hour, "b")}, []time.Time{storetest.BaseTime}},
		// Within a batch too, and a later time stays as it is.
		{[]storage.Message{at(time.Second, "c"), at(-time.Minute, "d"), at(2*time.Second, "e")},
			[]time.Time{storetest.BaseTime.Add(time.Second), storetest.BaseTime.Add(time.Second), storetest.BaseTime.Add(2 * time.Second)}},
		// Before 1970: the epoch, raised to the room's last time as well.
		{[]storage.Message{{Name: "ann", Text: "f"}}, []time.Time{storetest.BaseTime.Add(2 * time.Second)}},
	}
	var all []storage.Message
	for i, tt := range tests {
		got := storetest.MustAppend(t, s, tt.batch)
		for j, m := range got {
			if !m.Time.Equal(tt.want[j]) {
				t.Errorf("batch %d, message %d: time %v, want %v", i, j, m.Time, tt.want[j])
			}
		}
		all = append(all, got...)
	}
	if stored := storetest.MustRecent(t, s); !slices.Equal(stored, all) {
		t.Errorf("stored %+v\nreturned %+v", stored, all)
	}
}

func TestAppendNoMessagesWritesNothing(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{History: 3})
	storetest.MustAppend(t, s, storetest.Msgs("a", "b"))
	before := dump(t, srv, s.opts.Prefix)
	got, err := s.AppendMessages(t.Context(), storage.DefaultRoom, nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("AppendMessages(nil) = %#v, %v; want an empty slice, nil", got, err)
	}
	assertUnchanged(t, srv, s.opts.Prefix, before)
}

// TestLogOfMissingRooms: LogSince refuses the rooms the store does not
// have, as AppendMessages and RecentMessages do (storetest.Messages).
func TestLogOfMissingRooms(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAddRoom(t, s, "games")
	before := dump(t, srv, s.opts.Prefix)
	for _, room := range storetest.MissingRooms {
		if _, err := s.LogSince(t.Context(), room, storage.Position{}); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("LogSince(%q) = %v; want ErrNoSuchRoom", room, err)
		}
	}
	assertUnchanged(t, srv, s.opts.Prefix, before)
}

func TestTheScriptsSurviveAScriptFlush(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAppend(t, s, storetest.Msgs("a"))
	// The server forgets every script (as after a restart): EVALSHA fails
	// with NOSCRIPT and the store sends the script itself.
	do(t, srv, "SCRIPT", "FLUSH")
	if got := storetest.MustAppend(t, s, storetest.Msgs("b")); got[0].ID != 2 {
		t.Errorf("the append after SCRIPT FLUSH gave ID %d, want 2", got[0].ID)
	}
	if got := storetest.Texts(storetest.MustRecent(t, s)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("kept %q, want [a b]", got)
	}
}

func TestTheDefaultRoomIsMadeAgainWhenRedisLosesIt(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAddRoom(t, s, "games")
	storetest.MustAppend(t, s, storetest.Msgs("a", "b"))
	before, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	do(t, srv, "FLUSHDB")

	if err := s.Ping(); !errors.Is(err, ErrDataGone) {
		t.Errorf("Ping after FLUSHDB = %v, want ErrDataGone", err)
	}
	if _, err := s.AppendMessages(t.Context(), "games", storetest.Msgs("lost")); !errors.Is(err, storage.ErrNoSuchRoom) {
		t.Errorf("AppendMessages(games) after FLUSHDB = %v, want ErrNoSuchRoom", err)
	}
	got := storetest.MustAppend(t, s, storetest.Msgs("c"))
	if got[0].ID != 1 {
		t.Errorf("the default room's first ID after FLUSHDB is %d, want 1: a new room", got[0].ID)
	}
	after, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch == before.Epoch || after.Seq != 1 {
		t.Errorf("the log after FLUSHDB has epoch %s (before %s) and position %d; want a new epoch from 1", after.Epoch, before.Epoch, after.Seq)
	}
	if names := storetest.RoomNames(storetest.MustRooms(t, s)); !slices.Equal(names, []string{storage.DefaultRoom}) {
		t.Errorf("Rooms after FLUSHDB = %q, want only the default room", names)
	}
}

// TestABatchSentAgainIsAppendedOnce: a batch tried again under its token
// (its first answer lost with the connection) is neither stored nor
// published twice, and gets the first try's answer; another token is
// another batch.
func TestABatchSentAgainIsAppendedOnce(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	sub := mustSubscribe(t, s)
	first, at, err := s.appendBatch(t.Context(), storage.DefaultRoom, storetest.Msgs("a", "b"), "token-1", false)
	if err != nil {
		t.Fatal(err)
	}
	again, atAgain, err := s.appendBatch(t.Context(), storage.DefaultRoom, storetest.Msgs("a", "b"), "token-1", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, again) || at != atAgain {
		t.Errorf("the second try answered %+v at %+v, want the first's %+v at %+v", again, atAgain, first, at)
	}
	if _, _, err := s.appendBatch(t.Context(), storage.DefaultRoom, storetest.Msgs("c"), "token-2", true); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentMessages(t.Context(), storage.DefaultRoom, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(storetest.Texts(got), []string{"a", "b", "c"}) {
		t.Errorf("history %q, want a, b and c once each", storetest.Texts(got))
	}
	var published []string
	for len(published) < 3 {
		select {
		case b := <-sub.Batches():
			published = append(published, storetest.Texts(entryMessages(b.Entries))...)
		case <-time.After(10 * time.Second):
			t.Fatalf("published so far: %q", published)
		}
	}
	if !slices.Equal(published, []string{"a", "b", "c"}) {
		t.Errorf("published %q, want a, b and c once each", published)
	}
	select {
	case b := <-sub.Batches():
		t.Errorf("published once more: %+v", b)
	default:
	}
}
