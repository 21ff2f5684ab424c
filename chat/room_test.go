package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/internal/logtest"
	"chatserver/nick"
	"chatserver/storage"
)

// memStore is an in-memory Store for the rules of the hub and its rooms.
// It can be told to fail writes, which a real file cannot be made to do
// on demand.
type memStore struct {
	mu       sync.Mutex
	history  int
	rooms    map[string]*memRoom
	bans     map[string]time.Time
	appends  int // AppendMessages calls
	failNext error
	gate     *storeGate // when set, AppendMessages waits on it
	recovery *storage.RecoveryState
}

// memRoom is one room of a memStore.
type memRoom struct {
	info     storage.Room
	seq      uint64
	msgs     []storage.Message
	chatters []string
}

// storeGate holds AppendMessages: each call signals entered, then waits
// until release is closed.
type storeGate struct {
	entered chan struct{} // buffered
	release chan struct{}
}

func newMemStore(history int) *memStore {
	return &memStore{
		history: history,
		rooms:   map[string]*memRoom{storage.DefaultRoom: {info: storage.Room{Name: storage.DefaultRoom}}},
		bans:    map[string]time.Time{},
	}
}

// room returns the room called name; s.mu held.
func (s *memStore) room(name string) (*memRoom, error) {
	r := s.rooms[name]
	if r == nil {
		return nil, fmt.Errorf("room %s: %w", name, storage.ErrNoSuchRoom)
	}
	return r, nil
}

func (s *memStore) Rooms(context.Context) ([]storage.Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Room
	for _, r := range s.rooms {
		info := r.info
		info.Messages = len(r.msgs)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b storage.Room) int { return compareRooms(a.Name, b.Name) })
	return out, nil
}

func (s *memStore) AddRoom(_ context.Context, r storage.Room) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.Name] != nil {
		return storage.ErrRoomExists
	}
	if err := s.failNext; err != nil {
		s.failNext = nil
		return err
	}
	s.rooms[r.Name] = &memRoom{info: r}
	return nil
}

func (s *memStore) RemoveRoom(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.room(name); err != nil {
		return err
	}
	if err := s.failNext; err != nil {
		s.failNext = nil
		return err
	}
	delete(s.rooms, name)
	return nil
}

func (s *memStore) AppendMessages(_ context.Context, room string, msgs []storage.Message) ([]storage.Message, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		gate.entered <- struct{}{}
		<-gate.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appends++
	if err := s.failNext; err != nil {
		s.failNext = nil
		return nil, err
	}
	r, err := s.room(room)
	if err != nil {
		return nil, err
	}
	out := make([]storage.Message, len(msgs))
	for i, m := range msgs {
		r.seq++
		m.ID = r.seq
		out[i] = m
		r.msgs = append(r.msgs, m)
	}
	if over := len(r.msgs) - s.history; over > 0 {
		r.msgs = append([]storage.Message(nil), r.msgs[over:]...)
	}
	return out, nil
}

func (s *memStore) RecentMessages(_ context.Context, room string, n int) ([]storage.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.room(room)
	if err != nil {
		return nil, err
	}
	m := r.msgs
	if n > 0 && n < len(m) {
		m = m[len(m)-n:]
	}
	return append([]storage.Message(nil), m...), nil
}

func (s *memStore) SetChatters(_ context.Context, room string, names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.room(room)
	if err != nil {
		return err
	}
	r.chatters = append([]string(nil), names...)
	return nil
}

func (s *memStore) BanExpiry(_ context.Context, name string, now time.Time) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.bans[nick.Key(name)]
	return until, ok && until.After(now), nil
}

func (s *memStore) Ban(_ context.Context, name string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bans[nick.Key(name)] = until
	return nil
}

func (s *memStore) Unban(_ context.Context, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.bans[nick.Key(name)]
	delete(s.bans, nick.Key(name))
	return ok, nil
}

func (s *memStore) SaveRecovery(_ context.Context, state storage.RecoveryState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recovery = &state
	return nil
}

func (s *memStore) TakeRecovery(context.Context) (storage.RecoveryState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recovery == nil {
		return storage.RecoveryState{}, false, nil
	}
	state := *s.recovery
	s.recovery = nil
	return state, true, nil
}

