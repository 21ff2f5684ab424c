package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// corsHeaderNames are the CORS response headers the tests compare.
var corsHeaderNames = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Vary",
}

// corsExchange is one HTTP exchange of the CORS tests.
type corsExchange struct {
	status int
	header http.Header
	body   string
}

// corsRequest sends method to url with the Origin origin, the extra
// headers and body (a polling payload for POST).
func corsRequest(t *testing.T, method, url, origin string, extra http.Header, body string) corsExchange {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	req.Header.Set("Origin", origin)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, url, origin, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return corsExchange{resp.StatusCode, resp.Header, string(b)}
}

// wantCORS compares the CORS headers of x with want (nil: none at all).
func wantCORS(t *testing.T, what string, x corsExchange, want map[string]string) {
	t.Helper()
	for _, name := range corsHeaderNames {
		if got := strings.Join(x.header.Values(name), ", "); got != want[name] {
			t.Errorf("%s: %s %q, want %q", what, name, got, want[name])
		}
	}
}

// TestPollingAnswersAllowedOriginsWithCORSHeaders: long-polling from a
// page on an --allowed-origins origin works only if the answers carry the
// CORS headers (the reference server's, with credentials): the preflight
// gets 204 with the methods and the request's headers, every request of
// the session Access-Control-Allow-Origin. Foreign origins get 403 and no
// CORS header; the server's own origin needs none and gets none.
func TestPollingAnswersAllowedOriginsWithCORSHeaders(t *testing.T) {
	t.Parallel()
	const app = "http://app.example:8000"
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--allowed-origins", app)
	simple := map[string]string{
		"Access-Control-Allow-Origin":      app,
		"Access-Control-Allow-Credentials": "true",
		"Vary":                             "Origin",
	}
	preflight := http.Header{
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type"},
	}

	x := corsRequest(t, http.MethodOptions, srv.url+pollingPath, app, preflight, "")
	if x.status != http.StatusNoContent {
		t.Errorf("preflight: %d %q, want 204", x.status, x.body)
	}
	wantCORS(t, "preflight", x, map[string]string{
		"Access-Control-Allow-Origin":      app,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET,POST",
		"Access-Control-Allow-Headers":     "content-type",
		"Vary":                             "Origin, Access-Control-Request-Headers",
	})

	x = corsRequest(t, http.MethodGet, srv.url+pollingPath, app, nil, "")
	if x.status != http.StatusOK {
		t.Fatalf("handshake: %d %q", x.status, x.body)
	}
	wantCORS(t, "handshake", x, simple)
	var open struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(x.body, "0") || json.Unmarshal([]byte(x.body[1:]), &open) != nil {
		t.Fatalf("handshake answered %q", x.body)
	}
	x = corsRequest(t, http.MethodPost, srv.url+pollingPath+"&sid="+open.SID, app, nil, "40")
	if x.status != http.StatusOK {
		t.Fatalf("POST: %d %q", x.status, x.body)
	}
	wantCORS(t, "POST", x, simple)
	x = corsRequest(t, http.MethodGet, srv.url+pollingPath+"&sid="+open.SID, app, nil, "")
	if x.status != http.StatusOK || !strings.HasPrefix(x.body, "40{") {
		t.Fatalf("GET: %d %q, want the connect reply", x.status, x.body)
	}
	wantCORS(t, "GET", x, simple)

	for _, foreign := range []string{"http://evil.example", "https://app.example:8000", "http://app.example"} {
		for _, method := range []string{http.MethodOptions, http.MethodGet} {
			x := corsRequest(t, method, srv.url+pollingPath, foreign, preflight, "")
			if x.status != http.StatusForbidden {
				t.Errorf("%s from %s: %d %q, want 403", method, foreign, x.status, x.body)
			}
			wantCORS(t, method+" from "+foreign, x, nil)
		}
	}
	x = corsRequest(t, http.MethodGet, srv.url+pollingPath, srv.url, nil, "")
	if x.status != http.StatusOK {
		t.Errorf("handshake from the server's own origin: %d %q", x.status, x.body)
	}
	wantCORS(t, "the server's own origin", x, nil)
}

