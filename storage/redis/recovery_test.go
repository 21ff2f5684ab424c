package redis

import (
	"reflect"
	"testing"

	"chatserver/storage/storetest"
)

// TestRecoveryStateIsTheNodes: a saved state lives at most a day and is
// the node's that saved it: another node of the same prefix finds none
// (storetest.Recovery takes it back as the same node).
func TestRecoveryStateIsTheNodes(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	st := openStore(t, srv, Options{Prefix: prefix, Node: "one"})
	want := storetest.RecoveryState()
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
	if got, found, err := again.TakeRecovery(t.Context()); err != nil || !found || !reflect.DeepEqual(got, want) {
		t.Fatalf("take by the node that saved it: %+v, %v, %v", got, found, err)
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
