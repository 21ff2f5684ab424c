package chat

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/internal/logtest"
	"chatserver/storage"
)

// addRoom adds a room to the fixture's hub, failing the test on error.
func (f *fixture) addRoom(t testing.TB, name, topic string) *Room {
	t.Helper()
	r, err := f.hub.AddRoom(context.Background(), name, topic)
	if err != nil {
		t.Fatalf("AddRoom(%q): %v", name, err)
	}
	return r
}

// joinIn connects a client to room and joins it as name.
func (f *fixture) joinIn(t testing.TB, room *Room, name string) (*Client, *recConn) {
	t.Helper()
	conn := &recConn{}
	c := f.connectTo(room, conn, Peer{})
	if _, err := c.Join(name, ""); err != nil {
		t.Fatalf("Join(%q) in %s: %v", name, room.Name(), err)
	}
	return c, conn
}

func TestRoomsAreAddedListedAndRefusedWhenBad(t *testing.T) {
	f := newFixture(t, Config{})
	f.addRoom(t, "games", "board games on Friday")
	f.addRoom(t, "homework", "")
	for _, tt := range []struct {
		name, topic string
		code        Code
	}{
		{"games", "", CodeRoomExists},
		{storage.DefaultRoom, "", CodeRoomExists},
		{"", "", CodeInvalidRoom},
		{"Games", "", CodeInvalidRoom},
		{"-games", "", CodeInvalidRoom},
		{"g/ames", "", CodeInvalidRoom},
		{strings.Repeat("g", 33), "", CodeInvalidRoom},
		{"ok", "two\nlines", CodeInvalidRoom},
		{"ok", strings.Repeat("t", MaxTopicLen+1), CodeInvalidRoom},
	} {
		_, err := f.hub.AddRoom(context.Background(), tt.name, tt.topic)
		if ErrorCode(err) != tt.code {
			t.Errorf("AddRoom(%q, %q): %v, want code %s", tt.name, tt.topic, err, tt.code)
		}
	}
	var names []string
	for _, info := range f.hub.Infos() {
		names = append(names, info.Name+"|"+info.Topic)
	}
	equal(t, "rooms", names, []string{"general|", "games|board games on Friday", "homework|"})
	stored, _ := f.store.Rooms(context.Background())
	if len(stored) != 3 {
		t.Fatalf("stored rooms: %+v", stored)
	}
}

