package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
)

// defaultMaxConnections is serve's --max-connections default, which the
// flood tests fill.
const defaultMaxConnections = 2000

// openIdleSessions opens n polling sessions that never connect nor join,
// the i-th with header(i) (header nil: none), as a client opening
// handshakes in a loop does, and returns the sids of those the server
// accepted.
func openIdleSessions(t *testing.T, base string, header func(i int) http.Header, n int) []string {
	t.Helper()
	var sids []string
	for i := range n {
		var h http.Header
		if header != nil {
			h = header(i)
		}
		if code, _, sid := idleHandshake(t, base, h); code == http.StatusOK {
			sids = append(sids, sid)
		}
	}
	return sids
}

// sessionGone reports whether the server has forgotten the polling
// session sid: a GET for it is refused rather than held.
func sessionGone(t *testing.T, base, sid string) bool {
	t.Helper()
	resp, err := rawHTTP.Get(base + pollingPath + "&sid=" + sid)
	if err != nil {
		t.Fatalf("polling GET: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusBadRequest
}

// TestHandshakeFloodFromOneIPv6NetworkLocksNobodyOut: a client with a
// /64 of its own opens idle polling sessions from 41 of its addresses, 50
// from each (the per-address cap), more than the server's whole
// --max-connections. With the defaults it holds only --max-pending-per-ip
// of them, its newest: the addresses of one /64 are one client, and
// each handshake past that cap closes the client's oldest. A newcomer
// from elsewhere connects and joins; two chatters who joined before keep
// chatting.
func TestHandshakeFloodFromOneIPv6NetworkLocksNobodyOut(t *testing.T) {
	t.Parallel()
	const (
		addresses  = 41
		perAddress = 50 // serve's --max-connections-per-ip default
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--trusted-proxies", "127.0.0.1")
	alice := joinAs(t, srv.url, forwardedFor("192.0.2.10"), "alice")
	bob := joinAs(t, srv.url, forwardedFor("2001:db8:1:3::10"), "bob")

	sids := openIdleSessions(t, srv.url, func(i int) http.Header {
		return forwardedFor(fmt.Sprintf("2001:db8:1:2::%x", 1+i/perAddress))
	}, addresses*perAddress)

	carol := joinAs(t, srv.url, forwardedFor("198.51.100.9"), "carol")
	sayAs(t, alice, "still here")
	waitMessage(bob, "alice", "still here")
	waitMessage(carol, "alice", "still here")

	if !sessionGone(t, srv.url, sids[0]) {
		t.Error("the flood's first session is still open: its newer ones must have pushed it out")
	}
}

// TestHandshakeFloodFromLoopbackLocksNobodyOut: loopback is exempt from
// the per-address caps (a local reverse proxy), so a local client's idle
// handshakes are bounded only by the server's caps. Once it has opened
// more than --max-connections of them, a newcomer, from loopback too,
// still connects and joins: the flood holds at most --max-pending places,
// and the server, full, closes the oldest of them for the newcomer.
func TestHandshakeFloodFromLoopbackLocksNobodyOut(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	alice := joinAs(t, srv.url, nil, "alice")
	openIdleSessions(t, srv.url, nil, defaultMaxConnections+50)

	bob := joinAs(t, srv.url, nil, "bob")
	sayAs(t, bob, "let me in")
	waitMessage(alice, "bob", "let me in")
}

// TestConnectionsThatNeverJoinAreClosed: connections that have not joined
// within --pending-timeout are closed, on both transports, whether or not
// they connected to the namespace; a chatter who joined stays.
func TestConnectionsThatNeverJoinAreClosed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--pending-timeout", "1s")
	alice := joinAs(t, srv.url, nil, "alice")

	lurker := connectAs(t, srv.url, nil)
	code, body, sid := idleHandshake(t, srv.url, nil)
	if code != http.StatusOK {
		t.Fatalf("polling handshake: %d %q", code, body)
	}
	waitGone(lurker, "a WebSocket connection that never joined")
	// The polling session's GET is held until the close, then answered
	// with the close packet; after that the sid is unknown.
	if resp, err := rawHTTP.Get(srv.url + pollingPath + "&sid=" + sid); err != nil {
		t.Fatalf("polling GET: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && string(b) != "1" {
			t.Errorf("the held GET of a session that never joined got %q, want the close packet", b)
		}
	}
	if !sessionGone(t, srv.url, sid) {
		t.Error("a polling session that never joined is still open")
	}

	// alice joined before both of them connected, and is still there.
	if !stillOpen(alice) {
		t.Fatal("a chatter who joined was disconnected")
	}
	bob := joinAs(t, srv.url, nil, "bob")
	sayAs(t, alice, "hello bob")
	waitMessage(bob, "alice", "hello bob")
}

// TestIPv6AddressesShareTheirNetworksCap: the per-address cap counts an
// IPv6 client by its --ipv6-prefix network (a /64 by default), so that
// one subscriber cannot multiply it by picking addresses; --ipv6-prefix
// 128 counts each address.
func TestIPv6AddressesShareTheirNetworksCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		refused bool // the third address of the /64 is refused
	}{
		{"by /64", nil, true},
		{"by address", []string{"--ipv6-prefix", "128"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--trusted-proxies", "127.0.0.1", "--max-connections-per-ip", "2"}, tt.args...)
			srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), args...)
			for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::2"} {
				if code, body, _ := idleHandshake(t, srv.url, forwardedFor(addr)); code != http.StatusOK {
					t.Fatalf("handshake from %s: %d %q", addr, code, body)
				}
			}
			code, body, _ := idleHandshake(t, srv.url, forwardedFor("2001:db8:1:2::3"))
			if tt.refused {
				checkRefused(t, "a third address of the same /64", code, body)
			} else if code != http.StatusOK {
				t.Errorf("a third address counted by address: %d %q", code, body)
			}
			if code, body, _ := idleHandshake(t, srv.url, forwardedFor("2001:db8:1:3::1")); code != http.StatusOK {
				t.Errorf("an address of another /64: %d %q", code, body)
			}
		})
	}
}
