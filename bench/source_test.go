package bench

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"chatserver/internal/leaktest"
)

// addrs parses a space-separated list of addresses for the tests.
func addrs(t *testing.T, s string) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, f := range strings.Fields(s) {
		out = append(out, netip.MustParseAddr(f))
	}
	return out
}

func TestParseSourceAddrsReadsAddressesAndRanges(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"  ", ""},
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1-127.0.0.4", "127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4"},
		{"127.0.0.7-127.0.0.7", "127.0.0.7"},
		{"127.0.0.1,127.0.0.3", "127.0.0.1 127.0.0.3"},
		{" 127.0.0.9 , 127.0.0.2 - 127.0.0.3 ", "127.0.0.9 127.0.0.2 127.0.0.3"},
		{"10.0.0.254-10.0.1.1", "10.0.0.254 10.0.0.255 10.0.1.0 10.0.1.1"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSourceAddrs(tc.in)
			if err != nil {
				t.Fatalf("ParseSourceAddrs(%q): %v", tc.in, err)
			}
			want := addrs(t, tc.want)
			if len(got) != len(want) {
				t.Fatalf("ParseSourceAddrs(%q) = %v, want %v", tc.in, got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("ParseSourceAddrs(%q) = %v, want %v", tc.in, got, want)
				}
			}
		})
	}
}

func TestParseSourceAddrsRefusesBadLists(t *testing.T) {
	for _, tc := range []struct {
		in, wantErr string
	}{
		{"localhost", "not an IP address"},
		{"127.0.0.256", "not an IP address"},
		{"127.0.0.1-", "not an IP address"},
		{"127.0.0.1-127.0.0.2-127.0.0.3", "not an IP address"},
		{"::1", "not an IPv4 address"},
		{"::ffff:127.0.0.1", "not an IPv4 address"},
		{"127.0.0.1-::1", "not an IPv4 address"},
		{"0.0.0.0", "not a single address"},
		{"127.0.0.1,", "empty item"},
		{"127.0.0.1,,127.0.0.2", "empty item"},
		{"127.0.0.5-127.0.0.1", "runs backwards"},
		{"127.0.0.1,127.0.0.1", "127.0.0.1 is listed twice"},
		{"127.0.0.1-127.0.0.4,127.0.0.3", "127.0.0.3 is listed twice"},
		{"10.0.0.0-10.0.3.255", ""}, // exactly MaxSourceAddrs
		{"10.0.0.0-10.0.4.0", "more than 1024 addresses"},
		{"0.0.0.1-255.255.255.255", "more than 1024 addresses"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSourceAddrs(tc.in)
			if tc.wantErr == "" {
				if err != nil || len(got) != MaxSourceAddrs {
					t.Fatalf("ParseSourceAddrs(%q) = %d addresses, %v; want %d", tc.in, len(got), err, MaxSourceAddrs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseSourceAddrs(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
			}
		})
	}
}

func TestSourcePickerGoesRoundRobin(t *testing.T) {
	if newSourcePicker(nil) != nil {
		t.Fatal("a picker without addresses should be nil (the system chooses)")
	}
	p := newSourcePicker(addrs(t, "127.0.0.1 127.0.0.2 127.0.0.3"))
	want := addrs(t, "127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.1")
	for i, w := range want {
		if got := p.pick(); got != w {
			t.Fatalf("pick %d = %s, want %s", i, got, w)
		}
	}
}

func TestSourcePickerSharesEvenlyBetweenGoroutines(t *testing.T) {
	p := newSourcePicker(addrs(t, "127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4"))
	const goroutines, each = 8, 100
	var (
		mu     sync.Mutex
		counts = map[netip.Addr]int{}
		wg     sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			for range each {
				a := p.pick()
				mu.Lock()
				counts[a]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, a := range p.addrs {
		if counts[a] != goroutines*each/len(p.addrs) {
			t.Errorf("%s picked %d times, want %d (all: %v)", a, counts[a], goroutines*each/len(p.addrs), counts)
		}
	}
}

func TestValidateChecksSourceAddrs(t *testing.T) {
	many := make([]netip.Addr, MaxSourceAddrs+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	for _, tc := range []struct {
		name    string
		url     string
		addrs   []netip.Addr
		wantErr string
	}{
		{"none", DefaultURL, nil, ""},
		{"two loopback", DefaultURL, addrs(t, "127.0.0.1 127.0.0.2"), ""},
		{"host name", "http://localhost:8080", addrs(t, "127.0.0.1"), ""},
		{"IPv6 url without sources", "http://[::1]:8080", nil, ""},
		{"IPv6 source", DefaultURL, addrs(t, "::1"), "not one IPv4 address"},
		{"unspecified", DefaultURL, addrs(t, "0.0.0.0"), "not one IPv4 address"},
		{"zero address", DefaultURL, []netip.Addr{{}}, "not one IPv4 address"},
		{"twice", DefaultURL, addrs(t, "127.0.0.2 127.0.0.2"), "listed twice"},
		{"too many", DefaultURL, many, "at most 1024 source addresses"},
		{"IPv6 url", "http://[::1]:8080", addrs(t, "127.0.0.1"), "is IPv6 but the source addresses are IPv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.URLs = []string{tc.url}
			cfg.SourceAddrs = tc.addrs
			wantValid(t, cfg, tc.wantErr)
		})
	}
}

// requireBindable skips the test unless this machine can connect from a.
func requireBindable(t *testing.T, a string) {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(a, "0"))
	if err != nil {
		t.Skipf("cannot bind %s here (only Linux has all of 127.0.0.0/8 on loopback): %v", a, err)
	}
	ln.Close()
}

func TestRunConnectsFromEverySourceAddress(t *testing.T) {
	requireBindable(t, "127.0.0.2")
	for _, tc := range []struct {
		transport string
		// perIP is the exact number of connections from each address, or
		// 0 when only "at least one" is certain (polling's connection
		// pool may open one connection more or fewer per address).
		perIP int
	}{
		{TransportWebSocket, 3},
		{TransportPolling, 0},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			leaktest.Check(t)
			srv, fake := startFakeChat(t, false)
			cfg := testConfig(srv.URL, tc.transport)
			cfg.Clients = 6
			cfg.SourceAddrs = addrs(t, "127.0.0.1 127.0.0.2")
			res, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Joined != 6 || res.Loss != 0 || res.SourceAddrs != 2 {
				t.Fatalf("joined %d, loss %d, source addrs %d; want 6, 0, 2 (first error %q)",
					res.Joined, res.Loss, res.SourceAddrs, res.FirstError)
			}
			byIP := fake.connectionsByIP(t)
			if len(byIP) != 2 {
				t.Fatalf("connections came from %v, want from 127.0.0.1 and 127.0.0.2 only", byIP)
			}
			for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
				if n := byIP[ip]; n == 0 || (tc.perIP > 0 && n != tc.perIP) {
					t.Errorf("%d connections from %s, want %d (all: %v)", n, ip, max(tc.perIP, 1), byIP)
				}
			}
		})
	}
}

