package storetest

// The helpers below serve the suite and the stores' own tests alike.

import (
	"testing"
	"time"

	"chatserver/storage"
)

// BaseTime is the send time of the first message made by Msgs.
var BaseTime = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// Msgs returns one message per text, from "ann", one second apart.
func Msgs(texts ...string) []storage.Message {
	out := make([]storage.Message, len(texts))
	for i, text := range texts {
		out[i] = storage.Message{Name: "ann", Text: text, Time: BaseTime.Add(time.Duration(i) * time.Second)}
	}
	return out
}

// Texts returns the Text of each message.
func Texts(ms []storage.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// IDs returns the ID of each message.
func IDs(ms []storage.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// MustAppend appends to the default room and fails the test on error.
func MustAppend(tb testing.TB, s Store, ms []storage.Message) []storage.Message {
	tb.Helper()
	return MustAppendTo(tb, s, storage.DefaultRoom, ms)
}

// MustAppendTo appends to room and fails the test on error.
func MustAppendTo(tb testing.TB, s Store, room string, ms []storage.Message) []storage.Message {
	tb.Helper()
	got, err := s.AppendMessages(tb.Context(), room, ms)
	if err != nil {
		tb.Fatalf("AppendMessages(%s, %d messages): %v", room, len(ms), err)
	}
	return got
}

// MustRecent reads all messages the default room keeps and fails the
// test on error.
func MustRecent(tb testing.TB, s Store) []storage.Message {
	tb.Helper()
	return MustRecentOf(tb, s, storage.DefaultRoom)
}

// MustRecentOf reads all messages room keeps and fails the test on error.
func MustRecentOf(tb testing.TB, s Store, room string) []storage.Message {
	tb.Helper()
	got, err := s.RecentMessages(tb.Context(), room, 0)
	if err != nil {
		tb.Fatalf("RecentMessages(%s, 0): %v", room, err)
	}
	return got
}

// MustAddRoom adds the rooms named and fails the test on error.
func MustAddRoom(tb testing.TB, s Store, names ...string) {
	tb.Helper()
	for _, name := range names {
		if err := s.AddRoom(tb.Context(), storage.Room{Name: name}); err != nil {
			tb.Fatalf("AddRoom(%s): %v", name, err)
		}
	}
}

// MustRooms lists the rooms and fails the test on error.
func MustRooms(tb testing.TB, s Store) []storage.Room {
	tb.Helper()
	rooms, err := s.Rooms(tb.Context())
	if err != nil {
		tb.Fatalf("Rooms: %v", err)
	}
	return rooms
}

// RoomNames returns the name of each room.
func RoomNames(rooms []storage.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.Name
	}
	return out
}

// checkHeld fails t if s is an Inspector and room holds other than want
// messages (or more than want, when atMost).
func checkHeld(t testing.TB, s Store, room string, want int, atMost bool) {
	t.Helper()
	in, ok := s.(Inspector)
	if !ok {
		return
	}
	n := in.Held(t, room)
	switch {
	case atMost && n > want:
		t.Fatalf("%s holds %d messages after AppendMessages, history is %d", room, n, want)
	case !atMost && n != want:
		t.Errorf("%s holds %d messages, want %d", room, n, want)
	}
}

// snapshot is s's Snapshot if s is an Inspector, else a check that
// checks nothing.
func snapshot(t testing.TB, s Store) func(t testing.TB) {
	t.Helper()
	if in, ok := s.(Inspector); ok {
		return in.Snapshot(t)
	}
	return func(testing.TB) {}
}

// reopen is s's Reopen if s is an Inspector; for a store that is not,
// it skips t, whose checks need the data opened again.
func reopen(t testing.TB, s Store, opts Options) Store {
	t.Helper()
	in, ok := s.(Inspector)
	if !ok {
		t.Skip("the store cannot be opened again")
	}
	return in.Reopen(t, opts)
}
