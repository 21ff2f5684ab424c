package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
)

// Rooms checks Rooms, AddRoom and RemoveRoom: the names a store takes
// and refuses, what it keeps of a room, the order it lists rooms in,
// the messages it counts, and the default room that cannot be removed.
func Rooms(t *testing.T, open Open) {
	t.Run("AddRoom", func(t *testing.T) { addRoom(t, open) })
	t.Run("Rooms counts messages", func(t *testing.T) { roomsCountsMessages(t, open) })
	t.Run("RemoveRoom", func(t *testing.T) { removeRoom(t, open) })
}

func addRoom(t *testing.T, open Open) {
	created := time.Date(2025, 5, 4, 3, 2, 1, 987654321, time.FixedZone("UTC+2", 2*60*60))
	long := strings.Repeat("x", storage.MaxRoomName)
	tests := []struct {
		name    string
		room    storage.Room
		wantErr error // nil: added
	}{
		{"a room", storage.Room{Name: "games", Topic: "board games on Fridays"}, nil},
		{"one character", storage.Room{Name: "a"}, nil},
		{"digits, dash and underscore", storage.Room{Name: "9-to_5"}, nil},
		{"the longest name", storage.Room{Name: long}, nil},
		{"a creation time given", storage.Room{Name: "music", Created: created}, nil},
		{"messages given are ignored", storage.Room{Name: "news", Messages: 7}, nil},
		{"a topic that is not ASCII", storage.Room{Name: "fr", Topic: "« le café » ☕"}, nil},
		{"the default room exists", storage.Room{Name: storage.DefaultRoom}, storage.ErrRoomExists},
		{"a room that exists", storage.Room{Name: "old"}, storage.ErrRoomExists},
		{"empty name", storage.Room{Name: ""}, storage.ErrBadRoomName},
		{"upper case", storage.Room{Name: "Games"}, storage.ErrBadRoomName},
		{"a space", storage.Room{Name: "board games"}, storage.ErrBadRoomName},
		{"leading dash", storage.Room{Name: "-games"}, storage.ErrBadRoomName},
		{"not ASCII", storage.Room{Name: "café"}, storage.ErrBadRoomName},
		{"a slash", storage.Room{Name: "a/b"}, storage.ErrBadRoomName},
		{"a colon", storage.Room{Name: "a:b"}, storage.ErrBadRoomName},
		{"a star", storage.Room{Name: "a*"}, storage.ErrBadRoomName},
		{"too long", storage.Room{Name: long + "x"}, storage.ErrBadRoomName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, Options{})
			if err := s.AddRoom(t.Context(), storage.Room{Name: "old", Topic: "kept"}); err != nil {
				t.Fatal(err)
			}
			before, unchanged := MustRooms(t, s), snapshot(t, s)
			start := time.Now().UTC()
			err := s.AddRoom(t.Context(), tt.room)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AddRoom(%+v) = %v, want %v", tt.room, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "add room ") {
					t.Errorf("error %q does not say what failed", err)
				}
				if got := MustRooms(t, s); !slices.Equal(got, before) {
					t.Errorf("after a refused AddRoom Rooms = %+v, want %+v", got, before)
				}
				unchanged(t)
				return
			}
			if err != nil {
				t.Fatalf("AddRoom(%+v): %v", tt.room, err)
			}
			got := MustRooms(t, s)
			wantNames := []string{storage.DefaultRoom}
			wantNames = append(wantNames, slices.Sorted(slices.Values([]string{"old", tt.room.Name}))...)
			if names := RoomNames(got); !slices.Equal(names, wantNames) {
				t.Fatalf("Rooms lists %q, want %q", names, wantNames)
			}
			r := got[slices.Index(RoomNames(got), tt.room.Name)]
			if r.Topic != tt.room.Topic || r.Messages != 0 {
				t.Errorf("room %+v, want topic %q and no messages", r, tt.room.Topic)
			}
			switch {
			case !tt.room.Created.IsZero() && (!r.Created.Equal(tt.room.Created) || r.Created.Location() != time.UTC):
				t.Errorf("created %v, want %v in UTC", r.Created, tt.room.Created)
			case tt.room.Created.IsZero() && (r.Created.Before(start) || r.Created.After(time.Now()) || r.Created.Location() != time.UTC):
				t.Errorf("created %v, want now in UTC", r.Created)
			}
			if again := MustRooms(t, reopen(t, s, Options{})); !slices.Equal(again, got) {
				t.Errorf("after reopening Rooms = %+v, want %+v", again, got)
			}
		})
	}
}

