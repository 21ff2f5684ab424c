package e2e

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/internal/siotest"
)

// TestHalfOpenRequestsAreCutAndBlockNobody opens connections that send
// part of a request's headers and then nothing (slowloris). While they
// hang, the page is served and chatters chat; each is closed by the
// server once --read-header-timeout has passed.
func TestHalfOpenRequestsAreCutAndBlockNobody(t *testing.T) {
	t.Parallel()
	const (
		slow          = 50
		headerTimeout = 500 * time.Millisecond
		// cutWithin is how long a half-open request may live: well past
		// headerTimeout, well before the 10 s default, so the test fails
		// if the flag did not reach the server.
		cutWithin = 5 * time.Second
	)
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--read-header-timeout", headerTimeout.String())
	addr := strings.TrimPrefix(srv.url, "http://")

	var wg sync.WaitGroup
	errs := make(chan string, slow)
	start := time.Now()
	for i := range slow {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn.SetReadDeadline(time.Now().Add(cutWithin))
			// The server closes it, perhaps after a 408 response.
			_, err := io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				errs <- "a half-open request was not closed by the server within " + cutWithin.String()
			}
		}()
	}

	// Meanwhile everyone else is served.
	for range 5 {
		resp, err := http.Get(srv.url + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz while half-open requests hang: %v, %v", resp, err)
		}
		resp.Body.Close()
	}
	a, b := joinWS(t, srv.url, "alice"), joinWS(t, srv.url, "bob")
	say(t, a, "hello despite the slow ones")
	b.WaitEvent("alice's message", messageLine("alice", "hello despite the slow ones"))

	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if took := time.Since(start); took < headerTimeout {
		t.Errorf("half-open requests were closed after %s, before the %s header timeout", took, headerTimeout)
	}
	if !a.IsOpen() || !b.IsOpen() {
		t.Error("the header timeout cut an established WebSocket")
	}
}

// TestOversizedHeadersAreRefused: request headers beyond the server's
// limit (16 KB) get 431 instead of being buffered.
func TestOversizedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	req, err := http.NewRequest(http.MethodGet, siotest.PollingURL(srv.url, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("p", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}
