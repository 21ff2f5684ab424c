// Package storage holds the types, errors and defaults shared by
// chatserver's stores and the chat room that uses them.
//
// The chat package defines the Store interface it needs; the subpackages
// (storage/bolt, later storage/redis) implement it with these types, so that
// data flows one way: web → chat → storage.
package storage

import (
	"errors"
	"time"
)

// DefaultHistory is how many messages are kept and replayed to a joining
// chatter unless configured otherwise: the default of the chat room's
// Config.History, of a store's history size and of --history.
const DefaultHistory = 10

// Message is one stored chat message.
type Message struct {
	// ID is assigned by the store: strictly increasing, never reused.
	ID uint64 `json:"id"`
	// Name is the sender's nickname as it was when the message was sent.
	Name string `json:"name"`
	// Text is the message body, already validated and trimmed.
	Text string `json:"text"`
	// Time is when the server accepted the message, in UTC.
	Time time.Time `json:"time"`
}

var (
	// ErrLocked is returned by Open when another process (normally a running
	// chatserver serve) holds the database file and it could not be opened
	// within the timeout.
	ErrLocked = errors.New("database file is in use by another process")

	// ErrNotChatserver is returned by Open when the file exists but is not a
	// chatserver database (not bbolt, corrupt, or another program's bbolt
	// file). The file is left untouched.
	ErrNotChatserver = errors.New("not a chatserver database")

	// ErrReadOnly is returned by writes on a store opened read-only.
	ErrReadOnly = errors.New("database opened read-only")

	// ErrClosed is returned by any call on a store after Close.
	ErrClosed = errors.New("database closed")

	// ErrNewerSchema is returned by Open when the file was written by a newer
	// chatserver whose schema this binary does not understand. The file is
	// left untouched; upgrade chatserver or use another file.
	ErrNewerSchema = errors.New("database was written by a newer chatserver")

	// ErrCorrupt is returned by a call on an open store when the underlying
	// file turned out to be damaged while it was being read or written (for
	// example pages overwritten behind the store's back). The store should
	// be closed and the file checked or replaced.
	ErrCorrupt = errors.New("database file is corrupt")
)
