package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/storage"
)

func TestAddRoom(t *testing.T) {
	srv := startServer(t)
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
			s := openStore(t, srv, Options{})
			if err := s.AddRoom(t.Context(), storage.Room{Name: "old", Topic: "kept"}); err != nil {
				t.Fatal(err)
			}
			before, beforeData := mustRooms(t, s), dump(t, srv, s.opts.Prefix)
			start := time.Now().UTC()
			err := s.AddRoom(t.Context(), tt.room)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AddRoom(%+v) = %v, want %v", tt.room, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "add room ") {
					t.Errorf("error %q does not say what failed", err)
				}
				if got := mustRooms(t, s); !slices.Equal(got, before) {
					t.Errorf("after a refused AddRoom Rooms = %+v, want %+v", got, before)
				}
				assertUnchanged(t, srv, s.opts.Prefix, beforeData)
				return
			}
			if err != nil {
				t.Fatalf("AddRoom(%+v): %v", tt.room, err)
			}
			got := mustRooms(t, s)
			wantNames := []string{storage.DefaultRoom}
			wantNames = append(wantNames, slices.Sorted(slices.Values([]string{"old", tt.room.Name}))...)
			if names := roomNames(got); !slices.Equal(names, wantNames) {
				t.Fatalf("Rooms lists %q, want %q", names, wantNames)
			}
			r := got[slices.Index(roomNames(got), tt.room.Name)]
			if r.Topic != tt.room.Topic || r.Messages != 0 {
				t.Errorf("room %+v, want topic %q and no messages", r, tt.room.Topic)
			}
			switch {
			case !tt.room.Created.IsZero() && (!r.Created.Equal(tt.room.Created) || r.Created.Location() != time.UTC):
				t.Errorf("created %v, want %v in UTC", r.Created, tt.room.Created)
			case tt.room.Created.IsZero() && (r.Created.Before(start) || r.Created.After(time.Now()) || r.Created.Location() != time.UTC):
				t.Errorf("created %v, want now in UTC", r.Created)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if again := mustRooms(t, openStore(t, srv, Options{Prefix: s.opts.Prefix})); !slices.Equal(again, got) {
				t.Errorf("after reopening Rooms = %+v, want %+v", again, got)
			}
		})
	}
}

func TestRoomsCountsMessages(t *testing.T) {
	s := openStore(t, startServer(t), Options{History: 4})
	mustAddRoom(t, s, "zoo", "games", "music")
	mustAppend(t, s, msgs("a", "b"))
	mustAppendTo(t, s, "games", msgs("a", "b", "c", "d", "e", "f"))
	mustAppendTo(t, s, "zoo", msgs("a"))
	want := map[string]int{storage.DefaultRoom: 2, "games": 4, "music": 0, "zoo": 1}
	rooms := mustRooms(t, s)
	for _, r := range rooms {
		if r.Messages != want[r.Name] {
			t.Errorf("room %s keeps %d messages, want %d", r.Name, r.Messages, want[r.Name])
		}
	}
	if names, wantNames := roomNames(rooms), []string{storage.DefaultRoom, "games", "music", "zoo"}; !slices.Equal(names, wantNames) {
		t.Errorf("Rooms lists %q, want %q: the default room first, then by name", names, wantNames)
	}
}

func TestRemoveRoom(t *testing.T) {
	srv := startServer(t)
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
			s := openStore(t, srv, Options{})
			mustAddRoom(t, s, "games", "music")
			var err error
			for i, name := range tt.remove {
				if i == len(tt.remove)-1 && tt.wantErr != nil {
					before := dump(t, srv, s.opts.Prefix)
					err = s.RemoveRoom(t.Context(), name)
					assertUnchanged(t, srv, s.opts.Prefix, before)
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
			if names := roomNames(mustRooms(t, s)); !slices.Equal(names, tt.left) {
				t.Errorf("rooms left %q, want %q", names, tt.left)
			}
		})
	}
}

