package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFileLimitErrorCountsDescriptorsPerClient(t *testing.T) {
	for _, tc := range []struct {
		name       string
		clients    int
		transport  string
		soft, hard uint64
		want       string // "" for no error, else part of the message
	}{
		{"websocket fits", 10000, TransportWebSocket, 20000, 20000, ""},
		{"websocket fits exactly", 10000 - fdReserve, TransportWebSocket, 10000, 10000, ""},
		{"websocket one over", 10000 - fdReserve + 1, TransportWebSocket, 10000, 10000, "need about 10001 open files (1 each"},
		{"polling needs two each", 10000, TransportPolling, 19999, 20000, "need about 20040 open files (2 each"},
		{"polling fits", 9000, TransportPolling, 19999, 20000, ""},
		{"hard limit too low", 30000, TransportWebSocket, 19999, 20000, "raise the hard limit"},
		{"soft limit lowered", 30000, TransportWebSocket, 1024, 1048576, "raise the soft limit (ulimit -Sn 1048576)"},
		{"names both limits", 5000, TransportWebSocket, 1024, 4096, "RLIMIT_NOFILE soft 1024, hard 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fileLimitError(tc.clients, tc.transport, tc.soft, tc.hard)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("fileLimitError: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMachineLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("fileLimitError = %v, want ErrMachineLimit containing %q", err, tc.want)
			}
		})
	}
}

func TestPortRangeErrorCountsConnectionsPerSourceAddress(t *testing.T) {
	const lo, hi = 32768, 60999 // Linux's default: 28,232 ports
	for _, tc := range []struct {
		name      string
		clients   int
		transport string
		sources   int
		want      string
	}{
		{"10,000 from the system's choice", 10000, TransportWebSocket, 0, ""},
		{"exactly the range", 28232, TransportWebSocket, 1, ""},
		{"one over the range", 28233, TransportWebSocket, 0, "28233 from each of 1 source addresses"},
		{"suggests enough addresses", 28233, TransportWebSocket, 0, "at least 2 source addresses (on Linux, say, 127.0.0.1-127.0.0.2)"},
		{"polling holds two each", 15000, TransportPolling, 1, "open 30000 connections"},
		{"polling over two addresses", 15000, TransportPolling, 2, ""},
		{"spread over eight", 200000, TransportWebSocket, 8, ""},
		{"rounded up per address", 56465, TransportWebSocket, 2, "28233 from each of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := portRangeError(tc.clients, tc.transport, tc.sources, lo, hi)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("portRangeError: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMachineLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("portRangeError = %v, want ErrMachineLimit containing %q", err, tc.want)
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"32768\t60999\n", 32768, 60999, true},
		{"1024 65535", 1024, 65535, true},
		{"5000 5000", 5000, 5000, true},
		{"", 0, 0, false},
		{"32768", 0, 0, false},
		{"60999 32768", 0, 0, false},
		{"0 100", 0, 0, false},
		{"1024 65536", 0, 0, false},
		{"a b", 0, 0, false},
		{"1 2 3", 0, 0, false},
	} {
		lo, hi, err := parsePortRange([]byte(tc.in))
		if (err == nil) != tc.ok || lo != tc.lo || hi != tc.hi {
			t.Errorf("parsePortRange(%q) = %d, %d, %v; want %d, %d, ok %v", tc.in, lo, hi, err, tc.lo, tc.hi, tc.ok)
		}
	}
}

func TestRunRefusesMoreClientsThanTheFileLimit(t *testing.T) {
	soft, _, ok := fileLimit()
	if !ok {
		t.Skip("no RLIMIT_NOFILE here")
	}
	if soft > 1<<22 {
		t.Skipf("soft file limit %d: too many clients to configure", soft)
	}
	cfg := testConfig("http://127.0.0.1:1", TransportWebSocket)
	cfg.Clients = int(soft) // plus the reserve is over the limit
	res, err := Run(context.Background(), cfg, nil)
	if !errors.Is(err, ErrMachineLimit) || res != nil {
		t.Fatalf("Run = %v, %v; want no result and ErrMachineLimit", res, err)
	}
	if !strings.Contains(err.Error(), "open files") {
		t.Errorf("error %q does not say what ran out", err)
	}
}
