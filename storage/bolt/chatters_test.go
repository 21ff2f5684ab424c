package bolt

import (
	"slices"
	"testing"
)

func TestChatters(t *testing.T) {
	type step struct {
		op    string // add, remove, clear, set
		name  string
		names []string // for set
		found bool     // remove's expected report
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"added names are listed sorted", []step{{op: "add", name: "zoe"}, {op: "add", name: "Ann"}, {op: "add", name: "bob"}},
			[]string{"Ann", "bob", "zoe"}},
		{"adding twice keeps one", []step{{op: "add", name: "ann"}, {op: "add", name: "ann"}}, []string{"ann"}},
		{"names are kept as given", []step{{op: "add", name: "ÄnnE"}}, []string{"ÄnnE"}},
		{"remove reports an existing name", []step{{op: "add", name: "ann"}, {op: "add", name: "bob"}, {op: "remove", name: "ann", found: true}},
			[]string{"bob"}},
		{"remove matches case-insensitively", []step{{op: "add", name: "Ann"}, {op: "remove", name: "aNN", found: true}}, nil},
		{"remove matches non-ASCII case-insensitively", []step{{op: "add", name: "Émile"}, {op: "remove", name: "émile", found: true}}, nil},
		{"remove matches a final sigma", []step{{op: "add", name: "ΑΣ"}, {op: "remove", name: "ας", found: true}}, nil},
		{"remove of an absent name reports false", []step{{op: "add", name: "ann"}, {op: "remove", name: "bob", found: false}},
			[]string{"ann"}},
		{"remove twice reports false the second time", []step{{op: "add", name: "ann"}, {op: "remove", name: "ann", found: true}, {op: "remove", name: "ann", found: false}},
			nil},
		{"clear empties the set", []step{{op: "add", name: "ann"}, {op: "add", name: "bob"}, {op: "clear"}}, nil},
		{"clear of an empty set", []step{{op: "clear"}}, nil},
		{"set replaces the set", []step{{op: "add", name: "ann"}, {op: "set", names: []string{"cy", "bob"}}}, []string{"bob", "cy"}},
		{"set to nothing empties", []step{{op: "add", name: "ann"}, {op: "set"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testPath(t), Options{})
			for _, st := range tt.steps {
				var err error
				switch st.op {
				case "add":
					err = s.AddChatter(st.name)
				case "remove":
					var found bool
					found, err = s.RemoveChatter(st.name)
					if err == nil && found != st.found {
						t.Errorf("RemoveChatter(%q) = %v, want %v", st.name, found, st.found)
					}
				case "clear":
					err = s.ClearChatters()
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

func TestAddChatterRefusesEmptyName(t *testing.T) {
	s := openStore(t, testPath(t), Options{})
	if err := s.AddChatter(""); err == nil {
		t.Error("AddChatter(\"\") succeeded, want an error")
	}
}

func TestPresenceLeftByCrashIsCleared(t *testing.T) {
	// A server that dies without removing its chatters leaves them in the
	// file; the next server start finds and clears them.
	path := testPath(t)
	crashed, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "bob"} {
		if err := crashed.AddChatter(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := crashed.Close(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, path, Options{})
	if got, err := s.Chatters(); err != nil || !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("after restart Chatters() = %q, %v; want the stale [ann bob]", got, err)
	}
	if err := s.ClearChatters(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, Options{ReadOnly: true})
	if got, err := s.Chatters(); err != nil || len(got) != 0 {
		t.Errorf("after clear and reopen Chatters() = %q, %v; want none", got, err)
	}
}
