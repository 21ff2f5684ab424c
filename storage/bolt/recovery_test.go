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
	"chatserver/storage/storetest"
)

// TestRecoveryStateReadOnly: a file opened read-only shows the state
// saved in it and leaves it for the next read-write open to take
// (storetest.Recovery takes it read-write).
func TestRecoveryStateReadOnly(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	st := openStore(t, path, Options{})
	want := storetest.RecoveryState()
	if err := st.SaveRecovery(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	ro := openStore(t, path, Options{ReadOnly: true})
	for range 2 {
		if got, found, err := ro.TakeRecovery(ctx); err != nil || !found || !reflect.DeepEqual(got, want) {
			t.Fatalf("read-only take: %+v, %v, %v", got, found, err)
		}
	}
	ro.Close()

	rw := openStore(t, path, Options{})
	if got, found, err := rw.TakeRecovery(ctx); err != nil || !found || !reflect.DeepEqual(got, want) {
		t.Fatalf("take after the read-only open: %+v, %v, %v", got, found, err)
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
