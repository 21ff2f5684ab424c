package storage

import "errors"

// The types below are those of a store that several servers (nodes)
// share, such as storage/redis: it gives each room one log, in one order
// for every node, of what happens in the room (messages, nicknames
// arriving and leaving, kicks), and every node delivers the log's entries
// to its own clients in that order.

// The kinds of a log entry.
const (
	// EntryMessage: Message was stored (a messages event).
	EntryMessage = "message"
	// EntryAdd: the nickname Name became present (add chatter).
	EntryAdd = "add"
	// EntryRemove: the nickname Name is no longer present (remove
	// chatter): its last connection left, its grace ran out, or the node
	// that held it stopped.
	EntryRemove = "remove"
	// EntryKick: the nickname Name was kicked, for Reason: the node that
	// holds its connections sends them kicked and closes them; everyone
	// else sees remove chatter.
	EntryKick = "kick"
)

// Entry is one entry of a shared room's log.
type Entry struct {
	// Epoch names the log's lifetime: positions of another epoch are not
	// this log's.
	Epoch string
	// Seq is the entry's position: a room's positions count up by one
	// from 1, without gaps, in the order the entries were appended.
	Seq uint64
	// Kind is one of the Entry kinds.
	Kind string
	// Message is the message stored (EntryMessage).
	Message Message
	// Name is the nickname as held (EntryAdd, EntryRemove, EntryKick).
	Name string
	// Reason is why the nickname was kicked (EntryKick).
	Reason string
}

// Position names a place in a room's log: after the entry Seq of the log
// of Epoch (Seq 0: before the first). The zero Position is the start of
// whichever log the room has.
type Position struct {
	Epoch string
	Seq   uint64
}

// Log is what a read of a room's log after a position returned.
type Log struct {
	// Epoch and Seq are the log's epoch and its newest position.
	Epoch string
	Seq   uint64
	// Entries are the entries after the position asked, oldest first, as
	// far as the log still holds them; of another epoch, every entry the
	// log holds.
	Entries []Entry
	// Complete reports whether Entries are every entry after the position
	// asked: false when the position is of another epoch or ahead of the
	// log, or the log no longer holds the entry right after it.
	Complete bool
}

// Batch is what a subscription receives: the entries one append added to
// a room's log, in order, or word that the rooms changed.
type Batch struct {
	// Room is the room appended to ("" with RoomsChanged).
	Room string
	// Entries are the entries appended, in order.
	Entries []Entry
	// RoomsChanged is set, with no entries, when a room was added or
	// removed (by any node or by the command line): the subscriber reads
	// the rooms again.
	RoomsChanged bool
}

// Subscription delivers the batches appended to every room of a shared
// store, and the changes to its rooms, from every node, in each room's
// order. It ends (Batches is closed) on Close, on a lost connection, or
// when its reader falls behind; a batch published while there is no
// subscription is never received, which is what reading the log after a
// position is for.
type Subscription interface {
	// Batches delivers the batches; it is closed when the subscription
	// ends.
	Batches() <-chan Batch
	// Err says why the subscription ended, once Batches is closed.
	Err() error
	// Close ends the subscription. Idempotent.
	Close()
}

// Snapshot is a shared room's state at one position of its log: what a
// node that opens the room starts from.
type Snapshot struct {
	// History is the newest messages, oldest first.
	History []Message
	// Chatters are the nicknames present, in any order.
	Chatters []string
	// At is the log's position the snapshot is of: entries after it are
	// not in it.
	At Position
}

// Claimed is what claiming a nickname in a shared room gave.
type Claimed struct {
	// Token is the nickname's resume token: the one given when it
	// matched, a new one otherwise.
	Token string
	// Added is the position of the add entry the claim appended; zero
	// when the nickname was present already (held with its token, or
	// taken back within its grace) and nothing was appended.
	Added Position
	// Present is the position of the add entry that made the nickname
	// present: Added, or that of the claim that first took it. A node
	// that has applied the log up to it knows the nickname as present.
	Present Position
}

// ErrNameTaken is returned by a claim of a nickname that another person
// holds (with another token) in the room.
var ErrNameTaken = errors.New("the nickname is in use")
