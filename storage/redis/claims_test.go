package redis

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

// describe is an entry in a few words: "add Ann", "remove ann", "kick eve
// (spam)", "message hi".
func describe(e storage.Entry) string {
	switch e.Kind {
	case storage.EntryMessage:
		return "message " + e.Message.Text
	case storage.EntryKick:
		return fmt.Sprintf("kick %s (%s)", e.Name, e.Reason)
	}
	return e.Kind + " " + e.Name
}

// describeAll describes each entry.
func describeAll(es []storage.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = describe(e)
	}
	return out
}

// mustLog reads room's whole log and fails the test on error.
func mustLog(tb testing.TB, s *Store, room string) storage.Log {
	tb.Helper()
	l, err := s.LogSince(tb.Context(), room, storage.Position{})
	if err != nil {
		tb.Fatalf("LogSince(%s): %v", room, err)
	}
	return l
}

// wrongToken is a token no claim is given.
const wrongToken = "00000000000000000000000000000000"

func TestClaimAndRelease(t *testing.T) {
	srv := startServer(t)
	// A step is one call on node a (0) or b (1). Tokens: "" none, "held"
	// the token the last claim returned, "wrong" another one.
	type step struct {
		node    int
		do      string // "claim", "resume" or "release"
		name    string
		token   string
		grace   time.Duration // of a release
		err     error         // of a claim
		added   bool          // the claim appended an add entry
		renewed bool          // the claim returned a token other than the one given
	}
	claim := func(node int, name, token string) step {
		return step{node: node, do: "claim", name: name, token: token, added: token == "", renewed: token == ""}
	}
	held := func(node int, name string) step { // held with its token: one more connection
		return step{node: node, do: "claim", name: name, token: "held"}
	}
	taken := func(node int, do, name, token string) step {
		return step{node: node, do: do, name: name, token: token, err: storage.ErrNameTaken}
	}
	release := func(node int, name, token string, grace time.Duration) step {
		return step{node: node, do: "release", name: name, token: token, grace: grace}
	}
	tests := []struct {
		name     string
		steps    []step
		entries  []string // the log afterwards
		chatters []string
	}{
		{"a nickname nobody holds is claimed with a new token and an add entry",
			[]step{claim(0, "Ann", "")},
			[]string{"add Ann"}, []string{"Ann"}},
		{"its token gains a connection, and the last release removes it",
			[]step{claim(0, "Ann", ""), held(0, "Ann"), release(0, "Ann", "held", 0), release(0, "Ann", "held", 0)},
			[]string{"add Ann", "remove Ann"}, nil},
		{"another token, or none, is refused on any node",
			[]step{claim(0, "Ann", ""), taken(0, "claim", "Ann", "wrong"), taken(1, "claim", "Ann", ""), taken(1, "claim", "ANN", "")},
			[]string{"add Ann"}, []string{"Ann"}},
		{"two nodes hold one nickname until both release it",
			[]step{claim(0, "Ann", ""), held(1, "ann"), release(0, "Ann", "held", 0), release(1, "Ann", "held", 0)},
			[]string{"add Ann", "remove Ann"}, nil},
		{"a release with another token is ignored",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "wrong", 0), release(0, "Ann", "", 0)},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a release by a node that holds no connection is ignored",
			[]step{claim(0, "Ann", ""), release(1, "Ann", "held", 0)},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a release with a grace keeps the nickname present",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour)},
			[]string{"add Ann"}, []string{"Ann"}},
		{"in its grace it is taken back with its token, on any node",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour), held(1, "Ann"), release(1, "Ann", "held", 0)},
			[]string{"add Ann", "remove Ann"}, nil},
		{"in its grace it is taken over without the token, the token renewed",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour),
				{node: 1, do: "claim", name: "ann", renewed: true}, release(1, "Ann", "held", 0)},
			[]string{"add Ann", "remove Ann"}, nil},
		{"in its grace it is taken over with another token, the token renewed",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour),
				{node: 0, do: "claim", name: "Ann", token: "wrong", renewed: true}},
			[]string{"add Ann"}, []string{"Ann"}},
		{"the old token cannot release a nickname taken over",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour),
				{node: 1, do: "claim", name: "Ann", token: "wrong", renewed: true}, release(0, "Ann", "wrong", 0)},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a resume with the token takes it back from its grace",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour), {node: 1, do: "resume", name: "Ann", token: "held"}},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a resume with the token joins the connections holding it",
			[]step{claim(0, "Ann", ""), {node: 1, do: "resume", name: "Ann", token: "held"}, release(0, "Ann", "held", 0)},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a resume with another token or none is refused in the grace",
			[]step{claim(0, "Ann", ""), release(0, "Ann", "held", time.Hour), taken(1, "resume", "Ann", "wrong"), taken(1, "resume", "Ann", "")},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a resume with another token is refused while held",
			[]step{claim(0, "Ann", ""), taken(0, "resume", "Ann", "wrong")},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a resume of a nickname nobody holds claims it anew with its token",
			[]step{{node: 0, do: "resume", name: "Ann", token: "wrong", added: true}},
			[]string{"add Ann"}, []string{"Ann"}},
		{"a nickname resumed anew is released with the session's token",
			[]step{{node: 0, do: "resume", name: "Ann", token: "wrong", added: true}, release(0, "Ann", "wrong", 0)},
			[]string{"add Ann", "remove Ann"}, nil},
		{"nicknames are apart",
			[]step{claim(0, "Ann", ""), claim(1, "bob", ""), release(0, "Ann", "", 0)},
			[]string{"add Ann", "add bob"}, []string{"Ann", "bob"}},
	}
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := testPrefix()
			nodes := []*Store{
				openStore(t, srv, Options{Prefix: prefix, Node: "a"}),
				openStore(t, srv, Options{Prefix: prefix, Node: "b"}),
			}
			var token string // the token last returned
			for i, st := range tt.steps {
				s := nodes[st.node]
				given := map[string]string{"": "", "held": token, "wrong": wrongToken}[st.token]
				if st.do == "release" {
					if err := s.Release(t.Context(), storage.DefaultRoom, st.name, given, st.grace); err != nil {
						t.Fatalf("step %d: Release: %v", i, err)
					}
					continue
				}
				c, err := s.Claim(t.Context(), storage.DefaultRoom, st.name, given, st.do == "resume")
				if !errors.Is(err, st.err) {
					t.Fatalf("step %d: %s %s with %q on %s: %v, want %v", i, st.do, st.name, st.token, s.Node(), err, st.err)
				}
				if err != nil {
					continue
				}
				if !hex32.MatchString(c.Token) {
					t.Errorf("step %d: token %q, want 32 hex digits", i, c.Token)
				}
				if renewed := c.Token != given; renewed != st.renewed {
					t.Errorf("step %d: token %q given, %q returned; want renewed %v", i, given, c.Token, st.renewed)
				}
				if added := c.Added != (storage.Position{}); added != st.added {
					t.Errorf("step %d: Added %+v, want an add entry %v", i, c.Added, st.added)
				}
				token = c.Token
			}
			l := mustLog(t, nodes[0], storage.DefaultRoom)
			if got := describeAll(l.Entries); !slices.Equal(got, tt.entries) {
				t.Errorf("the log holds %q, want %q", got, tt.entries)
			}
			for _, s := range nodes {
				if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, tt.chatters) {
					t.Errorf("Chatters() asked of %s = %q, want %q", s.Node(), got, tt.chatters)
				}
			}
		})
	}
}

