package web

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/metrics"
	"chatserver/storage/bolt"
)

// newServerWith starts the whole HTTP front with cfg on a real store in a
// temporary folder. The room logs to cfg.Logger too; nil means the test's
// log.
func newServerWith(t testing.TB, cfg Config) *httptest.Server {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "chat.db"), bolt.Options{History: 10})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger, _ = logtest.New(t)
	}
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(room, cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.sio.Close()
		room.Close()
		store.Close()
	})
	return ts
}

func TestHostPolicy(t *testing.T) {
	public, _ := url.Parse("https://Chat.Example.org")
	p := newHostPolicy(public, []string{"extra.example", " Other.Example. "}, "pi.home.arpa")
	tests := []struct {
		host  string
		allow bool
	}{
		{"127.0.0.1:8080", true},
		{"192.168.1.20", true},
		{"[::1]:8080", true},
		{"[2001:db8::1]", true},
		{"localhost:8080", true},
		{"LOCALHOST.", true},
		{"app.localhost:3000", true},
		{"chat.example.org", true},
		{"CHAT.EXAMPLE.ORG:443", true},
		{"extra.example:8080", true},
		{"other.example", true},
		{"pi.home.arpa", true},
		{"pi", true},
		{"pi.local:8080", true},
		{"attacker.example:8080", false},
		{"chat.example.org.attacker.example", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io", false},
		{"raspberrypi.local", false},
		{"", false},
		{":8080", false},
	}
	for _, tt := range tests {
		if got := p.allows(tt.host); got != tt.allow {
			t.Errorf("allows(%q) = %v, want %v", tt.host, got, tt.allow)
		}
	}
	if none := newHostPolicy(nil, nil, ""); none.allows("chat.example.org") || !none.allows("localhost") {
		t.Error("a policy without names must allow localhost and nothing named")
	}
}

func TestForeignHostIsRefusedOnEveryRouteButTheHealthCheck(t *testing.T) {
	ts := newServerWith(t, Config{AllowedHosts: []string{"chat.example"}, Metrics: metrics.New()})
	get := func(path, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	const attacker = "attacker.example:8080"
	for _, path := range []string{"/", "/static/app.js", "/socket.io/socket.io.js", "/socket.io/?EIO=4&transport=polling", "/nope",
		"/readyz", "/metrics"} {
		code, body := get(path, attacker)
		if code != http.StatusMisdirectedRequest || !strings.Contains(body, "--allowed-hosts attacker.example") ||
			!strings.Contains(body, "--public-url") {
			t.Errorf("%s for %s: %d %q, want 421 naming the flags", path, attacker, code, body)
		}
		if code, _ := get(path, "chat.example:8080"); code == http.StatusMisdirectedRequest {
			t.Errorf("%s for an allowed host: 421", path)
		}
	}
	for _, path := range []string{"/livez", "/healthz"} {
		if code, body := get(path, attacker); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s for %s: %d %q, want 200 ok", path, attacker, code, body)
		}
	}
	if code, body := get("/", "<script>.example"); code != http.StatusMisdirectedRequest || strings.Contains(body, "<script>") {
		t.Errorf("a host that is not a plain name: %d %q, want 421 without quoting it", code, body)
	}

	header := http.Header{"Host": {attacker}}
	_, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=4&transport=websocket", header)
	if err == nil || res == nil || res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("WebSocket for %s: %v, %v; want 421", attacker, res, err)
	}
}

