package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"chatserver/storage"
)

// Presence is how a store makes chatters come and go, which the stores
// do in their own ways (a list of chatters, claimed nicknames), for
// Concurrently and RemoveRoomTakesOnlyItsOwn.
type Presence struct {
	// Visit makes "ann" present in room and then gone from it.
	Visit func(ctx context.Context, room string) error
	// Fill makes "ann" and room+"-fan" present in room, and may leave
	// there whatever else the store keeps of who comes and goes.
	Fill func(ctx context.Context, room string) error
	// Chatters lists the names present in room.
	Chatters func(ctx context.Context, room string) ([]string, error)
	// Removed, if not nil, checks what the store's own calls make of
	// room once it is removed, after the suite's checks.
	Removed func(t *testing.T, room string)
}

// Concurrently checks that a store serves many callers at once (run it
// with -race): one writer per room whose IDs go up by one, a chatter
// coming and going through presence(s), a room added and removed, and
// readers listing rooms and reading messages; at the end every room
// holds all its messages and no one is left present.
func Concurrently(t *testing.T, open Open, presence func(s Store) Presence) {
	const (
		rooms   = 4
		batches = 25
		batch   = 3
	)
	s := open(t, Options{History: batches * batch})
	p := presence(s)
	names := []string{storage.DefaultRoom}
	for i := 1; i < rooms; i++ {
		names = append(names, fmt.Sprintf("room-%d", i))
	}
	MustAddRoom(t, s, names[1:]...)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	// One writer per room, checking that its IDs go up by one.
	for _, room := range names {
		wg.Go(func() {
			var last uint64
			for range batches {
				got, err := s.AppendMessages(t.Context(), room, Msgs("a", "b", "c"))
				if err != nil {
					report(err)
					return
				}
				for _, m := range got {
					if m.ID != last+1 {
						report(fmt.Errorf("room %s: ID %d after %d", room, m.ID, last))
					}
					last = m.ID
				}
			}
		})
	}
	// A chatter comes and goes in every room.
	wg.Go(func() {
		for i := range batches {
			if err := p.Visit(t.Context(), names[i%rooms]); err != nil {
				report(err)
				return
			}
		}
	})
	// A room is added and removed meanwhile; readers list and read.
	wg.Go(func() {
		for range batches {
			if err := s.AddRoom(t.Context(), storage.Room{Name: "scratch"}); err != nil {
				report(err)
				return
			}
			if _, err := s.AppendMessages(t.Context(), "scratch", Msgs("x")); err != nil {
				report(err)
				return
			}
			if err := s.RemoveRoom(t.Context(), "scratch"); err != nil {
				report(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for range batches {
				if _, err := s.Rooms(t.Context()); err != nil {
					report(err)
					return
				}
				for _, room := range names {
					if _, err := s.RecentMessages(t.Context(), room, 5); err != nil {
						report(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := MustRooms(t, s)
	if len(got) != rooms {
		t.Fatalf("Rooms = %+v, want %d rooms", got, rooms)
	}
	for i, r := range got {
		if r.Name != names[i] || r.Messages != batches*batch {
			t.Errorf("room %d is %+v, want %s with %d messages", i, r, names[i], batches*batch)
		}
		chatters, err := p.Chatters(t.Context(), r.Name)
		if err != nil {
			t.Fatalf("Chatters(%s): %v", r.Name, err)
		}
		if slices.Contains(chatters, "ann") {
			t.Errorf("ann still present in %s: %q", r.Name, chatters)
		}
	}
}
