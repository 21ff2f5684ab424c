package redis

import (
	"maps"
	"testing"
	"time"

	"chatserver/nick"
	"chatserver/storage/storetest"
)

// TestBansAreStoredUnderNickKey bans the names storetest.Bans begins
// with and finds each in the bans hash under its nick.Key, the expiry
// written in UTC to the nanosecond.
func TestBansAreStoredUnderNickKey(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	want := map[string]string{}
	for name, until := range storetest.BannedNames(now) {
		if err := s.Ban(t.Context(), name, until); err != nil {
			t.Fatalf("Ban(%q): %v", name, err)
		}
		want[nick.Key(name)] = until.UTC().Format(time.RFC3339Nano)
	}
	kv := strs(t, do(t, srv, "HGETALL", s.key("bans")))
	got := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		got[kv[i]] = kv[i+1]
	}
	if !maps.Equal(got, want) {
		t.Errorf("stored bans %v, want %v", got, want)
	}
}

func TestBansAreSharedByTheNodes(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	until := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	a := openStore(t, srv, Options{Prefix: prefix, Node: "a"})
	b := openStore(t, srv, Options{Prefix: prefix, Node: "b"})
	if err := a.Ban(t.Context(), "Ann", until); err != nil {
		t.Fatal(err)
	}
	got, banned, err := b.BanExpiry(t.Context(), "ann", until.Add(-time.Second))
	if err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry on the other node = %v, %v, %v; want %v, true, nil (nanoseconds kept)", got, banned, err, until)
	}
	if found, err := b.Unban(t.Context(), "ANN"); err != nil || !found {
		t.Errorf("Unban on the other node = %v, %v", found, err)
	}
	if _, banned, _ := a.BanExpiry(t.Context(), "ann", until.Add(-time.Second)); banned {
		t.Error("still banned on the first node after the other lifted it")
	}
}