// TestPublicURLIsAnAllowedHostAndOrigin: the public URL's origin is
// allowed in the form browsers send it, without the scheme's default
// port, whether the URL writes that port or not.
func TestPublicURLIsAnAllowedHostAndOrigin(t *testing.T) {
	for _, publicURL := range []string{"https://chat.example.org", "https://chat.example.org:443", "HTTPS://Chat.Example.org:443/"} {
		t.Run(publicURL, func(t *testing.T) {
			public, err := url.Parse(publicURL)
			if err != nil {
				t.Fatal(err)
			}
			ts := newServerWith(t, Config{PublicURL: public})
			handshake := func(origin string) int {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, ts.URL+"/socket.io/?EIO=4&transport=polling", nil)
				req.Host = "chat.example.org"
				req.Header.Set("Origin", origin)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			// Over plain HTTP from an untrusted peer, the https page is
			// another origin, but the public URL's origin is allowed.
			if code := handshake("https://chat.example.org"); code != http.StatusOK {
				t.Errorf("handshake from the public origin: %d, want 200", code)
			}
			if code := handshake("http://chat.example.org:8080"); code != http.StatusForbidden {
				t.Errorf("handshake from another origin on the public host: %d, want 403", code)
			}
		})
	}
}

func TestRequestScheme(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}
	tests := []struct {
		name   string
		remote string
		proto  []string
		tls    bool
		want   string
	}{
		{name: "plain", remote: "192.0.2.7:4000", want: "http"},
		{name: "TLS", remote: "192.0.2.7:4000", tls: true, want: "https"},
		{name: "header from an untrusted peer", remote: "192.0.2.7:4000", proto: []string{"https"}, want: "http"},
		{name: "trusted proxy says https", remote: "10.0.0.1:4000", proto: []string{"https"}, want: "https"},
		{name: "trusted proxy, upper case", remote: "10.0.0.1:4000", proto: []string{"HTTPS"}, want: "https"},
		{name: "trusted proxy says http", remote: "10.0.0.1:4000", proto: []string{"http"}, want: "http"},
		{name: "right-most entry counts", remote: "10.0.0.1:4000", proto: []string{"http, https"}, want: "https"},
		{name: "right-most header counts", remote: "10.0.0.1:4000", proto: []string{"https", "http"}, want: "http"},
		{name: "nonsense", remote: "10.0.0.1:4000", proto: []string{"gopher"}, want: "http"},
		{name: "trusted proxy, no header", remote: "10.0.0.1:4000", want: "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.proto {
				r.Header.Add(forwardedProtoHeader, v)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := requestScheme(r, proxy); got != tt.want {
				t.Errorf("requestScheme = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAddressGroup(t *testing.T) {
	tests := []struct {
		addr string
		bits int
		want string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", 64, "2001:db8:1:3::/64"},
		{"2001:db8:1:2ff::1", 56, "2001:db8:1:200::/56"},
		{"2001:db8::1", 128, "2001:db8::1"},
		{"::1", 64, "::1"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"pipe", 64, "pipe"},
		{"", 64, ""},
	}
	for _, tt := range tests {
		if got := addressGroup(tt.addr, tt.bits); got != tt.want {
			t.Errorf("addressGroup(%q, %d) = %q, want %q", tt.addr, tt.bits, got, tt.want)
		}
	}
}

// TestJoinEstablishesTheConnection: a connection that has joined is no
// longer pending, so the pending timeout closes only those that have not.
func TestJoinEstablishesTheConnection(t *testing.T) {
	cfg := Config{}
	cfg.SocketIO.Engine.PendingTimeout = 300 * time.Millisecond
	ts := newServerWith(t, cfg)
	alice := dial(t, ts)
	alice.SendText(`420["join","alice"]`)
	alice.Expect(`42["add chatter","alice"]`)
	if ack := alice.NextText(); !strings.HasPrefix(ack, `430[{"ok":true`) {
		t.Fatalf("join ack %q", ack)
	}
	// Connected to the namespace but not joined: still pending.
	lurker := dial(t, ts)
	lurker.WaitClosed() // fails the test if the pending timeout does not close it
	// alice joined before the lurker connected, and is still there.
	alice.SendText(`421["messages","still here"]`)
	if msg := alice.NextText(); !strings.HasPrefix(msg, `42["messages","alice: still here"`) {
		t.Fatalf("alice got %q", msg)
	}
}
