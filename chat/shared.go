package chat

import (
	"context"
	"time"

	"chatserver/storage"
)

// SharedStore is a Store that several servers (nodes) share, such as
// storage/redis. A hub on one runs its rooms as parts of rooms that span
// every node: the store gives each room's messages, arrivals, departures
// and kicks one order (the room's log), every node delivers that log to
// its own clients, nicknames are claimed in the store so that they stay
// unique across nodes, and the sessions of lost clients are kept there so
// that a client may recover on any node. Implementations must be safe for
// concurrent use.
type SharedStore interface {
	Store
	// Node names this node among those sharing the store.
	Node() string
	// Subscribe subscribes to every room's appended batches and to the
	// changes of the rooms, and returns once subscribed: nothing appended
	// after it returns is missed while the subscription lasts.
	Subscribe(ctx context.Context) (storage.Subscription, error)
	// Append is AppendMessages that also returns the log position of the
	// last message's entry.
	Append(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, storage.Position, error)
	// LogSince reads the room's log after from.
	LogSince(ctx context.Context, room string, from storage.Position) (storage.Log, error)
	// Snapshot reads the room's newest history (at most history
	// messages), its chatters and its log's position, at one moment.
	Snapshot(ctx context.Context, room string, history int) (storage.Snapshot, error)
	// Claim counts one more connection of this node holding the nickname
	// name in room. Without resume: a nickname nobody holds is claimed
	// with a new token and an EntryAdd is appended; one held with token
	// gains a connection; one held by another token is
	// storage.ErrNameTaken, unless no connection holds it (it is in its
	// grace), when it is taken over, its token renewed unless it matched.
	// With resume (a client recovering its session), the nickname is
	// claimed only with token: held or in its grace with another token,
	// it is storage.ErrNameTaken; held by nobody, it is claimed with
	// token.
	Claim(ctx context.Context, room, name, token string, resume bool) (storage.Claimed, error)
	// Release counts one connection of this node fewer holding name
	// (claimed with token; a claim with another token is left alone).
	// When no connection of any node holds it any more, it stays present
	// for grace, within which a Claim takes it back, and then an
	// EntryRemove is appended (at once with grace 0).
	Release(ctx context.Context, room, name, token string, grace time.Duration) error
	// Kick ends the presence of name in room, however many connections
	// of whichever nodes hold it: an EntryKick with reason is appended
	// and the nickname's sessions in the room end. It reports false, and
	// appends nothing, when the nickname was not present.
	Kick(ctx context.Context, room, name, reason string) (bool, error)
	// SaveSession keeps a lost client's session in room until its
	// Expires, for whichever node the client comes back to.
	SaveSession(ctx context.Context, room string, s storage.Session) error
	// TakeSession returns the session pid of room and forgets it (one
	// try); false when there is none, it expired, or its nickname was
	// kicked from the room after it was saved.
	TakeSession(ctx context.Context, room, pid string) (storage.Session, bool, error)
}