func TestEachRoomHasItsOwnHistoryPresenceAndNicknames(t *testing.T) {
	f := newFixture(t, Config{})
	games := f.addRoom(t, "games", "")
	ann, annConn := f.join(t, "ann")
	annGames, annGamesConn := f.joinIn(t, games, "ann") // the same nickname, another room
	bob, bobConn := f.joinIn(t, games, "bob")
	if _, err := f.connectTo(games, &recConn{}, Peer{}).Join("BOB", ""); ErrorCode(err) != CodeNameTaken {
		t.Fatalf("a taken nickname in its room: %v", err)
	}
	annConn.take()
	annGamesConn.take()
	bobConn.take()

	if _, err := ann.Say("in general"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Say("in games"); err != nil {
		t.Fatal(err)
	}
	equal(t, "ann in general", annConn.take(), []string{"messages|ann: in general"})
	equal(t, "ann in games", annGamesConn.take(), []string{"messages|bob: in games"})
	equal(t, "bob", bobConn.take(), []string{"messages|bob: in games"})
	equal(t, "general history", texts(f.room.History(0)), []string{"in general"})
	equal(t, "games history", texts(games.History(0)), []string{"in games"})
	equal(t, "general chatters", f.room.Chatters(), []string{"ann"})
	equal(t, "games chatters", games.Chatters(), []string{"ann", "bob"})

	annGames.Leave()
	equal(t, "leaving games", bobConn.take(), []string{"remove chatter|ann"})
	if got := annConn.take(); len(got) != 0 {
		t.Fatalf("general saw games' departure: %q", got)
	}
}

// texts returns the Text of each message.
func texts(ms []storage.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func TestRateLimitsArePerPersonNotPerRoom(t *testing.T) {
	f := newFixture(t, Config{Rate: 0.001, Burst: 4, FloodLimit: 100, PaceBacklog: NoPacing})
	games := f.addRoom(t, "games", "")
	conn := &recConn{}
	person := f.hub.Connect(Peer{}, conn.Close)
	inGeneral, _ := f.room.Connect(conn, person)
	inGames, _ := games.Connect(&recConn{}, person)
	if _, err := inGeneral.Join("ann", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := inGames.Join("ann", ""); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for i := range 8 {
		c := inGeneral
		if i%2 == 1 {
			c = inGames
		}
		if _, err := c.Say("hi"); err == nil {
			sent++
		} else {
			wantCode(t, err, CodeRateLimited)
		}
	}
	if sent != 4 {
		t.Fatalf("one connection in two rooms sent %d messages with a burst of 4", sent)
	}

	// The nickname's bucket is shared too: another connection holding
	// "ann" in a third room has nothing left either.
	third := f.addRoom(t, "third", "")
	other, _ := f.joinIn(t, third, "ann")
	_, err := other.Say("hi")
	wantCode(t, err, CodeRateLimited)
}

func TestKickReachesEveryRoomOrOne(t *testing.T) {
	f := newFixture(t, Config{})
	games := f.addRoom(t, "games", "")
	_, inGeneral := f.join(t, "troll")
	_, inGames := f.joinIn(t, games, "troll")
	_, watcher := f.joinIn(t, games, "watcher")
	watcher.take()

	res, err := f.hub.Kick(context.Background(), "games", "troll", "not here", 0)
	if err != nil || res.Closed != 1 || strings.Join(res.Rooms, ",") != "games" {
		t.Fatalf("kick from games: %+v, %v", res, err)
	}
	if !inGames.isClosed() || inGeneral.isClosed() {
		t.Fatal("a kick from games must close the games connection only")
	}
	equal(t, "games watcher", watcher.take(), []string{"remove chatter|troll"})

	res, err = f.hub.Kick(context.Background(), "", "troll", "anywhere", 0)
	if err != nil || res.Closed != 1 || strings.Join(res.Rooms, ",") != storage.DefaultRoom || !inGeneral.isClosed() {
		t.Fatalf("kick everywhere: %+v, %v", res, err)
	}
	_, err = f.hub.Kick(context.Background(), "", "troll", "", 0)
	wantCode(t, err, CodeNoSuchChatter)
	_, err = f.hub.Kick(context.Background(), "nowhere", "troll", "", 0)
	wantCode(t, err, CodeNoSuchRoom)
}

func TestBansHoldInEveryRoom(t *testing.T) {
	f := newFixture(t, Config{})
	games := f.addRoom(t, "games", "")
	if _, err := f.kick("spammer", "spam", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, room := range []*Room{f.room, games} {
		_, err := f.connectTo(room, &recConn{}, Peer{}).Join("Spammer", "")
		wantCode(t, err, CodeBanned)
	}
}

func TestRemovingARoomKicksItsClientsAndDeletesIt(t *testing.T) {
	f := newFixture(t, Config{})
	games := f.addRoom(t, "games", "")
	rooms := 0
	f.hub.Watch(func() { rooms = len(f.hub.Rooms()) })
	ann, annConn := f.joinIn(t, games, "ann")
	lurker := &recConn{}
	f.connectTo(games, lurker, Peer{})
	_, inGeneral := f.join(t, "ann")
	if _, err := ann.Say("soon gone"); err != nil {
		t.Fatal(err)
	}
	annConn.take()

	closed, err := f.hub.RemoveRoom(context.Background(), "games")
	if err != nil || closed != 2 {
		t.Fatalf("RemoveRoom: %d, %v", closed, err)
	}
	equal(t, "the chatter's last events", annConn.take(), []string{`kicked|the room "games" was removed`})
	if !annConn.isClosed() || !lurker.isClosed() || inGeneral.isClosed() {
		t.Fatal("removing games must close its connections, and only those")
	}
	if len(lurker.take()) != 0 {
		t.Fatal("a connection that had not joined was sent events")
	}
	if f.hub.Room("games") != nil || rooms != 1 {
		t.Fatalf("games still listed (watcher saw %d rooms)", rooms)
	}
	if _, err := f.store.RecentMessages(context.Background(), "games", 0); !errors.Is(err, storage.ErrNoSuchRoom) {
		t.Fatalf("the store still has games: %v", err)
	}
	_, err = ann.Say("after")
	wantCode(t, err, CodeUnavailable)
	_, err = games.Connect(&recConn{}, f.hub.Connect(Peer{}, func() {}))
	wantCode(t, err, CodeUnavailable)

	_, err = f.hub.RemoveRoom(context.Background(), "games")
	wantCode(t, err, CodeNoSuchRoom)
	_, err = f.hub.RemoveRoom(context.Background(), storage.DefaultRoom)
	wantCode(t, err, CodeInvalidRoom)

	// The nickname's bucket went back with the room: ann still chats in
	// general, and a room of the same name starts empty.
	again := f.addRoom(t, "games", "")
	if n := len(again.History(0)); n != 0 {
		t.Fatalf("a re-added room has %d old messages", n)
	}
}

func TestAFailedRemovalChangesNothing(t *testing.T) {
	f := newFixture(t, Config{})
	games := f.addRoom(t, "games", "")
	_, conn := f.joinIn(t, games, "ann")
	f.store.mu.Lock()
	f.store.failNext = errors.New("disk full")
	f.store.mu.Unlock()
	_, err := f.hub.RemoveRoom(context.Background(), "games")
	wantCode(t, err, CodeStoreFailed)
	if conn.isClosed() || f.hub.Room("games") != games {
		t.Fatal("a failed removal closed the room")
	}
	equal(t, "chatters", games.Chatters(), []string{"ann"})
}

func TestEncodedKeepsOneEncodingPerKey(t *testing.T) {
	ev := newEvent(EventMessages, "ann: hi")
	calls := 0
	enc := func(prefix string) func(*Event) (string, error) {
		return func(ev *Event) (string, error) {
			calls++
			return prefix + ev.Name, nil
		}
	}
	for range 3 {
		a, _ := Encoded(ev, "/", enc("a:"))
		b, _ := Encoded(ev, "/games", enc("b:"))
		if a != "a:messages" || b != "b:messages" {
			t.Fatalf("encodings %q, %q", a, b)
		}
	}
	if calls != 2 {
		t.Fatalf("encode ran %d times for two keys", calls)
	}
}

// removalRace is a memStore whose writes to one room, once armed, wait
// until that room has been removed from the store: the room's writer
// then fails for a removal the room has not been told of yet.
type removalRace struct {
	*memStore
	room    string
	armed   atomic.Bool
	entered chan struct{} // capacity 1: a write of the room is waiting
	removed chan struct{} // closed when the store has removed the room
}

func newRemovalRace(room string) *removalRace {
	return &removalRace{memStore: newMemStore(10), room: room, entered: make(chan struct{}, 1), removed: make(chan struct{})}
}

func (s *removalRace) hold(room string) {
	if room == s.room && s.armed.Load() {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-s.removed
	}
}

func (s *removalRace) SetChatters(ctx context.Context, room string, names []string) error {
	s.hold(room)
	return s.memStore.SetChatters(ctx, room, names)
}

func (s *removalRace) AppendMessages(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, error) {
	s.hold(room)
	return s.memStore.AppendMessages(ctx, room, msgs)
}

func (s *removalRace) RemoveRoom(ctx context.Context, name string) error {
	err := s.memStore.RemoveRoom(ctx, name)
	if name == s.room && err == nil {
		close(s.removed)
	}
	return err
}

// TestAWriteCaughtByARemovalIsNoError: the room's writer may store a
// message or the presence just as the room is removed; the store then
// says there is no such room before the room knows. That is the removal,
// not a failure: the sender is told the room was removed, and nothing is
// logged as an error.
func TestAWriteCaughtByARemovalIsNoError(t *testing.T) {
	for _, what := range []string{"presence", "message"} {
		t.Run(what, func(t *testing.T) {
			logger, logs := logtest.New(t)
			store := newRemovalRace("games")
			hub, err := NewHub(context.Background(), store, Config{Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(hub.Close)
			games, err := hub.AddRoom(context.Background(), "games", "")
			if err != nil {
				t.Fatal(err)
			}
			conn := &recConn{}
			ann, err := games.Connect(conn, hub.Connect(Peer{}, conn.Close))
			if err != nil {
				t.Fatal(err)
			}
			said := make(chan error, 1)
			if what == "presence" {
				store.armed.Store(true)
				if _, err := ann.Join("ann", ""); err != nil {
					t.Fatal(err)
				}
			} else {
				if _, err := ann.Join("ann", ""); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(5 * time.Second)
				for strings.Join(store.storedChattersOf("games"), ",") != "ann" {
					if time.Now().After(deadline) {
						t.Fatal("ann's presence was not stored")
					}
					time.Sleep(time.Millisecond)
				}
				store.armed.Store(true)
				go func() {
					_, err := ann.Say("just then")
					said <- err
				}()
			}
			select {
			case <-store.entered:
			case <-time.After(5 * time.Second):
				t.Fatalf("the writer did not store the %s", what)
			}
			if _, err := hub.RemoveRoom(context.Background(), "games"); err != nil {
				t.Fatal(err)
			}
			if what == "message" {
				wantCode(t, <-said, CodeUnavailable)
			}
			for _, r := range logs.Records() {
				if r.Level >= slog.LevelError {
					t.Errorf("logged %s", r)
				}
			}
		})
	}
}
