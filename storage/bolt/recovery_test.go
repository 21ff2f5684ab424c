package bolt

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"chatserver/storage"
)

func TestRecoveryStateIsKeptOnceUntilTaken(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	st := openStore(t, path, Options{})
	if _, found, err := st.TakeRecovery(ctx); err != nil || found {
		t.Fatalf("a new file has a recovery state: %v, %v", found, err)
	}
	want := storage.RecoveryState{
		Saved: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Rooms: []storage.RoomRecovery{{
			Room: storage.DefaultRoom, Epoch: "e1", Seq: 42,
			Events:   []storage.LoggedEvent{{Seq: 42, Name: "add chatter", Args: []json.RawMessage{json.RawMessage(`"ann"`)}}},
			Sessions: []storage.Session{{PID: "p", SocketID: "s", Name: "ann", Token: "t", From: 41, Expires: time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC)}},
		}},
	}
	if err := st.SaveRecovery(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	ro := openStore(t, path, Options{ReadOnly: true})
	if got, found, err := ro.TakeRecovery(ctx); err != nil || !found || !reflect.DeepEqual(got, want) {
		t.Fatalf("read-only take: %+v, %v, %v", got, found, err)
	}
	ro.Close()

	rw := openStore(t, path, Options{})
	got, found, err := rw.TakeRecovery(ctx)
	if err != nil || !found || !reflect.DeepEqual(got, want) {
		t.Fatalf("take: %+v, %v, %v", got, found, err)
	}
	if _, found, err := rw.TakeRecovery(ctx); err != nil || found {
		t.Fatalf("taken twice: %v, %v", found, err)
	}
}
