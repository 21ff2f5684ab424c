package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/internal/logtest"
	"chatserver/internal/redistest"
	"chatserver/storage"
	"chatserver/storage/redis"
)

// These tests run hubs as nodes of one real redis-server: each node is a
// hub on a store of its own, sharing a key prefix.

// waitTimeout bounds every wait for an event of another node.
const waitTimeout = 10 * time.Second

// clusterPrefixes numbers the key prefixes of the tests' clusters.
var clusterPrefixes struct {
	sync.Mutex
	n int
}

// testCluster is nodes sharing one Redis and key prefix.
type testCluster struct {
	srv    *redistest.Server
	prefix string
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	clusterPrefixes.Lock()
	clusterPrefixes.n++
	n := clusterPrefixes.n
	clusterPrefixes.Unlock()
	return &testCluster{srv: redistest.Start(t, redistest.Options{}), prefix: fmt.Sprintf("chat%d:", n)}
}

// node is one hub of a testCluster.
type node struct {
	name  string
	store *redis.Store
	hub   *Hub
	once  sync.Once
}

// stop closes the node's hub and store (once; the test's end does it
// otherwise).
func (n *node) stop() {
	n.once.Do(func() {
		n.hub.Close()
		n.store.Close()
	})
}

// node starts a node called name with cfg (a grace and a recovery window
// of its own when unset), stopped when the test ends.
func (tc *testCluster) node(t *testing.T, name string, cfg Config, opts redis.Options) *node {
	t.Helper()
	return tc.nodeWith(t, name, cfg, opts, nil)
}

// nodeWith is node with the hub's store made by wrap from the node's
// (nil: the store itself).
func (tc *testCluster) nodeWith(t *testing.T, name string, cfg Config, opts redis.Options, wrap func(*redis.Store) SharedStore) *node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger, _ = logtest.New(t)
	}
	opts.Prefix, opts.Node, opts.Logger = tc.prefix, name, cfg.Logger
	if opts.ReapInterval == 0 {
		opts.ReapInterval = 50 * time.Millisecond
	}
	store, err := redis.Open(t.Context(), tc.srv.URL(), opts)
	if err != nil {
		t.Fatalf("open the store of node %s: %v", name, err)
	}
	if err := store.StartNode(t.Context()); err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	var shared SharedStore = store
	if wrap != nil {
		shared = wrap(store)
	}
	hub, err := NewHub(t.Context(), shared, cfg)
	if err != nil {
		store.Close()
		t.Fatalf("start the hub of node %s: %v", name, err)
	}
	n := &node{name: name, store: store, hub: hub}
	t.Cleanup(n.stop)
	return n
}

// chanConn is a Conn whose events a test waits for.
type chanConn struct {
	id     string
	events chan *Event
	mu     sync.Mutex
	closed bool
	gone   chan struct{} // closed by Close
}

func newChanConn(id string) *chanConn {
	return &chanConn{id: id, events: make(chan *Event, 10_000), gone: make(chan struct{})}
}

func (c *chanConn) Send(ev *Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	select {
	case c.events <- ev:
		return true
	default:
		return false
	}
}

func (c *chanConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.gone)
	}
}

func (c *chanConn) ID() string { return c.id }

// next returns the next event, failing the test after waitTimeout.
func (c *chanConn) next(t *testing.T) *Event {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(waitTimeout):
		t.Fatalf("%s: no event within %s", c.id, waitTimeout)
		return nil
	}
}

// expect reads the next events and checks them ("name|arg0").
func (c *chanConn) expect(t *testing.T, want ...string) []*Event {
	t.Helper()
	var got []string
	var evs []*Event
	for range want {
		ev := c.next(t)
		evs = append(evs, ev)
		got = append(got, describe(ev))
	}
	equal(t, c.id+"'s events", got, want)
	return evs
}

// until reads events up to and including one described as want, and
// returns those before it.
func (c *chanConn) until(t *testing.T, want string) []string {
	t.Helper()
	var before []string
	for {
		d := describe(c.next(t))
		if d == want {
			return before
		}
		before = append(before, d)
	}
}