// storedChatters returns the default room's stored presence.
func (s *memStore) storedChatters() []string { return s.storedChattersOf(storage.DefaultRoom) }

// storedChattersOf returns the stored presence of room (nil when the room
// is gone).
func (s *memStore) storedChattersOf(room string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		return append([]string(nil), r.chatters...)
	}
	return nil
}

// seedChatters stores names as room's presence, as a crash leaves it.
func (s *memStore) seedChatters(room string, names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[room].chatters = names
}

// recConn records what the room sends to one connection.
type recConn struct {
	mu     sync.Mutex
	events []string // "name|arg0"
	sent   []*Event // every event, as sent
	closed bool
}

func (c *recConn) Send(ev *Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.events = append(c.events, describe(ev))
	c.sent = append(c.sent, ev)
	return true
}

func (c *recConn) ID() string { return fmt.Sprintf("rec%p", c) }

func (c *recConn) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

func (c *recConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// take returns and forgets the events received so far.
func (c *recConn) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

func describe(ev *Event) string {
	if len(ev.Args) == 0 {
		return ev.Name
	}
	switch a := ev.Args[0].(type) {
	case string:
		return ev.Name + "|" + a
	case json.RawMessage: // an event taken back from a saved log
		var s string
		if json.Unmarshal(a, &s) == nil {
			return ev.Name + "|" + s
		}
		return ev.Name + "|" + string(a)
	case kickedArg:
		return ev.Name + "|" + a.Reason
	default:
		return fmt.Sprintf("%s|%v", ev.Name, a)
	}
}

// fakeClock is a settable clock for rate limits, bans and the timers of
// paced messages (Config.AfterFunc), which fire only in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer // armed, in the order they were
}

// fakeTimer is a timer of a fakeClock.
type fakeTimer struct {
	c   *fakeClock
	due time.Time
	f   func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc is Config.AfterFunc on the fake clock.
func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, due: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.timers, t)
	if i < 0 {
		return false
	}
	t.c.timers = slices.Delete(t.c.timers, i, i+1)
	return true
}

// armed returns how many timers are armed.
func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock on by d, firing the timers due meanwhile in the
// order of their due times, each at its own time and in this goroutine
// (so a release loop has handed its messages to the writer, and had them
// stored, when Advance returns).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		next := -1
		for i, t := range c.timers {
			if !t.due.After(end) && (next < 0 || t.due.Before(c.timers[next].due)) {
				next = i
			}
		}
		if next < 0 {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[next]
		c.timers = slices.Delete(c.timers, next, next+1)
		if t.due.After(c.now) {
			c.now = t.due
		}
		c.mu.Unlock()
		t.f()
	}
}

type fixture struct {
	hub   *Hub
	room  *Room // the default room
	store *memStore
	clock *fakeClock
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = clock.AfterFunc
	}
	if cfg.Logger == nil {
		cfg.Logger, _ = logtest.New(t)
	}
	store := newMemStore(10)
	hub, err := NewHub(context.Background(), store, cfg)
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(hub.Close)
	return &fixture{hub: hub, room: hub.Default(), store: store, clock: clock}
}

// connect makes a person of a new connection from peer, whose flood
// disconnect closes conn, and enters it in the default room through conn.
func (f *fixture) connect(conn Conn, peer Peer) *Client {
	return f.connectTo(f.room, conn, peer)
}

// connectTo is connect for another room.
func (f *fixture) connectTo(room *Room, conn Conn, peer Peer) *Client {
	c, err := room.Connect(conn, f.hub.Connect(peer, conn.Close))
	if err != nil {
		panic(fmt.Sprintf("Connect to room %s: %v", room.Name(), err))
	}
	return c
}

// kick kicks name from every room, as the admin channel does.
func (f *fixture) kick(name, reason string, ban time.Duration) (int, error) {
	res, err := f.hub.Kick(context.Background(), "", name, reason, ban)
	return res.Closed, err
}

