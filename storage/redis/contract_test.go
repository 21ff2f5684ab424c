package redis

import (
	"context"
	"testing"

	"chatserver/internal/redistest"
	"chatserver/storage/storetest"
)

// TestContract runs the contract every store keeps against a Store under
// a key prefix of its own on one redis-server.
func TestContract(t *testing.T) {
	srv := startServer(t)
	open := func(t *testing.T, opts storetest.Options) storetest.Store {
		t.Helper()
		return contractStore{openStore(t, srv, Options{History: opts.History}), srv}
	}
	t.Run("Bans", func(t *testing.T) { storetest.Bans(t, open) })
	t.Run("Messages", func(t *testing.T) { storetest.Messages(t, open) })
	t.Run("Rooms", func(t *testing.T) { storetest.Rooms(t, open) })
	t.Run("Cancelled", func(t *testing.T) { storetest.Cancelled(t, open) })
	t.Run("Recovery", func(t *testing.T) { storetest.Recovery(t, open) })
	t.Run("Concurrently", func(t *testing.T) { storetest.Concurrently(t, open, presence) })
}

// presence makes a chatter come by claiming the nickname and go by
// releasing it.
func presence(s storetest.Store) storetest.Presence {
	st := s.(contractStore).Store
	return storetest.Presence{
		Visit: func(ctx context.Context, room string) error {
			c, err := st.Claim(ctx, room, "ann", "", false)
			if err != nil {
				return err
			}
			return st.Release(ctx, room, "ann", c.Token, 0)
		},
		Chatters: st.Chatters,
	}
}

// contractStore is a Store and its server, which the suite inspects.
type contractStore struct {
	*Store
	srv *redistest.Server
}

var _ storetest.Inspector = contractStore{}

// Held is the length of room's history list.
func (s contractStore) Held(t testing.TB, room string) int {
	t.Helper()
	return int(do(t, s.srv, "LLEN", s.roomKey(room)+":history").(int64))
}

// Snapshot keeps a dump of every key under the store's prefix.
func (s contractStore) Snapshot(t testing.TB) func(t testing.TB) {
	t.Helper()
	before := dump(t, s.srv, s.opts.Prefix)
	return func(t testing.TB) {
		t.Helper()
		assertUnchanged(t, s.srv, s.opts.Prefix, before)
	}
}

// Reopen closes the store and opens its prefix again on the same server,
// as the same node.
func (s contractStore) Reopen(t testing.TB, opts storetest.Options) storetest.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return contractStore{openStore(t, s.srv, Options{Prefix: s.opts.Prefix, Node: s.opts.Node, History: opts.History, Logger: s.opts.Logger}), s.srv}
}