// waitClosed fails the test unless the connection is closed in time.
func (c *chanConn) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-c.gone:
	case <-time.After(waitTimeout):
		t.Fatalf("%s was not closed within %s", c.id, waitTimeout)
	}
}

// quiet fails the test if an event is waiting.
func (c *chanConn) quiet(t *testing.T) {
	t.Helper()
	select {
	case ev := <-c.events:
		t.Fatalf("%s: unexpected %s", c.id, describe(ev))
	default:
	}
}

// joinOn connects a new client to the node's room and joins it as name,
// reading its replay up to its own add chatter.
func joinOn(t *testing.T, n *node, room, name string) (*Client, *chanConn) {
	t.Helper()
	c, conn := connectOn(t, n, room, name)
	if _, err := c.Join(name, ""); err != nil {
		t.Fatalf("join %s on %s: %v", name, n.name, err)
	}
	conn.until(t, EventAddChatter+"|"+name)
	return c, conn
}

// connectOn connects a client called name to room on the node n, not
// yet joined, and returns it with its connection ("node/name").
func connectOn(t *testing.T, n *node, room, name string) (*Client, *chanConn) {
	t.Helper()
	conn := newChanConn(n.name + "/" + name)
	c, err := n.hub.Room(room).Connect(conn, n.hub.Connect(Peer{}, conn.Close))
	if err != nil {
		t.Fatalf("connect %s on %s: %v", name, n.name, err)
	}
	return c, conn
}

func say(t *testing.T, c *Client, text string) storage.Message {
	t.Helper()
	m, err := c.Say(text)
	if err != nil {
		t.Fatalf("say %q: %v", text, err)
	}
	return m
}

func TestNodesShareOneRoomItsHistoryPresenceAndNicknames(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{RecoveryWindow: time.Minute} // offsets on every event
	a := tc.node(t, "a", cfg, redis.Options{})
	b := tc.node(t, "b", cfg, redis.Options{})

	ann, annConn := joinOn(t, a, storage.DefaultRoom, "ann")
	say(t, ann, "hello from a")
	annConn.expect(t, "messages|ann: hello from a")

	bob, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	annConn.expect(t, "add chatter|bob")
	got := b.hub.Default().History(0)
	if len(got) != 1 || got[0].Text != "hello from a" {
		t.Fatalf("node b's history: %+v", got)
	}
	equal(t, "chatters on b", b.hub.Default().Chatters(), []string{"ann", "bob"})

	m := say(t, bob, "hi ann")
	evs := annConn.expect(t, "messages|bob: hi ann")
	own := bobConn.expect(t, "messages|bob: hi ann")
	if evs[0].Offset == "" || evs[0].Offset != own[0].Offset {
		t.Errorf("offsets of one message on two nodes: %q and %q", evs[0].Offset, own[0].Offset)
	}
	if m.ID != 2 {
		t.Errorf("the second message of the room has ID %d", m.ID)
	}

	// A nickname is unique across nodes, whatever its case.
	c, _ := connectOn(t, b, storage.DefaultRoom, "ANN")
	if _, err := c.Join("ANN", ""); ErrorCode(err) != CodeNameTaken {
		t.Fatalf("a nickname held on another node: %v", err)
	}

	bob.Leave()
	annConn.expect(t, "remove chatter|bob")
	equal(t, "chatters on a", a.hub.Default().Chatters(), []string{"ann"})
}

