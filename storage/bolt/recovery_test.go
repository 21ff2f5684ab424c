package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
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

// BenchmarkSaveRecovery10Rooms measures what a clean shutdown adds: the
// save of 10 rooms' full logs (1000 events each) and 100 sessions each.
func BenchmarkSaveRecovery10Rooms(b *testing.B) {
	ctx := context.Background()
	st := openStore(b, testPath(b), Options{})
	var state storage.RecoveryState
	for r := range 10 {
		rec := storage.RoomRecovery{Room: fmt.Sprintf("room%d", r), Epoch: "e", Seq: 1000}
		for i := range 1000 {
			arg, _ := json.Marshal(map[string]any{"id": i, "name": "someone", "text": strings.Repeat("x", 64), "time": "2026-12-01T12:00:00.000Z"})
			rec.Events = append(rec.Events, storage.LoggedEvent{Seq: uint64(i + 1), Name: "messages",
				Args: []json.RawMessage{json.RawMessage(`"someone: ` + strings.Repeat("x", 64) + `"`), arg}})
		}
		for i := range 100 {
			rec.Sessions = append(rec.Sessions, storage.Session{PID: fmt.Sprintf("%032x", i), Name: fmt.Sprint(i), Expires: time.Now().Add(time.Minute)})
		}
		state.Rooms = append(state.Rooms, rec)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.SaveRecovery(ctx, state); err != nil {
			b.Fatal(err)
		}
	}
}
