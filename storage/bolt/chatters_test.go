package bolt

import (
	"errors"
	"slices"
	"testing"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestChatters(t *testing.T) {
	type step struct {
		op    string   // set, remove
		name  string   // for remove
		names []string // for set
		found bool     // remove's expected report
	}
	set := func(names ...string) step { return step{op: "set", names: names} }
	remove := func(name string, found bool) step { return step{op: "remove", name: name, found: found} }
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"names are listed sorted", []step{set("zoe", "Ann", "bob")}, []string{"Ann", "bob", "zoe"}},
		{"a name given twice is kept once", []step{set("ann", "ann")}, []string{"ann"}},
		{"names are kept as given", []step{set("ÄnnE")}, []string{"ÄnnE"}},
		{"set replaces the set", []step{set("ann"), set("cy", "bob")}, []string{"bob", "cy"}},
		{"set to nothing empties", []step{set("ann"), set()}, nil},
		{"set keeps the names that stay", []step{set("ann", "bob", "cy"), set("dee", "bob", "al")}, []string{"al", "bob", "dee"}},
		{"set of the same names changes nothing", []step{set("bob", "ann"), set("ann", "bob")}, []string{"ann", "bob"}},
		{"set after a set to nothing", []step{set("ann"), set(), set("bob")}, []string{"bob"}},
		{"remove reports an existing name", []step{set("ann", "bob"), remove("ann", true)}, []string{"bob"}},
		{"remove matches case-insensitively", []step{set("Ann"), remove("aNN", true)}, nil},
		{"remove matches non-ASCII case-insensitively", []step{set("Émile"), remove("émile", true)}, nil},
		{"remove matches a final sigma", []step{set("ΑΣ"), remove("ας", true)}, nil},
		{"remove of an absent name reports false", []step{set("ann"), remove("bob", false)}, []string{"ann"}},
		{"remove twice reports false the second time", []step{set("ann"), remove("ann", true), remove("ann", false)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testPath(t), Options{})
			for _, st := range tt.steps {
				var err error
				switch st.op {
				case "remove":
					var from []string
					from, err = s.RemoveChatter(t.Context(), storage.DefaultRoom, st.name)
					if want := map[bool][]string{true: {storage.DefaultRoom}}[st.found]; err == nil && !slices.Equal(from, want) {
						t.Errorf("RemoveChatter(%q) = %q, want %q", st.name, from, want)
					}
				case "set":
					err = s.SetChatters(t.Context(), storage.DefaultRoom, st.names)
				}
				if err != nil {
					t.Fatalf("%s %q: %v", st.op, st.name, err)
				}
			}
			got, err := s.Chatters(t.Context(), storage.DefaultRoom)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Chatters() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetChattersRefusesAnEmptyNameAndKeepsTheSet(t *testing.T) {
	s := openStore(t, testPath(t), Options{})
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, []string{"ann"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, []string{"bob", ""}); err == nil {
		t.Error(`SetChatters(["bob", ""]) succeeded, want an error`)
	}
	if got, err := s.Chatters(t.Context(), storage.DefaultRoom); err != nil || !slices.Equal(got, []string{"ann"}) {
		t.Errorf("after the refused write Chatters() = %q, %v; want [ann]", got, err)
	}
}

func TestPresenceLeftByCrashStaysUntilReplaced(t *testing.T) {
	// A server that dies without clearing its chatters leaves them in the
	// file; the next server start replaces them (chat.NewRoom sets none).
	path := testPath(t)
	crashed, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := crashed.SetChatters(t.Context(), storage.DefaultRoom, []string{"ann", "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := crashed.Close(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, path, Options{})
	if got, err := s.Chatters(t.Context(), storage.DefaultRoom); err != nil || !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("after restart Chatters() = %q, %v; want the stale [ann bob]", got, err)
	}
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, Options{ReadOnly: true})
	if got, err := s.Chatters(t.Context(), storage.DefaultRoom); err != nil || len(got) != 0 {
		t.Errorf("after clearing and reopening Chatters() = %q, %v; want none", got, err)
	}
}

func TestChattersPerRoom(t *testing.T) {
	s := openStore(t, testPath(t), Options{})
	storetest.MustAddRoom(t, s, "games", "music")
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

func TestRemoveChatter(t *testing.T) {
	tests := []struct {
		name       string
		room, nick string
		wantFrom   []string
		want       map[string][]string // the sets afterwards
	}{
		{"from one room", "games", "BOB", []string{"games"}, map[string][]string{
			storage.DefaultRoom: {"ann", "bob"}, "games": {"cy"}, "music": {"bob"}, "quiet": nil}},
		{"from the default room", storage.DefaultRoom, "bob", []string{storage.DefaultRoom}, map[string][]string{
			storage.DefaultRoom: {"ann"}, "games": {"Bob", "cy"}, "music": {"bob"}, "quiet": nil}},
		{"from every room, default first, then by name", "", "bob", []string{storage.DefaultRoom, "games", "music"}, map[string][]string{
			storage.DefaultRoom: {"ann"}, "games": {"cy"}, "music": nil, "quiet": nil}},
		{"from every room, found in one", "", "cy", []string{"games"}, map[string][]string{
			storage.DefaultRoom: {"ann", "bob"}, "games": {"Bob"}, "music": {"bob"}, "quiet": nil}},
		{"from every room, found in none", "", "zoe", nil, map[string][]string{
			storage.DefaultRoom: {"ann", "bob"}, "games": {"Bob", "cy"}, "music": {"bob"}, "quiet": nil}},
		{"from a room that lacks the name", "quiet", "ann", nil, map[string][]string{
			storage.DefaultRoom: {"ann", "bob"}, "games": {"Bob", "cy"}, "music": {"bob"}, "quiet": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testPath(t)
			s := openStore(t, path, Options{})
			storetest.MustAddRoom(t, s, "music", "games", "quiet")
			for room, names := range map[string][]string{
				storage.DefaultRoom: {"ann", "bob"},
				"games":             {"Bob", "cy"},
				"music":             {"bob"},
			} {
				if err := s.SetChatters(t.Context(), room, names); err != nil {
					t.Fatal(err)
				}
			}
			before := readFile(t, path)
			from, err := s.RemoveChatter(t.Context(), tt.room, tt.nick)
			if err != nil || !slices.Equal(from, tt.wantFrom) {
				t.Errorf("RemoveChatter(%q, %q) = %q, %v; want %q, nil", tt.room, tt.nick, from, err, tt.wantFrom)
			}
			if len(tt.wantFrom) == 0 {
				assertUnchanged(t, path, before)
			}
			for room, want := range tt.want {
				if got := mustChatters(t, s, room); !slices.Equal(got, want) {
					t.Errorf("Chatters(%s) = %q, want %q", room, got, want)
				}
			}
		})
	}
}

func TestChatterCallsOnMissingRooms(t *testing.T) {
	s := openStore(t, testPath(t), Options{})
	for _, room := range []string{"nowhere", "Bad Name", "-x"} {
		if err := s.SetChatters(t.Context(), room, []string{"ann"}); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("SetChatters(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if got, err := s.Chatters(t.Context(), room); !errors.Is(err, storage.ErrNoSuchRoom) || got != nil {
			t.Errorf("Chatters(%q) = %q, %v; want ErrNoSuchRoom", room, got, err)
		}
		if got, err := s.RemoveChatter(t.Context(), room, "ann"); !errors.Is(err, storage.ErrNoSuchRoom) || got != nil {
			t.Errorf("RemoveChatter(%q) = %q, %v; want ErrNoSuchRoom", room, got, err)
		}
	}
}