func TestAClaimsAddedIsItsEntry(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	storetest.MustAddRoom(t, s, "games")
	storetest.MustAppendTo(t, s, "games", storetest.Msgs("a", "b"))
	c := mustClaim(t, s, "games", "Zoë", "")
	l := mustLog(t, s, "games")
	if want := (storage.Position{Epoch: l.Epoch, Seq: 3}); c.Added != want || l.Seq != 3 {
		t.Errorf("Added = %+v, the log at %d; want %+v", c.Added, l.Seq, want)
	}
	if last := l.Entries[len(l.Entries)-1]; last.Kind != storage.EntryAdd || last.Name != "Zoë" {
		t.Errorf("the entry at Added is %+v, want add Zoë", last)
	}
	if c.Present != c.Added {
		t.Errorf("Present = %+v, want the claim's own add entry %+v", c.Present, c.Added)
	}
	// Another connection with the token, after more entries, appends
	// nothing and is told where the nickname became present.
	storetest.MustAppendTo(t, s, "games", storetest.Msgs("c"))
	again := mustClaim(t, s, "games", "zoë", c.Token)
	if again.Added != (storage.Position{}) || again.Present != c.Added {
		t.Errorf("a second claim: Added %+v, Present %+v; want none and %+v", again.Added, again.Present, c.Added)
	}
}

