package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/redistest"
)

// presenceExpiry bounds how long the nodes take to announce the
// departure of the chatters of a node that died: its heartbeat lives
// 14 s, and the nodes reap every second, so 15 s at most; the rest is a
// margin for a loaded machine (the test logs the time it took).
const presenceExpiry = 20 * time.Second

// alternate is what ann and bob say in turn, n each, as the lines every
// client shows: "ann: ann 1", "bob: bob 1", "ann: ann 2"…
func alternate(n int) (ann, bob, lines []string) {
	ann, bob = numbered("ann", n), numbered("bob", n)
	for i := range n {
		lines = append(lines, "ann: "+ann[i], "bob: "+bob[i])
	}
	return ann, bob, lines
}

// TestNodesShareMessagesHistoryAndPresence: chatters on three nodes see
// each other's messages once each, in one order with the same IDs; a
// chatter joining later on the third node gets the room's one history
// (the last 10) and one list of chatters; arrivals and departures on
// one node are announced on the others; `history --redis` reads that
// same history.
func TestNodesShareMessagesHistoryAndPresence(t *testing.T) {
	t.Parallel()
	requireNode(t)
	rs, n, d := startDeployment(t, redistest.Options{}, 3)
	d.joinedAt(t, "ann", n[0].url, "ann", "ann")
	d.joinedAt(t, "bob", n[1].url, "bob", "ann", "bob")
	d.eventWith("ann", "add chatter", "bob")

	ann, bob, want := alternate(6)
	for i := range ann {
		d.sendAll(t, "ann", ann[i:i+1])
		d.sendAll(t, "bob", bob[i:i+1])
	}
	atAnn := d.sameLines(t, []string{"ann", "bob"}, len(want))
	if !slices.Equal(texts(atAnn), want) {
		t.Fatalf("ann on n1 saw %q, want %q", atAnn, want)
	}

	d.joinedAt(t, "cat", n[2].url, "cat", "ann", "bob", "cat")
	// The history came before the join's answer.
	if got := d.unreadLines(t, "cat"); !slices.Equal(got, atAnn[2:]) {
		t.Fatalf("cat joining on n3 got the history %q, want the last 10 of %q", got, atAnn)
	}
	d.eventWith("ann", "add chatter", "cat")
	d.eventWith("bob", "add chatter", "cat")

	d.sendAll(t, "cat", []string{"hi from n3"})
	d.expectLine(t, "cat: hi from n3", "ann", "bob", "cat")
	for _, c := range []string{"ann", "bob", "cat"} {
		if extra := d.unread(c, "messages", "add chatter"); len(extra) > 0 {
			t.Fatalf("%s was also sent %q", c, extra)
		}
	}

	d.send(map[string]any{"op": "disconnect", "client": "cat"})
	d.eventWith("ann", "remove chatter", "cat")
	d.eventWith("bob", "remove chatter", "cat")
	d.send(map[string]any{"op": "disconnect", "client": "bob"})
	d.eventWith("ann", "remove chatter", "bob")

	r := runCLI(t, "history", "--json", "--redis", rs.URL())
	if r.code != 0 {
		t.Fatalf("history --redis: exit %d, %s", r.code, r.stderr)
	}
	var stored []wireMessage
	if err := json.Unmarshal([]byte(r.stdout), &stored); err != nil {
		t.Fatalf("history --json --redis printed %q: %v", r.stdout, err)
	}
	var got []string
	for _, m := range stored {
		got = append(got, fmt.Sprintf("%s: %s", m.Name, m.Text))
	}
	if wantStored := append(slices.Clone(want[3:]), "cat: hi from n3"); !slices.Equal(got, wantStored) {
		t.Errorf("history --redis = %q, want %q", got, wantStored)
	}
}

// unreadLines returns, and marks read, the messages events client was
// sent and no wait has returned, as lines does.
func (d *driver) unreadLines(t testing.TB, client string) []string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for i, m := range d.log {
		if d.used[i] || m.Client != client || m.Type != "event" || m.Event != "messages" {
			continue
		}
		d.used[i] = true
		out = append(out, m.line(t))
	}
	return out
}

// checkIncreasingIDs checks that the IDs of lines (as lines gives them)
// increase.
func checkIncreasingIDs(t testing.TB, lines []string) {
	t.Helper()
	last := 0
	for _, l := range lines {
		var id int
		if _, err := fmt.Sscanf(l[strings.LastIndex(l, " #")+2:], "%d", &id); err != nil || id <= last {
			t.Fatalf("the messages' IDs do not increase: %q", lines)
		}
		last = id
	}
}

