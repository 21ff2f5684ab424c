package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
)

// MaxSourceAddrs bounds Config.SourceAddrs: each address carries about
// 28,000 connections to one server port, so 1024 of them carry far more
// than the file limit lets one process open (fs.nr_open is 1,048,576 by
// default on Linux, about 37 addresses' worth).
const MaxSourceAddrs = 1024

// ErrSourceAddr is wrapped by the errors about a source address that this
// machine cannot connect from.
var ErrSourceAddr = errors.New("unusable source address")

// ParseSourceAddrs reads a list of local IPv4 addresses to connect from:
// comma-separated items, each one address (127.0.0.1) or an inclusive
// range (127.0.0.1-127.0.0.8). The empty string is the empty list (the
// system chooses). An address listed twice, a range that runs backwards,
// an IPv6 address or more than MaxSourceAddrs addresses in all is an
// error.
func ParseSourceAddrs(s string) ([]netip.Addr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var addrs []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) error {
		if seen[a] {
			return fmt.Errorf("%s is listed twice", a)
		}
		if len(addrs) == MaxSourceAddrs {
			return fmt.Errorf("more than %d addresses", MaxSourceAddrs)
		}
		seen[a] = true
		addrs = append(addrs, a)
		return nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("empty item in %q", s)
		}
		first, last, isRange := strings.Cut(item, "-")
		lo, err := parseIPv4(first)
		if err != nil {
			return nil, err
		}
		hi := lo
		if isRange {
			if hi, err = parseIPv4(last); err != nil {
				return nil, err
			}
			if hi.Less(lo) {
				return nil, fmt.Errorf("range %s runs backwards", item)
			}
		}
		for a := lo; ; a = a.Next() {
			if err := add(a); err != nil {
				return nil, err
			}
			if a == hi {
				break
			}
		}
	}
	return addrs, nil
}

// parseIPv4 parses one IPv4 address of a source list.
func parseIPv4(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	case !a.Is4():
		return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address", s)
	case a.IsUnspecified():
		return netip.Addr{}, fmt.Errorf("%s is not a single address", s)
	}
	return a, nil
}

// sourcePicker hands out a run's source addresses round-robin, one per
// dial, from any goroutine.
type sourcePicker struct {
	addrs []netip.Addr
	next  atomic.Uint64
}

// newSourcePicker returns a picker over addrs, or nil when addrs is empty
// (the system chooses each connection's local address).
func newSourcePicker(addrs []netip.Addr) *sourcePicker {
	if len(addrs) == 0 {
		return nil
	}
	return &sourcePicker{addrs: addrs}
}

// pick returns the next address in turn.
func (p *sourcePicker) pick() netip.Addr {
	n := p.next.Add(1) - 1
	return p.addrs[n%uint64(len(p.addrs))]
}

// dialContext dials from the next source address in turn; it is the dial
// function of the WebSocket dialer and of the polling HTTP transport. Its
// errors name the local address already (dial tcp 127.0.0.2:0->...).
func (p *sourcePicker) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.pick(), 0))}
	return d.DialContext(ctx, network, addr)
}

// explainDial adds the likely cause to a dial error that says no local
// port was free: connect(2) without a source address fails with
// EADDRNOTAVAIL then, and bind(2) to a source address with port 0 with
// EADDRINUSE.
func explainDial(err error) error {
	if !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	return fmt.Errorf("%w (no local port left: one source address reaches one server port through at most "+
		"the ephemeral port range, net.ipv4.ip_local_port_range on Linux, and ports still in TIME_WAIT "+
		"from an earlier run count; spread the clients over more source addresses)", err)
}

// checkSourceAddrs binds a listener to each address and closes it again,
// so that an address this machine does not have fails the run before the
// first client, in plain words.
func checkSourceAddrs(addrs []netip.Addr) error {
	for _, a := range addrs {
		ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
		if err != nil {
			hint := "it is probably not an address of this machine"
			if a.IsLoopback() {
				hint = "on Linux every address of 127.0.0.0/8 is loopback, elsewhere only 127.0.0.1 may be " +
					"unless another is added to the loopback interface (macOS: sudo ifconfig lo0 alias " + a.String() + ")"
			}
			return fmt.Errorf("%w: %s cannot be bound (%w); %s", ErrSourceAddr, a, err, hint)
		}
		if err := ln.Close(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSourceAddr, a, err)
		}
	}
	return nil
}
