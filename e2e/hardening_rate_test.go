package e2e

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"chatserver/internal/siotest"
	"time"
)

// allowance is what a token bucket of burst and rate can grant over
// elapsed: the burst, and what it refilled meanwhile.
func allowance(burst int, rate float64, elapsed time.Duration) int {
	return burst + int(math.Ceil(rate*elapsed.Seconds()))
}

// sendUntilRefused sends messages one at a time until one is refused with
// rate_limited, at most limit of them, and returns how many were accepted.
func sendUntilRefused(t *testing.T, c *siotest.Client, limit int, what string) int {
	t.Helper()
	for i := range limit {
		reply := call(t, c, "messages", fmt.Sprintf("%s %d", what, i))
		switch {
		case reply["ok"] == true:
		case reply["error"] == "rate_limited":
			return i
		default:
			t.Fatalf("%s %d: unexpected reply %v", what, i, reply)
		}
	}
	return limit
}

// fire sends n messages at once and returns how many were accepted; every
// other one must be refused with rate_limited.
func fire(t *testing.T, c *siotest.Client, n int, what string) int {
	t.Helper()
	acks := make([]<-chan siotest.Args, n)
	for i := range acks {
		acks[i] = c.EmitWithAck("messages", fmt.Sprintf("%s %d", what, i))
	}
	accepted := 0
	for i, ack := range acks {
		reply, err := ackReply(c.WaitAck(ack))
		switch {
		case err != nil:
			t.Fatalf("%s %d: %v", what, i, err)
		case reply["ok"] == true:
			accepted++
		case reply["error"] != "rate_limited":
			t.Fatalf("%s %d: unexpected reply %v", what, i, reply)
		}
	}
	return accepted
}

// TestReconnectingDoesNotRefillTheRateLimit: a client that sends until it
// is refused, then opens a new connection and takes its nickname back with
// the resume token (every other time after the nickname has left the room
// entirely), gets no more through, over all its connections, than one
// bucket allows: --burst and --rate for the time it took. Pacing is off
// (--pace-backlog 0), so that the first refusal tells where the bucket
// ran out.
func TestReconnectingDoesNotRefillTheRateLimit(t *testing.T) {
	t.Parallel()
	const (
		burst  = 5
		rate   = 0.5
		cycles = 10
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--burst", strconv.Itoa(burst), "--rate", fmt.Sprint(rate),
		"--pace-backlog", "0")
	watcher := joinWS(t, srv.url, "watcher")
	c := connectWS(t, srv.url, wire)
	token, _ := call(t, c, "join", "cycler")["token"].(string)

	start := time.Now()
	accepted := 0
	for i := range cycles {
		accepted += sendUntilRefused(t, c, burst+1, fmt.Sprintf("cycle %d:", i))
		next := connectWS(t, srv.url, wire)
		leaveFirst := i%2 == 0
		if leaveFirst {
			c.Close()
			watcher.WaitEvent("cycler leaving", named("remove chatter", "cycler"))
		}
		reply := call(t, next, "join", "cycler", map[string]any{"token": token})
		if reply["ok"] != true {
			t.Fatalf("cycle %d: join with the token: %v", i, reply)
		}
		token, _ = reply["token"].(string)
		if !leaveFirst {
			c.Close()
		}
		c = next
	}
	accepted += sendUntilRefused(t, c, burst+1, "last:")
	elapsed := time.Since(start)
	if most := allowance(burst, rate, elapsed); accepted > most {
		t.Errorf("%d messages accepted over %d connections in %s; one nickname's bucket allows %d", accepted, cycles+1, elapsed, most)
	}
	if accepted < burst {
		t.Errorf("%d messages accepted, fewer than the burst of %d", accepted, burst)
	}
}

// TestConnectionsFromOneAddressShareItsAllowance: behind a trusted proxy,
// a dozen connections from one client address, each firing its burst at
// once, get through no more than the address's allowance (--ip-rate-factor
// 4 times a connection's) in all: its burst at once, its backlog (4 times
// --pace-backlog) paced at its rate, the rest refused, though no
// connection went over its own limits. Another address and loopback are
// not affected.
func TestConnectionsFromOneAddressShareItsAllowance(t *testing.T) {
	t.Parallel()
	const (
		burst   = 5
		rate    = 1.0
		factor  = 4
		backlog = 2
		conns   = 12
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"),
		"--burst", strconv.Itoa(burst), "--rate", fmt.Sprint(rate), "--pace-backlog", strconv.Itoa(backlog),
		"--trusted-proxies", "127.0.0.1")
	attacker := forwardedFor("203.0.113.7")
	var clients []*siotest.Client
	for i := range conns {
		c := connectWS(t, srv.url, siotest.Options{Header: attacker})
		if reply := call(t, c, "join", fmt.Sprintf("parallel%d", i)); reply["ok"] != true {
			t.Fatalf("join %d: %v", i, reply)
		}
		clients = append(clients, c)
	}

	start := time.Now()
	replies := make(chan int, conns)
	for i, c := range clients {
		go func() { replies <- fireQuiet(c, burst, fmt.Sprintf("parallel%d", i)) }()
	}
	accepted := 0
	for range clients {
		n := <-replies
		if n < 0 {
			t.Fatal("a message was not answered with ok or rate_limited")
		}
		accepted += n
	}
	elapsed := time.Since(start)
	if most := allowance(factor*burst, factor*rate, elapsed); accepted > most {
		t.Errorf("%d connections from one address got %d messages through in %s; the address allows %d", conns, accepted, elapsed, most)
	}
	if least := factor * (burst + backlog); accepted < least {
		t.Errorf("%d messages accepted, fewer than the address's burst and backlog, %d", accepted, least)
	}
	if accepted == conns*burst {
		t.Errorf("all %d messages accepted: the address's backlog let everything wait", accepted)
	}

	other := connectWS(t, srv.url, siotest.Options{Header: forwardedFor("203.0.113.8")})
	call(t, other, "join", "neighbour")
	if n := fire(t, other, burst, "neighbour"); n != burst {
		t.Errorf("another address got %d of its burst of %d through", n, burst)
	}
	local := joinWS(t, srv.url, "local")
	if n := fire(t, local, burst, "local"); n != burst {
		t.Errorf("loopback got %d of its burst of %d through", n, burst)
	}
}

