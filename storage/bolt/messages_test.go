package bolt

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

func TestAppendMessagesKeepsNewestHistory(t *testing.T) {
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
			s := openStore(t, testPath(t), Options{History: tt.history})
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
				// Trimmed in the same transaction: the bucket never holds
				// more than History messages after a call returns.
				if n := storedCount(t, s, storage.DefaultRoom); n > limit {
					t.Fatalf("bucket holds %d messages after AppendMessages, history is %d", n, limit)
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

// storedCount counts the entries of room's messages bucket directly.
func storedCount(tb testing.TB, s *Store, room string) int {
	tb.Helper()
	var n int
	err := s.view(tb.Context(), "count", func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketRooms).Bucket([]byte(room)).Bucket(bucketMessages).Stats().KeyN
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestAppendMessagesReturnsStoredCopies(t *testing.T) {
	s := openStore(t, testPath(t), Options{})
	local := time.FixedZone("UTC+2", 2*60*60)
	in := []storage.Message{
		{ID: 999, Name: "ann", Text: "hello", Time: time.Date(2025, 3, 1, 14, 0, 0, 5, local)},
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
			t.Errorf("message %d time %v, want the instant %v", i, m.Time, in[i].Time)
		}
		if m.Name != in[i].Name || m.Text != in[i].Text {
			t.Errorf("message %d = %+v, want name and text of %+v", i, m, in[i])
		}
	}
	if stored := mustRecent(t, s); !slices.Equal(stored, got) {
		t.Errorf("stored %+v\nreturned %+v", stored, got)
	}
}

func TestAppendNoMessagesWritesNothing(t *testing.T) {
	path, before := chatserverFile(t, 2)
	s := openStore(t, path, Options{History: 3})
	got, err := s.AppendMessages(t.Context(), storage.DefaultRoom, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("AppendMessages(nil) = %v, %v; want nothing, nil", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertUnchanged(t, path, before)
}

func TestRecentMessages(t *testing.T) {
	s := openStore(t, testPath(t), Options{History: 5})
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
		empty := openStore(t, testPath(t), Options{})
		got, err := empty.RecentMessages(t.Context(), storage.DefaultRoom, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("RecentMessages on an empty store = %v, %v; want nothing, nil", got, err)
		}
	})
}

func TestMessagesSurviveReopen(t *testing.T) {
	path := testPath(t)
	s, err := Open(path, Options{History: 3, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	first := mustAppend(t, s, msgs("a", "b", "c", "d"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, Options{History: 3})
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
	path := testPath(t)
	s, err := Open(path, Options{History: 10, Timeout: testTimeout})
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

	t.Run("read-only open shows what is stored", func(t *testing.T) {
		ro := openStore(t, path, Options{History: 2, ReadOnly: true})
		if got := texts(mustRecent(t, ro)); !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
			t.Errorf("kept %q, want all five", got)
		}
		if got := texts(mustRecentOf(t, ro, "games")); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Errorf("games kept %q, want all three", got)
		}
	})
	t.Run("read-write open trims every room at once", func(t *testing.T) {
		rw := openStore(t, path, Options{History: 2})
		for room, want := range map[string][]string{
			storage.DefaultRoom: {"d", "e"},
			"games":             {"2", "3"},
			"music":             {"x"},
		} {
			if got := texts(mustRecentOf(t, rw, room)); !slices.Equal(got, want) {
				t.Errorf("%s kept %q, want %q", room, got, want)
			}
			if n := storedCount(t, rw, room); n != len(want) {
				t.Errorf("%s holds %d messages, want %d", room, n, len(want))
			}
		}
	})
}

func TestRoomsKeepTheirOwnHistory(t *testing.T) {
	s := openStore(t, testPath(t), Options{History: 3})
	mustAddRoom(t, s, "games", "music")
	type appended struct {
		room  string
		texts []string
		ids   []uint64 // the IDs AppendMessages gives
	}
	steps := []appended{
		{storage.DefaultRoom, []string{"g1", "g2"}, []uint64{1, 2}},
		{"games", []string{"a1"}, []uint64{1}},
		{storage.DefaultRoom, []string{"g3", "g4", "g5"}, []uint64{3, 4, 5}},
		{"games", []string{"a2", "a3", "a4", "a5"}, []uint64{2, 3, 4, 5}},
		{"games", []string{"a6"}, []uint64{6}},
		{storage.DefaultRoom, []string{"g6"}, []uint64{6}},
	}
	for _, st := range steps {
		got := mustAppendTo(t, s, st.room, msgs(st.texts...))
		ids := make([]uint64, len(got))
		for i, m := range got {
			ids[i] = m.ID
		}
		if !slices.Equal(ids, st.ids) {
			t.Errorf("AppendMessages(%s, %q) gave IDs %v, want %v", st.room, st.texts, ids, st.ids)
		}
	}
	for room, want := range map[string][]string{
		storage.DefaultRoom: {"g4", "g5", "g6"},
		"games":             {"a4", "a5", "a6"},
		"music":             nil,
	} {
		got := mustRecentOf(t, s, room)
		if !slices.Equal(texts(got), want) {
			t.Errorf("RecentMessages(%s) = %q, want %q", room, texts(got), want)
		}
		if n := storedCount(t, s, room); n != len(want) {
			t.Errorf("%s holds %d messages, want %d", room, n, len(want))
		}
	}
	if got, err := s.RecentMessages(t.Context(), "games", 2); err != nil || !slices.Equal(texts(got), []string{"a5", "a6"}) {
		t.Errorf("RecentMessages(games, 2) = %q, %v; want [a5 a6]", texts(got), err)
	}
}

func TestMessagesOfMissingRooms(t *testing.T) {
	path := testPath(t)
	s := openStore(t, path, Options{})
	mustAddRoom(t, s, "games")
	before := readFile(t, path)
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
		})
	}
	assertUnchanged(t, path, before)
}