func TestRemoveRoomTakesOnlyItsOwn(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	mustAddRoom(t, s, "games", "music")
	for _, room := range []string{storage.DefaultRoom, "games", "music"} {
		mustAppendTo(t, s, room, msgs(room+" 1", room+" 2"))
		mustClaim(t, s, room, "ann", "")
		fan := mustClaim(t, s, room, room+"-fan", "")
		// One in its grace, one kicked: a grace and a kick time.
		if err := s.Release(t.Context(), room, room+"-fan", fan.Token, time.Hour); err != nil {
			t.Fatal(err)
		}
		mustClaim(t, s, room, "mallory", "")
		if _, err := s.Kick(t.Context(), room, "mallory", "spam"); err != nil {
			t.Fatal(err)
		}
	}
	until := baseTime.Add(time.Hour)
	if err := s.Ban(t.Context(), "mallory", until); err != nil {
		t.Fatal(err)
	}
	keptGeneral, keptMusic := mustRecent(t, s), mustRecentOf(t, s, "music")

	if err := s.RemoveRoom(t.Context(), "games"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		err  error
	}{
		{"RecentMessages", func() error { _, err := s.RecentMessages(t.Context(), "games", 0); return err }()},
		{"Chatters", func() error { _, err := s.Chatters(t.Context(), "games"); return err }()},
		{"SetChatters", s.SetChatters(t.Context(), "games", []string{"ann"})},
		{"Claim", func() error { _, err := s.Claim(t.Context(), "games", "ann", "", false); return err }()},
		{"Kick", func() error { _, err := s.Kick(t.Context(), "games", "ann", ""); return err }()},
		{"Snapshot", func() error { _, err := s.Snapshot(t.Context(), "games", 0); return err }()},
		{"SaveSession", s.SaveSession(t.Context(), "games", storage.Session{PID: "p", Name: "ann", Expires: time.Now().Add(time.Hour)})},
		{"TakeSession", func() error { _, _, err := s.TakeSession(t.Context(), "games", "p"); return err }()},
		{"AppendMessages", func() error { _, err := s.AppendMessages(t.Context(), "games", msgs("x")); return err }()},
		{"LogSince", func() error { _, err := s.LogSince(t.Context(), "games", storage.Position{}); return err }()},
	} {
		if !errors.Is(call.err, storage.ErrNoSuchRoom) {
			t.Errorf("%s of the removed room: %v, want ErrNoSuchRoom", call.name, call.err)
		}
	}
	// Nothing of the room is left in Redis.
	for _, line := range dump(t, srv, s.opts.Prefix) {
		if strings.Contains(line, ":games") || strings.HasSuffix(line, " games") || strings.Contains(line, " games\n") {
			t.Errorf("left behind: %s", line)
		}
	}
	if got := mustRecent(t, s); !slices.Equal(got, keptGeneral) {
		t.Errorf("general holds %+v, want %+v", got, keptGeneral)
	}
	if got := mustRecentOf(t, s, "music"); !slices.Equal(got, keptMusic) {
		t.Errorf("music holds %+v, want %+v", got, keptMusic)
	}
	if got := mustChatters(t, s, "music"); !slices.Equal(got, []string{"ann", "music-fan"}) {
		t.Errorf("music's chatters %q", got)
	}
	if got, banned, err := s.BanExpiry(t.Context(), "Mallory", baseTime); err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry(mallory) = %v, %v, %v; the ban must stay", got, banned, err)
	}

	// A room added under the name again is a new, empty room with a new log.
	mustAddRoom(t, s, "games")
	if got := mustRecentOf(t, s, "games"); len(got) != 0 {
		t.Errorf("the new games room holds %+v", got)
	}
	if got := mustChatters(t, s, "games"); len(got) != 0 {
		t.Errorf("the new games room has chatters %q", got)
	}
	if got := mustAppendTo(t, s, "games", msgs("again")); got[0].ID != 1 {
		t.Errorf("the new games room's first ID is %d, want 1", got[0].ID)
	}
	if l, err := s.LogSince(t.Context(), "games", storage.Position{}); err != nil || l.Seq != 1 || len(l.Entries) != 1 {
		t.Errorf("the new games room's log = %+v, %v; want one entry at 1", l, err)
	}
}

