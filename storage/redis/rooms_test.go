package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

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

// TestARoomAddedAgainHasANewLog: a room removed and added again under its
// name begins a log of its own (storetest.RemoveRoomTakesOnlyItsOwn
// checks its messages and chatters).
func TestARoomAddedAgainHasANewLog(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	storetest.MustAddRoom(t, s, "games")
	storetest.MustAppendTo(t, s, "games", storetest.Msgs("one", "two"))
	if err := s.RemoveRoom(t.Context(), "games"); err != nil {
		t.Fatal(err)
	}
	storetest.MustAddRoom(t, s, "games")
	storetest.MustAppendTo(t, s, "games", storetest.Msgs("again"))
	if l, err := s.LogSince(t.Context(), "games", storage.Position{}); err != nil || l.Seq != 1 || len(l.Entries) != 1 {
		t.Errorf("the new games room's log = %+v, %v; want one entry at 1", l, err)
	}
}
