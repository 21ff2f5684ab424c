package engineio

import (
	"net/http"
	"strings"
	"testing"
)

// corsHeaders are the CORS response headers, in the form checkCORS
// compares.
var corsHeaders = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Vary",
}

// checkCORS compares the CORS headers of h with want (absent headers
// absent; Vary values joined with ", ").
func checkCORS(t testing.TB, what string, h http.Header, want map[string]string) {
	t.Helper()
	for _, name := range corsHeaders {
		got := strings.Join(h.Values(name), ", ")
		if got != want[name] {
			t.Errorf("%s: %s %q, want %q", what, name, got, want[name])
		}
	}
}

func TestCORSForAllowedOrigins(t *testing.T) {
	const allowed = "https://chat.example"
	e := newEnv(t, Config{AllowedOrigins: []string{allowed + "/"}})
	host := strings.TrimPrefix(e.ts.URL, "http://")
	simple := map[string]string{
		"Access-Control-Allow-Origin":      allowed,
		"Access-Control-Allow-Credentials": "true",
		"Vary":                             "Origin",
	}
	request := func(method, url, origin string, header http.Header, body string) response {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		}
		return e.send(t, req)
	}
	preflight := http.Header{
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"x-requested-with, content-type"},
	}

	// The preflight, before the handshake and for a session.
	for _, url := range []string{e.url("transport=polling"), e.pollURL("some-sid")} {
		resp := request(http.MethodOptions, url, allowed, preflight, "")
		if resp.status != http.StatusNoContent || resp.body != "" {
			t.Errorf("preflight %s: %d %q, want 204 and no body", url, resp.status, resp.body)
		}
		checkCORS(t, "preflight", resp.header, map[string]string{
			"Access-Control-Allow-Origin":      allowed,
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET,POST",
			"Access-Control-Allow-Headers":     "x-requested-with, content-type",
			"Vary":                             "Origin, Access-Control-Request-Headers",
		})
	}

	// The handshake, a POST, a held GET, and an error answer.
	resp := request(http.MethodGet, e.url("transport=polling"), allowed, nil, "")
	if resp.status != http.StatusOK {
		t.Fatalf("handshake: %d %q", resp.status, resp.body)
	}
	checkCORS(t, "handshake", resp.header, simple)
	sid := parseOpen(t, resp.body).SID
	r := e.nextSession(t)
	resp = request(http.MethodPost, e.pollURL(sid), allowed, nil, "4hello")
	if resp.status != http.StatusOK {
		t.Fatalf("POST: %d %q", resp.status, resp.body)
	}
	checkCORS(t, "POST", resp.header, simple)
	if m := r.nextMessage(t); m.data != "hello" {
		t.Errorf("delivered %q, want hello", m.data)
	}
	r.sess.Send(NewMessage([]byte("hi"), false))
	resp = request(http.MethodGet, e.pollURL(sid), allowed, nil, "")
	if resp.status != http.StatusOK || resp.body != "4hi" {
		t.Errorf("GET: %d %q, want 200 4hi", resp.status, resp.body)
	}
	checkCORS(t, "GET", resp.header, simple)
	resp = request(http.MethodGet, e.pollURL("unknown"), allowed, nil, "")
	if resp.status != http.StatusBadRequest {
		t.Errorf("GET for an unknown sid: %d %q, want 400", resp.status, resp.body)
	}
	checkCORS(t, "an error answer", resp.header, simple)

	// Other origins get no CORS headers: foreign ones are refused, the
	// server's own needs none, and a request without Origin is not CORS.
	for _, origin := range []string{"https://evil.example", "http://chat.example", "null"} {
		for _, method := range []string{http.MethodOptions, http.MethodGet} {
			resp := request(method, e.url("transport=polling"), origin, preflight, "")
			if resp.status != http.StatusForbidden {
				t.Errorf("%s from %s: %d %q, want 403", method, origin, resp.status, resp.body)
			}
			checkCORS(t, method+" from "+origin, resp.header, nil)
		}
	}
	resp = request(http.MethodGet, e.url("transport=polling"), "http://"+host, nil, "")
	if resp.status != http.StatusOK {
		t.Errorf("handshake from the server's own origin: %d %q", resp.status, resp.body)
	}
	checkCORS(t, "the server's own origin", resp.header, nil)
	e.nextSession(t)
	resp = request(http.MethodOptions, e.url("transport=polling"), "", preflight, "")
	if resp.status != http.StatusBadRequest || resp.body != errorBodies[codeBadHandshakeMethod] {
		t.Errorf("OPTIONS without Origin: %d %q, want 400 %s", resp.status, resp.body, errorBodies[codeBadHandshakeMethod])
	}
	checkCORS(t, "OPTIONS without Origin", resp.header, nil)
}

func TestCORSNotSentForACustomOriginCheck(t *testing.T) {
	e := newEnv(t, Config{CheckOrigin: func(*http.Request) bool { return true }})
	req, _ := http.NewRequest(http.MethodGet, e.url("transport=polling"), nil)
	req.Header.Set("Origin", "https://anywhere.example")
	resp := e.send(t, req)
	if resp.status != http.StatusOK {
		t.Fatalf("handshake: %d %q", resp.status, resp.body)
	}
	checkCORS(t, "handshake", resp.header, nil)
	e.nextSession(t)
}