func TestCancelledContextRefusesWithoutWriting(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	mustAddRoom(t, s, "games")
	mustAppendTo(t, s, "games", msgs("kept"))
	claimed := mustClaim(t, s, "games", "ann", "")
	if err := s.SaveSession(t.Context(), "games", storage.Session{PID: "p", Name: "ann", Token: claimed.Token, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ban(t.Context(), "mallory", baseTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := dump(t, srv, s.opts.Prefix)

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
		calls := []struct {
			op   string // the start of the error
			call func() error
		}{
			{"rooms", func() error { _, err := s.Rooms(ctx); return err }},
			{"add room music", func() error { return s.AddRoom(ctx, storage.Room{Name: "music"}) }},
			{`add room "Bad"`, func() error { return s.AddRoom(ctx, storage.Room{Name: "Bad"}) }},
			{"remove room games", func() error { return s.RemoveRoom(ctx, "games") }},
			{"append messages to room games", func() error { _, err := s.AppendMessages(ctx, "games", msgs("lost")); return err }},
			{"recent messages of room games", func() error { _, err := s.RecentMessages(ctx, "games", 0); return err }},
			{"read the log of room games", func() error { _, err := s.LogSince(ctx, "games", storage.Position{}); return err }},
			{"set chatters of room games", func() error { return s.SetChatters(ctx, "games", nil) }},
			{"chatters of room games", func() error { _, err := s.Chatters(ctx, "games"); return err }},
			{"snapshot room games", func() error { _, err := s.Snapshot(ctx, "games", 0); return err }},
			{"claim a nickname in room games", func() error { _, err := s.Claim(ctx, "games", "bob", "", false); return err }},
			{"release a nickname in room games", func() error { return s.Release(ctx, "games", "ann", claimed.Token, 0) }},
			{"kick a nickname from room games", func() error { _, err := s.Kick(ctx, "games", "ann", "spam"); return err }},
			{"save a session in room games", func() error {
				return s.SaveSession(ctx, "games", storage.Session{PID: "q", Name: "bob", Expires: time.Now().Add(time.Hour)})
			}},
			{"take a session of room games", func() error { _, _, err := s.TakeSession(ctx, "games", "p"); return err }},
			{"start the node", func() error { return s.StartNode(ctx) }},
			{"ban expiry", func() error { _, _, err := s.BanExpiry(ctx, "mallory", baseTime); return err }},
			{"ban", func() error { return s.Ban(ctx, "eve", baseTime.Add(time.Hour)) }},
			{"unban", func() error { _, err := s.Unban(ctx, "mallory"); return err }},
			{"save recovery state", func() error { return s.SaveRecovery(ctx, storage.RecoveryState{}) }},
			{"take recovery state", func() error { _, _, err := s.TakeRecovery(ctx); return err }},
			{"subscribe", func() error { _, err := s.Subscribe(ctx); return err }},
		}
		for _, c := range calls {
			t.Run(cause.name+"/"+c.op, func(t *testing.T) {
				err := c.call()
				if !errors.Is(err, cause.want) {
					t.Errorf("error %v, want %v", err, cause.want)
				}
				if want := c.op + ": "; err != nil && !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error %q, want it to start with %q", err, want)
				}
			})
		}
	}
	assertUnchanged(t, srv, s.opts.Prefix, before)
}

func TestClosedStoreRefuses(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for name, err := range map[string]error{
		"Rooms":          func() error { _, err := s.Rooms(ctx); return err }(),
		"AddRoom":        s.AddRoom(ctx, storage.Room{Name: "music"}),
		"AppendMessages": func() error { _, err := s.AppendMessages(ctx, storage.DefaultRoom, msgs("x")); return err }(),
		"SetChatters":    s.SetChatters(ctx, storage.DefaultRoom, nil),
		"Claim":          func() error { _, err := s.Claim(ctx, storage.DefaultRoom, "ann", "", false); return err }(),
		"Release":        s.Release(ctx, storage.DefaultRoom, "ann", "t", 0),
		"Kick":           func() error { _, err := s.Kick(ctx, storage.DefaultRoom, "ann", ""); return err }(),
		"Snapshot":       func() error { _, err := s.Snapshot(ctx, storage.DefaultRoom, 0); return err }(),
		"SaveSession":    s.SaveSession(ctx, storage.DefaultRoom, storage.Session{PID: "p"}),
		"TakeSession":    func() error { _, _, err := s.TakeSession(ctx, storage.DefaultRoom, "p"); return err }(),
		"StartNode":      s.StartNode(ctx),
		"Ban":            s.Ban(ctx, "eve", baseTime),
		"Subscribe":      func() error { _, err := s.Subscribe(ctx); return err }(),
		"Ping":           s.Ping(),
	} {
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close again = %v, want nil", err)
	}
}

func TestRoomsConcurrently(t *testing.T) {
	const (
		rooms   = 4
		batches = 25
		batch   = 3
	)
	s := openStore(t, startServer(t), Options{History: batches * batch})
	names := []string{storage.DefaultRoom}
	for i := 1; i < rooms; i++ {
		names = append(names, fmt.Sprintf("room-%d", i))
	}
	mustAddRoom(t, s, names[1:]...)

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
				got, err := s.AppendMessages(t.Context(), room, msgs("a", "b", "c"))
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
	// Nicknames come and go in every room.
	wg.Go(func() {
		for i := range batches {
			room := names[i%rooms]
			c, err := s.Claim(t.Context(), room, "ann", "", false)
			if err != nil {
				report(err)
				return
			}
			if err := s.Release(t.Context(), room, "ann", c.Token, 0); err != nil {
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
			if _, err := s.AppendMessages(t.Context(), "scratch", msgs("x")); err != nil {
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
	got := mustRooms(t, s)
	if len(got) != rooms {
		t.Fatalf("Rooms = %+v, want %d rooms", got, rooms)
	}
	for i, r := range got {
		if r.Name != names[i] || r.Messages != batches*batch {
			t.Errorf("room %d is %+v, want %s with %d messages", i, r, names[i], batches*batch)
		}
		if chatters := mustChatters(t, s, r.Name); slices.Contains(chatters, "ann") {
			t.Errorf("ann still present in %s: %q", r.Name, chatters)
		}
	}
}