// TestANicknameIsTakenOnEveryNode: a nickname held on one node is
// refused on the others, in any case; once its chatter leaves, it is
// free on all of them.
func TestANicknameIsTakenOnEveryNode(t *testing.T) {
	t.Parallel()
	requireNode(t)
	_, n, d := startDeployment(t, redistest.Options{}, 3)
	d.joinEach(n, "ann", "watcher")
	for i, name := range []string{"ann", "ANN"} {
		client := fmt.Sprintf("impostor%d", i)
		d.connect(client, n[1+i].url, "websocket")
		if ack := d.call(client, "join", name); ack["error"] != "name_taken" {
			t.Fatalf("joining as %q on n%d while ann is on n1: %v, want name_taken", name, 2+i, ack)
		}
	}
	d.send(map[string]any{"op": "disconnect", "client": "ann"})
	d.eventWith("watcher", "remove chatter", "ann")
	if ack := d.call("impostor1", "join", "Ann"); ack["ok"] != true {
		t.Fatalf("joining as Ann on n3 after ann left n1: %v", ack)
	}
}

// TestConcurrentSendersOnEveryNodeGetOneOrder: three senders, one on
// each node, send 30 messages each as fast as the server takes them;
// every client, on every node, sees the 90 messages once, in the same
// order with the same IDs, and each sender's in the order it sent them.
func TestConcurrentSendersOnEveryNodeGetOneOrder(t *testing.T) {
	t.Parallel()
	requireNode(t)
	_, n, d := startDeployment(t, redistest.Options{}, 3)
	clients := []string{"s1", "s2", "s3", "w1", "w2", "w3"}
	d.joinEach(n, clients...)
	const each = 30
	d.checkAcked(t, d.sendRounds(clients[:3], 0, each))
	checkOneOrder(t, d, clients, clients[:3], each)
}

// checkOneOrder waits for senders×each messages at every client and
// checks that all saw the same lines (IDs included) in the same order,
// each sender's texts counting up from 1, and nothing more: a last
// message, sent once they have all been seen, comes next everywhere.
func checkOneOrder(t *testing.T, d *driver, clients, senders []string, each int) {
	t.Helper()
	first := d.sameLines(t, clients, len(senders)*each)
	next := map[string]int{}
	for _, l := range texts(first) {
		name, text, _ := strings.Cut(l, ": ")
		next[name]++
		if want := fmt.Sprint(next[name]); text != want {
			t.Fatalf("%s's messages came out of order: %q where %s was next, in %q", name, l, want, first)
		}
	}
	for _, s := range senders {
		if next[s] != each {
			t.Fatalf("%s's messages: %d seen, want %d", s, next[s], each)
		}
	}
	d.sendAll(t, senders[0], []string{"last"})
	d.expectLine(t, senders[0]+": last", clients...)
}

