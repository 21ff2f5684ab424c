package redis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
)

func TestAppendMessagesKeepsNewestHistory(t *testing.T) {
	srv := startServer(t)
	tests := []struct {
		name    string
		history int
		batches [][]string
		want    []string // kept, oldest first
	}{
		{"under the limit", 5, [][]string{{"a", "b"}, {"c"}}, []string{"a", "b", "c"}},
		{"exactly the limit", 3, [][]string{{"a", "b", "c"}}, []string{"a", "b", "c"}},
		{"one per call past the limit", 2, [][]string{{"a"}, {"b"}, {"c"}, {"d"}}, []string{"c", "d"}},
		{"one batch larger than the limit", 3, [][]string{{"a", "b", "c", "d", "e"}}, []string{"c", "d", "e"}},
		{"batches straddling the limit", 4, [][]string{{"a", "b", "c"}, {"d", "e", "f"}}, []string{"c", "d", "e", "f"}},
		{"history of one", 1, [][]string{{"a", "b"}, {"c"}}, []string{"c"}},
		{"default history is ten", 0, [][]string{{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}},
			[]string{"3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, srv, Options{History: tt.history})
			limit := tt.history
			if limit == 0 {
				limit = storage.DefaultHistory
			}
			var lastID uint64
			for _, batch := range tt.batches {
				got := mustAppend(t, s, msgs(batch...))
				if !slices.Equal(texts(got), batch) {
					t.Fatalf("AppendMessages returned %q, want %q", texts(got), batch)
				}
				for _, m := range got {
					if m.ID <= lastID {
						t.Fatalf("ID %d after %d: not strictly increasing", m.ID, lastID)
					}
					lastID = m.ID
				}
				// Trimmed in the same step: the list never holds more than
				// History messages after a call returns.
				if n := do(t, srv, "LLEN", s.roomKey(storage.DefaultRoom)+":history").(int64); n > int64(limit) {
					t.Fatalf("the history holds %d messages after AppendMessages, history is %d", n, limit)
				}
			}
			kept := mustRecent(t, s)
			if !slices.Equal(texts(kept), tt.want) {
				t.Errorf("kept %q, want %q", texts(kept), tt.want)
			}
			for i := 1; i < len(kept); i++ {
				if kept[i].ID <= kept[i-1].ID {
					t.Errorf("kept IDs not increasing oldest first: %d then %d", kept[i-1].ID, kept[i].ID)
				}
			}
		})
	}
}

func TestAppendMessagesReturnsStoredCopies(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	local := time.FixedZone("UTC+2", 2*60*60)
	in := []storage.Message{
		{ID: 999, Name: "ann", Text: "hello \"there\" \\ é ☕\n", Time: time.Date(2025, 3, 1, 14, 0, 0, 5, local)},
		{Name: "bob", Text: "hi ann", Time: time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC)},
	}
	orig := slices.Clone(in)

	got := mustAppend(t, s, in)
	if !slices.Equal(in, orig) {
		t.Errorf("AppendMessages modified its argument: %+v", in)
	}
	if got[0].ID == 999 {
		t.Errorf("caller's ID was kept; the store must assign IDs")
	}
	for i, m := range got {
		if m.Time.Location() != time.UTC {
			t.Errorf("message %d time %v is not in UTC", i, m.Time)
		}
		if !m.Time.Equal(in[i].Time) {
			t.Errorf("message %d time %v, want the instant %v, to the nanosecond", i, m.Time, in[i].Time)
		}
		if m.Name != in[i].Name || m.Text != in[i].Text {
			t.Errorf("message %d = %+v, want name and text of %+v", i, m, in[i])
		}
	}
	if stored := mustRecent(t, s); !slices.Equal(stored, got) {
		t.Errorf("stored %+v\nreturned %+v", stored, got)
	}
}

func TestTimesNeverGoBackwardsInARoom(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	at := func(d time.Duration, text string) storage.Message {
		return storage.Message{Name: "ann", Text: text, Time: baseTime.Add(d)}
	}
	tests := []struct {
		batch []storage.Message
		want  []time.Time
	}{
		{[]storage.Message{at(0, "a")}, []time.Time{baseTime}},
		// A node whose clock is behind: raised to the room's last time.
		{[]storage.Message{at(-time.Hour, "b")}, []time.Time{baseTime}},
		// Within a batch too, and a later time stays as it is.
		{[]storage.Message{at(time.Second, "c"), at(-time.Minute, "d"), at(2*time.Second, "e")},
			[]time.Time{baseTime.Add(time.Second), baseTime.Add(time.Second), baseTime.Add(2 * time.Second)}},
		// Before 1970: the epoch, raised to the room's last time as well.
		{[]storage.Message{{Name: "ann", Text: "f"}}, []time.Time{baseTime.Add(2 * time.Second)}},
	}
	var all []storage.Message
	for i, tt := range tests {
		got := mustAppend(t, s, tt.batch)
		for j, m := range got {
			if !m.Time.Equal(tt.want[j]) {
				t.Errorf("batch %d, message %d: time %v, want %v", i, j, m.Time, tt.want[j])
			}
		}
		all = append(all, got...)
	}
	if stored := mustRecent(t, s); !slices.Equal(stored, all) {
		t.Errorf("stored %+v\nreturned %+v", stored, all)
	}
}