func TestConcurrentSendersOnEveryNodeSeeOneOrder(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{Rate: 1e6, Burst: 1 << 20}
	nodes := []*node{tc.node(t, "a", cfg, redis.Options{}), tc.node(t, "b", cfg, redis.Options{}), tc.node(t, "c", cfg, redis.Options{})}
	var watchers []*chanConn
	var senders []*Client
	for i, n := range nodes {
		_, w := joinOn(t, n, storage.DefaultRoom, fmt.Sprintf("watcher%d", i))
		watchers = append(watchers, w)
	}
	for i, n := range nodes {
		s, _ := joinOn(t, n, storage.DefaultRoom, fmt.Sprintf("sender%d", i))
		senders = append(senders, s)
	}
	const each = 40
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if _, err := s.Say(fmt.Sprintf("%d-%d", i, j)); err != nil {
					t.Errorf("sender %d, message %d: %v", i, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var orders [][]string
	for _, w := range watchers {
		var msgs []string
		for len(msgs) < len(senders)*each {
			ev := w.next(t)
			if ev.Name == EventMessages {
				msgs = append(msgs, ev.Args[0].(string)+" @"+ev.Offset)
			}
		}
		orders = append(orders, msgs)
	}
	for i := 1; i < len(orders); i++ {
		equal(t, fmt.Sprintf("watcher %d's order against watcher 0's", i), orders[i], orders[0])
	}
	// Each sender's messages in its own order.
	next := make([]int, len(senders))
	for _, line := range orders[0] {
		var i, j int
		if _, err := fmt.Sscanf(line[strings.Index(line, ": ")+2:], "%d-%d", &i, &j); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if j != next[i] {
			t.Fatalf("sender %d's message %d came when %d was due: %q", i, j, next[i], orders[0])
		}
		next[i]++
	}
}

func TestALostSubscriptionCatchesUpWithNothingMissedOrTwice(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{Rate: 1e6, Burst: 1 << 20}
	a := tc.node(t, "a", cfg, redis.Options{})
	bMetrics := &recMetrics{}
	bCfg := cfg
	bCfg.Metrics = bMetrics
	b := tc.node(t, "b", bCfg, redis.Options{})
	sender, _ := joinOn(t, a, storage.DefaultRoom, "sender")
	_, watch := joinOn(t, b, storage.DefaultRoom, "watcher")
	const total = 60
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			if i == total/3 || i == 2*total/3 {
				if n := tc.srv.KillPubSub(); n == 0 {
					t.Errorf("no subscribed connection to kill")
				}
			}
			if _, err := sender.Say(fmt.Sprintf("m%d", i)); err != nil {
				t.Errorf("message %d: %v", i, err)
				return
			}
		}
	}()
	var got []string
	for len(got) < total {
		ev := watch.next(t)
		if ev.Name == EventMessages {
			got = append(got, ev.Args[0].(string))
		}
	}
	<-done
	for i, line := range got {
		if want := fmt.Sprintf("sender: m%d", i); line != want {
			t.Fatalf("message %d on node b: %q, want %q (all: %q)", i, line, want, got)
		}
	}
	watch.quiet(t)
	// What came after a kill came through a subscription taken up again,
	// which the metrics were told of.
	bMetrics.mu.Lock()
	resubscribed, resets := bMetrics.resubscribed, bMetrics.resets
	bMetrics.mu.Unlock()
	if resubscribed == 0 || resets != 0 {
		t.Errorf("node b's metrics: %d subscriptions taken up again, %d resets; want some, and none", resubscribed, resets)
	}
}

func TestAClientLostOnOneNodeRecoversOnAnother(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{PresenceGrace: 5 * time.Second, RecoveryWindow: time.Minute}
	a := tc.node(t, "a", cfg, redis.Options{})
	b := tc.node(t, "b", cfg, redis.Options{})
	ann, annConn := joinOn(t, a, storage.DefaultRoom, "ann")
	bob, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	last := annConn.expect(t, "add chatter|bob")[0].Offset
	pid := ann.PID()
	ann.Drop() // a blip: nobody sees ann go

	say(t, bob, "are you there?")
	say(t, bob, "hello?")
	bobConn.expect(t, "messages|bob: are you there?", "messages|bob: hello?")

	conn := newChanConn("b/ann")
	c, rec, ok := b.hub.Default().Resume(conn, b.hub.Connect(Peer{}, conn.Close), pid, last)
	if !ok {
		t.Fatalf("ann could not recover on node b")
	}
	if rec.Name != "ann" || rec.Missed != 2 {
		t.Errorf("recovered %+v, want ann with 2 missed", rec)
	}
	conn.expect(t, "messages|bob: are you there?", "messages|bob: hello?")
	say(t, c, "back")
	bobConn.expect(t, "messages|ann: back")
	bobConn.quiet(t) // no remove chatter, no add chatter

	// One try: the session is gone.
	if _, _, ok := a.hub.Default().Resume(newChanConn("a/ann2"), a.hub.Connect(Peer{}, func() {}), pid, last); ok {
		t.Fatal("a session recovered twice")
	}
	c.Leave()
	bobConn.expect(t, "remove chatter|ann")
}

