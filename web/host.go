package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"chatserver/web/socketio/engineio"
)

// livenessPaths are the routes of the liveness check ("/healthz" is its
// older name), the only ones served whatever the Host header says: they
// tell nothing and change nothing, and health checkers often address the
// server by a name of their own (a container's service name, say).
var livenessPaths = []string{"/livez", "/healthz"}

// forwardedProtoHeader is the header in which a reverse proxy says which
// scheme the client used. Only proxies listed in TrustedProxies are
// believed.
const forwardedProtoHeader = "X-Forwarded-Proto"

// hostPolicy decides which Host headers the server answers, so that a page
// on a foreign name that resolves to this machine (DNS rebinding) cannot
// use it: IP literals, localhost and *.localhost, this machine's names, and
// the names configured (Config.PublicURL, Config.AllowedHosts).
type hostPolicy struct {
	names map[string]bool // lower case, without a trailing dot
}

// newHostPolicy returns the policy allowing public's host, extra and the
// machine name machine (as os.Hostname gives it; "" for none).
func newHostPolicy(public *url.URL, extra []string, machine string) hostPolicy {
	p := hostPolicy{names: make(map[string]bool)}
	add := func(name string) {
		if name = normalizeHost(name); name != "" {
			p.names[name] = true
		}
	}
	if public != nil {
		add(public.Hostname())
	}
	for _, h := range extra {
		add(h)
	}
	if machine = normalizeHost(machine); machine != "" {
		// The name itself, and the names mDNS gives the machine: the
		// short name (its first label) in .local.
		short, _, _ := strings.Cut(machine, ".")
		add(machine)
		add(short)
		add(short + ".local")
	}
	return p
}

// machineName is this machine's host name, or "" if it has none.
func machineName() string {
	name, err := os.Hostname()
	if err != nil {
		return ""
	}
	return name
}

// allows reports whether the server answers requests whose Host header
// is hostport (a host name or address, with or without a port).
func (p hostPolicy) allows(hostport string) bool {
	host := normalizeHost(hostOnly(hostport))
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	return p.names[host]
}

// guard answers requests for a Host the policy does not allow with 421
// and a line saying which flag allows it; the liveness check is exempt.
func (p hostPolicy) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(livenessPaths, r.URL.Path) || p.allows(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusMisdirectedRequest)
		fmt.Fprintln(w, refusedHostText(r.Host))
	})
}

// plainHostName matches what is worth quoting back in refusedHostText: a
// host name of letters, digits, dots and hyphens, no longer than DNS
// allows.
var plainHostName = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}$`)

// refusedHostText explains a refused Host header to whoever set the
// server up.
func refusedHostText(hostport string) string {
	name := normalizeHost(hostOnly(hostport))
	if !plainHostName.MatchString(name) {
		return "chatserver does not answer to this host name. If it is meant to reach this server, " +
			"start the server with --public-url (the address people open, such as https://chat.example.org) or --allowed-hosts."
	}
	return fmt.Sprintf("chatserver does not answer to the host name %s. If that name is meant to reach this server, "+
		"start the server with --public-url (the address people open, such as https://%s) or --allowed-hosts %s.", name, name, name)
}

// hostOnly returns the host part of a Host header: without the port, and
// an IPv6 address without its brackets.
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// normalizeHost makes host names comparable: trimmed, lower case, without
// the trailing dot of a fully qualified name.
func normalizeHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
}

// requestScheme returns the scheme by which the client reached the
// server: "https" over TLS; for a request from a trusted proxy, what the
// right-most entry of its X-Forwarded-Proto header says (the value the
// nearest proxy set or appended), when that is "http" or "https";
// otherwise "http". The origin check compares it with the Origin's.
func requestScheme(r *http.Request, trusted []netip.Prefix) string {
	if r.TLS != nil {
		return "https"
	}
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok || !isTrusted(peer, trusted) {
		return "http"
	}
	values := r.Header.Values(forwardedProtoHeader)
	if len(values) == 0 {
		return "http"
	}
	entries := strings.Split(values[len(values)-1], ",")
	switch proto := strings.ToLower(strings.TrimSpace(entries[len(entries)-1])); proto {
	case "http", "https":
		return proto
	}
	return "http"
}

// originOf returns the origin of u ("https://chat.example.org"), the form
// in which browsers send it (engineio.NormalizeOrigin: without the
// scheme's default port).
func originOf(u *url.URL) string {
	return engineio.NormalizeOrigin(u.Scheme + "://" + u.Host)
}
