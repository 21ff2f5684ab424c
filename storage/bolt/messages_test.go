package bolt

import (
	"slices"
	"testing"

	"go.etcd.io/bbolt"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

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

func TestMessagesSurviveReopen(t *testing.T) {
	path := testPath(t)
	s, err := Open(path, Options{History: 3, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	first := storetest.MustAppend(t, s, storetest.Msgs("a", "b", "c", "d"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, Options{History: 3})
	if got, want := storetest.MustRecent(t, s), first[1:]; !slices.Equal(got, want) {
		t.Fatalf("after reopen kept %+v\nwant %+v", got, want)
	}
	next := storetest.MustAppend(t, s, storetest.Msgs("e"))
	if next[0].ID != first[len(first)-1].ID+1 {
		t.Errorf("first ID after reopen = %d, want %d (continuing the sequence)", next[0].ID, first[len(first)-1].ID+1)
	}
	if got := storetest.Texts(storetest.MustRecent(t, s)); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("kept %q, want [c d e]", got)
	}
}

func TestReopenWithSmallerHistoryTrims(t *testing.T) {
	path := testPath(t)
	s, err := Open(path, Options{History: 10, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustAddRoom(t, s, "games", "music")
	storetest.MustAppend(t, s, storetest.Msgs("a", "b", "c", "d", "e"))
	storetest.MustAppendTo(t, s, "games", storetest.Msgs("1", "2", "3"))
	storetest.MustAppendTo(t, s, "music", storetest.Msgs("x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("read-only open shows what is stored", func(t *testing.T) {
		ro := openStore(t, path, Options{History: 2, ReadOnly: true})
		if got := storetest.Texts(storetest.MustRecent(t, ro)); !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
			t.Errorf("kept %q, want all five", got)
		}
		if got := storetest.Texts(storetest.MustRecentOf(t, ro, "games")); !slices.Equal(got, []string{"1", "2", "3"}) {
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
			if got := storetest.Texts(storetest.MustRecentOf(t, rw, room)); !slices.Equal(got, want) {
				t.Errorf("%s kept %q, want %q", room, got, want)
			}
			if n := storedCount(t, rw, room); n != len(want) {
				t.Errorf("%s holds %d messages, want %d", room, n, len(want))
			}
		}
	})
}
