package bolt

import (
	"context"
	"slices"
	"testing"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

// TestContract runs the contract every store keeps against a Store on a
// new file.
func TestContract(t *testing.T) {
	open := func(t *testing.T, opts storetest.Options) storetest.Store {
		t.Helper()
		path := testPath(t)
		return contractStore{openStore(t, path, Options{History: opts.History}), path}
	}
	storetest.Run(t, open, presence)
}

// presence makes chatters come with SetChatters and go with
// RemoveChatter from every room.
func presence(s storetest.Store) storetest.Presence {
	st := s.(contractStore).Store
	return storetest.Presence{
		Fill: func(ctx context.Context, room string) error {
			return st.SetChatters(ctx, room, []string{"ann", room + "-fan"})
		},
		Removed: func(t *testing.T, room string) {
			if from, err := st.RemoveChatter(t.Context(), "", "ann"); err != nil || !slices.Equal(from, []string{storage.DefaultRoom, "music"}) {
				t.Errorf("RemoveChatter(every room, ann) after %s went = %q, %v; want the rooms left", room, from, err)
			}
		},
		Visit: func(ctx context.Context, room string) error {
			if err := st.SetChatters(ctx, room, []string{"ann", "bob"}); err != nil {
				return err
			}
			_, err := st.RemoveChatter(ctx, "", "ann")
			return err
		},
		Chatters: st.Chatters,
	}
}

// contractStore is a Store and its file, which the suite inspects.
type contractStore struct {
	*Store
	path string
}

var _ storetest.Inspector = contractStore{}

// Held counts the entries of room's messages bucket.
func (s contractStore) Held(t testing.TB, room string) int {
	t.Helper()
	return storedCount(t, s.Store, room)
}

// Snapshot keeps the bytes of the file.
func (s contractStore) Snapshot(t testing.TB) func(t testing.TB) {
	t.Helper()
	before := readFile(t, s.path)
	return func(t testing.TB) {
		t.Helper()
		assertUnchanged(t, s.path, before)
	}
}

// Reopen closes the file and opens it again.
func (s contractStore) Reopen(t testing.TB, opts storetest.Options) storetest.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return contractStore{openStore(t, s.path, Options{History: opts.History}), s.path}
}
