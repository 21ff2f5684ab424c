package e2e

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// getAs sends a GET for path to the server with the Host header host (the
// server's own address when empty) and the extra headers, and returns the
// status and body.
func getAs(t *testing.T, base, path, host string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatalf("GET %s for %s: %v", path, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// pagePort is the port of the server's address.
func pagePort(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// originHeader is the Origin a page on origin sends.
func originHeader(origin string) http.Header { return http.Header{"Origin": {origin}} }

// TestDNSRebindingPageCannotUseTheServer: a page on
// http://attacker.example:PORT whose name the attacker has pointed at this
// machine is, to the browser, on its own origin: its requests carry Host
// and Origin attacker.example:PORT. The server answers none of them (the
// page, the handshake on either transport), but 421 with a line saying
// which flag would allow that name; the health check still answers.
func TestDNSRebindingPageCannotUseTheServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	alice := joinAs(t, srv.url, nil, "alice")
	sayAs(t, alice, "the attacker must not read this")

	rebound := "attacker.example:" + pagePort(t, srv.url)
	page := originHeader("http://" + rebound)
	wantRefused := func(what string, code int, body string) {
		t.Helper()
		if code != http.StatusMisdirectedRequest || !strings.Contains(body, "--allowed-hosts attacker.example") ||
			!strings.Contains(body, "--public-url") {
			t.Errorf("%s for %s: %d %q, want 421 naming --public-url and --allowed-hosts", what, rebound, code, body)
		}
		if strings.Contains(body, "the attacker must not read this") {
			t.Errorf("%s for %s revealed the history", what, rebound)
		}
	}
	code, body := getAs(t, srv.url, "/", rebound, nil)
	wantRefused("the page", code, body)
	code, body = getAs(t, srv.url, pollingPath, rebound, page)
	wantRefused("a polling handshake", code, body)

	header := page.Clone()
	header.Set("Host", rebound) // gorilla's Dial sends it as the Host
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.url, "http")+"/socket.io/?EIO=4&transport=websocket", header)
	if err == nil {
		ws.Close()
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("WebSocket for %s: %v, want refused", rebound, err)
	}
	b, _ := io.ReadAll(resp.Body)
	wantRefused("a WebSocket handshake", resp.StatusCode, string(b))

	if code, body := getAs(t, srv.url, "/healthz", rebound, nil); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz for %s: %d %q, want 200 ok", rebound, code, body)
	}
}

// TestServedHostNames: IP addresses, localhost and this machine's names
// are served without configuration, --allowed-hosts and --public-url add
// names, and a page on --public-url may connect even when nothing tells
// the server it was reached over https.
func TestServedHostNames(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"),
		"--allowed-hosts", "chat.lan", "--public-url", "https://chat.example.org")
	port := pagePort(t, srv.url)
	hosts := []string{"127.0.0.1:" + port, "localhost:" + port, "chat.lan:" + port}
	if name, err := os.Hostname(); err == nil && name != "" {
		short, _, _ := strings.Cut(name, ".")
		hosts = append(hosts, name+":"+port, short+".local:"+port)
	}
	for _, host := range hosts {
		if code, body := getAs(t, srv.url, "/", host, nil); code != http.StatusOK {
			t.Errorf("the page for %s: %d %q", host, code, body)
		}
		if code, body := getAs(t, srv.url, pollingPath, host, originHeader("http://"+host)); code != http.StatusOK {
			t.Errorf("a handshake from a page on %s: %d %q", host, code, body)
		}
	}
	if code, body := getAs(t, srv.url, pollingPath, "chat.example.org", originHeader("https://chat.example.org")); code != http.StatusOK {
		t.Errorf("a handshake from the public URL's page: %d %q", code, body)
	}
	if code, _ := getAs(t, srv.url, "/", "other.example:"+port, nil); code != http.StatusMisdirectedRequest {
		t.Errorf("a name not configured: %d, want 421", code)
	}
}

// TestOriginMustHaveTheRequestsScheme: an https page is not the same
// origin as the plain-http server at the same address, unless a trusted
// proxy says the client used https.
func TestOriginMustHaveTheRequestsScheme(t *testing.T) {
	t.Parallel()
	direct := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	behindTLS := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--trusted-proxies", "127.0.0.1")
	tests := []struct {
		name   string
		srv    *server
		origin string // scheme://, followed by the server's host and port
		proto  string // X-Forwarded-Proto; "" sends none
		want   int
	}{
		{"http page, http server", direct, "http://", "", http.StatusOK},
		{"https page, http server", direct, "https://", "", http.StatusForbidden},
		{"https page, a client's own X-Forwarded-Proto", direct, "https://", "https", http.StatusForbidden},
		{"https page behind a TLS proxy", behindTLS, "https://", "https", http.StatusOK},
		{"http page behind a TLS proxy", behindTLS, "http://", "https", http.StatusForbidden},
		{"http page behind a plain proxy", behindTLS, "http://", "http", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := originHeader(tt.origin + strings.TrimPrefix(tt.srv.url, "http://"))
			if tt.proto != "" {
				header.Set("X-Forwarded-Proto", tt.proto)
			}
			if code, body := getAs(t, tt.srv.url, pollingPath, "", header); code != tt.want {
				t.Errorf("handshake with Origin %s: %d %q, want %d", header.Get("Origin"), code, body, tt.want)
			}
		})
	}
}
