package cmd

import (
	"slices"
	"strings"
	"testing"
	"time"

	"chatserver/web"
)

func TestServeHostAndPendingFlagsReachTheConfig(t *testing.T) {
	t.Setenv("CHATSERVER_ALLOWED_HOSTS", "chat.lan,pi.example")
	t.Setenv("CHATSERVER_MAX_PENDING_PER_IP", "4")
	o := parseServe(t, "--public-url", "https://Chat.Example.org/", "--max-pending", "30",
		"--pending-timeout", "3s", "--ipv6-prefix", "56")
	w, e := o.web, o.web.SocketIO.Engine
	if w.PublicURL == nil || w.PublicURL.Scheme != "https" || w.PublicURL.Host != "Chat.Example.org" {
		t.Errorf("public URL %v, want https://Chat.Example.org", w.PublicURL)
	}
	if !slices.Equal(w.AllowedHosts, []string{"chat.lan", "pi.example"}) {
		t.Errorf("allowed hosts %q, want CHATSERVER_ALLOWED_HOSTS's", w.AllowedHosts)
	}
	if e.MaxPending != 30 || e.MaxPendingPerIP != 4 || e.PendingTimeout != 3*time.Second || w.IPv6Prefix != 56 {
		t.Errorf("max pending %d, per address %d, timeout %s, IPv6 prefix %d; want 30, 4, 3s, 56",
			e.MaxPending, e.MaxPendingPerIP, e.PendingTimeout, w.IPv6Prefix)
	}
}

func TestServeHostAndPendingDefaults(t *testing.T) {
	o := parseServe(t)
	w, e := o.web, o.web.SocketIO.Engine
	if w.PublicURL != nil || len(w.AllowedHosts) != 0 || w.IPv6Prefix != web.DefaultIPv6Prefix ||
		e.MaxPending != defaultMaxPending || e.MaxPendingPerIP != defaultMaxPendingPerIP || e.PendingTimeout != defaultPendingTimeout {
		t.Errorf("defaults: public URL %v, hosts %q, IPv6 prefix %d, pending %d/%d/%s", w.PublicURL, w.AllowedHosts,
			w.IPv6Prefix, e.MaxPending, e.MaxPendingPerIP, e.PendingTimeout)
	}
	if o := parseServe(t, "--pending-timeout", "0", "--max-pending", "0", "--max-pending-per-ip", "0"); o.web.SocketIO.Engine.PendingTimeout != 0 {
		t.Errorf("--pending-timeout 0 gave %s", o.web.SocketIO.Engine.PendingTimeout)
	}
}

func TestServeRefusesBadHostAndPendingFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"public URL without scheme", []string{"--public-url", "chat.example.org"}, `--public-url must be a scheme and a host such as https://chat.example.org, got "chat.example.org"`},
		{"public URL with a path", []string{"--public-url", "https://example.org/chat"}, "--public-url must be a scheme and a host"},
		{"public URL of another scheme", []string{"--public-url", "ftp://example.org"}, "--public-url must be a scheme and a host"},
		{"public URL with a query", []string{"--public-url", "https://example.org/?x=1"}, "--public-url must be a scheme and a host"},
		{"allowed host with a scheme", []string{"--allowed-hosts", "https://chat.example.org"}, `--allowed-hosts entries must be host names such as chat.example.org, got "https://chat.example.org"`},
		{"allowed host with a port", []string{"--allowed-hosts", "chat.lan:8080"}, "--allowed-hosts entries must be host names"},
		{"allowed host wildcard", []string{"--allowed-hosts", "*.example.org"}, "--allowed-hosts entries must be host names"},
		{"empty allowed host", []string{"--allowed-hosts", "chat.lan,,pi.lan"}, "--allowed-hosts entries must be host names"},
		{"negative pending cap", []string{"--max-pending", "-1"}, "--max-pending must be between 0 and"},
		{"negative pending cap per address", []string{"--max-pending-per-ip", "-1"}, "--max-pending-per-ip must be between 0 and"},
		{"pending timeout too short", []string{"--pending-timeout", "10ms"}, "--pending-timeout must be 0 (no limit) or between 100ms and 1h0m0s, got 10ms"},
		{"negative pending timeout", []string{"--pending-timeout", "-1s"}, "--pending-timeout must be 0 (no limit) or between"},
		{"IPv6 prefix too short", []string{"--ipv6-prefix", "16"}, "--ipv6-prefix must be between 32 and 128, got 16"},
		{"IPv6 prefix too long", []string{"--ipv6-prefix", "129"}, "--ipv6-prefix must be between 32 and 128, got 129"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"serve"}, tc.args...)...)
			if r.code != exitError || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, exitError, tc.want)
			}
		})
	}
}
