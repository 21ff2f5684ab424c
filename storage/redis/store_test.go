package redis

import (
	"slices"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/storage"
	"chatserver/storage/storetest"
)

// A Store is what the chat rooms need of their storage.
var _ chat.Store = (*Store)(nil)

// TestAHubRunsOnTheStore opens the chat rooms on a Store, adds a room,
// closes them and opens them again. A hub on a shared store saves no
// recovery state at its close: the sessions and the log live in Redis.
func TestAHubRunsOnTheStore(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{Node: "one"})
	storetest.MustAppend(t, s, storetest.Msgs("from before"))
	cfg := chat.Config{RecoveryWindow: time.Minute}
	hub, err := chat.NewHub(t.Context(), s, cfg)
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	if _, err := hub.AddRoom(t.Context(), "games", "board games"); err != nil {
		t.Fatalf("AddRoom: %v", err)
	}
	if got := storetest.Texts(hub.Default().History(0)); !slices.Equal(got, []string{"from before"}) {
		t.Errorf("the default room's history = %q", got)
	}
	hub.Close()
	if _, found, err := s.TakeRecovery(t.Context()); err != nil || found {
		t.Fatalf("the hub saved a recovery state: %v, %v", found, err)
	}

	again, err := chat.NewHub(t.Context(), s, cfg)
	if err != nil {
		t.Fatalf("NewHub again: %v", err)
	}
	defer again.Close()
	var names []string
	for _, r := range again.Rooms() {
		names = append(names, r.Name())
	}
	if !slices.Equal(names, []string{storage.DefaultRoom, "games"}) {
		t.Errorf("the hub opened %q, want the default room and games", names)
	}
}
