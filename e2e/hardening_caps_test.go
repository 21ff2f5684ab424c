package e2e

import (
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chatserver/internal/siotest"

	"github.com/gorilla/websocket"
)

// tooManyBody is what a handshake over a connection cap is answered with.
const tooManyBody = `{"code":4,"message":"Too many connections"}`

// forwardedFor is a header as a reverse proxy on this machine would send it.
func forwardedFor(list string) http.Header {
	return http.Header{"X-Forwarded-For": {list}}
}

// pollHandshake asks for a polling session with the given request
// headers (nil for none); see siotest.PollingHandshake.
func pollHandshake(t testing.TB, base string, header http.Header) (*siotest.Polling, int, string) {
	t.Helper()
	return siotest.PollingHandshake(t, base, siotest.Options{Header: header, Timeout: eventTimeout})
}

// checkRefused checks a polling handshake over a cap.
func checkRefused(t *testing.T, what string, code int, body string) {
	t.Helper()
	if code != http.StatusServiceUnavailable || strings.TrimSpace(body) != tooManyBody {
		t.Errorf("%s: %d %q, want 503 %s", what, code, body, tooManyBody)
	}
}

// closePolling ends a polling session the way a client does ("1").
func closePolling(t *testing.T, p *siotest.Polling) {
	t.Helper()
	if code := p.Post("1"); code != http.StatusOK {
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

	var sessions []*siotest.Polling
	for range perIP {
		p, code, body := pollHandshake(t, srv.url, client)
		if p == nil {
			t.Fatalf("handshake under the cap: %d %q", code, body)
		}
		sessions = append(sessions, p)
	}
	_, code, body := pollHandshake(t, srv.url, client)
	checkRefused(t, "polling handshake over the cap", code, body)
	_, code, body = pollHandshake(t, srv.url, forwardedFor("198.51.100.1, 203.0.113.7"))
	checkRefused(t, "handshake with a spoofed X-Forwarded-For prefix", code, body)

	_, resp, err := siotest.DialWebSocket(t, srv.url, siotest.Options{Header: client, Timeout: eventTimeout})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("WebSocket handshake over the cap: %v, %v; want 503", resp, err)
	} else if b, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(b)) != tooManyBody {
		t.Errorf("WebSocket refusal body %q, want %s", b, tooManyBody)
	}

	// Another address, and loopback (exempt), are not affected.
	if _, code, body := pollHandshake(t, srv.url, forwardedFor("203.0.113.8")); code != http.StatusOK {
		t.Errorf("another address: %d %q", code, body)
	}
	for i := range perIP + 2 {
		if _, code, body := pollHandshake(t, srv.url, nil); code != http.StatusOK {
			t.Errorf("loopback connection %d: %d %q, want it exempt", i, code, body)
		}
	}

	closePolling(t, sessions[0])
	eventually(t, "a handshake after a connection closed", func() bool {
		p, _, _ := pollHandshake(t, srv.url, client)
		return p != nil
	})
}

// TestProxyHeaderIgnoredUnlessTrusted: without --trusted-proxies, the
// X-Forwarded-For header is the client's own claim and is ignored; the
// connection counts for its real (loopback, exempt) address.
func TestProxyHeaderIgnoredUnlessTrusted(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--max-connections-per-ip", "1")
	for i := range 3 {
		if _, code, body := pollHandshake(t, srv.url, forwardedFor("203.0.113.7")); code != http.StatusOK {
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
	var chatters []*siotest.Client
	for i := range limit {
		chatters = append(chatters, joinWS(t, srv.url, "chatter"+string(rune('a'+i))))
	}
	_, resp, err := siotest.DialWebSocket(t, srv.url, wire)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket over the cap: %v, %v; want 503", resp, err)
	}
	_, code, body := pollHandshake(t, srv.url, nil)
	checkRefused(t, "polling over the cap", code, body)

	say(t, chatters[0], "we are still here")
	chatters[1].WaitEvent("the message", messageLine("chattera", "we are still here"))

	chatters[3].Close()
	chatters[0].WaitEvent("chatterd leaving", named("remove chatter", "chatterd"))
	eventually(t, "a connection after one left", func() bool {
		c, _, err := siotest.DialWebSocket(t, srv.url, wire)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
