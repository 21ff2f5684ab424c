package e2e

import (
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tooManyBody is what a handshake over a connection cap is answered with.
const tooManyBody = `{"code":4,"message":"Too many connections"}`

// forwardedFor is a header as a reverse proxy on this machine would send it.
func forwardedFor(list string) http.Header {
	return http.Header{"X-Forwarded-For": {list}}
}

// checkRefused checks a polling handshake over a cap.
func checkRefused(t *testing.T, what string, code int, body string) {
	t.Helper()
	if code != http.StatusServiceUnavailable || strings.TrimSpace(body) != tooManyBody {
		t.Errorf("%s: %d %q, want 503 %s", what, code, body, tooManyBody)
	}
}

// closePolling ends a polling session the way a client does ("1").
func closePolling(t *testing.T, base, sid string) {
	t.Helper()
	if code := pollPost(t, base, sid, "1"); code != http.StatusOK {
		t.Fatalf("closing session: status %d", code)
	}
}

// eventually retries a handshake until it succeeds: a closed session
// frees its place once the server has finished with it.
func eventually(t *testing.T, what string, try func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !try() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still refused after %s", what, eventTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPerAddressCapBehindATrustedProxy: with the loopback proxy trusted,
// the per-address cap applies to the address X-Forwarded-For names, on
// both transports, and a spoofed left part of the header does not help.
// Loopback itself stays exempt. A closed connection frees its place.
func TestPerAddressCapBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	const perIP = 3
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"),
		"--max-connections-per-ip", "3", "--trusted-proxies", "127.0.0.1,::1", "--max-connections", "20")
	client := forwardedFor("203.0.113.7")

	var sids []string
	for range perIP {
		code, body, sid := pollHandshake(t, srv.url, client)
		if code != http.StatusOK {
			t.Fatalf("handshake under the cap: %d %q", code, body)
		}
		sids = append(sids, sid)
	}
	code, body, _ := pollHandshake(t, srv.url, client)
	checkRefused(t, "polling handshake over the cap", code, body)
	code, body, _ = pollHandshake(t, srv.url, forwardedFor("198.51.100.1, 203.0.113.7"))
	checkRefused(t, "handshake with a spoofed X-Forwarded-For prefix", code, body)

	_, resp, err := dialWS(srv.url, dialOptions{header: client})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("WebSocket handshake over the cap: %v, %v; want 503", resp, err)
	} else if b, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(b)) != tooManyBody {
		t.Errorf("WebSocket refusal body %q, want %s", b, tooManyBody)
	}

	// Another address, and loopback (exempt), are not affected.
	if code, body, _ := pollHandshake(t, srv.url, forwardedFor("203.0.113.8")); code != http.StatusOK {
		t.Errorf("another address: %d %q", code, body)
	}
	for i := range perIP + 2 {
		if code, body, _ := pollHandshake(t, srv.url, nil); code != http.StatusOK {
			t.Errorf("loopback connection %d: %d %q, want it exempt", i, code, body)
		}
	}

	closePolling(t, srv.url, sids[0])
	eventually(t, "a handshake after a connection closed", func() bool {
		code, _, _ := pollHandshake(t, srv.url, client)
		return code == http.StatusOK
	})
}

// TestProxyHeaderIgnoredUnlessTrusted: without --trusted-proxies, the
// X-Forwarded-For header is the client's own claim and is ignored; the
// connection counts for its real (loopback, exempt) address.
func TestProxyHeaderIgnoredUnlessTrusted(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--max-connections-per-ip", "1")
	for i := range 3 {
		if code, body, _ := pollHandshake(t, srv.url, forwardedFor("203.0.113.7")); code != http.StatusOK {
			t.Fatalf("handshake %d: %d %q; the header must not count without a trusted proxy", i, code, body)
		}
	}
}

// TestConnectionCapRefusesCleanly: over --max-connections, handshakes on
// both transports get 503 while the connected chatters go on; a place
// freed by a leaving chatter is taken by the next.
func TestConnectionCapRefusesCleanly(t *testing.T) {
	t.Parallel()
	const limit = 4
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--max-connections", "4")
	var chatters []*sioClient
	for i := range limit {
		chatters = append(chatters, joinWS(t, srv.url, "chatter"+string(rune('a'+i))))
	}
	_, resp, err := dialWS(srv.url, dialOptions{})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket over the cap: %v, %v; want 503", resp, err)
	}
	code, body, _ := pollHandshake(t, srv.url, nil)
	checkRefused(t, "polling over the cap", code, body)

	chatters[0].say("we are still here")
	chatters[1].waitEvent("the message", messageLine("chattera", "we are still here"))

	chatters[3].Close()
	chatters[0].waitEvent("chatterd leaving", named("remove chatter", "chatterd"))
	eventually(t, "a connection after one left", func() bool {
		ws, _, err := dialWS(srv.url, dialOptions{})
		if err != nil {
			return false
		}
		ws.Close()
		return true
	})
}
