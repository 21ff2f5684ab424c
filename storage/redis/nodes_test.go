package redis

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/internal/redistest"
	"chatserver/storage"
	"chatserver/storage/storetest"
)

// fastReap is the reap interval of the started nodes of these tests.
const fastReap = 20 * time.Millisecond

// mustStart starts s as a node and fails the test on error.
func mustStart(tb testing.TB, s *Store) {
	tb.Helper()
	if err := s.StartNode(tb.Context()); err != nil {
		tb.Fatalf("StartNode on %s: %v", s.Node(), err)
	}
}

// receiveUntil reads sub's batches until one holds an entry done accepts,
// and returns every entry received up to it, failing the test when that
// does not come within a deadline.
func receiveUntil(tb testing.TB, sub storage.Subscription, done func(storage.Entry) bool) []storage.Entry {
	tb.Helper()
	var got []storage.Entry
	for {
		b := receive(tb, sub)
		got = append(got, b.Entries...)
		if slices.ContainsFunc(b.Entries, done) {
			return got
		}
	}
}

// is accepts the entry that describe gives as want.
func is(want string) func(storage.Entry) bool {
	return func(e storage.Entry) bool { return describe(e) == want }
}

func TestAGraceEndsThroughTheReaper(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{ReapInterval: fastReap})
	mustStart(t, s)
	sub := mustSubscribe(t, s)
	const grace = 100 * time.Millisecond
	ann := mustClaim(t, s, storage.DefaultRoom, "ann", "")
	bob := mustClaim(t, s, storage.DefaultRoom, "bob", "")
	if err := s.Release(t.Context(), storage.DefaultRoom, "ann", ann.Token, grace); err != nil {
		t.Fatal(err)
	}
	if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Errorf("Chatters() in ann's grace = %q, want both", got)
	}
	// Taken back within its grace, ann's grace does not end it; bob's,
	// begun later, does end it.
	if c := mustClaim(t, s, storage.DefaultRoom, "ann", ann.Token); c.Token != ann.Token {
		t.Errorf("ann taken back with token %q, want %q", c.Token, ann.Token)
	}
	if err := s.Release(t.Context(), storage.DefaultRoom, "bob", bob.Token, grace); err != nil {
		t.Fatal(err)
	}
	got := receiveUntil(t, sub, is("remove bob"))
	if want := []string{"add ann", "add bob", "remove bob"}; !slices.Equal(describeAll(got), want) {
		t.Errorf("received %q, want %q", describeAll(got), want)
	}
	if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("Chatters() after bob's grace = %q, want [ann]", got)
	}
	if n := do(t, srv, "ZCARD", s.key("graces")).(int64); n != 0 {
		t.Errorf("the graces set holds %d after the graces ended, want 0", n)
	}
}

// openNodes opens, as openStore does, the store of each node of names on
// the keys under prefix of srv, with opts besides.
func openNodes(t *testing.T, srv *redistest.Server, prefix string, opts Options, names ...string) []*Store {
	t.Helper()
	stores := make([]*Store, 0, len(names))
	for _, name := range names {
		opts.Prefix, opts.Node = prefix, name
		stores = append(stores, openStore(t, srv, opts))
	}
	return stores
}

func TestTheClaimsOfAStoppedNodeAreReapedOnce(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	gone := openStore(t, srv, Options{Prefix: prefix, Node: "gone", PresenceTTL: 100 * time.Millisecond})
	live := openNodes(t, srv, prefix, Options{ReapInterval: fastReap}, "live1", "live2")
	for _, s := range append(live, gone) {
		mustStart(t, s)
	}
	sub := mustSubscribe(t, live[0])
	storetest.MustAddRoom(t, live[0], "games")
	for _, room := range []string{storage.DefaultRoom, "games"} {
		mustClaim(t, gone, room, "ann", "")
		bob := mustClaim(t, gone, room, "bob", "")
		mustClaim(t, live[0], room, "bob", bob.Token) // held on a live node too
		cy := mustClaim(t, gone, room, "cy", "")
		if err := gone.Release(t.Context(), room, "cy", cy.Token, time.Hour); err != nil { // in its grace
			t.Fatal(err)
		}
		dee := mustClaim(t, gone, room, "dee", "")
		if err := gone.Release(t.Context(), room, "dee", dee.Token, time.Hour); err != nil { // and taken back
			t.Fatal(err)
		}
		mustClaim(t, gone, room, "dee", dee.Token)
	}
	// The node stops beating, as a crash would; the live nodes reap.
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{}
	for len(removed) < 4 {
		b := receive(t, sub)
		for _, e := range b.Entries {
			if e.Kind == storage.EntryRemove {
				removed[b.Room+" "+e.Name] = true
			}
		}
	}
	// Whatever more the reapers did came before this message.
	storetest.MustAppend(t, live[1], storetest.Msgs("after"))
	receiveUntil(t, sub, is("message after"))
	for _, room := range []string{storage.DefaultRoom, "games"} {
		want := []string{"add ann", "add bob", "add cy", "add dee", "remove ann", "remove dee"}
		if room == storage.DefaultRoom {
			want = append(want, "message after")
		}
		got := describeAll(mustLog(t, live[1], room).Entries)
		if len(got) >= 6 {
			slices.Sort(got[4:6]) // the removes of one reap, in any order
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s's log holds %q, want %q: one remove of each nickname no live node holds", room, got, want)
		}
		if got := mustChatters(t, live[1], room); !slices.Equal(got, []string{"bob", "cy"}) {
			t.Errorf("%s's chatters = %q, want [bob cy]", room, got)
		}
	}
	nodes := strs(t, do(t, srv, "ZRANGE", prefix+"nodes", "0", "-1"))
	if slices.Sort(nodes); !slices.Equal(nodes, []string{"live1", "live2"}) {
		t.Errorf("the nodes set holds %q, want the live nodes", nodes)
	}
	for _, line := range dump(t, srv, prefix) {
		if strings.Contains(line, "gone") {
			t.Errorf("left of the stopped node: %q", line)
		}
	}
}

