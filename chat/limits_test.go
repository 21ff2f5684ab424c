package chat

import (
	"fmt"
	"testing"
	"time"

	"chatserver/internal/logtest"
	"chatserver/internal/throttle"
)

// joinFrom connects a client from peer and joins it as name, failing the
// test on error.
func (f *fixture) joinFrom(t testing.TB, peer Peer, name string) (*Client, *recConn) {
	t.Helper()
	conn := &recConn{}
	c := f.connect(conn, peer)
	if _, err := c.Join(name, ""); err != nil {
		t.Fatalf("Join(%q) from %+v: %v", name, peer, err)
	}
	return c, conn
}

// sayAll sends n messages and returns how many were accepted; every other
// one must be refused with rate_limited. The room must not pace (NoPacing):
// these tests count what the buckets grant, which pacing draws on alike.
func sayAll(t testing.TB, c *Client, n int) int {
	t.Helper()
	accepted := 0
	for i := range n {
		_, err := c.Say(fmt.Sprint("message ", i))
		if err == nil {
			accepted++
			continue
		}
		wantCode(t, err, CodeRateLimited)
	}
	return accepted
}

// remote is a client address with per-address limits.
func remote(addr string) Peer { return Peer{Addr: addr, Key: addr} }

func TestNicknameKeepsItsBucketAcrossConnections(t *testing.T) {
	f := newFixture(t, Config{Rate: 1, Burst: 2, PaceBacklog: NoPacing})
	first := f.connect(&recConn{}, Peer{})
	res, err := first.Join("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := sayAll(t, first, 2); n != 2 {
		t.Fatalf("%d of the burst accepted, want 2", n)
	}

	// A second connection resuming the nickname shares its bucket.
	second := f.connect(&recConn{}, Peer{})
	if _, err := second.Join("alice", res.Token); err != nil {
		t.Fatal(err)
	}
	_, err = second.Say("from the resumed connection")
	wantCode(t, err, CodeRateLimited)

	// Both leave, and the nickname comes back on a third connection
	// before its bucket has refilled: still empty.
	first.Leave()
	second.Leave()
	third, _ := f.join(t, "ALICE")
	_, err = third.Say("back at once")
	wantCode(t, err, CodeRateLimited)

	// Refilling goes on at --rate meanwhile.
	f.clock.Advance(time.Second)
	if n := sayAll(t, third, 2); n != 1 {
		t.Fatalf("%d accepted a second later, want 1", n)
	}

	// Once refilled, the kept bucket is forgotten: the map stays small.
	third.Leave()
	if n := f.hub.lim.left.len(); n != 1 {
		t.Fatalf("%d nickname buckets kept after leaving with an empty one, want 1", n)
	}
	f.clock.Advance(2 * time.Second)
	fourth, _ := f.join(t, "alice")
	if n := f.hub.lim.left.len(); n != 0 {
		t.Fatalf("%d nickname buckets kept once refilled, want 0", n)
	}
	if n := sayAll(t, fourth, 3); n != 2 {
		t.Fatalf("%d accepted after a full refill, want the burst of 2", n)
	}
}

func TestAddressSharesOneAllowance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		peers    []Peer
		accepted int
	}{
		{"one address: twice one connection's burst", []Peer{remote("192.0.2.7"), remote("192.0.2.7"), remote("192.0.2.7")}, 4},
		{"three addresses: each its own", []Peer{remote("192.0.2.7"), remote("192.0.2.8"), remote("192.0.2.9")}, 6},
		{"exempt: per connection only", []Peer{{Addr: "127.0.0.1"}, {Addr: "127.0.0.1"}, {Addr: "127.0.0.1"}}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{Rate: 1, Burst: 2, AddressFactor: 2, PaceBacklog: NoPacing})
			accepted := 0
			for i, peer := range tc.peers {
				c, _ := f.joinFrom(t, peer, fmt.Sprint("chatter", i))
				accepted += sayAll(t, c, 2)
			}
			if accepted != tc.accepted {
				t.Fatalf("%d messages accepted, want %d", accepted, tc.accepted)
			}
		})
	}
}

func TestRenameFloodIsRefusedThenDisconnected(t *testing.T) {
	f := newFixture(t, Config{JoinRate: 1, JoinBurst: 2, FloodLimit: 3})
	_, watcher := f.join(t, "watcher")
	c, conn := f.join(t, "a")
	if _, err := c.Join("b", ""); err != nil {
		t.Fatalf("rename within the burst: %v", err)
	}
	watcher.take()

	_, err := c.Join("c", "")
	wantCode(t, err, CodeRateLimited)
	equal(t, "a refused rename changes nothing", f.room.Chatters(), []string{"b", "watcher"})
	equal(t, "the watcher after a refused rename", watcher.take(), nil)

	f.clock.Advance(time.Second)
	if _, err := c.Join("c", ""); err != nil {
		t.Fatalf("rename after a refill: %v", err)
	}
	equal(t, "the watcher after a rename", watcher.take(), []string{"remove chatter|b", "add chatter|c"})
	for i := range 3 {
		_, err := c.Join(fmt.Sprint("flood", i), "")
		wantCode(t, err, CodeRateLimited)
	}
	if !conn.isClosed() {
		t.Fatal("still connected after FloodLimit refused joins in a row")
	}
	equal(t, "the watcher during the flood", watcher.take(), nil)
}

