package redis

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestRemoveRoomTakesOnlyItsOwn(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAddRoom(t, s, "games", "music")
	for _, room := range []string{storage.DefaultRoom, "games", "music"} {
		storetest.MustAppendTo(t, s, room, storetest.Msgs(room+" 1", room+" 2"))
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
		{"SetChatters", s.SetChatters(t.Context(), "games", []string{"ann"})},
		{"Claim", func() error { _, err := s.Claim(t.Context(), "games", "ann", "", false); return err }()},
		{"Kick", func() error { _, err := s.Kick(t.Context(), "games", "ann", ""); return err }()},
		{"Snapshot", func() error { _, err := s.Snapshot(t.Context(), "games", 0); return err }()},
		{"SaveSession", s.SaveSession(t.Context(), "games", storage.Session{PID: "p", Name: "ann", Expires: time.Now().Add(time.Hour)})},
		{"TakeSession", func() error { _, _, err := s.TakeSession(t.Context(), "games", "p"); return err }()},
		{"AppendMessages", func() error { _, err := s.AppendMessages(t.Context(), "games", storetest.Msgs("x")); return err }()},
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

	// A room added under the name again is a new, empty room with a new log.
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
	if l, err := s.LogSince(t.Context(), "games", storage.Position{}); err != nil || l.Seq != 1 || len(l.Entries) != 1 {
		t.Errorf("the new games room's log = %+v, %v; want one entry at 1", l, err)
	}
}

// TestCancelledContextRefusesWithoutWriting: the calls of a Redis store
// beyond those of storetest.Cancelled refuse a cancelled context as
// those do, and write nothing.
func TestCancelledContextRefusesWithoutWriting(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAddRoom(t, s, "games")
	storetest.MustAppendTo(t, s, "games", storetest.Msgs("kept"))
	claimed := mustClaim(t, s, "games", "ann", "")
	if err := s.SaveSession(t.Context(), "games", storage.Session{PID: "p", Name: "ann", Token: claimed.Token, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, srv, s.opts.Prefix)
	storetest.RefuseCancelled(t, []storetest.Call{
		{Op: "read the log of room games", Do: func(ctx context.Context) error { _, err := s.LogSince(ctx, "games", storage.Position{}); return err }},
		{Op: "set chatters of room games", Do: func(ctx context.Context) error { return s.SetChatters(ctx, "games", nil) }},
		{Op: "chatters of room games", Do: func(ctx context.Context) error { _, err := s.Chatters(ctx, "games"); return err }},
		{Op: "snapshot room games", Do: func(ctx context.Context) error { _, err := s.Snapshot(ctx, "games", 0); return err }},
		{Op: "claim a nickname in room games", Do: func(ctx context.Context) error { _, err := s.Claim(ctx, "games", "bob", "", false); return err }},
		{Op: "release a nickname in room games", Do: func(ctx context.Context) error { return s.Release(ctx, "games", "ann", claimed.Token, 0) }},
		{Op: "kick a nickname from room games", Do: func(ctx context.Context) error { _, err := s.Kick(ctx, "games", "ann", "spam"); return err }},
		{Op: "save a session in room games", Do: func(ctx context.Context) error {
			return s.SaveSession(ctx, "games", storage.Session{PID: "q", Name: "bob", Expires: time.Now().Add(time.Hour)})
		}},
		{Op: "take a session of room games", Do: func(ctx context.Context) error { _, _, err := s.TakeSession(ctx, "games", "p"); return err }},
		{Op: "start the node", Do: func(ctx context.Context) error { return s.StartNode(ctx) }},
		{Op: "subscribe", Do: func(ctx context.Context) error { _, err := s.Subscribe(ctx); return err }},
	})
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
		"AppendMessages": func() error { _, err := s.AppendMessages(ctx, storage.DefaultRoom, storetest.Msgs("x")); return err }(),
		"SetChatters":    s.SetChatters(ctx, storage.DefaultRoom, nil),
		"Claim":          func() error { _, err := s.Claim(ctx, storage.DefaultRoom, "ann", "", false); return err }(),
		"Release":        s.Release(ctx, storage.DefaultRoom, "ann", "t", 0),
		"Kick":           func() error { _, err := s.Kick(ctx, storage.DefaultRoom, "ann", ""); return err }(),
		"Snapshot":       func() error { _, err := s.Snapshot(ctx, storage.DefaultRoom, 0); return err }(),
		"SaveSession":    s.SaveSession(ctx, storage.DefaultRoom, storage.Session{PID: "p"}),
		"TakeSession":    func() error { _, _, err := s.TakeSession(ctx, storage.DefaultRoom, "p"); return err }(),
		"StartNode":      s.StartNode(ctx),
		"Ban":            s.Ban(ctx, "eve", storetest.BaseTime),
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
