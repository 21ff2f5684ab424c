package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/storage"
)

// outcome is what became of one posted message.
type outcome struct {
	text  string
	paced bool // it waited its turn (answered through Paced.Then)
	msg   storage.Message
	err   error
}

// outcomes records the answers of posted messages in the order they
// come, as a transport acking them would send them.
type outcomes struct {
	mu   sync.Mutex
	list []outcome
}

// post posts text from c, recording its answer when it comes, and
// reports whether it was paced.
func (o *outcomes) post(c *Client, text string) bool {
	msg, w, err := c.Post(text)
	if w == nil {
		o.add(outcome{text: text, msg: msg, err: err})
		return false
	}
	w.Then(func(msg storage.Message, err error) { o.add(outcome{text: text, paced: true, msg: msg, err: err}) })
	return true
}

func (o *outcomes) add(oc outcome) {
	o.mu.Lock()
	o.list = append(o.list, oc)
	o.mu.Unlock()
}

// take returns and forgets the answers so far.
func (o *outcomes) take() []outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.list
	o.list = nil
	return got
}

// stored returns the texts of the answers that are stored messages, and
// fails the test on a refusal.
func stored(t testing.TB, what string, got []outcome) []string {
	t.Helper()
	var texts []string
	for _, oc := range got {
		if oc.err != nil {
			t.Fatalf("%s: %q refused: %v", what, oc.text, oc.err)
		}
		texts = append(texts, oc.text)
	}
	return texts
}

// numbered returns "prefix 0" to "prefix n-1".
func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(prefix, " ", i))
	}
	return out
}

// messageTexts returns the texts of the messages events among events.
func messageTexts(events []string) []string {
	var out []string
	for _, e := range events {
		if line, ok := strings.CutPrefix(e, "messages|"); ok {
			_, text, _ := strings.Cut(line, ": ")
			out = append(out, text)
		}
	}
	return out
}

// waiting returns how many paced messages p has waiting.
func (f *fixture) waiting(p *Person) int {
	f.hub.lim.mu.Lock()
	defer f.hub.lim.mu.Unlock()
	return len(p.waiting)
}

// TestPasteOf30ArrivesWholeInOrder: with the default limits, 30 lines
// sent at once are not refused: the burst of 10 is stored at once, the
// other 20 one every 1/Rate after it, in order, each answered once
// stored.
func TestPasteOf30ArrivesWholeInOrder(t *testing.T) {
	f := newFixture(t, Config{})
	alice, _ := f.join(t, "alice")
	_, bob := f.join(t, "bob")
	bob.take()
	var o outcomes
	lines := numbered("line", 0, 30)
	for _, line := range lines {
		o.post(alice, line)
	}
	equal(t, "answered at once", stored(t, "at once", o.take()), lines[:DefaultBurst])
	equal(t, "bob before any time passes", messageTexts(bob.take()), lines[:DefaultBurst])

	f.clock.Advance(20 * time.Second / DefaultRate) // 20 messages at Rate
	got := o.take()
	equal(t, "answered later, in order", stored(t, "paced", got), lines[DefaultBurst:])
	for i, oc := range got {
		if !oc.paced || oc.msg.ID != uint64(DefaultBurst+i+1) {
			t.Fatalf("answer %d: paced %v, id %d; want paced with id %d", i, oc.paced, oc.msg.ID, DefaultBurst+i+1)
		}
	}
	equal(t, "bob", messageTexts(bob.take()), lines[DefaultBurst:])
	if n := f.clock.armed(); n != 0 {
		t.Errorf("%d timers armed with nothing waiting", n)
	}
}

// TestPacedAcksComeAtTheRate: a paced message is answered only once it
// is stored, and it is stored when its tokens would have refilled: one
// every 1/Rate after the burst, never before.
func TestPacedAcksComeAtTheRate(t *testing.T) {
	f := newFixture(t, Config{Rate: 5, Burst: 2})
	alice, _ := f.join(t, "alice")
	var o outcomes
	for _, text := range numbered("m", 0, 5) {
		o.post(alice, text)
	}
	equal(t, "at once", stored(t, "at once", o.take()), numbered("m", 0, 2))
	for i, step := range []struct {
		advance time.Duration
		want    []string // answered in the step
		stored  int      // in the history after it
	}{
		{199 * time.Millisecond, nil, 2},
		{time.Millisecond, []string{"m 2"}, 3},
		{199 * time.Millisecond, nil, 3},
		{time.Millisecond, []string{"m 3"}, 4},
		{time.Second, []string{"m 4"}, 5},
		{time.Second, nil, 5},
	} {
		f.clock.Advance(step.advance)
		equal(t, fmt.Sprintf("step %d: answered", i), stored(t, "paced", o.take()), step.want)
		if n := len(f.room.History(0)); n != step.stored {
			t.Fatalf("step %d: %d messages stored, want %d", i, n, step.stored)
		}
	}
}

