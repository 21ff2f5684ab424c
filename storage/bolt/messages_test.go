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

// TestReadOnlyOpenWithSmallerHistoryTrimsNothing: a file opened
// read-only with a smaller history shows every message stored
// (storetest.Messages checks that a read-write open trims).
func TestReadOnlyOpenWithSmallerHistoryTrimsNothing(t *testing.T) {
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
	before := readFile(t, path)
	ro := openStore(t, path, Options{History: 2, ReadOnly: true})
	if got := storetest.Texts(storetest.MustRecent(t, ro)); !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("kept %q, want all five", got)
	}
	if got := storetest.Texts(storetest.MustRecentOf(t, ro, "games")); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("games kept %q, want all three", got)
	}
	assertUnchanged(t, path, before)
}