func TestConcurrentReapsRemoveEachNicknameOnce(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	gone := openStore(t, srv, Options{Prefix: prefix, Node: "gone", PresenceTTL: 100 * time.Millisecond})
	// Not started: these reap only when told, all at once.
	reapers := openNodes(t, srv, prefix, Options{}, "r1", "r2")
	names := []string{"ann", "bob", "cy", "dee"}
	for _, name := range names {
		mustClaim(t, gone, storage.DefaultRoom, name, "")
	}
	end := serverTime(t, srv).Add(100 * time.Millisecond)
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stopped node's heartbeat to expire", func() bool { return serverTime(t, srv).After(end) })

	var wg sync.WaitGroup
	counts := make(chan int, 16)
	for i := range 16 {
		wg.Go(func() {
			n, err := reapers[i%2].reap(t.Context(), "")
			if err != nil {
				t.Error(err)
			}
			counts <- n
		})
	}
	wg.Wait()
	close(counts)
	total := 0
	for n := range counts {
		total += n
	}
	if total != len(names) {
		t.Errorf("the reaps appended %d removes, want %d", total, len(names))
	}
	want := []string{"add ann", "add bob", "add cy", "add dee", "remove ann", "remove bob", "remove cy", "remove dee"}
	got := describeAll(mustLog(t, reapers[0], storage.DefaultRoom).Entries)
	slices.Sort(got[4:])
	if !slices.Equal(got, want) {
		t.Errorf("the log holds %q, want %q", got, want)
	}
}

func TestStartNodeClearsItsOwnStaleClaims(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	before := openStore(t, srv, Options{Prefix: prefix, Node: "n1"})
	other := openStore(t, srv, Options{Prefix: prefix, Node: "n2"})
	mustClaim(t, before, storage.DefaultRoom, "ann", "")
	bob := mustClaim(t, before, storage.DefaultRoom, "bob", "")
	mustClaim(t, before, storage.DefaultRoom, "bob", bob.Token)
	mustClaim(t, other, storage.DefaultRoom, "bob", bob.Token)
	cy := mustClaim(t, before, storage.DefaultRoom, "cy", "")
	if err := before.Release(t.Context(), storage.DefaultRoom, "cy", cy.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The node stops and starts again under its name, long before its
	// heartbeat would expire.
	if err := before.Close(); err != nil {
		t.Fatal(err)
	}
	again := openStore(t, srv, Options{Prefix: prefix, Node: "n1"})
	mustStart(t, again)
	want := []string{"add ann", "add bob", "add cy", "remove ann"}
	if got := describeAll(mustLog(t, again, storage.DefaultRoom).Entries); !slices.Equal(got, want) {
		t.Errorf("the log holds %q, want %q", got, want)
	}
	if got := mustChatters(t, again, storage.DefaultRoom); !slices.Equal(got, []string{"bob", "cy"}) {
		t.Errorf("Chatters() = %q, want [bob cy]", got)
	}
	claim := do(t, srv, "HGET", again.roomKey(storage.DefaultRoom)+":claims", "bob").(string)
	if want := `{"name":"bob","token":"` + bob.Token + `","nodes":{"n2":1},"grace":0,"added":2}`; claim != want {
		t.Errorf("bob's claim is %s, want %s", claim, want)
	}
	if n := do(t, srv, "EXISTS", prefix+"node:n1:claims").(int64); n != 0 {
		t.Errorf("the node's index is left after StartNode")
	}
	if score, err := srv.Do("ZSCORE", prefix+"nodes", "n1"); err != nil || score == nil {
		t.Errorf("the started node is not in the nodes set: %v, %v", score, err)
	}
	if err := again.StartNode(t.Context()); !errors.Is(err, errStarted) {
		t.Errorf("StartNode again = %v, want errStarted", err)
	}
}

func TestAStartedNodeBeats(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	const ttl = 200 * time.Millisecond
	s := openStore(t, srv, Options{Prefix: prefix, Node: "beating", PresenceTTL: ttl})
	reaper := openStore(t, srv, Options{Prefix: prefix, Node: "reaper", ReapInterval: fastReap})
	mustStart(t, s)
	mustStart(t, reaper)
	mustClaim(t, s, storage.DefaultRoom, "ann", "")
	// Several TTLs later, by the server's clock, the claim is still there.
	end := serverTime(t, srv).Add(3 * ttl)
	waitFor(t, "three TTLs to pass", func() bool { return serverTime(t, srv).After(end) })
	if got := mustChatters(t, reaper, storage.DefaultRoom); !slices.Equal(got, []string{"ann"}) {
		t.Errorf("Chatters() three TTLs on = %q, want [ann]: the node beats", got)
	}
	// Redis restarted: the heartbeat registers the node again.
	srv.Restart()
	waitFor(t, "the node to be registered again", func() bool {
		v, err := srv.Do("ZSCORE", prefix+"nodes", "beating")
		return err == nil && v != nil
	})
}
