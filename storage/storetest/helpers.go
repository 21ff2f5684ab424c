package storetest

import (
	"testing"
	"time"

	"chatserver/storage"
)

// baseTime is the send time of the first message made by msgs.
var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// msgs returns one message per text, from "ann", one second apart.
func msgs(texts ...string) []storage.Message {
	out := make([]storage.Message, len(texts))
	for i, text := range texts {
		out[i] = storage.Message{Name: "ann", Text: text, Time: baseTime.Add(time.Duration(i) * time.Second)}
	}
	return out
}

// texts returns the Text of each message.
func texts(ms []storage.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// ids returns the ID of each message.
func ids(ms []storage.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// mustAppendTo appends to room and fails the test on error.
func mustAppendTo(tb testing.TB, s Store, room string, ms []storage.Message) []storage.Message {
	tb.Helper()
	got, err := s.AppendMessages(tb.Context(), room, ms)
	if err != nil {
		tb.Fatalf("AppendMessages(%s, %d messages): %v", room, len(ms), err)
	}
	return got
}

// mustRecentOf reads all messages room keeps and fails the test on error.
func mustRecentOf(tb testing.TB, s Store, room string) []storage.Message {
	tb.Helper()
	got, err := s.RecentMessages(tb.Context(), room, 0)
	if err != nil {
		tb.Fatalf("RecentMessages(%s, 0): %v", room, err)
	}
	return got
}

// mustAddRoom adds the rooms named and fails the test on error.
func mustAddRoom(tb testing.TB, s Store, names ...string) {
	tb.Helper()
	for _, name := range names {
		if err := s.AddRoom(tb.Context(), storage.Room{Name: name}); err != nil {
			tb.Fatalf("AddRoom(%s): %v", name, err)
		}
	}
}

// mustRooms lists the rooms and fails the test on error.
func mustRooms(tb testing.TB, s Store) []storage.Room {
	tb.Helper()
	rooms, err := s.Rooms(tb.Context())
	if err != nil {
		tb.Fatalf("Rooms: %v", err)
	}
	return rooms
}

// roomNames returns the name of each room.
func roomNames(rooms []storage.Room) []string {
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
func reopen(t testing.TB, s Store) Store {
	t.Helper()
	in, ok := s.(Inspector)
	if !ok {
		t.Skip("the store cannot be opened again")
	}
	return in.Reopen(t)
}
