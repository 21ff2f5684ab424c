package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// statLine builds a /proc/<pid>/stat line for command name comm with the
// given utime and stime fields (ticks, as text so that tests can break them),
// shaped like the kernel's: 52 fields, utime and stime at 14 and 15.
func statLine(comm, utime, stime string) string {
	f := []string{"4242", "(" + comm + ")", "S", "1", "4242", "4242", "0", "-1", "4194560",
		"1234", "0", "0", "0", utime, stime, "0", "0", "20", "0", "14", "0", "9876543",
		"1269760000", "2870"}
	for len(f) < 52 {
		f = append(f, "0")
	}
	return strings.Join(f, " ") + "\n"
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		line string
		want cpuTimes
	}{
		{"plain name", statLine("chatserver", "1250", "734"), cpuTimes{User: 12.5, System: 7.34}},
		{"node", statLine("node", "1", "0"), cpuTimes{User: 0.01}},
		{"name with spaces", statLine("MainThread pool", "300", "200"), cpuTimes{User: 3, System: 2}},
		{"name with parentheses", statLine("a) (b) 7 8 9", "42", "58"), cpuTimes{User: 0.42, System: 0.58}},
		{"zero", statLine("idle", "0", "0"), cpuTimes{}},
		{"large", statLine("long-running", "8640000", "4320000"), cpuTimes{User: 86400, System: 43200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.line))
			if err != nil {
				t.Fatalf("parseStatCPU(%q): %v", tt.line, err)
			}
			if !closeTo(got.User, tt.want.User) || !closeTo(got.System, tt.want.System) {
				t.Fatalf("parseStatCPU = %+v, want %+v", got, tt.want)
			}
			if !closeTo(got.Total(), tt.want.User+tt.want.System) {
				t.Fatalf("Total = %v, want %v", got.Total(), tt.want.User+tt.want.System)
			}
		})
	}
}

func TestParseStatCPURejectsMalformedLines(t *testing.T) {
	tests := []struct {
		name string
		line string
	}{
		{"empty", ""},
		{"no command name", "4242 chatserver S 1 4242 4242 0 -1 4194560 1234 0 0 0 1250 734 0 0"},
		{"cut before stime", "4242 (chatserver) S 1 4242 4242 0 -1 4194560 1234 0 0 0 1250"},
		{"negative utime", statLine("chatserver", "-1", "734")},
		{"text in stime", statLine("chatserver", "1250", "x")},
		{"fraction in utime", statLine("chatserver", "12.5", "734")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.line))
			if !errors.Is(err, errMalformedStat) {
				t.Fatalf("parseStatCPU(%q) = %+v, %v; want errMalformedStat", tt.line, got, err)
			}
		})
	}
}

func TestProcessCPUTimesOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	c, err := processCPUTimes("self")
	if err != nil {
		t.Fatal(err)
	}
	if c.User < 0 || c.System < 0 {
		t.Fatalf("processCPUTimes(self) = %+v, want non-negative times", c)
	}
	if _, err := processCPUTimes("0"); err == nil {
		t.Fatal("processCPUTimes of pid 0 succeeded, want an error (no /proc/0)")
	}
}

func TestServerProbeSplitsUserAndSystem(t *testing.T) {
	// Readings at the start, after the joins and after the sending phase.
	probe := &serverProbe{
		pid: 4242,
		cpu: []cpuTimes{{User: 1, System: 0.5}, {User: 1.75, System: 1.5}, {User: 4.75, System: 5.5}},
		rss: []int64{10240, 20480, 30720},
	}
	tests := []struct {
		name      string
		delivered int64
		want      ServerStats
	}{
		{"with deliveries", 500000, ServerStats{
			PID:            4242,
			JoinCPUSeconds: 1.75, JoinUserCPUSeconds: 0.75, JoinSystemCPUSeconds: 1,
			RunCPUSeconds: 7, RunUserCPUSeconds: 3, RunSystemCPUSeconds: 4,
			CPUPerMillion: 14, UserCPUPerMillion: 6, SystemCPUPerMillion: 8,
			RSSStartKB: 10240, RSSAfterJoinKB: 20480, RSSEndKB: 30720,
		}},
		{"idle hold: no per-million figures", 0, ServerStats{
			PID:            4242,
			JoinCPUSeconds: 1.75, JoinUserCPUSeconds: 0.75, JoinSystemCPUSeconds: 1,
			RunCPUSeconds: 7, RunUserCPUSeconds: 3, RunSystemCPUSeconds: 4,
			RSSStartKB: 10240, RSSAfterJoinKB: 20480, RSSEndKB: 30720,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := probe.result(tt.delivered)
			checkServerStats(t, got, &tt.want)
		})
	}
}

func TestServerProbeWithoutFiguresSaysWhy(t *testing.T) {
	if got := (*serverProbe)(nil).result(10); got != nil {
		t.Fatalf("nil probe result = %+v, want nil", got)
	}
	short := &serverProbe{pid: 7, cpu: []cpuTimes{{User: 1}}, rss: nil}
	if got := short.result(10); got.Error == "" || got.RunCPUSeconds != 0 {
		t.Fatalf("result of a probe with one reading = %+v, want an error and no figures", got)
	}
	failed := &serverProbe{pid: 7, err: errors.New("read cpu time: gone")}
	if got := failed.result(10); got.Error != "read cpu time: gone" {
		t.Fatalf("result of a failed probe = %+v, want its error", got)
	}
}

func TestServerProbeOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	probe := newServerProbe(os.Getpid())
	probe.mark()
	probe.mark()
	got := probe.result(1000)
	if got.Error != "" {
		t.Fatalf("probe of this process: %s", got.Error)
	}
	for _, c := range []struct {
		name                string
		total, user, system float64
	}{
		{"join", got.JoinCPUSeconds, got.JoinUserCPUSeconds, got.JoinSystemCPUSeconds},
		{"run", got.RunCPUSeconds, got.RunUserCPUSeconds, got.RunSystemCPUSeconds},
		{"per million", got.CPUPerMillion, got.UserCPUPerMillion, got.SystemCPUPerMillion},
	} {
		if c.user < 0 || c.system < 0 || !closeTo(c.total, c.user+c.system) {
			t.Errorf("%s: total %v, user %v, system %v; want non-negative parts that add up", c.name, c.total, c.user, c.system)
		}
	}
	if got.RSSEndKB <= 0 {
		t.Errorf("RSS at the end %d KiB, want positive", got.RSSEndKB)
	}
}

func TestServerCPUSplitIsReported(t *testing.T) {
	server := &ServerStats{
		PID:            4242,
		JoinCPUSeconds: 1.75, JoinUserCPUSeconds: 0.75, JoinSystemCPUSeconds: 1,
		RunCPUSeconds: 7, RunUserCPUSeconds: 3, RunSystemCPUSeconds: 4,
		CPUPerMillion: 14, UserCPUPerMillion: 6, SystemCPUPerMillion: 8,
		RSSAfterJoinKB: 20480, RSSEndKB: 30720,
	}
	tests := []struct {
		name      string
		res       Result
		jsonKeys  []string
		tableRows []string
		notInRows []string
	}{
		{
			name: "sending",
			res:  Result{URL: "http://x", Clients: 1000, Senders: 5, Rate: 10, Delivered: 500000, Server: server},
			jsonKeys: []string{
				`"join_cpu_s":1.75`, `"join_user_cpu_s":0.75`, `"join_system_cpu_s":1`,
				`"run_cpu_s":7`, `"run_user_cpu_s":3`, `"run_system_cpu_s":4`,
				`"cpu_s_per_million_deliveries":14`, `"user_cpu_s_per_million_deliveries":6`,
				`"system_cpu_s_per_million_deliveries":8`,
			},
			tableRows: []string{
				"server CPU:        pid 4242: 1.75 s joining, 7.00 s sending, 14.00 s per million deliveries",
				"server CPU split:  joining 0.75 s user + 1.00 s system; sending 3.00 s user + 4.00 s system (6.00 user + 8.00 system s per million deliveries)",
			},
		},
		{
			name: "idle hold",
			res: Result{URL: "http://x", Clients: 1000, Idle: true, Server: &ServerStats{
				PID: 4242, JoinCPUSeconds: 1.75, JoinUserCPUSeconds: 0.75, JoinSystemCPUSeconds: 1,
				RunCPUSeconds: 0.5, RunUserCPUSeconds: 0.25, RunSystemCPUSeconds: 0.25,
			}},
			jsonKeys: []string{`"join_user_cpu_s":0.75`, `"run_user_cpu_s":0.25`, `"run_system_cpu_s":0.25`},
			tableRows: []string{
				"server CPU split:  joining 0.75 s user + 1.00 s system; holding 0.25 s user + 0.25 s system",
			},
			notInRows: []string{"per million", `"user_cpu_s_per_million_deliveries"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(&tt.res)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range tt.jsonKeys {
				if !bytes.Contains(b, []byte(key)) {
					t.Errorf("JSON lacks %s: %s", key, b)
				}
			}
			var table bytes.Buffer
			if err := tt.res.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(table.String(), "\n")
			for _, want := range tt.tableRows {
				if !containsLine(lines, want) {
					t.Errorf("table lacks the line %q:\n%s", want, table.String())
				}
			}
			for _, absent := range tt.notInRows {
				if strings.Contains(table.String(), absent) || bytes.Contains(b, []byte(absent)) {
					t.Errorf("output holds %q, want it absent:\n%s\n%s", absent, table.String(), b)
				}
			}
		})
	}
}

// checkServerStats compares every figure of got with want, floats to
// within rounding.
func checkServerStats(t *testing.T, got, want *ServerStats) {
	t.Helper()
	if got.PID != want.PID || got.RSSStartKB != want.RSSStartKB || got.RSSAfterJoinKB != want.RSSAfterJoinKB || got.RSSEndKB != want.RSSEndKB || got.Error != want.Error {
		t.Fatalf("server stats %+v, want %+v", got, want)
	}
	figures := []struct {
		name      string
		got, want float64
	}{
		{"join", got.JoinCPUSeconds, want.JoinCPUSeconds},
		{"join user", got.JoinUserCPUSeconds, want.JoinUserCPUSeconds},
		{"join system", got.JoinSystemCPUSeconds, want.JoinSystemCPUSeconds},
		{"run", got.RunCPUSeconds, want.RunCPUSeconds},
		{"run user", got.RunUserCPUSeconds, want.RunUserCPUSeconds},
		{"run system", got.RunSystemCPUSeconds, want.RunSystemCPUSeconds},
		{"per million", got.CPUPerMillion, want.CPUPerMillion},
		{"user per million", got.UserCPUPerMillion, want.UserCPUPerMillion},
		{"system per million", got.SystemCPUPerMillion, want.SystemCPUPerMillion},
	}
	for _, f := range figures {
		if !closeTo(f.got, f.want) {
			t.Errorf("%s CPU = %v, want %v", f.name, f.got, f.want)
		}
	}
}

// containsLine reports whether one of lines, without trailing spaces, is want.
func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimRight(l, " ") == want {
			return true
		}
	}
	return false
}

// closeTo reports whether a and b agree to within float rounding of the
// tick arithmetic.
func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
