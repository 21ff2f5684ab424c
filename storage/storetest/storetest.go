// Package storetest is the contract every chatserver store keeps, written
// once as tests that each store runs against itself: rooms, messages, bans
// and recovery state, with storage's sentinel errors.
//
// It is imported only by the stores' tests. Each runs Run with a function
// that opens a fresh store of its kind, and makes that store an Inspector
// so that the suite can look past the calls at what it holds. A store's
// own tests keep what only that store does (its file or its keys, its
// options, its migrations); this package holds what any store must do.
package storetest

import (
	"context"
	"testing"
	"time"

	"chatserver/storage"
)

// Store is what the suite exercises of a store: the calls the chat room
// makes.
type Store interface {
	// Rooms lists the rooms, DefaultRoom first.
	Rooms(ctx context.Context) ([]storage.Room, error)
	// AddRoom adds a room.
	AddRoom(ctx context.Context, r storage.Room) error
	// RemoveRoom removes a room and everything it holds.
	RemoveRoom(ctx context.Context, name string) error
	// AppendMessages stores messages in a room and returns them with
	// their IDs.
	AppendMessages(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, error)
	// RecentMessages returns up to n of a room's latest messages, oldest
	// first (all it keeps when n is 0).
	RecentMessages(ctx context.Context, room string, n int) ([]storage.Message, error)
	// BanExpiry reports whether name is banned at now, and until when.
	BanExpiry(ctx context.Context, name string, now time.Time) (time.Time, bool, error)
	// Ban bans name until the time given.
	Ban(ctx context.Context, name string, until time.Time) error
	// Unban lifts name's ban and reports whether there was one.
	Unban(ctx context.Context, name string) (bool, error)
	// SaveRecovery keeps state for the next TakeRecovery.
	SaveRecovery(ctx context.Context, state storage.RecoveryState) error
	// TakeRecovery returns the state kept and removes it.
	TakeRecovery(ctx context.Context) (storage.RecoveryState, bool, error)
}

// Options is what a test asks of the store it opens.
type Options struct {
	// History is how many messages a room keeps; 0 means the store's
	// default (storage.DefaultHistory).
	History int
}

// Open opens a fresh, empty store with opts for the test t, failing t on
// error, and closes it when t ends.
type Open func(t *testing.T, opts Options) Store

// Inspector is what a test's store tells the suite of how it keeps its
// data, past the calls of Store, so that the suite can check what a
// store holds as well as what it answers. The stores' tests implement it
// on the Store their Open returns; the checks that need it are skipped
// for a store that does not.
type Inspector interface {
	// Held counts the messages room physically holds.
	Held(t testing.TB, room string) int
	// Snapshot takes a copy of everything the store holds and returns a
	// check that fails t if the store no longer holds the same.
	Snapshot(t testing.TB) (unchanged func(t testing.TB))
	// Reopen closes the store and opens the same data again with opts,
	// for writing, as a restarted server would; the store it returns is
	// closed when t ends.
	Reopen(t testing.TB, opts Options) Store
}

// Run runs every part of the contract against the stores open opens,
// presence telling how chatters come and go in them.
func Run(t *testing.T, open Open, presence func(s Store) Presence) {
	t.Run("Bans", func(t *testing.T) { Bans(t, open) })
	t.Run("Messages", func(t *testing.T) { Messages(t, open) })
	t.Run("Rooms", func(t *testing.T) { Rooms(t, open) })
	t.Run("Cancelled", func(t *testing.T) { Cancelled(t, open) })
	t.Run("Recovery", func(t *testing.T) { Recovery(t, open) })
	t.Run("RemoveRoomTakesOnlyItsOwn", func(t *testing.T) { RemoveRoomTakesOnlyItsOwn(t, open, presence) })
	t.Run("Concurrently", func(t *testing.T) { Concurrently(t, open, presence) })
}
