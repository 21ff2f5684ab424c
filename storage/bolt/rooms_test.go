package bolt

import (
	"context"
	"errors"
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

func TestRemoveRoomTakesOnlyItsOwn(t *testing.T) {
	path := testPath(t)
	s := openStore(t, path, Options{})
	storetest.MustAddRoom(t, s, "games", "music")
	for _, room := range []string{storage.DefaultRoom, "games", "music"} {
		storetest.MustAppendTo(t, s, room, storetest.Msgs(room+" 1", room+" 2"))
		if err := s.SetChatters(t.Context(), room, []string{"ann", room + "-fan"}); err != nil {
			t.Fatal(err)
		}
	}
	until := storetest.BaseTime.Add(time.Hour)
	if err := s.Ban(t.Context(), "mallory", until); err != nil {
		t.Fatal(err)
	}
	keptGeneral, keptMusic := storetest.MustRecent(t, s), storetest.MustRecentOf(t, s, "music")

	if err := s.RemoveRoom(t.Context(), "games"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		err  error
	}{
		{"RecentMessages", func() error { _, err := s.RecentMessages(t.Context(), "games", 0); return err }()},
		{"Chatters", func() error { _, err := s.Chatters(t.Context(), "games"); return err }()},
		{"AppendMessages", func() error { _, err := s.AppendMessages(t.Context(), "games", storetest.Msgs("x")); return err }()},
	} {
		if !errors.Is(call.err, storage.ErrNoSuchRoom) {
			t.Errorf("%s of the removed room: %v, want ErrNoSuchRoom", call.name, call.err)
		}
	}
	if got := storetest.MustRecent(t, s); !slices.Equal(got, keptGeneral) {
		t.Errorf("general holds %+v, want %+v", got, keptGeneral)
	}
	if got := storetest.MustRecentOf(t, s, "music"); !slices.Equal(got, keptMusic) {
		t.Errorf("music holds %+v, want %+v", got, keptMusic)
	}
	if got := mustChatters(t, s, "music"); !slices.Equal(got, []string{"ann", "music-fan"}) {
		t.Errorf("music's chatters %q", got)
	}
	if got, banned, err := s.BanExpiry(t.Context(), "Mallory", storetest.BaseTime); err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry(mallory) = %v, %v, %v; the ban must stay", got, banned, err)
	}
	if from, err := s.RemoveChatter(t.Context(), "", "ann"); err != nil || !slices.Equal(from, []string{storage.DefaultRoom, "music"}) {
		t.Errorf("RemoveChatter(every room, ann) = %q, %v; want the rooms left", from, err)
	}

	// A room added under the name again is a new, empty room.
	storetest.MustAddRoom(t, s, "games")
	if got := storetest.MustRecentOf(t, s, "games"); len(got) != 0 {
		t.Errorf("the new games room holds %+v", got)
	}
	if got := mustChatters(t, s, "games"); len(got) != 0 {
		t.Errorf("the new games room has chatters %q", got)
	}
	if got := storetest.MustAppendTo(t, s, "games", storetest.Msgs("again")); got[0].ID != 1 {
		t.Errorf("the new games room's first ID is %d, want 1", got[0].ID)
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
