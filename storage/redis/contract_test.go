package redis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"chatserver/internal/redistest"
	"chatserver/storage"
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
	storetest.Run(t, open, presence)
}

// presence makes chatters come by claiming their nicknames and go by
// releasing them. A room it fills holds a claim, one in its grace and a
// kick; once the room is removed, every call of it refuses and nothing
// of it is left in Redis.
func presence(s storetest.Store) storetest.Presence {
	cs := s.(contractStore)
	st := cs.Store
	return storetest.Presence{
		Fill: func(ctx context.Context, room string) error {
			if _, err := st.Claim(ctx, room, "ann", "", false); err != nil {
				return err
			}
			fan, err := st.Claim(ctx, room, room+"-fan", "", false)
			if err != nil {
				return err
			}
			if err := st.Release(ctx, room, room+"-fan", fan.Token, time.Hour); err != nil {
				return err
			}
			if _, err := st.Claim(ctx, room, "mallory", "", false); err != nil {
				return err
			}
			_, err = st.Kick(ctx, room, "mallory", "spam")
			return err
		},
		Removed: func(t *testing.T, room string) {
			ctx := t.Context()
			for _, call := range []struct {
				name string
				err  error
			}{
				{"SetChatters", st.SetChatters(ctx, room, []string{"ann"})},
				{"Claim", func() error { _, err := st.Claim(ctx, room, "ann", "", false); return err }()},
				{"Kick", func() error { _, err := st.Kick(ctx, room, "ann", ""); return err }()},
				{"Snapshot", func() error { _, err := st.Snapshot(ctx, room, 0); return err }()},
				{"SaveSession", st.SaveSession(ctx, room, storage.Session{PID: "p", Name: "ann", Expires: time.Now().Add(time.Hour)})},
				{"TakeSession", func() error { _, _, err := st.TakeSession(ctx, room, "p"); return err }()},
				{"LogSince", func() error { _, err := st.LogSince(ctx, room, storage.Position{}); return err }()},
			} {
				if !errors.Is(call.err, storage.ErrNoSuchRoom) {
					t.Errorf("%s of the removed room: %v, want ErrNoSuchRoom", call.name, call.err)
				}
			}
			for _, line := range dump(t, cs.srv, st.opts.Prefix) {
				if strings.Contains(line, ":"+room) || strings.HasSuffix(line, " "+room) {
					t.Errorf("left behind: %s", line)
				}
			}
		},
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
