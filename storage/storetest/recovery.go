package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"chatserver/storage"
)

// Recovery checks SaveRecovery and TakeRecovery: a new store has no
// state; a state saved is there, whole, when the store is opened again,
// and is taken once.
func Recovery(t *testing.T, open Open) {
	s := open(t, Options{})
	if _, found, err := s.TakeRecovery(t.Context()); err != nil || found {
		t.Fatalf("a new store has a recovery state: %v, %v", found, err)
	}
	want := RecoveryState()
	if err := s.SaveRecovery(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	again := reopen(t, s, Options{})
	got, found, err := again.TakeRecovery(t.Context())
	if err != nil || !found || !reflect.DeepEqual(got, want) {
		t.Fatalf("take: %+v, %v, %v", got, found, err)
	}
	if _, found, err := again.TakeRecovery(t.Context()); err != nil || found {
		t.Fatalf("taken twice: %v, %v", found, err)
	}
}

// RecoveryState is the state Recovery saves, for a store's own tests of
// how it keeps one: the default room's log at 42 with one event, and one
// session.
func RecoveryState() storage.RecoveryState {
	return storage.RecoveryState{
		Saved: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Rooms: []storage.RoomRecovery{{
			Room: storage.DefaultRoom, Epoch: "e1", Seq: 42,
			Events:   []storage.LoggedEvent{{Seq: 42, Name: "add chatter", Args: []json.RawMessage{json.RawMessage(`"ann"`)}}},
			Sessions: []storage.Session{{PID: "p", SocketID: "s", Name: "ann", Token: "t", From: 41, Expires: time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC)}},
		}},
	}
}
