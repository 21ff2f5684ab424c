package bolt

import (
	"slices"
	"testing"
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
					var found bool
					found, err = s.RemoveChatter(st.name)
					if err == nil && found != st.found {
						t.Errorf("RemoveChatter(%q) = %v, want %v", st.name, found, st.found)
					}
				case "set":
					err = s.SetChatters(st.names)
				}
				if err != nil {
					t.Fatalf("%s %q: %v", st.op, st.name, err)
				}
			}
			got, err := s.Chatters()
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
	if err := s.SetChatters([]string{"ann"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChatters([]string{"bob", ""}); err == nil {
		t.Error(`SetChatters(["bob", ""]) succeeded, want an error`)
	}
	if got, err := s.Chatters(); err != nil || !slices.Equal(got, []string{"ann"}) {
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
	if err := crashed.SetChatters([]string{"ann", "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := crashed.Close(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, path, Options{})
	if got, err := s.Chatters(); err != nil || !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("after restart Chatters() = %q, %v; want the stale [ann bob]", got, err)
	}
	if err := s.SetChatters(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, Options{ReadOnly: true})
	if got, err := s.Chatters(); err != nil || len(got) != 0 {
		t.Errorf("after clearing and reopening Chatters() = %q, %v; want none", got, err)
	}
}
