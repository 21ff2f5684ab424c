package web

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/internal/siotest"
	"chatserver/storage/bolt"
)

// newRoomsServer serves a hub with the rooms general and games.
func newRoomsServer(t *testing.T) (*httptest.Server, *chat.Hub) {
	t.Helper()
	logger, _ := logtest.New(t)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "chat.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.AddRoom(context.Background(), "games", ""); err != nil {
		t.Fatal(err)
	}
	srv := New(hub, Config{Logger: logger})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.sio.Close()
		hub.Close()
		store.Close()
	})
	return ts, hub
}

// TestAKickFromEveryRoomClosesTheConnection: a connection in two rooms,
// kicked from both at once, is left with no namespace: it is closed, as a
// one-room connection always was.
func TestAKickFromEveryRoomClosesTheConnection(t *testing.T) {
	ts, hub := newRoomsServer(t)
	for round := range 5 {
		c := siotest.Dial(t, ts.URL, siotest.Options{})
		c.Connect("/", "")
		c.Connect("/games", "")
		c.SendText(`420["join","carol"]`)
		c.Expect(`42["add chatter","carol"]`)
		c.NextText() // the ack
		c.SendText(`42/games,0["join","carol"]`)
		c.Expect(`42/games,["add chatter","carol"]`)
		c.NextText()

		res, err := hub.Kick(context.Background(), "", "carol", "bye", 0)
		if err != nil || res.Closed != 2 {
			t.Fatalf("round %d: kick %+v, %v", round, res, err)
		}
		if err := c.WaitClosed(); err == nil {
			t.Fatalf("round %d: the connection ended without an error", round)
		}
	}
}