// corsPage is the page the browser test serves on other origins: it loads
// the official socket.io-client and, over long-polling with credentials,
// joins the chat server as ?name= and says hello, leaving what happened
// in window.corsResult.
const corsPage = `<!doctype html>
<meta charset="utf-8">
<title>elsewhere</title>
<script src="/client.js"></script>
<script>
(function () {
  var name = new URLSearchParams(location.search).get('name');
  var socket = io(%s, { transports: ['polling'], withCredentials: true, reconnection: false });
  socket.on('connect', function () {
    socket.emit('join', name, function (joined) {
      socket.emit('messages', 'hello from ' + name, function (sent) {
        window.corsResult = { transport: socket.io.engine.transport.name, joined: joined, sent: sent };
      });
    });
  });
  socket.on('connect_error', function (err) { window.corsResult = { error: err.message }; });
})();
</script>
`

// officialClientBundle returns the path of the browser build of the npm
// socket.io-client that the Node driver uses.
func officialClientBundle(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "-e", "process.stdout.write(require.resolve('socket.io-client/dist/socket.io.js'))")
	cmd.Dir = nodeDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("finding socket.io-client's browser build: %v", err)
	}
	return string(out)
}

// corsPageResult is what one page left in window.corsResult.
type corsPageResult struct {
	Transport string         `json:"transport"`
	Joined    map[string]any `json:"joined"`
	Sent      map[string]any `json:"sent"`
	Error     string         `json:"error"`
}

// TestBrowserOnAnAllowedOriginChatsOverPolling: in Chromium, a page on an
// --allowed-origins origin joins and chats over long-polling with the
// official client (withCredentials), which needs the CORS headers; a page
// on another origin is refused (the client reports "xhr poll error").
func TestBrowserOnAnAllowedOriginChatsOverPolling(t *testing.T) {
	requireNode(t)
	dir := requireBrowser(t)
	bundle := officialClientBundle(t)

	var chatURL string // set before the page servers start
	pages := http.NewServeMux()
	pages.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		url, _ := json.Marshal(chatURL)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, corsPage, url)
	})
	pages.HandleFunc("GET /client.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, bundle)
	})
	allowed := httptest.NewUnstartedServer(pages)
	t.Cleanup(allowed.Close)
	foreign := httptest.NewUnstartedServer(pages)
	t.Cleanup(foreign.Close)
	allowedOrigin := "http://" + allowed.Listener.Addr().String()

	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--allowed-origins", allowedOrigin)
	chatURL = srv.url
	allowed.Start()
	foreign.Start()
	alice := joinAs(t, srv.url, nil, "alice")

	results := openPages(t, dir, allowed.URL+"/?name=carol", foreign.URL+"/?name=mallory")
	if r := results[0]; r == nil || r.Error != "" || r.Transport != "polling" || r.Joined["ok"] != true || r.Sent["ok"] != true {
		t.Errorf("the page on the allowed origin: %+v, want joined and sent over polling", r)
	}
	waitMessage(alice, "carol", "hello from carol")
	if r := results[1]; r == nil || r.Error != "xhr poll error" {
		t.Errorf("the page on a foreign origin: %+v, want xhr poll error", r)
	}
	if sawChatter(alice, "mallory") {
		t.Error("the page on a foreign origin joined")
	}
}

// openPages runs browser/cors.js on urls and returns what each page left
// in window.corsResult (nil when nothing).
func openPages(t *testing.T, dir string, urls ...string) []*corsPageResult {
	t.Helper()
	const pageTimeout = 20 * time.Second
	list, _ := json.Marshal(urls)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(urls))*pageTimeout+scenarioGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "cors.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PAGES="+string(list), "CHROMIUM="+chromiumPath,
		fmt.Sprintf("TIMEOUT_MS=%d", pageTimeout.Milliseconds()))
	// Its own process group, so that a kill reaches the browser too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stderr := &lineWriter{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node cors.js: %v", err)
	}
	var results []*corsPageResult
	done := false
	scan := bufio.NewScanner(stdout)
	scan.Buffer(make([]byte, 64*1024), maxReportLine)
	for scan.Scan() {
		var line struct {
			URL    string          `json:"url"`
			Result *corsPageResult `json:"result"`
			Done   bool            `json:"done"`
			Error  string          `json:"error"`
		}
		if err := json.Unmarshal(scan.Bytes(), &line); err != nil {
			t.Errorf("cors.js printed a line that is not JSON: %s", scan.Text())
			continue
		}
		switch {
		case line.Error != "":
			t.Errorf("cors.js: %s", line.Error)
		case line.Done:
			done = true
		default:
			results = append(results, line.Result)
		}
	}
	if err := cmd.Wait(); err != nil || !done || len(results) != len(urls) {
		t.Fatalf("cors.js: %v, %d of %d pages reported (%v)\nstderr:\n%s", err, len(results), len(urls), ctx.Err(), stderr)
	}
	return results
}
