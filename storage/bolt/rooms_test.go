package bolt

import (
	"context"
	"slices"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

// TestAddedRoomsReadOnly: a file opened read-only lists the rooms added
// to it as they were added (storetest.Rooms reopens for writing).
func TestAddedRoomsReadOnly(t *testing.T) {
	path := testPath(t)
	s := openStore(t, path, Options{})
	created := time.Date(2025, 5, 4, 3, 2, 1, 987654321, time.FixedZone("UTC+2", 2*60*60))
	for _, r := range []storage.Room{{Name: "games", Topic: "board games on Fridays"}, {Name: "music", Created: created}, {Name: "fr", Topic: "« le café » ☕"}} {
		if err := s.AddRoom(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	want := storetest.MustRooms(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := storetest.MustRooms(t, openStore(t, path, Options{ReadOnly: true})); !slices.Equal(got, want) {
		t.Errorf("read-only Rooms = %+v, want %+v", got, want)
	}
}

// TestCancelledContextRefusesWithoutWriting: the presence calls refuse
// a cancelled context as the calls of storetest.Cancelled do, and write
// nothing.
func TestCancelledContextRefusesWithoutWriting(t *testing.T) {
	path := testPath(t)
	s := openStore(t, path, Options{})
	storetest.MustAddRoom(t, s, "games")
	if err := s.SetChatters(t.Context(), "games", []string{"ann"}); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, path)
	storetest.RefuseCancelled(t, []storetest.Call{
		{Op: "set chatters of room games", Do: func(ctx context.Context) error { return s.SetChatters(ctx, "games", nil) }},
		{Op: "chatters of room games", Do: func(ctx context.Context) error { _, err := s.Chatters(ctx, "games"); return err }},
		{Op: "remove chatter from room games", Do: func(ctx context.Context) error { _, err := s.RemoveChatter(ctx, "games", "ann"); return err }},
		{Op: "remove chatter from every room", Do: func(ctx context.Context) error { _, err := s.RemoveChatter(ctx, "", "ann"); return err }},
	})
	assertUnchanged(t, path, before)
	if got := mustChatters(t, s, "games"); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("games has chatters %q", got)
	}
}