// TestInvalidJoinsCountTowardTheFloodLimit: a join refused as invalid
// takes no join token, so a few leave the join burst whole, but it counts
// as a refusal in a row: FloodLimit of them disconnect, as many refused
// joins would, and a join that takes a token starts the count again.
func TestInvalidJoinsCountTowardTheFloodLimit(t *testing.T) {
	f := newFixture(t, Config{JoinRate: 1, JoinBurst: 2, FloodLimit: 3})
	c, conn := f.join(t, "a")
	invalid := func(n int) {
		t.Helper()
		for range n {
			_, err := c.Join("bad\u200Bname", "")
			wantCode(t, err, CodeInvalidName)
		}
	}
	invalid(2)
	if _, err := c.Join("b", ""); err != nil {
		t.Fatalf("rename after invalid joins, within the burst: %v", err)
	}
	invalid(2)
	if conn.isClosed() {
		t.Fatal("disconnected after 2 invalid joins in a row, want FloodLimit (3)")
	}
	invalid(1)
	if !conn.isClosed() {
		t.Fatal("still connected after FloodLimit invalid joins in a row")
	}
}

// TestInvalidAndRateLimitedJoinsCountTogether: the refusals in a row that
// disconnect are joins refused either as invalid or as over the limit.
func TestInvalidAndRateLimitedJoinsCountTogether(t *testing.T) {
	f := newFixture(t, Config{JoinRate: 1, JoinBurst: 1, FloodLimit: 3})
	c, conn := f.join(t, "a")
	_, err := c.Join("b", "")
	wantCode(t, err, CodeRateLimited)
	_, err = c.Join("", "")
	wantCode(t, err, CodeInvalidName)
	if conn.isClosed() {
		t.Fatal("disconnected after 2 refused joins in a row, want FloodLimit (3)")
	}
	_, err = c.Join("c", "")
	wantCode(t, err, CodeRateLimited)
	if !conn.isClosed() {
		t.Fatal("still connected after FloodLimit refused joins in a row, invalid or rate-limited")
	}
}

func TestJoinsFromOneAddressShareOneAllowance(t *testing.T) {
	f := newFixture(t, Config{JoinBurst: 2, AddressFactor: 2})
	for i := range 4 {
		f.joinFrom(t, remote("2001:db8::/64"), fmt.Sprint("n", i))
	}
	_, err := f.connect(&recConn{}, remote("2001:db8::/64")).Join("n4", "")
	wantCode(t, err, CodeRateLimited)
	f.joinFrom(t, remote("192.0.2.7"), "elsewhere")
	f.joinFrom(t, Peer{Addr: "::1"}, "exempt")
}

func TestFloodDisconnectsAreLoggedOncePerAddress(t *testing.T) {
	logger, logs := logtest.New(t)
	f := newFixture(t, Config{Rate: 1, Burst: 1, FloodLimit: 2, AddressFactor: 100, PaceBacklog: NoPacing, Logger: logger})
	flood := func(peer Peer, name string) {
		t.Helper()
		c, conn := f.joinFrom(t, peer, name)
		sayAll(t, c, 3)
		if !conn.isClosed() {
			t.Fatalf("%s not disconnected", name)
		}
	}
	for i := range 5 {
		flood(remote("192.0.2.7"), fmt.Sprint("f", i))
	}
	flood(Peer{Addr: "127.0.0.1"}, "local")
	var lines []string
	for _, r := range logs.Matching("disconnected a flooding client") {
		lines = append(lines, r.String())
	}
	equal(t, "logged during the floods", lines, []string{
		"WARN disconnected a flooding client nick=f0 addr=192.0.2.7 requests=messages refused_in_a_row=2",
		"WARN disconnected a flooding client nick=local addr=127.0.0.1 requests=messages refused_in_a_row=2",
	})
	f.hub.Close()
	got := logs.Matching(throttle.SummaryMsg, "line", "disconnected a flooding client")
	if len(got) != 1 || got[0].Attrs["key"] != "192.0.2.7" || got[0].Attrs["count"] != "4" {
		t.Errorf("summaries at Close: %v, want one counting 4 more from 192.0.2.7", got)
	}
}

func TestRecentForgetsIdleEntriesAndKeepsItsBound(t *testing.T) {
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	m := newRecent[int](3, 10*time.Second)
	m.put("a", 1, start)
	m.put("b", 2, start.Add(time.Second))
	m.put("c", 3, start.Add(2*time.Second))
	*m.get("a", start.Add(3*time.Second), func() int { return -1 }) += 10 // a is the most recent now
	m.put("d", 4, start.Add(4*time.Second))                               // over the bound: b, least recently used, goes
	if _, ok := m.take("b", start.Add(4*time.Second)); ok {
		t.Error("the least recently used entry was kept over the bound")
	}
	if v, ok := m.take("a", start.Add(5*time.Second)); !ok || v != 11 {
		t.Errorf("a = %d, %v; want 11, true", v, ok)
	}
	if m.len() != 2 {
		t.Errorf("%d entries, want c and d", m.len())
	}
	// Unused for idle: forgotten at the next use of the map.
	if got := *m.get("e", start.Add(14*time.Second), func() int { return 5 }); got != 5 || m.len() != 1 {
		t.Errorf("after c and d went idle: e = %d and %d entries, want 5 and 1", got, m.len())
	}
}

func TestRefillTime(t *testing.T) {
	for _, tc := range []struct {
		l    limit
		want time.Duration
	}{
		{limit{rate: 5, burst: 10}, 2 * time.Second},
		{limit{rate: 0.5, burst: 5}, 10 * time.Second},
		{limit{rate: 5, burst: 10, debt: 50}, 12 * time.Second}, // from the deepest debt
		{limit{rate: 1e-9, burst: 1e6}, maxIdle},
	} {
		if got := tc.l.refillTime(); got != tc.want {
			t.Errorf("%+v: refill time %s, want %s", tc.l, got, tc.want)
		}
	}
}