func TestAGraceRunsOutOnTheStoresClock(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{PresenceGrace: 300 * time.Millisecond}
	a := tc.node(t, "a", cfg, redis.Options{})
	b := tc.node(t, "b", cfg, redis.Options{})
	ann, _ := joinOn(t, a, storage.DefaultRoom, "ann")
	_, catConn := joinOn(t, a, storage.DefaultRoom, "cat")
	_, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	catConn.expect(t, "add chatter|bob")
	ann.Drop()
	bobConn.expect(t, "remove chatter|ann")
	catConn.expect(t, "remove chatter|ann")
	equal(t, "chatters on a", a.hub.Default().Chatters(), []string{"bob", "cat"})
}

func TestAKickThroughAnyNodeClosesTheConnectionsWhereverTheyAre(t *testing.T) {
	tc := newTestCluster(t)
	a := tc.node(t, "a", Config{}, redis.Options{})
	b := tc.node(t, "b", Config{}, redis.Options{})
	_, annConn := joinOn(t, a, storage.DefaultRoom, "ann")
	_, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	annConn.expect(t, "add chatter|bob")

	res, err := b.hub.Kick(t.Context(), "", "ann", "be nice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Rooms, []string{storage.DefaultRoom}) || res.Closed != 0 {
		t.Errorf("kick from node b: %+v, want the default room and none of b's connections", res)
	}
	annConn.expect(t, "kicked|be nice")
	annConn.waitClosed(t)
	bobConn.expect(t, "remove chatter|ann")
	if _, err := b.hub.Kick(t.Context(), "", "ann", "again", 0); ErrorCode(err) != CodeNoSuchChatter {
		t.Errorf("kicking a nickname no longer present: %v", err)
	}
}

func TestRoomsAddedAndRemovedOnOneNodeAreSoOnEvery(t *testing.T) {
	tc := newTestCluster(t)
	a := tc.node(t, "a", Config{}, redis.Options{})
	b := tc.node(t, "b", Config{}, redis.Options{})
	changed := make(chan struct{}, 10)
	b.hub.Watch(func() { changed <- struct{}{} })
	if _, err := a.hub.AddRoom(t.Context(), "games", "board games"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changed, func() bool { return b.hub.Room("games") != nil })
	if got := b.hub.Room("games").Topic(); got != "board games" {
		t.Errorf("topic on node b: %q", got)
	}
	_, bobConn := joinOn(t, b, "games", "bob")
	annGames, _ := joinOn(t, a, "games", "ann")
	bobConn.expect(t, "add chatter|ann")
	say(t, annGames, "gg")
	bobConn.expect(t, "messages|ann: gg")

	if _, err := a.hub.RemoveRoom(t.Context(), "games"); err != nil {
		t.Fatal(err)
	}
	bobConn.until(t, "kicked|the room \"games\" was removed")
	bobConn.waitClosed(t)
	waitFor(t, changed, func() bool { return b.hub.Room("games") == nil })
}