// TestFloodOf300IsContainedAndDisconnected: a script firing 300 messages
// at once fills the burst and the backlog, and is then refused until the
// flood limit disconnects it; its paced messages are dropped with it, so
// only the burst reaches the room.
func TestFloodOf300IsContainedAndDisconnected(t *testing.T) {
	f := newFixture(t, Config{})
	_, watcher := f.join(t, "watcher")
	flooder, conn := f.join(t, "flooder")
	watcher.take()
	var o outcomes
	paced := 0
	for _, text := range numbered("flood", 0, 300) {
		if o.post(flooder, text) {
			paced++
		}
	}
	if !conn.isClosed() {
		t.Fatal("the flooder is still connected")
	}
	if paced != DefaultPaceBacklog {
		t.Errorf("%d messages paced, want the backlog of %d", paced, DefaultPaceBacklog)
	}
	var ok, rateLimited, dropped int
	for _, oc := range o.take() {
		switch code := ErrorCode(oc.err); {
		case oc.err == nil:
			ok++
		case code == CodeRateLimited && !oc.paced:
			rateLimited++
		case code == CodeUnavailable && oc.paced:
			dropped++
		default:
			t.Errorf("%q: paced %v, %v", oc.text, oc.paced, oc.err)
		}
	}
	if ok != DefaultBurst || dropped != paced || ok+rateLimited+dropped != 300 {
		t.Errorf("%d stored, %d refused, %d dropped of 300; want the burst stored and every paced one dropped at once", ok, rateLimited, dropped)
	}
	f.clock.Advance(time.Minute)
	if got := messageTexts(watcher.take()); len(got) != DefaultBurst {
		t.Errorf("the room got %d of the flood, want the burst of %d: %q", len(got), DefaultBurst, got)
	}
	if n := f.clock.armed(); n != 0 {
		t.Errorf("%d timers armed after the flooder was dropped", n)
	}
}

// TestLeavingWhileWaitingDropsThePacedMessagesAtOnce: a disconnect (the
// transport's Leave), a kick or a rename while messages wait their turn
// answers each of them at once with unavailable; none is stored later,
// and the timer is stopped.
func TestLeavingWhileWaitingDropsThePacedMessagesAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(f *fixture, c *Client)
	}{
		{"disconnect", func(_ *fixture, c *Client) { c.Leave() }},
		{"kick", func(f *fixture, _ *Client) {
			if _, err := f.kick("alice", "enough", 0); err != nil {
				panic(err)
			}
		}},
		{"rename", func(_ *fixture, c *Client) {
			if _, err := c.Join("alicia", ""); err != nil {
				panic(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{Rate: 1, Burst: 2})
			alice, _ := f.join(t, "alice")
			var o outcomes
			for _, text := range numbered("m", 0, 5) {
				o.post(alice, text)
			}
			equal(t, "at once", stored(t, "at once", o.take()), numbered("m", 0, 2))
			tc.leave(f, alice)
			got := o.take()
			if len(got) != 3 {
				t.Fatalf("%d paced messages answered at once, want 3: %+v", len(got), got)
			}
			for _, oc := range got {
				wantCode(t, oc.err, CodeUnavailable)
			}
			if n := f.clock.armed(); n != 0 {
				t.Errorf("%d timers still armed", n)
			}
			f.clock.Advance(time.Minute)
			if n := len(f.room.History(0)); n != 2 || len(o.take()) != 0 {
				t.Errorf("%d messages stored after the wait, want the 2 sent at once", n)
			}
		})
	}
}

