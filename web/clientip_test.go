package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/siotest"
	"chatserver/web/socketio/engineio"
)

func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string // X-Forwarded-For header lines
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: the peer", "192.0.2.7:4000", []string{"203.0.113.9"}, nil, "192.0.2.7"},
		{"untrusted peer: its header is ignored", "192.0.2.7:4000", []string{"203.0.113.9"}, proxies, "192.0.2.7"},
		{"trusted peer without header: the peer", "127.0.0.1:4000", nil, proxies, "127.0.0.1"},
		{"trusted peer: the forwarded client", "127.0.0.1:4000", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"right-most untrusted entry wins over a spoofed left part", "127.0.0.1:4000",
			[]string{"198.51.100.1, 203.0.113.9"}, proxies, "203.0.113.9"},
		{"trusted hops are skipped", "127.0.0.1:4000", []string{"198.51.100.1, 203.0.113.9, 10.1.2.3"}, proxies, "203.0.113.9"},
		{"several header lines read as one list", "127.0.0.1:4000", []string{"198.51.100.1", "203.0.113.9, 10.1.2.3"}, proxies, "203.0.113.9"},
		{"every entry trusted: the left-most", "127.0.0.1:4000", []string{"10.0.0.5, 10.9.9.9"}, proxies, "10.0.0.5"},
		{"garbage entry: the nearest parsed hop", "127.0.0.1:4000", []string{"203.0.113.9, nonsense, 10.1.2.3"}, proxies, "10.1.2.3"},
		{"garbage right at the proxy: the proxy", "127.0.0.1:4000", []string{"nonsense"}, proxies, "127.0.0.1"},
		{"entries with ports", "127.0.0.1:4000", []string{"[2001:db8::1]:5555, 203.0.113.9:80"}, proxies, "203.0.113.9"},
		{"IPv6 proxy and client", "[fd00::1]:4000", []string{"2001:db8::1"}, proxies, "2001:db8::1"},
		{"IPv4-mapped peer is unmapped", "[::ffff:192.0.2.7]:4000", nil, nil, "192.0.2.7"},
		{"IPv4-mapped proxy is trusted as IPv4", "[::ffff:127.0.0.1]:4000", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"not a TCP address: as given", "@", nil, proxies, "@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tc.trusted); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{" 10.1.2.3/8 ", "192.0.2.1", "::1", "::ffff:172.16.0.0/108", ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("172.16.0.0/12"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"proxy.example.org", "10.0.0.0/33", "10.0.0", "fe80::1%eth0"} {
		_, err := ParseTrustedProxies([]string{"10.0.0.1", bad})
		var e *BadProxyError
		if !errors.As(err, &e) || e.Entry != bad {
			t.Errorf("ParseTrustedProxies(%q) = %v, want a BadProxyError naming it", bad, err)
		}
	}
}

// TestEngineAndRoomAskExemptIPAboutTheSameAddress: the per-address
// connection caps and the room's per-address limits exempt the same
// clients, since Engine.ExemptIP is asked about the same string, the
// client's address key (its /64 for IPv6), by both.
func TestEngineAndRoomAskExemptIPAboutTheSameAddress(t *testing.T) {
	asked := make(chan string, 16)
	cfg := Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}}
	cfg.SocketIO.Engine.MaxSessionsPerIP = 5
	cfg.SocketIO.Engine.ExemptIP = func(ip string) bool {
		asked <- ip
		return false
	}
	ts := newServerWith(t, cfg)
	c := siotest.Dial(t, ts.URL, siotest.Options{Header: http.Header{"X-Forwarded-For": {"2001:db8:1:2::7"}}})
	c.Connect("/", "")
	c.SendText(`420["join","alice"]`)
	c.Expect(`42["add chatter","alice"]`)
	for _, by := range []string{"the engine", "the room"} {
		select {
		case ip := <-asked:
			if ip != "2001:db8:1:2::/64" {
				t.Errorf("ExemptIP asked by %s about %q, want 2001:db8:1:2::/64", by, ip)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ExemptIP not asked by %s", by)
		}
	}
}

func TestPeerOf(t *testing.T) {
	only := func(ip string) func(string) bool { return func(s string) bool { return s == ip } }
	for _, tc := range []struct {
		ip     string
		exempt func(string) bool
		want   chat.Peer
	}{
		{"203.0.113.7", engineio.IsLoopback, chat.Peer{Addr: "203.0.113.7", Key: "203.0.113.7"}},
		{"2001:db8:1:2::7", engineio.IsLoopback, chat.Peer{Addr: "2001:db8:1:2::7", Key: "2001:db8:1:2::/64"}},
		{"127.0.0.1", engineio.IsLoopback, chat.Peer{Addr: "127.0.0.1"}},
		{"127.8.9.1", engineio.IsLoopback, chat.Peer{Addr: "127.8.9.1"}},
		{"::1", engineio.IsLoopback, chat.Peer{Addr: "::1"}},
		{"127.0.0.1", only("203.0.113.7"), chat.Peer{Addr: "127.0.0.1", Key: "127.0.0.1"}},
		{"203.0.113.7", only("203.0.113.7"), chat.Peer{Addr: "203.0.113.7"}},
		// exempt is asked about the key, as Engine.ExemptIP is.
		{"2001:db8:1:2::7", only("2001:db8:1:2::/64"), chat.Peer{Addr: "2001:db8:1:2::7"}},
		{"2001:db8:1:2::7", only("2001:db8:1:2::7"), chat.Peer{Addr: "2001:db8:1:2::7", Key: "2001:db8:1:2::/64"}},
	} {
		if got := peerOf(tc.ip, DefaultIPv6Prefix, tc.exempt); got != tc.want {
			t.Errorf("peerOf(%q) = %+v, want %+v", tc.ip, got, tc.want)
		}
	}
}
