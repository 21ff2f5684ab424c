package redis

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"chatserver/storage"
)

func TestRecoveryStateIsKeptOnceUntilTaken(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	st := openStore(t, srv, Options{Prefix: prefix, Node: "one"})
	if _, found, err := st.TakeRecovery(t.Context()); err != nil || found {
		t.Fatalf("a new store has a recovery state: %v, %v", found, err)
	}
	want := storage.RecoveryState{
		Saved: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Rooms: []storage.RoomRecovery{{
			Room: storage.DefaultRoom, Epoch: "e1", Seq: 42,
			Events:   []storage.LoggedEvent{{Seq: 42, Name: "add chatter", Args: []json.RawMessage{json.RawMessage(`"ann"`)}}},
			Sessions: []storage.Session{{PID: "p", SocketID: "s", Name: "ann", Token: "t", From: 41, Expires: time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC)}},
		}},
	}
	if err := st.SaveRecovery(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	if ttl := do(t, srv, "PTTL", st.recoveryKey()).(int64); ttl <= 0 || ttl > recoveryTTL.Milliseconds() {
		t.Errorf("the saved state lives %d ms, want at most a day", ttl)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	other := openStore(t, srv, Options{Prefix: prefix, Node: "two"})
	if _, found, err := other.TakeRecovery(t.Context()); err != nil || found {
		t.Fatalf("another node took the state: %v, %v", found, err)
	}
	again := openStore(t, srv, Options{Prefix: prefix, Node: "one"})
	got, found, err := again.TakeRecovery(t.Context())
	if err != nil || !found || !reflect.DeepEqual(got, want) {
		t.Fatalf("take: %+v, %v, %v", got, found, err)
	}
	if _, found, err := again.TakeRecovery(t.Context()); err != nil || found {
		t.Fatalf("taken twice: %v, %v", found, err)
	}
}

func TestAnUnreadableRecoveryStateIsNone(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	do(t, srv, "SET", s.recoveryKey(), "{not json")
	if _, found, err := s.TakeRecovery(t.Context()); err != nil || found {
		t.Errorf("TakeRecovery of garbage = %v, %v; want none, nil", found, err)
	}
	if reply := do(t, srv, "EXISTS", s.recoveryKey()); reply != int64(0) {
		t.Errorf("the unreadable state is still there")
	}
}