func TestAppendNoMessagesWritesNothing(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{History: 3})
	mustAppend(t, s, msgs("a", "b"))
	before := dump(t, srv, s.opts.Prefix)
	got, err := s.AppendMessages(t.Context(), storage.DefaultRoom, nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("AppendMessages(nil) = %#v, %v; want an empty slice, nil", got, err)
	}
	assertUnchanged(t, srv, s.opts.Prefix, before)
}

func TestRecentMessages(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{History: 5})
	mustAppend(t, s, msgs("a", "b", "c", "d"))
	tests := []struct {
		n    int
		want []string
	}{
		{0, []string{"a", "b", "c", "d"}},
		{-1, []string{"a", "b", "c", "d"}},
		{1, []string{"d"}},
		{3, []string{"b", "c", "d"}},
		{4, []string{"a", "b", "c", "d"}},
		{100, []string{"a", "b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d", tt.n), func(t *testing.T) {
			got, err := s.RecentMessages(t.Context(), storage.DefaultRoom, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(texts(got), tt.want) {
				t.Errorf("RecentMessages(%d) = %q, want %q", tt.n, texts(got), tt.want)
			}
		})
	}
	t.Run("empty store", func(t *testing.T) {
		empty := openStore(t, srv, Options{})
		got, err := empty.RecentMessages(t.Context(), storage.DefaultRoom, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("RecentMessages on an empty store = %v, %v; want nothing, nil", got, err)
		}
	})
}