func TestTheChattersOfANodeThatDiedExpireOnTheOthers(t *testing.T) {
	tc := newTestCluster(t)
	opts := redis.Options{PresenceTTL: 500 * time.Millisecond}
	a := tc.node(t, "a", Config{}, opts)
	b := tc.node(t, "b", Config{}, opts)
	_, _ = joinOn(t, a, storage.DefaultRoom, "ann")
	_, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	// Node a stops refreshing its presence, as if it died: its store
	// closes under its hub, which says nothing more.
	a.store.Close()
	bobConn.expect(t, "remove chatter|ann")
	equal(t, "chatters on b", b.hub.Default().Chatters(), []string{"bob"})
}

// waitFor waits for cond, checked at every signal on changed.
func waitFor(t *testing.T, changed <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for !cond() {
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("the condition did not hold in time")
		}
	}
}

func TestADropAndARejoinOnAnotherNodeWithinTheGraceGoUnseen(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{PresenceGrace: 5 * time.Second}
	a := tc.node(t, "a", cfg, redis.Options{})
	b := tc.node(t, "b", cfg, redis.Options{})
	ann, _ := connectOn(t, a, storage.DefaultRoom, "ann")
	res, err := ann.Join("ann", "")
	if err != nil {
		t.Fatal(err)
	}
	_, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	ann.Drop()

	// The page comes back through another node with its token.
	c, again := connectOn(t, b, storage.DefaultRoom, "ann")
	back, err := c.Join("ann", res.Token)
	if err != nil || back.Token != res.Token {
		t.Fatalf("rejoin with the token on another node: %+v, %v", back, err)
	}
	again.until(t, "add chatter|ann")
	say(t, c, "still here")
	bobConn.expect(t, "messages|ann: still here") // and nothing before it

	// Without the token, a nickname held by a connection is taken.
	o, _ := connectOn(t, a, storage.DefaultRoom, "ann2")
	if _, err := o.Join("ann", ""); ErrorCode(err) != CodeNameTaken {
		t.Fatalf("a nickname held on another node, joined without its token: %v", err)
	}
}

func TestAClientRecoveringAfterItsGraceHoldsItsNicknameUntilItLeaves(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{PresenceGrace: 200 * time.Millisecond, RecoveryWindow: time.Minute}
	a := tc.node(t, "a", cfg, redis.Options{})
	b := tc.node(t, "b", cfg, redis.Options{})
	ann, annConn := joinOn(t, a, storage.DefaultRoom, "ann")
	_, bobConn := joinOn(t, b, storage.DefaultRoom, "bob")
	last := annConn.expect(t, "add chatter|bob")[0].Offset
	pid := ann.PID()
	ann.Drop()
	bobConn.expect(t, "remove chatter|ann") // the grace ran out; the session stays

	conn := newChanConn("b/ann")
	c, _, ok := b.hub.Default().Resume(conn, b.hub.Connect(Peer{}, conn.Close), pid, last)
	if !ok {
		t.Fatal("ann could not recover within the recovery window")
	}
	bobConn.expect(t, "add chatter|ann")
	// The nickname is claimed again with the session's token: a page
	// joining with it is ann, one without it is refused.
	again, _ := connectOn(t, a, storage.DefaultRoom, "ann2")
	if _, err := again.Join("ann", ""); ErrorCode(err) != CodeNameTaken {
		t.Fatalf("joining a recovered nickname without its token: %v", err)
	}
	// Leaving ends it everywhere: its claim is released, not left behind.
	c.Leave()
	bobConn.expect(t, "remove chatter|ann")
	if _, err := again.Join("ann", ""); err != nil {
		t.Fatalf("joining a nickname its recovered holder left: %v", err)
	}
}