// TestSayWaitsItsTurnAndAKickEndsTheWait: Say, for a paced message,
// returns once it is stored; a kick while it waits ends the wait at once
// with a refusal, and the message is never stored.
func TestSayWaitsItsTurnAndAKickEndsTheWait(t *testing.T) {
	f := newFixture(t, Config{Rate: 1, Burst: 1})
	alice, _ := f.join(t, "alice")
	if _, err := alice.Say("at once"); err != nil {
		t.Fatal(err)
	}
	say := func(text string) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := alice.Say(text)
			done <- err
		}()
		deadline := time.Now().Add(5 * time.Second)
		for f.waiting(alice.person) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%q is not waiting its turn", text)
			}
			time.Sleep(time.Millisecond)
		}
		return done
	}
	answer := func(done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Say still waiting")
			return nil
		}
	}

	done := say("its turn")
	f.clock.Advance(time.Second)
	if err := answer(done); err != nil {
		t.Fatalf("Say of a paced message: %v", err)
	}

	done = say("kicked while waiting")
	if _, err := f.kick("alice", "", 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, answer(done), CodeUnavailable)
	f.clock.Advance(time.Minute)
	equal(t, "history", texts(f.room.History(0)), []string{"at once", "its turn"})
}

// TestAPersonsMessagesKeepTheirOrderAcrossRooms: one connection in two
// rooms under two nicknames. Its messages in general wait for the
// nickname's bucket (emptied by another connection holding it); one to
// games, where every bucket has a token, still waits behind them, and
// the answers come in the order the messages were sent.
func TestAPersonsMessagesKeepTheirOrderAcrossRooms(t *testing.T) {
	f := newFixture(t, Config{Rate: 5, Burst: 3})
	games := f.addRoom(t, "games", "")
	conn := &recConn{}
	person := f.hub.Connect(Peer{}, conn.Close)
	inGeneral, _ := f.room.Connect(conn, person)
	inGames, _ := games.Connect(&recConn{}, person)
	res, err := inGeneral.Join("ann", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inGames.Join("bob", ""); err != nil {
		t.Fatal(err)
	}
	// Another tab of ann's uses up the nickname's burst.
	tab := f.connect(&recConn{}, Peer{})
	if _, err := tab.Join("ann", res.Token); err != nil {
		t.Fatal(err)
	}
	for _, text := range numbered("tab", 0, 3) {
		if _, err := tab.Say(text); err != nil {
			t.Fatal(err)
		}
	}

	var o outcomes
	sent := []struct {
		c    *Client
		text string
	}{{inGeneral, "general 1"}, {inGames, "games 1"}, {inGeneral, "general 2"}, {inGames, "games 2"}}
	for _, s := range sent {
		if !o.post(s.c, s.text) {
			t.Fatalf("%q was not paced: it would overtake the messages waiting before it", s.text)
		}
	}
	f.clock.Advance(time.Second)
	equal(t, "answers", stored(t, "paced", o.take()), []string{"general 1", "games 1", "general 2", "games 2"})
	equal(t, "general", texts(f.room.History(0)), []string{"tab 0", "tab 1", "tab 2", "general 1", "general 2"})
	equal(t, "games", texts(games.History(0)), []string{"games 1", "games 2"})
}

// TestCloseWhileWaitingDropsThePacedMessages: closing the hub, or
// removing a room, answers the paced messages waiting for it at once,
// waiting for nothing, and leaves no timer armed.
func TestCloseWhileWaitingDropsThePacedMessages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(f *fixture)
		code  Code
		msg   string
	}{
		{"hub closed", func(f *fixture) { f.hub.Close() }, CodeUnavailable, "shutting down"},
		{"room removed", func(f *fixture) {
			if _, err := f.hub.RemoveRoom(context.Background(), "games"); err != nil {
				panic(err)
			}
		}, CodeUnavailable, "was removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{Rate: 1, Burst: 1})
			games := f.addRoom(t, "games", "")
			alice, _ := f.joinIn(t, games, "alice")
			var o outcomes
			for _, text := range numbered("m", 0, 4) {
				o.post(alice, text)
			}
			equal(t, "at once", stored(t, "at once", o.take()), []string{"m 0"})
			tc.close(f)
			got := o.take()
			if len(got) != 3 {
				t.Fatalf("%d paced messages answered by the close, want 3", len(got))
			}
			for _, oc := range got {
				wantCode(t, oc.err, tc.code)
				if !strings.Contains(ErrorMessage(oc.err), tc.msg) {
					t.Errorf("refusal %q, want it to say %q", ErrorMessage(oc.err), tc.msg)
				}
			}
			if n := f.clock.armed(); n != 0 {
				t.Errorf("%d timers armed after the close", n)
			}
		})
	}
}

