package redis

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"chatserver/internal/redistest"
	"chatserver/storage"
)

func TestChatters(t *testing.T) {
	srv := startServer(t)
	tests := []struct {
		name string
		sets [][]string // set in turn
		want []string
	}{
		{"names are listed sorted", [][]string{{"zoe", "Ann", "bob"}}, []string{"Ann", "bob", "zoe"}},
		{"a name given twice is kept once", [][]string{{"ann", "ann"}}, []string{"ann"}},
		{"names are kept as given", [][]string{{"ÄnnE"}}, []string{"ÄnnE"}},
		{"set replaces the set", [][]string{{"ann"}, {"cy", "bob"}}, []string{"bob", "cy"}},
		{"an empty set clears it", [][]string{{"ann"}, {}}, nil},
		{"nil clears it", [][]string{{"ann"}, nil}, nil},
		{"none set", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, srv, Options{})
			for _, names := range tt.sets {
				if err := s.SetChatters(t.Context(), storage.DefaultRoom, names); err != nil {
					t.Fatal(err)
				}
			}
			if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, tt.want) {
				t.Errorf("Chatters() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChattersPerRoom(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	mustAddRoom(t, s, "games", "music")
	for room, names := range map[string][]string{
		storage.DefaultRoom: {"ann", "bob"},
		"games":             {"Bob", "cy"},
		"music":             {},
	} {
		if err := s.SetChatters(t.Context(), room, names); err != nil {
			t.Fatalf("SetChatters(%s): %v", room, err)
		}
	}
	// Replacing one room's set leaves the others alone.
	if err := s.SetChatters(t.Context(), "music", []string{"dee"}); err != nil {
		t.Fatal(err)
	}
	for room, want := range map[string][]string{
		storage.DefaultRoom: {"ann", "bob"},
		"games":             {"Bob", "cy"},
		"music":             {"dee"},
	} {
		if got := mustChatters(t, s, room); !slices.Equal(got, want) {
			t.Errorf("Chatters(%s) = %q, want %q", room, got, want)
		}
	}
}

func TestEachNodeSetsItsOwnPart(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	a := openStore(t, srv, Options{Prefix: prefix, Node: "a"})
	b := openStore(t, srv, Options{Prefix: prefix, Node: "b"})
	steps := []struct {
		store *Store
		names []string
		want  []string // Chatters afterwards, asked of either
	}{
		{a, []string{"ann", "bob"}, []string{"ann", "bob"}},
		{b, []string{"cy", "bob"}, []string{"ann", "bob", "cy"}}, // bob on both: listed once
		{a, []string{"ann"}, []string{"ann", "bob", "cy"}},       // b's part still has bob
		{b, nil, []string{"ann"}},                                // b's part removed
		{a, nil, nil},
	}
	for i, st := range steps {
		if err := st.store.SetChatters(t.Context(), storage.DefaultRoom, st.names); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*Store{a, b} {
			if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, st.want) {
				t.Errorf("step %d: Chatters() asked of node %s = %q, want %q", i, s.Node(), got, st.want)
			}
		}
	}
}

func TestPresenceOfANodeThatStopsExpires(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	const ttl = 300 * time.Millisecond
	live := openStore(t, srv, Options{Prefix: prefix, Node: "live", PresenceTTL: ttl})
	gone := openStore(t, srv, Options{Prefix: prefix, Node: "gone", PresenceTTL: ttl})
	if err := live.SetChatters(t.Context(), storage.DefaultRoom, []string{"ann"}); err != nil {
		t.Fatal(err)
	}
	if err := gone.SetChatters(t.Context(), storage.DefaultRoom, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if got := mustChatters(t, live, storage.DefaultRoom); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("Chatters() = %q, want both nodes' names", got)
	}
	// A node that stops without clearing its part (as a crash would)
	// leaves it to expire; the live node writes its own again in time.
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's part to expire", func() bool {
		return slices.Equal(mustChatters(t, live, storage.DefaultRoom), []string{"ann"})
	})
	if n := do(t, srv, "HLEN", live.roomKey(storage.DefaultRoom)+":presence").(int64); n != 1 {
		t.Errorf("the presence hash holds %d parts after reading, want 1: the expired one is deleted", n)
	}
	// Several TTLs later, by the server's clock, ann is still there.
	end := serverTime(t, srv).Add(3 * ttl)
	waitFor(t, "three TTLs to pass", func() bool { return serverTime(t, srv).After(end) })
	if got := mustChatters(t, live, storage.DefaultRoom); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("Chatters() three TTLs on = %q, want [ann]: the live node refreshes its part", got)
	}
}

func TestPresenceIsWrittenAgainAfterRedisLosesIt(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{PresenceTTL: 300 * time.Millisecond})
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, []string{"ann"}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	waitFor(t, "the presence to be written again", func() bool {
		got, err := s.Chatters(t.Context(), storage.DefaultRoom)
		return err == nil && slices.Equal(got, []string{"ann"})
	})
}

// serverTime is the Redis server's clock, which presence expires by.
func serverTime(t *testing.T, srv *redistest.Server) time.Time {
	t.Helper()
	reply, err := srv.Do("TIME")
	if err != nil {
		t.Fatal(err)
	}
	parts := strs(t, reply)
	sec, err1 := strconv.ParseInt(parts[0], 10, 64)
	usec, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("TIME = %q", parts)
	}
	return time.Unix(sec, usec*1000)
}

func TestChatterCallsOnMissingRooms(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	for _, room := range []string{"nowhere", "Bad Name", "-x", ""} {
		if err := s.SetChatters(t.Context(), room, []string{"ann"}); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("SetChatters(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if got, err := s.Chatters(t.Context(), room); !errors.Is(err, storage.ErrNoSuchRoom) || got != nil {
			t.Errorf("Chatters(%q) = %q, %v; want ErrNoSuchRoom", room, got, err)
		}
	}
}