func TestMessagesSurviveReopen(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	s, err := Open(t.Context(), srv.URL(), Options{History: 3, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	first := mustAppend(t, s, msgs("a", "b", "c", "d"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, srv, Options{History: 3, Prefix: prefix})
	if got, want := mustRecent(t, s), first[1:]; !slices.Equal(got, want) {
		t.Fatalf("after reopen kept %+v\nwant %+v", got, want)
	}
	next := mustAppend(t, s, msgs("e"))
	if next[0].ID != first[len(first)-1].ID+1 {
		t.Errorf("first ID after reopen = %d, want %d (continuing the sequence)", next[0].ID, first[len(first)-1].ID+1)
	}
	if got := texts(mustRecent(t, s)); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("kept %q, want [c d e]", got)
	}
}

func TestReopenWithSmallerHistoryTrims(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	s, err := Open(t.Context(), srv.URL(), Options{History: 10, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	mustAddRoom(t, s, "games", "music")
	mustAppend(t, s, msgs("a", "b", "c", "d", "e"))
	mustAppendTo(t, s, "games", msgs("1", "2", "3"))
	mustAppendTo(t, s, "music", msgs("x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rw := openStore(t, srv, Options{History: 2, Prefix: prefix})
	for room, want := range map[string][]string{
		storage.DefaultRoom: {"d", "e"},
		"games":             {"2", "3"},
		"music":             {"x"},
	} {
		if got := texts(mustRecentOf(t, rw, room)); !slices.Equal(got, want) {
			t.Errorf("%s kept %q, want %q", room, got, want)
		}
		if n := do(t, srv, "LLEN", rw.roomKey(room)+":history").(int64); n != int64(len(want)) {
			t.Errorf("%s holds %d messages, want %d", room, n, len(want))
		}
	}
}

func TestRoomsKeepTheirOwnHistory(t *testing.T) {
	s := openStore(t, startServer(t), Options{History: 3})
	mustAddRoom(t, s, "games", "music")
	steps := []struct {
		room  string
		texts []string
		ids   []uint64 // the IDs AppendMessages gives
	}{
		{storage.DefaultRoom, []string{"g1", "g2"}, []uint64{1, 2}},
		{"games", []string{"a1"}, []uint64{1}},
		{storage.DefaultRoom, []string{"g3", "g4", "g5"}, []uint64{3, 4, 5}},
		{"games", []string{"a2", "a3", "a4", "a5"}, []uint64{2, 3, 4, 5}},
		{"games", []string{"a6"}, []uint64{6}},
		{storage.DefaultRoom, []string{"g6"}, []uint64{6}},
	}
	for _, st := range steps {
		got := mustAppendTo(t, s, st.room, msgs(st.texts...))
		if !slices.Equal(ids(got), st.ids) {
			t.Errorf("AppendMessages(%s, %q) gave IDs %v, want %v", st.room, st.texts, ids(got), st.ids)
		}
	}
	for room, want := range map[string][]string{
		storage.DefaultRoom: {"g4", "g5", "g6"},
		"games":             {"a4", "a5", "a6"},
		"music":             nil,
	} {
		if got := mustRecentOf(t, s, room); !slices.Equal(texts(got), want) {
			t.Errorf("RecentMessages(%s) = %q, want %q", room, texts(got), want)
		}
	}
	if got, err := s.RecentMessages(t.Context(), "games", 2); err != nil || !slices.Equal(texts(got), []string{"a5", "a6"}) {
		t.Errorf("RecentMessages(games, 2) = %q, %v; want [a5 a6]", texts(got), err)
	}
}

func TestMessagesOfMissingRooms(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	mustAddRoom(t, s, "games")
	before := dump(t, srv, s.opts.Prefix)
	for _, room := range []string{"nowhere", "", "Games", "games ", "-games", strings.Repeat("g", storage.MaxRoomName+1)} {
		t.Run(fmt.Sprintf("%q", room), func(t *testing.T) {
			for _, ms := range [][]storage.Message{msgs("lost"), nil} {
				got, err := s.AppendMessages(t.Context(), room, ms)
				if !errors.Is(err, storage.ErrNoSuchRoom) || got != nil {
					t.Errorf("AppendMessages(%q, %d messages) = %v, %v; want ErrNoSuchRoom", room, len(ms), got, err)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "append messages to room ") {
					t.Errorf("error %q does not say what failed", err)
				}
			}
			if got, err := s.RecentMessages(t.Context(), room, 0); !errors.Is(err, storage.ErrNoSuchRoom) || got != nil {
				t.Errorf("RecentMessages(%q) = %v, %v; want ErrNoSuchRoom", room, got, err)
			}
			if _, err := s.LogSince(t.Context(), room, storage.Position{}); !errors.Is(err, storage.ErrNoSuchRoom) {
				t.Errorf("LogSince(%q) = %v; want ErrNoSuchRoom", room, err)
			}
		})
	}
	assertUnchanged(t, srv, s.opts.Prefix, before)
}

func TestTheScriptsSurviveAScriptFlush(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	mustAppend(t, s, msgs("a"))
	// The server forgets every script (as after a restart): EVALSHA fails
	// with NOSCRIPT and the store sends the script itself.
	do(t, srv, "SCRIPT", "FLUSH")
	if got := mustAppend(t, s, msgs("b")); got[0].ID != 2 {
		t.Errorf("the append after SCRIPT FLUSH gave ID %d, want 2", got[0].ID)
	}
	if got := texts(mustRecent(t, s)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("kept %q, want [a b]", got)
	}
}

func TestTheDefaultRoomIsMadeAgainWhenRedisLosesIt(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	mustAddRoom(t, s, "games")
	mustAppend(t, s, msgs("a", "b"))
	before, err := s.LogSince(t.Context(), storage.DefaultRoom, storage.Position{})
	if err != nil {
		t.Fatal(err)
	}
	do(t, srv, "FLUSHDB")

	if err := s.Ping(); !errors.Is(err, ErrDataGone) {
		t.Errorf("Ping after FLUSHDB = %v, want ErrDataGone", err)
	}
	if _, err := s.AppendMessages(t.Context(), "games", msgs("lost")); !errors.Is(err, storage.ErrNoSuchRoom) {
		t.Errorf("AppendMessages(games) after FLUSHDB = %v, want ErrNoSuchRoom", err)
	}
	got := mustAppend(t, s, msgs("c"))
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
	if names := roomNames(mustRooms(t, s)); !slices.Equal(names, []string{storage.DefaultRoom}) {
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
	first, at, err := s.appendBatch(t.Context(), storage.DefaultRoom, msgs("a", "b"), "token-1", false)
	if err != nil {
		t.Fatal(err)
	}
	again, atAgain, err := s.appendBatch(t.Context(), storage.DefaultRoom, msgs("a", "b"), "token-1", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, again) || at != atAgain {
		t.Errorf("the second try answered %+v at %+v, want the first's %+v at %+v", again, atAgain, first, at)
	}
	if _, _, err := s.appendBatch(t.Context(), storage.DefaultRoom, msgs("c"), "token-2", true); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentMessages(t.Context(), storage.DefaultRoom, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(got), []string{"a", "b", "c"}) {
		t.Errorf("history %q, want a, b and c once each", texts(got))
	}
	var published []string
	for len(published) < 3 {
		select {
		case b := <-sub.Batches():
			published = append(published, texts(entryMessages(b.Entries))...)
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
