package siotest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Polling is one Engine.IO long-polling session driven request by
// request: nothing is fetched, answered or sent unless the test asks, so
// a session can be left unpolled, sent garbage or abandoned. Its
// requests carry no headers beyond the handshake's.
type Polling struct {
	t       testing.TB
	base    string
	open    Open
	timeout time.Duration
	http    *http.Client
}

// PollingHandshake asks the server whose http:// address is base for a
// polling session, with opts.Header. It returns the answer's status and
// body and, when the server accepted (200), the session; an accepted
// handshake whose body is not an open packet fails the test.
func PollingHandshake(t testing.TB, base string, opts Options) (*Polling, int, string) {
	t.Helper()
	timeout := opts.timeout()
	// A held GET lasts up to the server's ping interval; twice the
	// timeout leaves room for it.
	p := &Polling{t: t, base: base, timeout: timeout, http: &http.Client{Timeout: 2 * timeout}}
	req, err := http.NewRequest(http.MethodGet, PollingURL(base, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range opts.Header {
		req.Header[k] = v
	}
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("polling handshake: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("polling handshake: reading the body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, string(body)
	}
	if p.open, err = ParseOpen(string(body)); err != nil {
		t.Fatalf("polling handshake: %v", err)
	}
	return p, resp.StatusCode, string(body)
}

// OpenPolling is PollingHandshake failing the test unless the server
// accepts.
func OpenPolling(t testing.TB, base string, opts Options) *Polling {
	t.Helper()
	p, code, body := PollingHandshake(t, base, opts)
	if p == nil {
		t.Fatalf("polling handshake: %d %q", code, body)
	}
	return p
}

// Open returns the open packet the session began with.
func (p *Polling) Open() Open { return p.open }

// URL is the session's polling URL, for requests of the test's own.
func (p *Polling) URL() string { return PollingURL(p.base, p.open.SID) }

// PostAs posts body with the given Content-Type and returns the status.
func (p *Polling) PostAs(contentType, body string) (int, error) {
	resp, err := p.http.Post(p.URL(), contentType, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Post posts body, one or more Engine.IO packets separated by "\x1e", as
// text and returns the status; 0 when the request failed, since the
// server may cut a request it refuses before reading it all.
func (p *Polling) Post(body string) int {
	code, _ := p.PostAs("text/plain;charset=UTF-8", body)
	return code
}

// Get fetches what the server has queued for the session (a GET the
// server holds until it has something) and returns the status and body;
// a failed request fails the test.
func (p *Polling) Get() (int, string) {
	p.t.Helper()
	resp, err := p.http.Get(p.URL())
	if err != nil {
		p.t.Fatalf("polling GET: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		p.t.Fatalf("polling GET: reading the body: %v", err)
	}
	return resp.StatusCode, string(body)
}

// Packets is Get split into its packets, failing the test unless the
// server answered 200.
func (p *Polling) Packets() []string {
	p.t.Helper()
	code, body := p.Get()
	if code != http.StatusOK {
		p.t.Fatalf("polling GET: %d %q", code, body)
	}
	return strings.Split(body, "\x1e")
}

// Ended reports whether the session ends within the timeout: a GET is
// refused (400) or delivers the close packet "1". It fetches, and so
// drops, whatever else the server sends meanwhile.
func (p *Polling) Ended() bool {
	p.t.Helper()
	deadline := time.Now().Add(p.timeout)
	for time.Now().Before(deadline) {
		code, body := p.Get()
		if code == http.StatusBadRequest {
			return true
		}
		for _, packet := range strings.Split(body, "\x1e") {
			if packet == "1" {
				return true
			}
		}
	}
	return false
}