func roomsCountsMessages(t *testing.T, open Open) {
	s := open(t, Options{History: 4})
	MustAddRoom(t, s, "zoo", "games", "music")
	MustAppend(t, s, Msgs("a", "b"))
	MustAppendTo(t, s, "games", Msgs("a", "b", "c", "d", "e", "f"))
	MustAppendTo(t, s, "zoo", Msgs("a"))
	want := map[string]int{storage.DefaultRoom: 2, "games": 4, "music": 0, "zoo": 1}
	rooms := MustRooms(t, s)
	for _, r := range rooms {
		if r.Messages != want[r.Name] {
			t.Errorf("room %s keeps %d messages, want %d", r.Name, r.Messages, want[r.Name])
		}
	}
	if names, wantNames := RoomNames(rooms), []string{storage.DefaultRoom, "games", "music", "zoo"}; !slices.Equal(names, wantNames) {
		t.Errorf("Rooms lists %q, want %q: the default room first, then by name", names, wantNames)
	}
}

func removeRoom(t *testing.T, open Open) {
	tests := []struct {
		name    string
		remove  []string // removed in turn; all but the last must succeed
		wantErr error
		left    []string
	}{
		{"a room", []string{"games"}, nil, []string{storage.DefaultRoom, "music"}},
		{"both rooms", []string{"music", "games"}, nil, []string{storage.DefaultRoom}},
		{"the default room", []string{storage.DefaultRoom}, storage.ErrDefaultRoom, []string{storage.DefaultRoom, "games", "music"}},
		{"a missing room", []string{"news"}, storage.ErrNoSuchRoom, []string{storage.DefaultRoom, "games", "music"}},
		{"a room twice", []string{"games", "games"}, storage.ErrNoSuchRoom, []string{storage.DefaultRoom, "music"}},
		{"a bad name", []string{"Games"}, storage.ErrNoSuchRoom, []string{storage.DefaultRoom, "games", "music"}},
		{"the empty name", []string{""}, storage.ErrNoSuchRoom, []string{storage.DefaultRoom, "games", "music"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, Options{})
			MustAddRoom(t, s, "games", "music")
			var err error
			for i, name := range tt.remove {
				if i == len(tt.remove)-1 && tt.wantErr != nil {
					unchanged := snapshot(t, s)
					err = s.RemoveRoom(t.Context(), name)
					unchanged(t)
					break
				}
				if err := s.RemoveRoom(t.Context(), name); err != nil {
					t.Fatalf("RemoveRoom(%q): %v", name, err)
				}
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("RemoveRoom = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "remove room ") {
				t.Errorf("error %q does not say what failed", err)
			}
			if names := RoomNames(MustRooms(t, s)); !slices.Equal(names, tt.left) {
				t.Errorf("rooms left %q, want %q", names, tt.left)
			}
		})
	}
}

// Call is one call of a store, for RefuseCancelled.
type Call struct {
	// Op is how the call's errors begin ("remove room games").
	Op string
	// Do makes the call with ctx.
	Do func(ctx context.Context) error
}

// Cancelled checks that every call of Store refuses a context that is
// cancelled or past its deadline, with an error that says what failed
// and wraps the context's, and writes nothing.
func Cancelled(t *testing.T, open Open) {
	s := open(t, Options{})
	MustAddRoom(t, s, "games")
	MustAppendTo(t, s, "games", Msgs("kept"))
	if err := s.Ban(t.Context(), "mallory", BaseTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	unchanged := snapshot(t, s)
	RefuseCancelled(t, []Call{
		{"rooms", func(ctx context.Context) error { _, err := s.Rooms(ctx); return err }},
		{"add room music", func(ctx context.Context) error { return s.AddRoom(ctx, storage.Room{Name: "music"}) }},
		{`add room "Bad"`, func(ctx context.Context) error { return s.AddRoom(ctx, storage.Room{Name: "Bad"}) }},
		{"remove room games", func(ctx context.Context) error { return s.RemoveRoom(ctx, "games") }},
		{"append messages to room games", func(ctx context.Context) error {
			_, err := s.AppendMessages(ctx, "games", Msgs("lost"))
			return err
		}},
		{"recent messages of room games", func(ctx context.Context) error { _, err := s.RecentMessages(ctx, "games", 0); return err }},
		{"ban expiry", func(ctx context.Context) error { _, _, err := s.BanExpiry(ctx, "mallory", BaseTime); return err }},
		{"ban", func(ctx context.Context) error { return s.Ban(ctx, "eve", BaseTime.Add(time.Hour)) }},
		{"unban", func(ctx context.Context) error { _, err := s.Unban(ctx, "mallory"); return err }},
		{"save recovery state", func(ctx context.Context) error { return s.SaveRecovery(ctx, storage.RecoveryState{}) }},
		{"take recovery state", func(ctx context.Context) error { _, _, err := s.TakeRecovery(ctx); return err }},
	})
	unchanged(t)
	if got := Texts(MustRecentOf(t, s, "games")); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("games holds %q", got)
	}
}

