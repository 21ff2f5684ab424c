package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ErrMachineLimit is wrapped by the errors about a run that this machine
// cannot carry as configured: too few file descriptors for the clients, or
// too few local ports for their connections.
var ErrMachineLimit = errors.New("the machine cannot carry this run")

// fdReserve is the file descriptors the load tool needs besides its
// connections: standard input, output and error, the runtime's poller and
// its wake-up descriptor, the /proc files it reads, the WebSocket pollers
// (three each, at most maxPollers), with room to spare.
const fdReserve = 16 + 3*maxPollers

// connsPerClient is how many TCP connections (and so file descriptors and
// local ports) one client holds at once: one WebSocket, or for polling one
// held GET and one POST.
func connsPerClient(transport string) int {
	if transport == TransportPolling {
		return 2
	}
	return 1
}

// fileLimitError reports whether a process whose RLIMIT_NOFILE is soft
// (hard) can hold clients clients over transport; nil when it can. Go's
// runtime already raises the soft limit to just below the hard one when a
// program starts (on every Unix since Go 1.19), so the tool does not raise
// it itself: a soft limit still below the need means the hard limit is too
// low, or something lowered the soft one since.
func fileLimitError(clients int, transport string, soft, hard uint64) error {
	per := connsPerClient(transport)
	need := uint64(clients)*uint64(per) + fdReserve
	if need <= soft {
		return nil
	}
	raise := "raise the hard limit (as root: ulimit -Hn, LimitNOFILE= in a systemd unit, or limits.conf) " +
		"or split the clients over several bench processes"
	if need <= hard {
		raise = "raise the soft limit (ulimit -Sn " + strconv.FormatUint(hard, 10) + ")"
	}
	return fmt.Errorf("%w: %d %s clients need about %d open files (%d each, %d for the tool), "+
		"but this process may open %d (RLIMIT_NOFILE soft %d, hard %d): %s",
		ErrMachineLimit, clients, transport, need, per, fdReserve, soft, soft, hard, raise)
}

// portRangeFile holds Linux's ephemeral port range: the local ports the
// kernel picks from when a connection or a bind does not name one.
const portRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// parsePortRange reads the contents of portRangeFile ("32768\t60999\n").
func parsePortRange(b []byte) (lo, hi int, err error) {
	f := bytes.Fields(b)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("port range %q: want two numbers", b)
	}
	if lo, err = strconv.Atoi(string(f[0])); err == nil {
		hi, err = strconv.Atoi(string(f[1]))
	}
	if err != nil || lo < 1 || hi > 65535 || hi < lo {
		return 0, 0, fmt.Errorf("port range %q: not two ports, low to high", b)
	}
	return lo, hi, nil
}

// portRangeError reports whether clients clients over transport, spread
// round-robin over sources source addresses (0: the system chooses, which
// is one address for one server), fit in the ephemeral port range lo..hi:
// one source address reaches one server address and port through at most
// that many connections. Nil when they fit.
func portRangeError(clients int, transport string, sources, lo, hi int) error {
	ports := hi - lo + 1
	addrs := max(sources, 1)
	conns := clients * connsPerClient(transport)
	perAddr := (conns + addrs - 1) / addrs
	if perAddr <= ports {
		return nil
	}
	need := (conns + ports - 1) / ports
	example := ""
	if need <= 254 {
		example = fmt.Sprintf(" (on Linux, say, 127.0.0.1-127.0.0.%d)", need)
	}
	return fmt.Errorf("%w: %d %s clients open %d connections, %d from each of %d source addresses, "+
		"but one source address reaches one server port through at most %d local ports "+
		"(%s is %d-%d): connect from at least %d source addresses%s",
		ErrMachineLimit, clients, transport, conns, perAddr, addrs, ports, portRangeFile, lo, hi, need, example)
}

// checkMachine fails a run that this machine cannot carry, before its
// first client: too few file descriptors, or on Linux too few ephemeral
// ports for the connections. A limit it cannot read is not checked.
func checkMachine(cfg *Config) error {
	if soft, hard, ok := fileLimit(); ok {
		if err := fileLimitError(cfg.Clients, cfg.Transport, soft, hard); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(portRangeFile); err == nil {
		if lo, hi, err := parsePortRange(b); err == nil {
			return portRangeError(cfg.Clients, cfg.Transport, len(cfg.SourceAddrs), lo, hi)
		}
	}
	return nil
}