// TestKickAndRoomFromTheCommandLine: `chatserver kick --redis` kicks a
// chatter from whichever node holds it, and the others see it leave;
// `chatserver room add --redis` opens a room on every node at once.
func TestKickAndRoomFromTheCommandLine(t *testing.T) {
	t.Parallel()
	requireNode(t)
	rs, n, d := startDeployment(t, redistest.Options{}, 3)
	d.joinEach(n, "ann", "bob", "cat")
	d.eventWith("ann", "add chatter", "cat")

	r := runCLI(t, "kick", "BOB", "--reason", "be nice", "--redis", rs.URL())
	if r.code != 0 {
		t.Fatalf("kick --redis: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	var kicked struct{ Reason string }
	d.event("bob", "kicked").obj(t, 0, &kicked)
	if kicked.Reason != "be nice" {
		t.Errorf("bob on n2 was kicked with the reason %q, want %q", kicked.Reason, "be nice")
	}
	d.disconnected("bob")
	d.eventWith("ann", "remove chatter", "bob")
	d.eventWith("cat", "remove chatter", "bob")
	plainFailure(t, runCLI(t, "kick", "bob", "--redis", rs.URL()), `no chatter called "bob"`)

	if r := runCLI(t, "room", "add", "games", "--redis", rs.URL()); r.code != 0 {
		t.Fatalf("room add --redis: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	var players []string
	for i, name := range []string{"dan", "eve"} {
		c := d.connectServed(t, name, n[1+i].url+"/games")
		if ack := d.call(c, "join", name); ack["ok"] != true {
			t.Fatalf("%s could not join games on n%d: %v", name, 2+i, ack)
		}
		players = append(players, c)
	}
	d.sendAll(t, players[0], []string{"a game?"})
	d.expectLine(t, "dan: a game?", players...)
	if leaked := d.unread("ann", "messages"); len(leaked) > 0 {
		t.Fatalf("ann in general got %q", leaked)
	}
}

// connectServed connects a client to the namespace at nsURL over
// WebSocket, trying again while the node answers that it has no such
// namespace (a room added elsewhere is opened on a node once the store's
// news of it arrives), and returns the name of the client that got in:
// client, or client-N for the Nth try.
func (d *driver) connectServed(t testing.TB, client, nsURL string) string {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for i := 0; ; i++ {
		name := client
		if i > 0 {
			name = fmt.Sprintf("%s-%d", client, i)
		}
		d.send(d.connectCommand(name, nsURL, map[string]any{"transports": []string{"websocket"}}))
		m := d.wait(name+" connected or refused", func(m msg) bool {
			return m.Client == name && (m.Type == "connect" || m.Type == "connect_error")
		})
		if m.Type == "connect" {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still refused after %s: %s", nsURL, eventTimeout, m.Message)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAKilledNodesChattersLeaveTheOthers: a node killed with SIGKILL
// says nothing; its chatters are announced gone on the other nodes once
// its part of the presence expires, and their nicknames are free again.
func TestAKilledNodesChattersLeaveTheOthers(t *testing.T) {
	t.Parallel()
	requireNode(t)
	_, n, d := startDeployment(t, redistest.Options{}, 3)
	d.joinEach(n, "ann", "bob", "cat")
	d.eventWith("bob", "add chatter", "cat")

	killed := time.Now()
	n[0].stop(t, syscall.SIGKILL)
	d.disconnected("ann")
	for _, c := range []string{"bob", "cat"} {
		d.waitWithin(fmt.Sprintf("remove chatter ann at %s", c), presenceExpiry, func(m msg) bool {
			return m.Type == "event" && m.Client == c && m.Event == "remove chatter" && len(m.Args) > 0 && string(m.Args[0]) == `"ann"`
		})
	}
	t.Logf("the killed node's chatter was announced gone %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	d.joinedAt(t, "ann2", n[1].url, "ann", "ann", "bob", "cat")
	d.sendAll(t, "ann2", []string{"back on n2"})
	d.expectLine(t, "ann: back on n2", "bob", "cat")
}

// TestALostSubscriptionLosesNothing: every node's subscription is cut
// (CLIENT KILL TYPE pubsub) while three senders, one on each node, send;
// every client still sees every message once, in one order.
func TestALostSubscriptionLosesNothing(t *testing.T) {
	t.Parallel()
	requireNode(t)
	rs, n, d := startDeployment(t, redistest.Options{}, 3)
	clients := []string{"s1", "s2", "s3", "w1", "w2", "w3"}
	d.joinEach(n, clients...)
	const each = 20
	// Half sent, some of them acked: cut every subscription.
	refs := d.sendRounds(clients[:3], 0, each/2+1)
	d.checkAcked(t, refs[:3])
	if killed := rs.KillPubSub(); killed != 3 {
		t.Errorf("CLIENT KILL TYPE pubsub closed %d connections, want the 3 nodes' subscriptions", killed)
	}
	refs = append(refs, d.sendRounds(clients[:3], each/2+1, each)...)
	d.checkAcked(t, refs[3:])
	checkOneOrder(t, d, clients, clients[:3], each)
}

// TestNodesRideOutARedisRestart: Redis (persistent, as a store of record
// must be) stops under running nodes: messages sent meanwhile are refused
// (unavailable) and /readyz says 503; once it is back, without
// restarting any node, messages flow between the nodes again, each taken
// at once (a node's first write through a connection that died with the
// old process is tried again under its batch's token), once each, and
// the history holds what was stored before and after, nothing that was
// refused.
func TestNodesRideOutARedisRestart(t *testing.T) {
	t.Parallel()
	requireNode(t)
	rs, n, d := startDeployment(t, redistest.Options{Persist: true}, 3)
	d.joinEach(n, "ann", "bob")
	before := numbered("before", 3)
	d.sendAll(t, "ann", before)
	d.expectMessages(t, "bob", "ann", before)
	d.expectMessages(t, "ann", "ann", before)

	rs.Stop()
	waitReadyz(t, n[0].url, http.StatusServiceUnavailable)
	for _, text := range []string{"while down 1", "while down 2"} {
		if ack := d.call("ann", "messages", text); ack["error"] != "unavailable" {
			t.Fatalf("%q sent while Redis is down: %v, want unavailable", text, ack)
		}
	}
	rs.StartAgain()
	waitReadyz(t, n[0].url, http.StatusOK)

	after := numbered("after", 3)
	d.sendAll(t, "ann", after) // each taken at once, Redis being back
	d.sendAll(t, "bob", []string{"bob is back"})
	var want []string
	for _, text := range after {
		want = append(want, "ann: "+text)
	}
	want = append(want, "bob: bob is back")
	for _, c := range []string{"ann", "bob"} {
		got := texts(d.lines(t, c, len(want)))
		if !slices.Equal(got, want) {
			t.Fatalf("%s got %q after the restart, want %q", c, got, want)
		}
		if extra := d.unread(c, "messages"); len(extra) > 0 {
			t.Fatalf("%s was also sent %q", c, extra)
		}
	}
	d.join("cat", n[2].url, "cat")
	var wantHistory []string
	for _, text := range append(slices.Clone(before), after...) {
		wantHistory = append(wantHistory, "ann: "+text)
	}
	wantHistory = append(wantHistory, "bob: bob is back")
	if got := texts(d.unreadLines(t, "cat")); !slices.Equal(got, wantHistory) {
		t.Fatalf("cat joining on n3 after the restart got the history %q, want %q", got, wantHistory)
	}
}

// TestARecoveringClientComesBackOnAnotherNode: a client whose
// connection to n1 is lost reconnects, through the same address, to n2
// (a load balancer failing over) with its session's pid and offset, and
// recovers there: exactly the messages it missed, once, in order; the
// others see it neither leave nor arrive.
func TestARecoveringClientComesBackOnAnotherNode(t *testing.T) {
	t.Parallel()
	requireNode(t)
	_, n, d := startDeployment(t, redistest.Options{}, 3)
	host := func(s *server) string {
		u, err := url.Parse(s.url)
		if err != nil {
			t.Fatal(err)
		}
		return u.Host
	}
	lb := startForwarder(t, host(n[0]))
	d.joinedAt(t, "bob", n[2].url, "bob", "bob")
	if first := d.connectWith("ann", lb.url(), reconnecting(100)); first.Recovered {
		t.Fatal("a first connection claims to be recovered")
	}
	if ack := d.call("ann", "join", "ann"); ack["ok"] != true {
		t.Fatalf("ann could not join through n1: %v", ack)
	}
	if got := d.unreadNames(t, "ann", "add chatter"); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("ann joining on n1 was shown the chatters %q", got)
	}
	d.eventWith("bob", "add chatter", "ann")
	before := numbered("before", 2)
	d.sendAll(t, "bob", before)
	d.expectMessages(t, "ann", "bob", before)

	lb.switchTo("") // n1's machine is unreachable: ann's connection is reset, her retries refused
	d.disconnected("ann")
	missed := numbered("while away", 12)
	d.sendAll(t, "bob", missed)
	lb.switchTo(host(n[1]))
	again := d.wait("ann connected again", func(m msg) bool { return m.Client == "ann" && m.Type == "connect" })
	if !again.Recovered {
		t.Fatal("ann reconnected to n2 without recovering her session of n1")
	}
	d.expectMessages(t, "ann", "bob", missed)
	if ack := d.call("ann", "messages", "back on n2"); ack["ok"] != true {
		t.Fatalf("a client recovered on n2 could not send: %v", ack)
	}
	d.expectMessages(t, "ann", "ann", []string{"back on n2"})
	d.expectMessages(t, "bob", "bob", append(slices.Clone(before), missed...))
	d.expectMessages(t, "bob", "ann", []string{"back on n2"})
	if leaks := d.unread("bob", "remove chatter", "add chatter"); len(leaks) > 0 {
		t.Fatalf("bob saw %v", leaks)
	}
	if leaks := d.unread("ann", "messages", "add chatter", "remove chatter"); len(leaks) > 0 {
		t.Fatalf("ann was also sent %v", leaks)
	}
}

// TestImportFromTheNodeOriginalsRedis: `chatserver import --from-redis`
// reads the Node original's list (LPUSH of {"name","data"}, trimmed to
// 10, newest first) into the nodes' Redis; a chatter joining any node gets
// those messages, oldest first, and the room goes on after them.
func TestImportFromTheNodeOriginalsRedis(t *testing.T) {
	t.Parallel()
	requireNode(t)
	original := redistest.Start(t, redistest.Options{})
	var want []string
	for i := range 12 {
		name := []string{"ann", "bob"}[i%2]
		text := fmt.Sprintf("old %d", i+1)
		b, _ := json.Marshal(map[string]string{"name": name, "data": text})
		if _, err := original.Do("LPUSH", "messages", string(b)); err != nil {
			t.Fatal(err)
		}
		if _, err := original.Do("LTRIM", "messages", "0", "9"); err != nil {
			t.Fatal(err)
		}
		want = append(want, name+": "+text)
	}
	want = want[2:]

	rs := redistest.Start(t, redistest.Options{})
	r := runCLI(t, "import", "--from-redis", original.URL(), "--redis", rs.URL())
	if r.code != 0 {
		t.Fatalf("import --from-redis: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	n := startNodes(t, rs.URL(), 2)
	d := startDriver(t)
	for i, c := range []string{"cat", "dan"} {
		d.join(c, n[i].url, c)
		got := d.unreadLines(t, c)
		if !slices.Equal(texts(got), want) {
			t.Fatalf("%s joining on n%d got the history %q, want %q", c, i+1, got, want)
		}
		checkIncreasingIDs(t, got)
	}
	d.sendAll(t, "cat", []string{"new"})
	d.expectLine(t, "cat: new", "cat", "dan")
}