func TestRunWithoutSourceAddrsLetsTheSystemChoose(t *testing.T) {
	leaktest.Check(t)
	srv, fake := startFakeChat(t, false)
	cfg := testConfig(srv.URL, TransportWebSocket)
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if byIP := fake.connectionsByIP(t); byIP["127.0.0.1"] != cfg.Clients || len(byIP) != 1 {
		t.Fatalf("connections by address %v, want all %d from 127.0.0.1", byIP, cfg.Clients)
	}
	if res.SourceAddrs != 0 {
		t.Errorf("result source addrs = %d, want 0", res.SourceAddrs)
	}
}

func TestRunRefusesASourceAddressItCannotBind(t *testing.T) {
	// 192.0.2.1 is TEST-NET-1: no machine has it, unless non-local binds
	// are allowed.
	if ln, err := net.Listen("tcp4", "192.0.2.1:0"); err == nil {
		ln.Close()
		t.Skip("this machine binds addresses it does not have (net.ipv4.ip_nonlocal_bind)")
	}
	for _, tc := range []struct {
		addr, wantHint string
	}{
		{"192.0.2.1", "not an address of this machine"},
		// 127.0.0.2 is bindable on Linux; elsewhere this case is the one
		// that fails, with the loopback hint.
		{"127.0.0.2", "127.0.0.0/8 is loopback"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if tc.addr == "127.0.0.2" {
				if ln, err := net.Listen("tcp4", "127.0.0.2:0"); err == nil {
					ln.Close()
					t.Skip("127.0.0.2 is bindable here")
				}
			}
			srv, _ := startFakeChat(t, false)
			cfg := testConfig(srv.URL, TransportWebSocket)
			cfg.SourceAddrs = addrs(t, "127.0.0.1 "+tc.addr)
			res, err := Run(context.Background(), cfg, nil)
			if !errors.Is(err, ErrSourceAddr) || res != nil {
				t.Fatalf("Run = %v, %v; want no result and ErrSourceAddr", res, err)
			}
			for _, want := range []string{tc.addr + " cannot be bound", tc.wantHint} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// wantValid checks cfg.Validate: no error when wantErr is "", else an
// ErrInvalidConfig whose text holds wantErr.
func wantValid(t *testing.T, cfg Config, wantErr string) {
	t.Helper()
	err := cfg.Validate()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig containing %q", err, wantErr)
	}
}
