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

// ipv6ClientBits is the prefix length of the IPv6 network one client is
// taken to hold: a /64 is the smallest allocation of a subscriber, and a
// host picks any address inside it (privacy addresses change daily), so
// counting per address would let one client be many.
const ipv6ClientBits = 64

// AddressKey returns the key that groups ip with the other addresses of the
// same client, for the per-address rate limits: an IPv4 address itself,
// the /64 network of an IPv6 address ("2001:db8:1:2::/64"), and anything
// that does not parse as an address unchanged. ip is as ClientIP returns
// it.
func AddressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(ipv6ClientBits)
	if err != nil {
		return ip
	}
	return p.String()
}

// isLoopback reports whether ip is a loopback address (127.0.0.0/8, ::1):
// the clients exempt from the per-address limits, as they are from the
// per-address connection cap unless engineio.Config.ExemptIP says
// otherwise.
func isLoopback(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	return err == nil && addr.Unmap().IsLoopback()
}
