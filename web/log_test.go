package web

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"chatserver/internal/logtest"
	"chatserver/internal/siotest"
)

// TestChattersAreLoggedJoiningRenamingAndLeaving: each connection's
// lines name its client address (behind a trusted proxy, the one
// X-Forwarded-For names) and its Engine.IO sid, and the chatter lines the
// nickname and the Socket.IO socket id too; the close says why.
func TestChattersAreLoggedJoiningRenamingAndLeaving(t *testing.T) {
	logger, logs := logtest.New(t)
	ts := newServerWith(t, Config{Logger: logger, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	c := siotest.Dial(t, ts.URL, siotest.Options{Header: http.Header{"X-Forwarded-For": {"203.0.113.5"}}})
	socket := strings.TrimSuffix(strings.TrimPrefix(c.Connect("/", ""), `40{"sid":"`), `"}`)
	sid := c.Open().SID

	opened := logs.Wait(t, "connection opened", "sid", sid)
	if opened.Attrs["addr"] != "203.0.113.5" || opened.Attrs["transport"] != "websocket" {
		t.Errorf("opened line %s, want addr=203.0.113.5 transport=websocket", opened)
	}
	c.SendText(`420["join","alice"]`)
	logs.Wait(t, "chatter joined", "nick", "alice", "sid", sid, "socket", socket, "addr", "203.0.113.5")
	c.SendText(`421["join","alice"]`) // the same nickname again: nothing to say
	c.SendText(`422["join","bob"]`)
	logs.Wait(t, "chatter renamed", "nick", "bob", "previous", "alice", "sid", sid, "socket", socket)
	c.Close()
	left := logs.Wait(t, "chatter left", "nick", "bob", "sid", sid, "socket", socket, "addr", "203.0.113.5")
	closed := logs.Wait(t, "connection closed", "sid", sid, "addr", "203.0.113.5")
	if left.Attrs["reason"] == "" || closed.Attrs["reason"] == "" || closed.Attrs["duration"] == "" {
		t.Errorf("the close lines do not say why or how long:\n%s\n%s", left, closed)
	}
	if n := len(logs.Matching("chatter joined")) + len(logs.Matching("chatter renamed")); n != 2 {
		t.Errorf("%d join lines for a join, a repeat and a rename, want 2:\n%s", n, logs)
	}
}

// TestAConnectionThatNeverJoinsHasNoChatterLines: its connection lines
// only.
func TestAConnectionThatNeverJoinsHasNoChatterLines(t *testing.T) {
	logger, logs := logtest.New(t)
	ts := newServerWith(t, Config{Logger: logger})
	c := dial(t, ts)
	sid := c.Open().SID
	c.Close()
	logs.Wait(t, "connection closed", "sid", sid, "addr", "127.0.0.1")
	for _, r := range logs.Records() {
		if strings.HasPrefix(r.Msg, "chatter ") {
			t.Errorf("logged %s for a connection that never joined", r)
		}
	}
}
