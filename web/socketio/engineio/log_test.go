package engineio

import (
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"chatserver/internal/throttle"
)

// TestEverySessionIsLoggedOpenedAndClosed: one line when a session opens
// and one when it closes, each naming the sid, the transport (the one in
// use at the close, after an upgrade), the client address and the
// protocol; the close line also the reason and the duration.
func TestEverySessionIsLoggedOpenedAndClosed(t *testing.T) {
	e := newEnv(t, Config{ClientAddr: func(r *http.Request) string { return "198.51.100.9" }})

	sid, r := e.openPolling(t)
	opened := e.log.Wait(t, "connection opened", "sid", sid)
	want := map[string]string{"transport": TransportPolling, "addr": "198.51.100.9", "eio": "4"}
	for k, v := range want {
		if opened.Attrs[k] != v {
			t.Errorf("opened line %s=%q, want %q: %s", k, opened.Attrs[k], v, opened)
		}
	}
	if opened.Level != slog.LevelInfo {
		t.Errorf("opened line at %s, want INFO", opened.Level)
	}

	conn := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, conn, "2probe")
	readText(t, conn, "3probe")
	writeText(t, conn, "5")
	e.log.Wait(t, "connection upgraded", "sid", sid, "transport", TransportWebSocket)
	closeSession(t, r)
	closed := e.log.Wait(t, "connection closed", "sid", sid)
	want = map[string]string{"transport": TransportWebSocket, "addr": "198.51.100.9", "eio": "4", "reason": ReasonForcedClose}
	for k, v := range want {
		if closed.Attrs[k] != v {
			t.Errorf("closed line %s=%q, want %q: %s", k, closed.Attrs[k], v, closed)
		}
	}
	if d, err := time.ParseDuration(closed.Attrs["duration"]); err != nil || d < 0 {
		t.Errorf("closed line duration %q: %v", closed.Attrs["duration"], err)
	}

	// A WebSocket-only session, closed by the client.
	ws, h, _ := e.openWebSocket(t)
	if got := e.log.Wait(t, "connection opened", "sid", h.SID); got.Attrs["transport"] != TransportWebSocket {
		t.Errorf("opened line %s, want transport websocket", got)
	}
	ws.Close()
	e.log.Wait(t, "connection closed", "sid", h.SID, "transport", TransportWebSocket, "reason", ReasonTransportClose)
}

// TestProtocol3SessionsSayWhichProtocol: a v2 client's session is logged
// with eio=3.
func TestProtocol3SessionsSayWhichProtocol(t *testing.T) {
	e := newEnv(t, Config{AllowEIO3: true})
	resp := e.get(t, e.ts.URL+"/engine.io/?EIO=3&transport=polling")
	if resp.status != http.StatusOK {
		t.Fatalf("handshake: %d %q", resp.status, resp.body)
	}
	r := e.nextSession(t)
	e.log.Wait(t, "connection opened", "sid", r.sess.ID(), "eio", "3")
}

// TestConnectionLinesAreThrottledPerAddress: an address opening sessions
// in a loop gets ConnLogBurst lines a minute, the rest counted in a
// summary; another address is logged as usual.
func TestConnectionLinesAreThrottledPerAddress(t *testing.T) {
	e := newEnv(t, Config{ClientIP: headerClientIP, ClientAddr: headerClientIP})
	const extra = 5
	for range ConnLogBurst + extra {
		closeSession(t, e.mustOpen(t, TransportPolling, "192.0.2.7"))
	}
	other := e.mustOpen(t, TransportPolling, "192.0.2.8")
	e.log.Wait(t, "connection opened", "sid", other.sess.ID(), "addr", "192.0.2.8")
	for _, msg := range []string{"connection opened", "connection closed"} {
		if n := len(e.log.Matching(msg, "addr", "192.0.2.7")); n != ConnLogBurst {
			t.Errorf("%d %q lines about 192.0.2.7, want %d", n, msg, ConnLogBurst)
		}
	}
	e.srv.Close() // logs the summaries held
	for _, msg := range []string{"connection opened", "connection closed"} {
		got := e.log.Matching(throttle.SummaryMsg, "line", msg, "key", "192.0.2.7")
		if len(got) != 1 || got[0].Attrs["count"] != strconv.Itoa(extra) || got[0].Level != slog.LevelInfo {
			t.Errorf("summaries of %q: %v, want one at INFO counting %d", msg, got, extra)
		}
	}
}

// TestRefusedHandshakesAreWarnedOnceAMinutePerAddress: a handshake over
// the caps is a warning naming the address; more from it are counted.
func TestRefusedHandshakesAreWarnedOnceAMinutePerAddress(t *testing.T) {
	e := newEnv(t, Config{MaxSessionsPerIP: 1, ClientIP: headerClientIP, ClientAddr: headerClientIP})
	e.mustOpen(t, TransportPolling, "192.0.2.7")
	for i := range 3 {
		transport := []string{TransportPolling, TransportWebSocket}[i%2]
		e.mustRefuse(t, transport, "192.0.2.7")
	}
	got := e.log.Matching("connection refused: too many connections", "addr", "192.0.2.7")
	if len(got) != 1 || got[0].Level != slog.LevelWarn || got[0].Attrs["transport"] != TransportPolling {
		t.Errorf("refusal lines %v, want one warning", got)
	}
	e.srv.Close()
	if got := e.log.Matching(throttle.SummaryMsg, "key", "192.0.2.7", "count", "2"); len(got) != 1 {
		t.Errorf("no summary of the refusals held back:\n%s", e.log)
	}
}