// fireQuiet is fire for another goroutine: it returns -1 instead of
// failing the test.
func fireQuiet(c *siotest.Client, n int, what string) int {
	acks := make([]<-chan siotest.Args, n)
	for i := range acks {
		acks[i] = c.EmitWithAck("messages", fmt.Sprintf("%s %d", what, i))
	}
	accepted := 0
	for _, ack := range acks {
		reply, err := ackReply(c.WaitAck(ack))
		switch {
		case err != nil:
			return -1
		case reply["ok"] == true:
			accepted++
		case reply["error"] != "rate_limited":
			return -1
		}
	}
	return accepted
}

// TestRenameFloodIsRefusedAndDisconnected: a client that fires 200
// renames at once gets the join burst through (5 joins, its first
// included), the rest refused with rate_limited, and is disconnected; the
// other chatters see a handful of arrivals and departures, not hundreds.
func TestRenameFloodIsRefusedAndDisconnected(t *testing.T) {
	t.Parallel()
	const (
		renames   = 200
		joinBurst = 5   // chat.DefaultJoinBurst
		joinRate  = 0.5 // chat.DefaultJoinRate
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	watcher := joinWS(t, srv.url, "watcher")
	start := time.Now()
	flooder := joinWS(t, srv.url, "r0")

	acks := make([]<-chan siotest.Args, renames)
	for i := range acks {
		acks[i] = flooder.EmitWithAck("join", fmt.Sprintf("r%d", i+1))
	}
	held, accepted, refused := "r0", 1, 0
	for i, ack := range acks {
		reply, err := ackReply(flooder.WaitAck(ack))
		switch {
		case err != nil:
			// Not answered: the connection was closed first.
		case reply["ok"] == true:
			accepted++
			held, _ = reply["name"].(string)
		case reply["error"] == "rate_limited":
			refused++
		default:
			t.Fatalf("rename %d: unexpected reply %v", i+1, reply)
		}
	}
	elapsed := time.Since(start)
	if most := allowance(joinBurst, joinRate, elapsed); accepted > most {
		t.Errorf("%d joins accepted in %s; the join bucket allows %d", accepted, elapsed, most)
	}
	if refused == 0 {
		t.Error("no rename was refused with rate_limited")
	}
	flooder.WaitClosed()
	watcher.WaitEvent("the flooder leaving", named("remove chatter", held))
	srv.waitRecord(t, "disconnected a flooding client",
		"nick", held, "addr", "127.0.0.1", "requests", "joins", "refused_in_a_row", "20")

	// Each accepted join is one arrival, and one departure later.
	presence := 0
	for _, ev := range append(watcher.Events("add chatter"), watcher.Events("remove chatter")...) {
		if ev.Args.String(0) != "watcher" {
			presence++
		}
	}
	if most := 2 * accepted; presence > most {
		t.Errorf("the watcher received %d presence events for %d accepted joins", presence, accepted)
	}
	say(t, watcher, "still here")
}

// TestFloodDisconnectsLogOneLineAMinute: 30 connections in a row flood
// and are disconnected; the log has one line for the first, and the
// others are counted in a summary line (logged at shutdown here, the
// minute not being over), not one line each.
func TestFloodDisconnectsLogOneLineAMinute(t *testing.T) {
	t.Parallel()
	const floods = 30
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--burst", "1", "--rate", "0.1", "--flood-limit", "3")
	for i := range floods {
		c := joinWS(t, srv.url, fmt.Sprintf("flood%d", i))
		for range 6 {
			c.EmitWithAck("messages", "flood")
		}
		c.WaitClosed()
	}
	const flooding = "disconnected a flooding client"
	srv.waitRecord(t, flooding, "nick", "flood0")
	if n := len(srv.logged(t, flooding)); n != 1 {
		t.Errorf("%d flood disconnects logged one by one, want only the first:\n%s", n, srv.stderr)
	}

	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	// The summary of the minute (cut short by the shutdown).
	more := 0
	for _, r := range srv.logged(t, "similar lines held back", "line", flooding, "key", "127.0.0.1") {
		n, _ := strconv.Atoi(r.attrs["count"])
		more += n
	}
	if more != floods-1 {
		t.Errorf("the summaries count %d more flood disconnects, want %d:\n%s", more, floods-1, srv.stderr)
	}
}
