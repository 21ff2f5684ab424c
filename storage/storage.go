// Package storage holds the types, errors and defaults shared by
// chatserver's stores and the chat room that uses them.
//
// The chat package defines the Store interface it needs; the subpackages
// (storage/bolt, later storage/redis) implement it with these types, so that
// data flows one way: web → chat → storage.
package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// DefaultHistory is how many messages are kept and replayed to a joining
// chatter unless configured otherwise: the default of the chat room's
// Config.History, of a store's history size and of --history.
const DefaultHistory = 10

// DefaultRoom is the name of the room that always exists: the one every
// classic client reaches at the Socket.IO namespace "/", and the one a file
// written before rooms existed holds its history in. It cannot be added or
// removed.
const DefaultRoom = "general"

// MaxRoomName is the longest room name, in characters.
const MaxRoomName = 32

// CheckRoomName reports whether name may name a room: 1 to MaxRoomName
// characters of a-z, 0-9, '-' and '_', starting with a letter or a digit.
// The error is a *RoomNameError: its text says what is wrong in plain
// words, and it matches ErrBadRoomName (errors.Is).
func CheckRoomName(name string) error {
	switch {
	case name == "":
		return &RoomNameError{"the room name is empty"}
	case len(name) > MaxRoomName:
		return &RoomNameError{fmt.Sprintf("the room name %q is longer than %d characters", name, MaxRoomName)}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return &RoomNameError{fmt.Sprintf("the room name %q may hold only a-z, 0-9, - and _, and must start with a letter or digit", name)}
		}
	}
	return nil
}

// RoomNameError is CheckRoomName's refusal of a name.
type RoomNameError struct {
	// Problem is what is wrong, in plain words fit to show.
	Problem string
}

func (e *RoomNameError) Error() string { return e.Problem }

// Is makes a RoomNameError match ErrBadRoomName.
func (e *RoomNameError) Is(target error) bool { return target == ErrBadRoomName }

// Room is one room as stored.
type Room struct {
	// Name is the room's name (CheckRoomName); DefaultRoom for the
	// default room.
	Name string `json:"name"`
	// Topic is a line the operator gave the room, or "".
	Topic string `json:"topic"`
	// Created is when the room was added, in UTC; the zero time for the
	// default room of a file written before rooms existed.
	Created time.Time `json:"created"`
	// Messages is how many messages the room keeps (filled in by the
	// stores' Rooms; ignored by AddRoom).
	Messages int `json:"messages"`
}

// Message is one stored chat message.
type Message struct {
	// ID is assigned by the store: strictly increasing within its room,
	// never reused by it (a room removed and added again begins anew).
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

	// ErrNoSuchRoom is returned by calls naming a room the store does not
	// have.
	ErrNoSuchRoom = errors.New("no such room")

	// ErrRoomExists is returned by AddRoom for a room that exists already
	// (DefaultRoom always does).
	ErrRoomExists = errors.New("room exists already")

	// ErrDefaultRoom is returned by RemoveRoom for DefaultRoom, which
	// always exists.
	ErrDefaultRoom = errors.New("the default room cannot be removed")

	// ErrBadRoomName is wrapped by CheckRoomName's errors.
	ErrBadRoomName = errors.New("bad room name")

	// ErrCorrupt is returned by a call on an open store when the underlying
	// file turned out to be damaged while it was being read or written (for
	// example pages overwritten behind the store's back). The store should
	// be closed and the file checked or replaced.
	ErrCorrupt = errors.New("database file is corrupt")
)

// RecoveryState is what a server keeps across a clean restart so that the
// clients it had recover what they missed (Socket.IO connection state
// recovery): per room, the position and the recent events of its event
// log and the sessions of the clients that were connected. A store keeps
// one: saved at a clean shutdown, taken back (and removed) at the next
// start.
type RecoveryState struct {
	// Saved is when the state was saved, in UTC.
	Saved time.Time `json:"saved"`
	// Rooms are the rooms' logs and sessions.
	Rooms []RoomRecovery `json:"rooms"`
}

// RoomRecovery is one room's part of a RecoveryState.
type RoomRecovery struct {
	Room string `json:"room"`
	// Created is the room's Created: a room removed and added again
	// under the same name is another room, with no state to take back.
	Created time.Time `json:"created"`
	// Epoch names the log's lifetime: offsets of another epoch are not
	// this log's.
	Epoch string `json:"epoch"`
	// Seq is the position of the newest event the log ever held.
	Seq uint64 `json:"seq"`
	// Events are the newest events, oldest first, with no gap up to Seq.
	Events []LoggedEvent `json:"events"`
	// Sessions are the clients that may recover.
	Sessions []Session `json:"sessions"`
}

// LoggedEvent is one event of a room's log as the clients receive it.
type LoggedEvent struct {
	Seq  uint64            `json:"seq"`
	Name string            `json:"name"`
	Args []json.RawMessage `json:"args"`
}

// Session is a client that lost its connection and may recover it.
type Session struct {
	// PID is the private session id the client recovers with.
	PID string `json:"pid"`
	// SocketID is the id the client's socket had, and keeps.
	SocketID string `json:"socket_id"`
	// Name and Token are the nickname it held and its resume token.
	Name  string `json:"name"`
	Token string `json:"token"`
	// From is the log position the client has surely seen everything up
	// to.
	From uint64 `json:"from"`
	// Expires is when the session ends, in UTC.
	Expires time.Time `json:"expires"`
}

// HistorySize returns the history size a store keeps for n: n itself,
// DefaultHistory for 0, and an error for a negative n.
func HistorySize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("history must be at least 1, got %d", n)
	case n == 0:
		return DefaultHistory, nil
	}
	return n, nil
}
