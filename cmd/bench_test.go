package cmd

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestBenchSourceAddrsFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the flag's value as String prints it
	}{
		{nil, ""},
		{[]string{"--source-addrs", "127.0.0.1-127.0.0.3"}, "127.0.0.1,127.0.0.2,127.0.0.3"},
		{[]string{"--source-addrs", "127.0.0.5,127.0.0.1"}, "127.0.0.5,127.0.0.1"},
		// The last one given wins, as with any flag.
		{[]string{"--source-addrs", "127.0.0.1", "--source-addrs", "127.0.0.2"}, "127.0.0.2"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var o benchOptions
			fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
			o.addFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parse %q: %v", tc.args, err)
			}
			if got := fs.Lookup("source-addrs").Value.String(); got != tc.want {
				t.Errorf("--source-addrs = %q, want %q", got, tc.want)
			}
			var got []string
			for _, a := range o.cfg.SourceAddrs {
				got = append(got, a.String())
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("config has source addresses %v, want %q", got, tc.want)
			}
		})
	}
}

func TestBenchRefusesWhatCannotWork(t *testing.T) {
	// Nothing listens on port 1; every case fails before the first dial.
	url := []string{"bench", "--url", "http://127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"source range backwards", []string{"--source-addrs", "127.0.0.9-127.0.0.1"}, exitUsage,
			`invalid argument "127.0.0.9-127.0.0.1" for "--source-addrs" flag: range 127.0.0.9-127.0.0.1 runs backwards`},
		{"IPv6 source", []string{"--source-addrs", "::1"}, exitUsage, "::1 is not an IPv4 address"},
		{"source address of another machine", []string{"--source-addrs", "192.0.2.1"}, exitError,
			"unusable source address: 192.0.2.1 cannot be bound"},
		{"more clients than the file limit", []string{"--clients", "100000000"}, exitError, "open files"},
		{"a bad room name", []string{"--room", "Games"}, exitUsage, `room: the room name "Games"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.want, "cannot be bound") {
				if ln, err := net.Listen("tcp4", "192.0.2.1:0"); err == nil {
					ln.Close()
					t.Skip("this machine binds addresses it does not have (net.ipv4.ip_nonlocal_bind)")
				}
			}
			r := run(t, append(url, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, tc.code, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("printed a result for a run that cannot work: %q", r.stdout)
			}
		})
	}
}

func TestBenchListFlags(t *testing.T) {
	for _, tc := range []struct {
		name                string
		args                []string
		urls                string
		serverPIDs, auxPIDs string
	}{
		{"defaults", nil, "http://127.0.0.1:8080", "", ""},
		{"one of each", []string{"--url", "http://127.0.0.1:1", "--server-pid", "10", "--aux-pid", "12"},
			"http://127.0.0.1:1", "10", "12"},
		{"comma lists", []string{"--url", "http://127.0.0.1:1,http://127.0.0.1:2", "--server-pid", "10,11", "--aux-pid", "12,13"},
			"http://127.0.0.1:1 http://127.0.0.1:2", "10 11", "12 13"},
		{"repeated flags add up", []string{"--url", "http://127.0.0.1:1", "--url", "http://127.0.0.1:2", "--server-pid", "10", "--server-pid", "11"},
			"http://127.0.0.1:1 http://127.0.0.1:2", "10 11", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o benchOptions
			fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
			o.addFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parse %q: %v", tc.args, err)
			}
			if got := strings.Join(o.cfg.URLs, " "); got != tc.urls {
				t.Errorf("urls %q, want %q", got, tc.urls)
			}
			if got := joinInts(o.cfg.ServerPIDs); got != tc.serverPIDs {
				t.Errorf("server pids %q, want %q", got, tc.serverPIDs)
			}
			if got := joinInts(o.cfg.AuxPIDs); got != tc.auxPIDs {
				t.Errorf("other pids %q, want %q", got, tc.auxPIDs)
			}
			if err := o.cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestBenchRefusesBadLists(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a pid that is no number", []string{"--server-pid", "10,x"}, `invalid argument "10,x" for "--server-pid" flag`},
		{"a zero server pid", []string{"--server-pid", "0"}, "server pid must be positive, not 0"},
		{"redis-server among the servers too", []string{"--server-pid", "10,11", "--aux-pid", "11"},
			"pid 11 is listed twice (as server and as other process)"},
		{"a bad second url", []string{"--url", "http://127.0.0.1:1,ws://127.0.0.1:2"}, `url "ws://127.0.0.1:2": scheme must be http or https`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"bench"}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, exitUsage, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("printed a result for a run that cannot work: %q", r.stdout)
			}
		})
	}
}

// joinInts prints ints as a space-separated list.
func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}