func TestClaimCallsOnMissingRooms(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	before := dump(t, srv, s.opts.Prefix)
	for _, room := range []string{"nowhere", "Bad Name", "-x", ""} {
		if _, err := s.Claim(t.Context(), room, "ann", "", false); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("Claim(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if _, err := s.Kick(t.Context(), room, "ann", ""); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("Kick(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if err := s.SetChatters(t.Context(), room, []string{"ann"}); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("SetChatters(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if got, err := s.Chatters(t.Context(), room); !errors.Is(err, storage.ErrNoSuchRoom) || got != nil {
			t.Errorf("Chatters(%q) = %q, %v; want ErrNoSuchRoom", room, got, err)
		}
	}
	// A release in a room that does not exist has nothing to release.
	if err := s.Release(t.Context(), "nowhere", "ann", wrongToken, 0); err != nil {
		t.Errorf("Release(nowhere) = %v, want nil", err)
	}
	if _, err := s.Claim(t.Context(), storage.DefaultRoom, "", "", false); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Claim of an empty name = %v, want it refused as empty", err)
	}
	assertUnchanged(t, srv, s.opts.Prefix, before)
}

func TestSetChattersLeavesTheClaimsAlone(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	mustClaim(t, s, storage.DefaultRoom, "ann", "")
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, nil); err != nil {
		t.Fatal(err)
	}
	if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("Chatters() = %q, want the claims' [ann]", got)
	}
}

func TestKick(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	a := openStore(t, srv, Options{Prefix: prefix, Node: "a"})
	b := openStore(t, srv, Options{Prefix: prefix, Node: "b"})
	ann := mustClaim(t, a, storage.DefaultRoom, "Ann", "")
	mustClaim(t, b, storage.DefaultRoom, "Ann", ann.Token)
	bob := mustClaim(t, a, storage.DefaultRoom, "bob", "")
	if err := a.Release(t.Context(), storage.DefaultRoom, "bob", bob.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, a, storage.DefaultRoom, "cy", "")

	steps := []struct {
		store  *Store
		name   string
		reason string
		want   bool
	}{
		{b, "ann", "spam", true},     // held on both nodes, by a name it equates
		{a, "ann", "again", false},   // gone
		{a, "bob", "in grace", true}, // in its grace
		{b, "dee", "never here", false},
	}
	for _, st := range steps {
		got, err := st.store.Kick(t.Context(), storage.DefaultRoom, st.name, st.reason)
		if err != nil || got != st.want {
			t.Errorf("Kick(%s) on %s = %v, %v; want %v", st.name, st.store.Node(), got, err, st.want)
		}
	}
	// The connections that held the kicked nicknames release nothing.
	for _, s := range []*Store{a, b} {
		if err := s.Release(t.Context(), storage.DefaultRoom, "Ann", ann.Token, 0); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"add Ann", "add bob", "add cy", "kick Ann (spam)", "kick bob (in grace)"}
	if got := describeAll(mustLog(t, a, storage.DefaultRoom).Entries); !slices.Equal(got, want) {
		t.Errorf("the log holds %q, want %q", got, want)
	}
	if got := mustChatters(t, b, storage.DefaultRoom); !slices.Equal(got, []string{"cy"}) {
		t.Errorf("Chatters() = %q, want [cy]", got)
	}
	// Nothing of the kicked claims is left but the kick times.
	for _, line := range dump(t, srv, prefix) {
		if strings.Contains(line, "\nann") || strings.Contains(line, "\nbob") || strings.Contains(line, "graces") {
			t.Errorf("left behind: %q", line)
		}
	}
	// Kicked, a nickname is claimed anew.
	if c := mustClaim(t, b, storage.DefaultRoom, "ann", ann.Token); c.Token == ann.Token || c.Added == (storage.Position{}) {
		t.Errorf("a claim after the kick = %+v, want a new token and an add entry", c)
	}
}