func TestARecoveryFromAnOffsetAheadOfTheLogIsRefusedAndLeavesNothingWaiting(t *testing.T) {
	tc := newTestCluster(t)
	cfg := Config{RecoveryWindow: time.Minute}
	a := tc.node(t, "a", cfg, redis.Options{})
	ann, annConn := joinOn(t, a, storage.DefaultRoom, "ann")
	say(t, ann, "hello")
	epoch, seq, _ := parseOffset(annConn.expect(t, "messages|ann: hello")[0].Offset)
	// A session of ann's, as a lost connection leaves it.
	if err := a.store.SaveSession(t.Context(), storage.DefaultRoom, storage.Session{
		PID: "p1", Name: "ann", From: seq, Expires: time.Now().Add(time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	r := a.hub.Default()
	conn := newChanConn("a/ann2")
	if _, _, ok := r.Resume(conn, a.hub.Connect(Peer{}, conn.Close), "p1", offset(epoch, seq+1000)); ok {
		t.Fatal("a recovery from an offset the log never reached succeeded")
	}
	r.mu.Lock()
	waiting := len(r.waiters)
	r.mu.Unlock()
	if waiting != 0 {
		t.Errorf("%d waiters left behind by a refused recovery, each nudging a catch-up every second", waiting)
	}
}

// deafStore is a shared store whose subscription delivers the changes of
// the rooms but none of their batches, as if each were lost on the way
// while the subscription lived on.
type deafStore struct{ *redis.Store }

func (d deafStore) Subscribe(ctx context.Context) (storage.Subscription, error) {
	sub, err := d.Store.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	deaf := &deafSubscription{Subscription: sub, batches: make(chan storage.Batch)}
	go func() {
		defer close(deaf.batches)
		for b := range sub.Batches() {
			if b.RoomsChanged {
				deaf.batches <- b
			}
		}
	}()
	return deaf, nil
}

// deafSubscription passes on what its subscription delivers but batches.
type deafSubscription struct {
	storage.Subscription
	batches chan storage.Batch
}

func (d *deafSubscription) Batches() <-chan storage.Batch { return d.batches }

// TestEntriesLostOnTheWayAreCaughtUpFromTheLog: with every batch lost
// while the subscription lives on, a join and a message still complete,
// their own entries read from the log once they have waited a moment,
// and another node's message arrives with the next catch-up.
func TestEntriesLostOnTheWayAreCaughtUpFromTheLog(t *testing.T) {
	tc := newTestCluster(t)
	deaf := tc.nodeWith(t, "deaf", Config{}, redis.Options{}, func(s *redis.Store) SharedStore { return deafStore{s} })
	other := tc.node(t, "other", Config{}, redis.Options{})
	ann, annConn := joinOn(t, deaf, storage.DefaultRoom, "ann")
	m := say(t, ann, "heard?")
	annConn.expect(t, "messages|ann: heard?")
	bob, bobConn := joinOn(t, other, storage.DefaultRoom, "bob")
	say(t, bob, "yes")
	bobConn.expect(t, "messages|bob: yes")
	// Node deaf hears of bob's arrival and message at its next catch-up,
	// which its own next message's wait brings.
	say(t, ann, "again")
	annConn.expect(t, "add chatter|bob", "messages|bob: yes", "messages|ann: again")
	if m.ID != 1 {
		t.Errorf("ann's first message has ID %d", m.ID)
	}
}

func TestAWaitThatTimesOutLeavesNoWaiterBehind(t *testing.T) {
	tc := newTestCluster(t)
	a := tc.node(t, "a", Config{}, redis.Options{})
	ann, annConn := joinOn(t, a, storage.DefaultRoom, "ann")
	say(t, ann, "hello")
	annConn.expect(t, "messages|ann: hello")
	r := a.hub.Default()
	r.mu.Lock()
	reached := storage.Position{Epoch: r.epoch, Seq: r.seq}
	r.mu.Unlock()
	// A position the log never reaches: the wait gives up.
	if r.awaitWithin(storage.Position{Epoch: reached.Epoch, Seq: reached.Seq + 1000}, 50*time.Millisecond) {
		t.Fatal("a wait for a position the log never reached succeeded")
	}
	r.mu.Lock()
	waiting := len(r.waiters)
	r.mu.Unlock()
	if waiting != 0 {
		t.Errorf("%d waiters left behind by a wait that gave up, each nudging a catch-up every second", waiting)
	}
	// A position the room has reached: at once.
	if !r.awaitWithin(reached, time.Second) {
		t.Fatal("a wait for a position the room had reached failed")
	}
}