// RefuseCancelled makes each call with a context cancelled and with one
// past its deadline, and fails t unless each call's error wraps the
// context's and begins with its Op and ": ". A store's own tests pass
// the calls it has beyond Store.
func RefuseCancelled(t *testing.T, calls []Call) {
	t.Helper()
	for _, cause := range []struct {
		name string
		ctx  func() context.Context
		want error
	}{
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, context.Canceled},
		{"past its deadline", func() context.Context {
			ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
	} {
		ctx := cause.ctx()
		for _, c := range calls {
			t.Run(cause.name+"/"+c.Op, func(t *testing.T) {
				err := c.Do(ctx)
				if !errors.Is(err, cause.want) {
					t.Errorf("error %v, want %v", err, cause.want)
				}
				if want := c.Op + ": "; err != nil && !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error %q, want it to start with %q", err, want)
				}
			})
		}
	}
}

// RemoveRoomTakesOnlyItsOwn checks that removing a room takes its
// messages and its chatters and leaves the other rooms' and the bans,
// and that a room added again under its name is new and empty.
func RemoveRoomTakesOnlyItsOwn(t *testing.T, open Open, presence func(s Store) Presence) {
	s := open(t, Options{})
	p := presence(s)
	MustAddRoom(t, s, "games", "music")
	for _, room := range []string{storage.DefaultRoom, "games", "music"} {
		MustAppendTo(t, s, room, Msgs(room+" 1", room+" 2"))
		if err := p.Fill(t.Context(), room); err != nil {
			t.Fatal(err)
		}
	}
	until := BaseTime.Add(time.Hour)
	if err := s.Ban(t.Context(), "mallory", until); err != nil {
		t.Fatal(err)
	}
	keptGeneral, keptMusic := MustRecent(t, s), MustRecentOf(t, s, "music")

	if err := s.RemoveRoom(t.Context(), "games"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		err  error
	}{
		{"RecentMessages", func() error { _, err := s.RecentMessages(t.Context(), "games", 0); return err }()},
		{"Chatters", func() error { _, err := p.Chatters(t.Context(), "games"); return err }()},
		{"AppendMessages", func() error { _, err := s.AppendMessages(t.Context(), "games", Msgs("x")); return err }()},
	} {
		if !errors.Is(call.err, storage.ErrNoSuchRoom) {
			t.Errorf("%s of the removed room: %v, want ErrNoSuchRoom", call.name, call.err)
		}
	}
	if got := MustRecent(t, s); !slices.Equal(got, keptGeneral) {
		t.Errorf("general holds %+v, want %+v", got, keptGeneral)
	}
	if got := MustRecentOf(t, s, "music"); !slices.Equal(got, keptMusic) {
		t.Errorf("music holds %+v, want %+v", got, keptMusic)
	}
	if got, err := p.Chatters(t.Context(), "music"); err != nil || !slices.Equal(got, []string{"ann", "music-fan"}) {
		t.Errorf("music's chatters %q, %v", got, err)
	}
	if got, banned, err := s.BanExpiry(t.Context(), "Mallory", BaseTime); err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry(mallory) = %v, %v, %v; the ban must stay", got, banned, err)
	}
	if p.Removed != nil {
		p.Removed(t, "games")
	}

	// A room added under the name again is a new, empty room.
	MustAddRoom(t, s, "games")
	if got := MustRecentOf(t, s, "games"); len(got) != 0 {
		t.Errorf("the new games room holds %+v", got)
	}
	if got, err := p.Chatters(t.Context(), "games"); err != nil || len(got) != 0 {
		t.Errorf("the new games room has chatters %q, %v", got, err)
	}
	if got := MustAppendTo(t, s, "games", Msgs("again")); got[0].ID != 1 {
		t.Errorf("the new games room's first ID is %d, want 1", got[0].ID)
	}
}
