package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// forwardedForHeader is the header a reverse proxy appends the address it
// received the request from to. Only proxies listed in TrustedProxies are
// believed.
const forwardedForHeader = "X-Forwarded-For"

// ClientIP returns the address of the client that made r, as a string
// such as "192.0.2.7" or "2001:db8::1" (IPv4-mapped IPv6 addresses are
// written as IPv4).
//
// It is the TCP peer of the request, unless that peer is in trusted (a
// reverse proxy of this installation). Then the X-Forwarded-For header is
// read from right to left, the order in which proxies appended to it,
// skipping addresses that are themselves trusted proxies: the first
// untrusted address is the client. Addresses left of it were written by
// the client and are never believed. When every address is trusted, the
// left-most one is the client; when the header is missing, or an entry
// cannot be parsed (a broken or lying hop), the nearest address that could
// be parsed is used, so a bad header never lets a client pick its address.
//
// The Engine.IO layer calls it once per handshake, to apply the
// per-address connection cap.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		// Not a TCP address (a test's fake request, a Unix socket): the
		// raw value still tells connections apart.
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	client := peer
	values := r.Header.Values(forwardedForHeader)
	for i := len(values) - 1; i >= 0; i-- {
		entries := strings.Split(values[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			addr, ok := parseHostAddr(strings.TrimSpace(entries[j]))
			if !ok {
				return client.String()
			}
			client = addr
			if !isTrusted(addr, trusted) {
				return addr.String()
			}
		}
	}
	return client.String()
}

// parseHostAddr parses an address with or without a port ("192.0.2.7",
// "192.0.2.7:4000", "[2001:db8::1]:4000", "2001:db8::1"), dropping any
// IPv6 zone and unmapping IPv4-mapped IPv6.
func parseHostAddr(s string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.WithZone("").Unmap(), true
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.WithZone("").Unmap(), true
}

// isTrusted reports whether addr is inside one of the trusted prefixes.
func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a list of trusted proxies, each an address
// ("10.0.0.1", "::1") or a network in CIDR notation ("10.0.0.0/8",
// "fd00::/8"). Networks are normalised to their masked form. The command
// line validates with it; the error names the first bad entry.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, &BadProxyError{Entry: s}
			}
			if p.Addr().Is4In6() && p.Bits() >= mappedPrefixBits {
				// ::ffff:10.0.0.0/104 is 10.0.0.0/8 written as IPv6;
				// client addresses are unmapped, so the network must be.
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-mappedPrefixBits)
			}
			out = append(out, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return nil, &BadProxyError{Entry: s}
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}

// mappedPrefixBits is the length of the ::ffff:0:0/96 prefix that turns an
// IPv4 address into an IPv4-mapped IPv6 one.
const mappedPrefixBits = 96

// BadProxyError is returned by ParseTrustedProxies for an entry that is
// neither an IP address nor a CIDR network.
type BadProxyError struct {
	Entry string
}

func (e *BadProxyError) Error() string {
	return "not an IP address or CIDR network: " + e.Entry
}

// DefaultIPv6Prefix is Config.IPv6Prefix's default: an IPv6 subscriber is
// usually given a whole /64 and can use any address in it, so a /64 is
// one client for the per-address caps.
const DefaultIPv6Prefix = 64

// addressGroup returns the key under which the per-address caps and rate
// limits count addr, an address as ClientIP returns it: an IPv4 address
// itself (an IPv4-mapped IPv6 address as IPv4), an IPv6 address its
// network of the first bits bits ("2001:db8:1:2::/64"), so that one
// client cannot be many by picking addresses in its own network.
// Loopback (a host of its own, and exempt from the caps by that name),
// bits outside 1–127, and strings that are not addresses leave addr as it
// is.
func addressGroup(addr string, bits int) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if ip = ip.WithZone("").Unmap(); ip.Is4() {
		return ip.String()
	}
	if ip.IsLoopback() || bits <= 0 || bits >= ip.BitLen() {
		return addr
	}
	p, err := ip.WithZone("").Prefix(bits)
	if err != nil {
		return addr
	}
	return p.String()
}
