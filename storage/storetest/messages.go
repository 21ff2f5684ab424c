package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
)

// Messages checks AppendMessages and RecentMessages: the IDs a store
// gives, the history it keeps per room and trims as it appends or is
// opened again with a smaller one, the copies it returns and the rooms
// it does not have.
func Messages(t *testing.T, open Open) {
	t.Run("AppendMessages keeps the newest history", func(t *testing.T) { appendKeepsNewestHistory(t, open) })
	t.Run("AppendMessages returns stored copies", func(t *testing.T) { appendReturnsStoredCopies(t, open) })
	t.Run("RecentMessages", func(t *testing.T) { recentMessages(t, open) })
	t.Run("rooms keep their own history", func(t *testing.T) { roomsKeepTheirOwnHistory(t, open) })
	t.Run("messages of missing rooms", func(t *testing.T) { messagesOfMissingRooms(t, open) })
	t.Run("messages survive reopening", func(t *testing.T) { messagesSurviveReopen(t, open) })
	t.Run("reopening with a smaller history trims", func(t *testing.T) { reopenWithSmallerHistoryTrims(t, open) })
}

func appendKeepsNewestHistory(t *testing.T, open Open) {
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
			s := open(t, Options{History: tt.history})
			limit := tt.history
			if limit == 0 {
				limit = storage.DefaultHistory
			}
			var lastID uint64
			for _, batch := range tt.batches {
				got := MustAppend(t, s, Msgs(batch...))
				if !slices.Equal(Texts(got), batch) {
					t.Fatalf("AppendMessages returned %q, want %q", Texts(got), batch)
				}
				for _, m := range got {
					if m.ID <= lastID {
						t.Fatalf("ID %d after %d: not strictly increasing", m.ID, lastID)
					}
					lastID = m.ID
				}
				// Trimmed in the same step: the room never holds more
				// than History messages after a call returns.
				checkHeld(t, s, storage.DefaultRoom, limit, true)
			}
			kept := MustRecent(t, s)
			if !slices.Equal(Texts(kept), tt.want) {
				t.Errorf("kept %q, want %q", Texts(kept), tt.want)
			}
			for i := 1; i < len(kept); i++ {
				if kept[i].ID <= kept[i-1].ID {
					t.Errorf("kept IDs not increasing oldest first: %d then %d", kept[i-1].ID, kept[i].ID)
				}
			}
		})
	}
}

func appendReturnsStoredCopies(t *testing.T, open Open) {
	s := open(t, Options{})
	local := time.FixedZone("UTC+2", 2*60*60)
	in := []storage.Message{
		{ID: 999, Name: "ann", Text: "hello \"there\" \\ é ☕\n", Time: time.Date(2025, 3, 1, 14, 0, 0, 5, local)},
		{Name: "bob", Text: "hi ann", Time: time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC)},
	}
	orig := slices.Clone(in)

	got := MustAppend(t, s, in)
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
	if stored := MustRecent(t, s); !slices.Equal(stored, got) {
		t.Errorf("stored %+v\nreturned %+v", stored, got)
	}
}

func recentMessages(t *testing.T, open Open) {
	s := open(t, Options{History: 5})
	MustAppend(t, s, Msgs("a", "b", "c", "d"))
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
			if !slices.Equal(Texts(got), tt.want) {
				t.Errorf("RecentMessages(%d) = %q, want %q", tt.n, Texts(got), tt.want)
			}
		})
	}
	t.Run("empty store", func(t *testing.T) {
		empty := open(t, Options{})
		got, err := empty.RecentMessages(t.Context(), storage.DefaultRoom, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("RecentMessages on an empty store = %v, %v; want nothing, nil", got, err)
		}
	})
}

func roomsKeepTheirOwnHistory(t *testing.T, open Open) {
	s := open(t, Options{History: 3})
	MustAddRoom(t, s, "games", "music")
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
		got := MustAppendTo(t, s, st.room, Msgs(st.texts...))
		if !slices.Equal(IDs(got), st.ids) {
			t.Errorf("AppendMessages(%s, %q) gave IDs %v, want %v", st.room, st.texts, IDs(got), st.ids)
		}
	}
	for room, want := range map[string][]string{
		storage.DefaultRoom: {"g4", "g5", "g6"},
		"games":             {"a4", "a5", "a6"},
		"music":             nil,
	} {
		if got := MustRecentOf(t, s, room); !slices.Equal(Texts(got), want) {
			t.Errorf("RecentMessages(%s) = %q, want %q", room, Texts(got), want)
		}
		checkHeld(t, s, room, len(want), false)
	}
	if got, err := s.RecentMessages(t.Context(), "games", 2); err != nil || !slices.Equal(Texts(got), []string{"a5", "a6"}) {
		t.Errorf("RecentMessages(games, 2) = %q, %v; want [a5 a6]", Texts(got), err)
	}
}

// MissingRooms are names of rooms a store with only DefaultRoom and
// "games" does not have: unknown, empty, another case, padded, badly
// formed and too long.
var MissingRooms = []string{"nowhere", "", "Games", "games ", "-games", strings.Repeat("g", storage.MaxRoomName+1)}

func messagesOfMissingRooms(t *testing.T, open Open) {
	s := open(t, Options{})
	MustAddRoom(t, s, "games")
	unchanged := snapshot(t, s)
	for _, room := range MissingRooms {
		t.Run(fmt.Sprintf("%q", room), func(t *testing.T) {
			for _, ms := range [][]storage.Message{Msgs("lost"), nil} {
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
	unchanged(t)
}

func messagesSurviveReopen(t *testing.T, open Open) {
	s := open(t, Options{History: 3})
	first := MustAppend(t, s, Msgs("a", "b", "c", "d"))
	s = reopen(t, s, Options{History: 3})
	if got, want := MustRecent(t, s), first[1:]; !slices.Equal(got, want) {
		t.Fatalf("after reopen kept %+v\nwant %+v", got, want)
	}
	next := MustAppend(t, s, Msgs("e"))
	if next[0].ID != first[len(first)-1].ID+1 {
		t.Errorf("first ID after reopen = %d, want %d (continuing the sequence)", next[0].ID, first[len(first)-1].ID+1)
	}
	if got := Texts(MustRecent(t, s)); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("kept %q, want [c d e]", got)
	}
}

func reopenWithSmallerHistoryTrims(t *testing.T, open Open) {
	s := open(t, Options{History: 10})
	MustAddRoom(t, s, "games", "music")
	MustAppend(t, s, Msgs("a", "b", "c", "d", "e"))
	MustAppendTo(t, s, "games", Msgs("1", "2", "3"))
	MustAppendTo(t, s, "music", Msgs("x"))

	s = reopen(t, s, Options{History: 2})
	for room, want := range map[string][]string{
		storage.DefaultRoom: {"d", "e"},
		"games":             {"2", "3"},
		"music":             {"x"},
	} {
		if got := Texts(MustRecentOf(t, s, room)); !slices.Equal(got, want) {
			t.Errorf("%s kept %q, want %q", room, got, want)
		}
		checkHeld(t, s, room, len(want), false)
	}
}