// TestConnectionsOfOneAddressArePacedAndBoundedTogether: fifty
// connections from one address, each with messages waiting, are held to
// the address's buckets: its burst at once, its backlog (AddressFactor
// times a connection's) paced at its rate, the rest refused.
func TestConnectionsOfOneAddressArePacedAndBoundedTogether(t *testing.T) {
	const (
		conns, each = 50, 12
		addrBurst   = DefaultAddressFactor * DefaultBurst
		addrBacklog = DefaultAddressFactor * DefaultPaceBacklog
		addrRate    = DefaultAddressFactor * int(DefaultRate)
	)
	f := newFixture(t, Config{JoinBurst: conns}) // room for fifty joins from the address
	clients := make([]*Client, conns)
	closed := make([]*recConn, conns)
	for i := range clients {
		clients[i], closed[i] = f.joinFrom(t, remote("192.0.2.7"), fmt.Sprint("c", i))
	}
	var o outcomes
	for round := range each {
		for i, c := range clients {
			o.post(c, fmt.Sprintf("c%d %d", i, round))
		}
	}
	var atOnce, refused int
	for _, oc := range o.take() {
		switch {
		case oc.err == nil:
			atOnce++
		case ErrorCode(oc.err) == CodeRateLimited:
			refused++
		default:
			t.Fatalf("%q: %v", oc.text, oc.err)
		}
	}
	if atOnce != addrBurst || refused != conns*each-addrBurst-addrBacklog {
		t.Fatalf("%d stored at once and %d refused of %d; want the address's burst of %d and all but its backlog of %d refused",
			atOnce, refused, conns*each, addrBurst, addrBacklog)
	}
	for i, conn := range closed {
		if conn.isClosed() {
			t.Fatalf("c%d disconnected: it had fewer than FloodLimit refusals in a row", i)
		}
	}

	f.clock.Advance(time.Second)
	first := stored(t, "the first second", o.take())
	if len(first) != addrRate {
		t.Errorf("%d paced messages stored in the first second, want the address's rate of %d", len(first), addrRate)
	}
	f.clock.Advance(DefaultPaceDelay)
	all := append(first, stored(t, "the rest", o.take())...)
	if len(all) != addrBacklog {
		t.Errorf("%d paced messages stored in all, want the address's backlog of %d", len(all), addrBacklog)
	}
	last := map[string]int{}
	for _, text := range all {
		var name string
		var round int
		if _, err := fmt.Sscan(text, &name, &round); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if prev, seen := last[name]; seen && round <= prev {
			t.Fatalf("%s's messages stored out of order: %d after %d", name, round, prev)
		}
		last[name] = round
	}
}

// TestPacingOnTheRealClock runs pacing on time.Now and time.AfterFunc:
// paced messages are stored in order, Say waiting for each; and when the
// hub closes with messages waiting, every one of them has been answered,
// stored or refused, by the time Close returns.
func TestPacingOnTheRealClock(t *testing.T) {
	f := newFixture(t, Config{Rate: 1000, Burst: 1, Now: time.Now, AfterFunc: afterFunc})
	alice, _ := f.join(t, "alice")
	for _, text := range numbered("said", 0, 5) {
		if _, err := alice.Say(text); err != nil {
			t.Fatalf("Say(%q): %v", text, err)
		}
	}
	equal(t, "history", texts(f.room.History(0)), numbered("said", 0, 5))

	var o outcomes
	const posted = 50
	for _, text := range numbered("posted", 0, posted) {
		o.post(alice, text)
	}
	f.hub.Close()
	got := o.take()
	if len(got) != posted {
		t.Fatalf("%d of %d messages answered when Close returned", len(got), posted)
	}
	var stored []string
	for _, oc := range got {
		switch {
		case oc.err == nil:
			stored = append(stored, oc.text)
		case ErrorCode(oc.err) != CodeUnavailable:
			t.Errorf("%q: %v", oc.text, oc.err)
		}
	}
	equal(t, "stored before the close", stored, numbered("posted", 0, len(stored)))
}
