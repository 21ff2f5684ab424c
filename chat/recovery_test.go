package chat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"chatserver/storage"
)

// recoveryConfig turns recovery on, with a small log.
func recoveryConfig() Config {
	return Config{RecoveryWindow: time.Minute, RecoveryEvents: 20, PresenceGrace: 5 * time.Second, Rate: 1e6, Burst: 1e6}
}

// lastOffset is the offset of the newest event conn was sent that has one,
// as a client keeps it.
func (c *recConn) lastOffset() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.sent) - 1; i >= 0; i-- {
		if c.sent[i].Offset != "" {
			return c.sent[i].Offset
		}
	}
	return ""
}

// resume recovers a client of room through a new recConn.
func (f *fixture) resume(room *Room, pid, off string) (*Client, *recConn, Recovered, bool) {
	conn := &recConn{}
	c, rec, ok := room.Resume(conn, f.hub.Connect(Peer{}, conn.Close), pid, off)
	return c, conn, rec, ok
}

func TestALostClientRecoversWhatItMissedOnce(t *testing.T) {
	f := newFixture(t, recoveryConfig())
	ann, annConn := f.join(t, "ann")
	bob, bobConn := f.join(t, "bob")
	if _, err := bob.Say("seen"); err != nil {
		t.Fatal(err)
	}
	off, pid := annConn.lastOffset(), ann.PID()
	if off == "" || pid == "" {
		t.Fatalf("no offset %q or pid %q", off, pid)
	}
	ann.Drop()
	for i := range 3 {
		if _, err := bob.Say(fmt.Sprintf("missed %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	bobConn.take()

	back, conn, rec, ok := f.resume(f.room, pid, off)
	if !ok || rec.Name != "ann" || rec.Missed != 3 {
		t.Fatalf("Resume: %+v, %v", rec, ok)
	}
	equal(t, "replayed", conn.take(), []string{"messages|bob: missed 0", "messages|bob: missed 1", "messages|bob: missed 2"})
	if got := bobConn.take(); len(got) != 0 {
		t.Fatalf("bob saw the recovery: %q", got)
	}
	if _, err := back.Say("back"); err != nil {
		t.Fatalf("a recovered client must send without joining: %v", err)
	}
	equal(t, "chatters", f.room.Chatters(), []string{"ann", "bob"})

	// A session is good once.
	if _, _, _, ok := f.resume(f.room, pid, off); ok {
		t.Fatal("a session recovered twice")
	}
}

func TestResumeRefusesWhatIsNotItsOwn(t *testing.T) {
	f := newFixture(t, recoveryConfig())
	games := f.addRoom(t, "games", "")
	f.join(t, "bob")
	cases := []struct {
		name string
		mess func(pid, off string) (room *Room, p, o string)
	}{
		{"an unknown pid", func(_, off string) (*Room, string, string) { return f.room, "feedfacefeedfacefeedfacefeedface", off }},
		{"another room", func(pid, off string) (*Room, string, string) { return games, pid, off }},
		{"a forged offset ahead of the log", func(pid, _ string) (*Room, string, string) { return f.room, pid, offset(f.room.epoch, 1<<40) }},
		{"another epoch", func(pid, _ string) (*Room, string, string) { return f.room, pid, offset("other", 1) }},
		{"garbage", func(pid, _ string) (*Room, string, string) { return f.room, pid, "not-an-offset!" }},
		{"an offset before its join", func(pid, _ string) (*Room, string, string) { return f.room, pid, offset(f.room.epoch, 0) }},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c, conn := f.join(t, fmt.Sprintf("ann%d", i))
			pid, off := c.PID(), conn.lastOffset()
			c.Drop()
			room, p, o := tt.mess(pid, off)
			if _, _, _, ok := f.resume(room, p, o); ok {
				t.Fatal("recovered")
			}
		})
	}
}

func TestAnOffsetTooOldForTheLogIsANewConnection(t *testing.T) {
	f := newFixture(t, recoveryConfig()) // the log keeps 20 events
	ann, annConn := f.join(t, "ann")
	bob, _ := f.join(t, "bob")
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	for i := range 25 {
		if _, err := bob.Say(fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, ok := f.resume(f.room, pid, off); ok {
		t.Fatal("recovered past the log's end")
	}
}

func TestASessionEndsWithItsWindow(t *testing.T) {
	f := newFixture(t, recoveryConfig())
	ann, annConn := f.join(t, "ann")
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	f.clock.Advance(time.Minute)
	if _, _, _, ok := f.resume(f.room, pid, off); ok {
		t.Fatal("recovered after the window")
	}
}

func TestRecoveryAfterTheGraceAnnouncesTheReturn(t *testing.T) {
	f := newFixture(t, recoveryConfig())
	ann, annConn := f.join(t, "ann")
	_, bobConn := f.join(t, "bob")
	bobConn.take()
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	f.clock.Advance(10 * time.Second) // past the grace, within the window
	equal(t, "grace over", bobConn.take(), []string{"remove chatter|ann"})
	_, conn, _, ok := f.resume(f.room, pid, off)
	if !ok {
		t.Fatal("not recovered within the window")
	}
	equal(t, "bob sees ann return", bobConn.take(), []string{"add chatter|ann"})
	equal(t, "ann is told what it missed", conn.take(), []string{"remove chatter|ann", "add chatter|ann"})
}

func TestRecoverySurvivesACleanRestart(t *testing.T) {
	cfg := recoveryConfig()
	f := newFixture(t, cfg)
	ann, annConn := f.join(t, "ann")
	bob, _ := f.join(t, "bob")
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	if _, err := bob.Say("before the restart"); err != nil {
		t.Fatal(err)
	}
	bob.Drop()
	f.hub.Close()

	cfg.Now, cfg.AfterFunc, cfg.Logger = f.clock.Now, f.clock.AfterFunc, nil
	hub, err := NewHub(context.Background(), f.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	room := hub.Default()
	equal(t, "held through the restart's grace", room.Chatters(), []string{"ann", "bob"})
	conn := &recConn{}
	_, rec, ok := room.Resume(conn, hub.Connect(Peer{}, conn.Close), pid, off)
	if !ok || rec.Missed != 1 {
		t.Fatalf("Resume after restart: %+v, %v", rec, ok)
	}
	equal(t, "missed", conn.take(), []string{"messages|bob: before the restart"})
	f.clock.Advance(time.Minute)
	equal(t, "bob, not back, leaves when the grace ends", room.Chatters(), []string{"ann"})
	if _, found, _ := f.store.TakeRecovery(context.Background()); found {
		t.Fatal("the saved state was not taken out of the store at start")
	}
}

func TestWithoutRecoveryNothingCarriesAnOffset(t *testing.T) {
	f := newFixture(t, Config{})
	ann, annConn := f.join(t, "ann")
	if _, err := ann.Say("hi"); err != nil {
		t.Fatal(err)
	}
	if ann.PID() != "" || annConn.lastOffset() != "" {
		t.Fatalf("pid %q, offset %q", ann.PID(), annConn.lastOffset())
	}
}

func TestAKickOrABanEndsRecovery(t *testing.T) {
	for _, ban := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("ban %s", ban), func(t *testing.T) {
			f := newFixture(t, recoveryConfig())
			ann, annConn := f.join(t, "ann")
			pid, off := ann.PID(), annConn.lastOffset()
			ann.Drop()
			if _, err := f.kick("ann", "go away", ban); err != nil {
				t.Fatal(err)
			}
			if _, _, _, ok := f.resume(f.room, pid, off); ok {
				t.Fatal("a kicked nickname recovered")
			}
		})
	}
	t.Run("a ban alone, after the grace", func(t *testing.T) {
		f := newFixture(t, recoveryConfig())
		ann, annConn := f.join(t, "ann")
		pid, off := ann.PID(), annConn.lastOffset()
		ann.Drop()
		f.clock.Advance(10 * time.Second)
		if err := f.store.Ban(context.Background(), "ann", f.clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, ok := f.resume(f.room, pid, off); ok {
			t.Fatal("a banned nickname recovered")
		}
	})
}

func TestRecoveryNeedsTheJoinsOffset(t *testing.T) {
	f := newFixture(t, recoveryConfig())
	ann, _ := f.join(t, "ann")
	pid := ann.PID()
	ann.Drop()
	if _, _, _, ok := f.resume(f.room, pid, ""); ok {
		t.Fatal("recovered without an offset: the join's replay may never have arrived")
	}
}

func TestRecoveryDoesNotTakeAnotherPersonsPresence(t *testing.T) {
	f := newFixture(t, recoveryConfig())
	ann, annConn := f.join(t, "ann")
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	f.clock.Advance(10 * time.Second) // ann's grace ends
	mallory := f.connect(&recConn{}, Peer{})
	if _, err := mallory.Join("ann", ""); err != nil {
		t.Fatal(err)
	}
	mallory.Drop() // held through mallory's grace, with mallory's token
	if _, _, _, ok := f.resume(f.room, pid, off); ok {
		t.Fatal("ann's session took mallory's presence")
	}
}

func TestASavedStateOfARoomMadeAgainIsNotTakenBack(t *testing.T) {
	cfg := recoveryConfig()
	f := newFixture(t, cfg)
	games := f.addRoom(t, "games", "")
	ann, annConn := f.joinIn(t, games, "ann")
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	f.hub.Close()
	// Offline, the room is removed and added again: another room.
	if err := f.store.RemoveRoom(context.Background(), "games"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AddRoom(context.Background(), storage.Room{Name: "games", Created: f.clock.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	cfg.Now, cfg.AfterFunc = f.clock.Now, f.clock.AfterFunc
	hub, err := NewHub(context.Background(), f.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	again := hub.Room("games")
	if got := again.Chatters(); len(got) != 0 {
		t.Fatalf("the new room holds %q from the old one", got)
	}
	conn := &recConn{}
	if _, _, ok := again.Resume(conn, hub.Connect(Peer{}, conn.Close), pid, off); ok {
		t.Fatal("a session of the old room recovered in the new one")
	}
}

func TestRecoveryReplaysInOrderOnceTheLogHasWrapped(t *testing.T) {
	f := newFixture(t, recoveryConfig()) // the log keeps 20 events
	bob, _ := f.join(t, "bob")
	for i := range 33 { // the ring wraps, more than once
		if _, err := bob.Say(fmt.Sprintf("early %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ann, annConn := f.join(t, "ann")
	pid, off := ann.PID(), annConn.lastOffset()
	ann.Drop()
	var want []string
	for i := range 12 {
		text := fmt.Sprintf("missed %d", i)
		if _, err := bob.Say(text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "messages|bob: "+text)
	}
	_, conn, rec, ok := f.resume(f.room, pid, off)
	if !ok || rec.Missed != 12 {
		t.Fatalf("Resume: %+v, %v", rec, ok)
	}
	equal(t, "replayed", conn.take(), want)
}