// join connects a client and joins it as name, failing the test on error.
func (f *fixture) join(t testing.TB, name string) (*Client, *recConn) {
	t.Helper()
	conn := &recConn{}
	c := f.connect(conn, Peer{})
	if _, err := c.Join(name, ""); err != nil {
		t.Fatalf("Join(%q): %v", name, err)
	}
	return c, conn
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func wantCode(t testing.TB, err error, code Code) {
	t.Helper()
	if got := ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestJoinSendsHistoryThenChattersAndAnnounces(t *testing.T) {
	f := newFixture(t, Config{})
	alice, aliceConn := f.join(t, "alice")
	if _, err := alice.Say("hello"); err != nil {
		t.Fatal(err)
	}
	aliceConn.take()

	_, bobConn := f.join(t, "  bob ")
	equal(t, "bob receives", bobConn.take(), []string{
		"messages|alice: hello", "add chatter|alice", "add chatter|bob",
	})
	equal(t, "alice receives", aliceConn.take(), []string{"add chatter|bob"})
	f.eventuallyStored(t, "alice", "bob")
}

// eventuallyStored waits until the stored presence is want (the writer
// mirrors presence asynchronously, so earlier states may be seen first).
func (f *fixture) eventuallyStored(t testing.TB, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := f.store.storedChatters()
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored chatters %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSayEchoesToSenderAndBroadcastsToJoinedOnly(t *testing.T) {
	f := newFixture(t, Config{})
	alice, aliceConn := f.join(t, "alice")
	_, bobConn := f.join(t, "bob")
	lurker := &recConn{}
	f.connect(lurker, Peer{})
	aliceConn.take()
	bobConn.take()

	msg, err := alice.Say("  hi there  ")
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID != 1 || msg.Text != "hi there" || msg.Name != "alice" || msg.Time.IsZero() {
		t.Fatalf("stored message %+v", msg)
	}
	equal(t, "alice", aliceConn.take(), []string{"messages|alice: hi there"})
	equal(t, "bob", bobConn.take(), []string{"messages|alice: hi there"})
	equal(t, "lurker", lurker.take(), nil)
}

func TestMessageEventCarriesWireObject(t *testing.T) {
	f := newFixture(t, Config{})
	alice, _ := f.join(t, "alice")
	msg, err := alice.Say("x")
	if err != nil {
		t.Fatal(err)
	}
	rec := f.room.recent[len(f.room.recent)-1].ev
	want := WireMessage{ID: msg.ID, Name: "alice", Text: "x", Time: "2026-11-29T12:00:00.000Z"}
	if rec.Args[1] != want {
		t.Fatalf("wire object %+v, want %+v", rec.Args[1], want)
	}
}

func TestRefusals(t *testing.T) {
	long := strings.Repeat("é", DefaultMaxMessageLen+1)
	tests := []struct {
		name string
		do   func(t *testing.T, f *fixture) error
		code Code
	}{
		{"empty nickname", func(t *testing.T, f *fixture) error {
			_, err := f.connect(&recConn{}, Peer{}).Join("   ", "")
			return err
		}, CodeInvalidName},
		{"nickname too long", func(t *testing.T, f *fixture) error {
			_, err := f.connect(&recConn{}, Peer{}).Join(strings.Repeat("n", 33), "")
			return err
		}, CodeInvalidName},
		{"nickname with control char", func(t *testing.T, f *fixture) error {
			_, err := f.connect(&recConn{}, Peer{}).Join("a\x07b", "")
			return err
		}, CodeInvalidName},
		{"nickname with bidi override", func(t *testing.T, f *fixture) error {
			_, err := f.connect(&recConn{}, Peer{}).Join("a\u202eb", "")
			return err
		}, CodeInvalidName},
		{"nickname with zero-width space", func(t *testing.T, f *fixture) error {
			_, err := f.connect(&recConn{}, Peer{}).Join("a\u200bb", "")
			return err
		}, CodeInvalidName},
		{"nickname taken in another case", func(t *testing.T, f *fixture) error {
			f.join(t, "Alice")
			_, err := f.connect(&recConn{}, Peer{}).Join("aLiCe", "")
			return err
		}, CodeNameTaken},
		{"nickname taken, final sigma", func(t *testing.T, f *fixture) error {
			f.join(t, "ΑΣ")
			_, err := f.connect(&recConn{}, Peer{}).Join("ας", "")
			return err
		}, CodeNameTaken},
		{"nickname taken, wrong token", func(t *testing.T, f *fixture) error {
			f.join(t, "alice")
			_, err := f.connect(&recConn{}, Peer{}).Join("alice", "not-the-token")
			return err
		}, CodeNameTaken},
		{"message before join", func(t *testing.T, f *fixture) error {
			_, err := f.connect(&recConn{}, Peer{}).Say("hi")
			return err
		}, CodeNotJoined},
		{"blank message", func(t *testing.T, f *fixture) error { c, _ := f.join(t, "a"); _, err := c.Say(" \n\t "); return err }, CodeInvalidMessage},
		{"message too long", func(t *testing.T, f *fixture) error { c, _ := f.join(t, "a"); _, err := c.Say(long); return err }, CodeInvalidMessage},
		{"message with bidi override", func(t *testing.T, f *fixture) error { c, _ := f.join(t, "a"); _, err := c.Say("x\u202ey"); return err }, CodeInvalidMessage},
		{"invalid UTF-8", func(t *testing.T, f *fixture) error { c, _ := f.join(t, "a"); _, err := c.Say("\xff"); return err }, CodeInvalidMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			wantCode(t, tt.do(t, f), tt.code)
			if got := f.room.History(0); len(got) != 0 {
				t.Fatalf("refused request stored %v", got)
			}
		})
	}
}

func TestMaxLengthMessageAccepted(t *testing.T) {
	f := newFixture(t, Config{})
	c, _ := f.join(t, "a")
	text := strings.Repeat("é", DefaultMaxMessageLen)
	m, err := c.Say(text)
	if err != nil || m.Text != text {
		t.Fatalf("Say(2000 chars) = %v, %v", len(m.Text), err)
	}
}

func TestResumeTokenTakesNicknameBackAtOnce(t *testing.T) {
	f := newFixture(t, Config{})
	old := &recConn{}
	oldClient := f.connect(old, Peer{})
	res, err := oldClient.Join("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	_, bobConn := f.join(t, "bob")
	bobConn.take()

	// The page reconnects before the old connection has timed out.
	fresh := &recConn{}
	res2, err := f.connect(fresh, Peer{}).Join("alice", res.Token)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if res2.Token != res.Token || res2.Name != "alice" {
		t.Fatalf("resume gave %+v, want %+v", res2, res)
	}
	equal(t, "bob sees no duplicate join", bobConn.take(), nil)

	// The old connection ends: alice is still present through the new one.
	oldClient.Leave()
	equal(t, "bob sees no leave", bobConn.take(), nil)
	equal(t, "chatters", f.room.Chatters(), []string{"alice", "bob"})
}

func TestLastConnectionLeavingAnnouncesRemoval(t *testing.T) {
	f := newFixture(t, Config{})
	alice, _ := f.join(t, "alice")
	_, bobConn := f.join(t, "bob")
	bobConn.take()
	alice.Leave()
	alice.Leave() // idempotent
	equal(t, "bob", bobConn.take(), []string{"remove chatter|alice"})
	equal(t, "chatters", f.room.Chatters(), []string{"bob"})
	f.eventuallyStored(t, "bob")
}

func TestSecondJoinRenames(t *testing.T) {
	f := newFixture(t, Config{})
	alice, _ := f.join(t, "alice")
	_, bobConn := f.join(t, "bob")
	bobConn.take()
	if _, err := alice.Join("alicia", ""); err != nil {
		t.Fatal(err)
	}
	equal(t, "bob", bobConn.take(), []string{"remove chatter|alice", "add chatter|alicia"})
	equal(t, "chatters", f.room.Chatters(), []string{"alicia", "bob"})
	if _, err := alice.Join("alicia", ""); err != nil {
		t.Fatalf("joining again under the same name: %v", err)
	}
	equal(t, "bob after same-name join", bobConn.take(), nil)
}

func TestHistoryKeepsNewestInOrder(t *testing.T) {
	f := newFixture(t, Config{History: 3})
	c, _ := f.join(t, "a")
	for i := 1; i <= 5; i++ {
		if _, err := c.Say(fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, m := range f.room.History(0) {
		got = append(got, m.Text)
	}
	equal(t, "history", got, []string{"3", "4", "5"})
	_, late := f.join(t, "late")
	equal(t, "replay", late.take(), []string{"messages|a: 3", "messages|a: 4", "messages|a: 5", "add chatter|a", "add chatter|late"})
}

// TestRateLimitWithoutPacingRefusesThenDisconnectsFlooder: with pacing
// off, a message over the limits is refused at once, and FloodLimit
// refusals in a row disconnect.
func TestRateLimitWithoutPacingRefusesThenDisconnectsFlooder(t *testing.T) {
	f := newFixture(t, Config{Rate: 1, Burst: 2, FloodLimit: 3, PaceBacklog: NoPacing})
	c, conn := f.join(t, "flooder")
	for i := 0; i < 2; i++ {
		if _, err := c.Say("x"); err != nil {
			t.Fatalf("within burst: %v", err)
		}
	}
	_, err := c.Say("x")
	wantCode(t, err, CodeRateLimited)
	f.clock.Advance(time.Second)
	if _, err := c.Say("refilled"); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	for i := 0; i < 3; i++ {
		_, err = c.Say("x")
		wantCode(t, err, CodeRateLimited)
	}
	if !conn.isClosed() {
		t.Fatal("flooder still connected after FloodLimit refusals")
	}
	if n := len(f.room.History(0)); n != 3 {
		t.Fatalf("%d messages stored, want 3", n)
	}
}

func TestStoreFailureRefusesAndDeliversNothing(t *testing.T) {
	f := newFixture(t, Config{})
	c, conn := f.join(t, "a")
	_, other := f.join(t, "b")
	conn.take()
	other.take()
	f.store.mu.Lock()
	f.store.failNext = errors.New("disk full")
	f.store.mu.Unlock()
	_, err := c.Say("lost?")
	wantCode(t, err, CodeStoreFailed)
	equal(t, "others", other.take(), nil)
	if _, err := c.Say("after"); err != nil {
		t.Fatalf("room stopped working after a store failure: %v", err)
	}
}

func TestKick(t *testing.T) {
	f := newFixture(t, Config{})
	alice, aliceConn := f.join(t, "alice")
	_, bobConn := f.join(t, "bob")
	aliceConn.take()
	bobConn.take()

	n, err := f.kick("ALICE", "be nice", 0)
	if err != nil || n != 1 {
		t.Fatalf("Kick = %d, %v", n, err)
	}
	equal(t, "alice", aliceConn.take(), []string{"kicked|be nice"})
	if !aliceConn.isClosed() {
		t.Fatal("kicked connection not closed")
	}
	equal(t, "bob", bobConn.take(), []string{"remove chatter|alice"})
	alice.Leave() // the transport reports the disconnect later
	equal(t, "bob after leave", bobConn.take(), nil)

	_, err = f.kick("nobody", "", 0)
	wantCode(t, err, CodeNoSuchChatter)
}

func TestBanRefusesNicknameUntilExpiry(t *testing.T) {
	f := newFixture(t, Config{})
	f.join(t, "troll")
	if _, err := f.kick("troll", "spam", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := f.connect(&recConn{}, Peer{}).Join("Troll", "")
	wantCode(t, err, CodeBanned)
	f.clock.Advance(11 * time.Minute)
	if _, err := f.connect(&recConn{}, Peer{}).Join("troll", ""); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestConcurrentSendersKeepTheirOrder(t *testing.T) {
	f := newFixture(t, Config{Rate: 1e6, Burst: 1e6})
	_, watcher := f.join(t, "watcher")
	watcher.take()
	const senders, each = 8, 50
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		c, _ := f.join(t, fmt.Sprintf("s%d", s))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := c.Say(fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := map[string]int{} // sender → the next text it must be seen sending
	var got int
	for _, e := range watcher.take() {
		line, ok := strings.CutPrefix(e, "messages|")
		if !ok {
			continue
		}
		got++
		name, text, _ := strings.Cut(line, ": ")
		if want := fmt.Sprint(next[name]); text != want {
			t.Fatalf("watcher saw %s send %q, want %q (out of order)", name, text, want)
		}
		next[name]++
	}
	if got != senders*each {
		t.Fatalf("watcher got %d messages, want %d", got, senders*each)
	}
	var prev uint64
	for _, m := range f.room.History(0) {
		if m.ID <= prev {
			t.Fatalf("history ids not increasing: %d after %d", m.ID, prev)
		}
		prev = m.ID
	}
}

func TestMessagesQueuedDuringACommitShareTheNext(t *testing.T) {
	f := newFixture(t, Config{Rate: 1e6, Burst: 1e6})
	gate := &storeGate{entered: make(chan struct{}, 16), release: make(chan struct{})}
	f.store.mu.Lock()
	f.store.gate = gate
	f.store.mu.Unlock()

	const queued = 5
	var wg sync.WaitGroup
	say := func(name string) {
		c, _ := f.join(t, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Say("hi"); err != nil {
				t.Error(err)
			}
		}()
	}
	say("first")
	<-gate.entered // the writer is inside the first commit
	for i := 0; i < queued; i++ {
		say(fmt.Sprintf("s%d", i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(f.room.queue) < queued {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued, want %d", len(f.room.queue), queued)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate.release)
	wg.Wait()

	f.store.mu.Lock()
	appends := f.store.appends
	f.store.mu.Unlock()
	if appends != 2 {
		t.Fatalf("%d messages took %d commits, want 2 (the first, then the %d queued behind it together)", 1+queued, appends, queued)
	}
}

func TestCloseRefusesNewMessagesAndLeavesPresenceEmpty(t *testing.T) {
	f := newFixture(t, Config{})
	c, _ := f.join(t, "a")
	c.Leave()
	f.room.Close()
	f.room.Close() // idempotent
	_, err := f.room.Connect(&recConn{}, f.hub.Connect(Peer{}, func() {}))
	wantCode(t, err, CodeUnavailable)
	_, err = c.Say("too late")
	wantCode(t, err, CodeUnavailable)
	if got := f.store.storedChatters(); len(got) != 0 {
		t.Fatalf("stored presence after close: %q", got)
	}
}

func TestNewHubClearsPresenceLeftByCrash(t *testing.T) {
	store := newMemStore(10)
	if err := store.AddRoom(context.Background(), storage.Room{Name: "games"}); err != nil {
		t.Fatal(err)
	}
	store.seedChatters(storage.DefaultRoom, "ghost")
	store.seedChatters("games", "ghost", "phantom")
	logger, _ := logtest.New(t)
	hub, err := NewHub(context.Background(), store, Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	for _, room := range []string{storage.DefaultRoom, "games"} {
		if got := store.storedChattersOf(room); len(got) != 0 {
			t.Fatalf("presence of %s after start: %q", room, got)
		}
	}
}

// TestMessageTextIsLoggedOnlyWhenAsked: without LogMessages nothing the
// room logs carries a message's text; with it every stored message is one
// info line with its id, nickname and text.
func TestMessageTextIsLoggedOnlyWhenAsked(t *testing.T) {
	const secret = "the secret is swordfish"
	for _, logMessages := range []bool{false, true} {
		t.Run(fmt.Sprint("LogMessages=", logMessages), func(t *testing.T) {
			logger, logs := logtest.New(t)
			f := newFixture(t, Config{Logger: logger, LogMessages: logMessages})
			c, _ := f.join(t, "alice")
			msg, err := c.Say(secret)
			if err != nil {
				t.Fatal(err)
			}
			f.room.Close()
			var carrying []logtest.Record
			for _, r := range logs.Records() {
				if strings.Contains(r.String(), "swordfish") {
					carrying = append(carrying, r)
				}
			}
			if !logMessages {
				if len(carrying) != 0 {
					t.Errorf("the text was logged without LogMessages: %v", carrying)
				}
				return
			}
			got := logs.Matching("message", "id", fmt.Sprint(msg.ID), "nick", "alice", "text", secret)
			if len(got) != 1 || got[0].Level != slog.LevelInfo || len(carrying) != 1 {
				t.Errorf("logged %v, want one info line for the message:\n%s", got, logs)
			}
		})
	}
}
