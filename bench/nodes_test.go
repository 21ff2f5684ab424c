package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"chatserver/internal/leaktest"
)

// TestRunSpreadsClientsOverSeveralServers loads two servers sharing one
// chat: client i goes to server i mod 2, every message reaches the clients
// of both, and the result says what each server's clients had.
func TestRunSpreadsClientsOverSeveralServers(t *testing.T) {
	for _, transport := range []string{TransportWebSocket, TransportPolling} {
		t.Run(transport, func(t *testing.T) {
			leaktest.Check(t)
			srvs, f := startSharedFakeChat(t, 2)
			cfg := testConfig(srvs[0].URL, transport)
			cfg.URLs = []string{srvs[0].URL, srvs[1].URL}
			cfg.Clients = 5
			cfg.Senders = 3 // clients 0 and 2 on the first server, 1 on the second
			res, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			n := int64(cfg.Clients)
			if res.Joined != n || res.Lost != 0 || res.Sent == 0 || res.Delivered != res.Sent*n || res.Loss != 0 {
				t.Fatalf("result %+v: want %d joined and every message delivered to all", res, n)
			}
			if want := srvs[0].URL + "," + srvs[1].URL; res.URL != want {
				t.Errorf("url %q, want %q", res.URL, want)
			}
			wantClients := []int64{3, 2}
			wantSenders := []int64{2, 1}
			if len(res.Targets) != 2 {
				t.Fatalf("targets %+v, want 2", res.Targets)
			}
			sessions := f.sessionsByHost()
			var sent int64
			for k, ts := range res.Targets {
				host := strings.TrimPrefix(srvs[k].URL, "http://")
				checks := []struct {
					what      string
					got, want int64
				}{
					{"clients", ts.Clients, wantClients[k]},
					{"connected", ts.Connected, wantClients[k]},
					{"joined", ts.Joined, wantClients[k]},
					{"lost", ts.Lost, 0},
					{"senders", ts.Senders, wantSenders[k]},
					{"delivered", ts.Delivered, res.Sent * wantClients[k]},
					{"sessions the server saw", int64(sessions[host]), wantClients[k]},
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("server %d (%s): %s = %d, want %d", k, ts.URL, c.what, c.got, c.want)
					}
				}
				if ts.URL != srvs[k].URL {
					t.Errorf("server %d url %q, want %q", k, ts.URL, srvs[k].URL)
				}
				if ts.Latency == nil || int64(ts.Latency.Count) != ts.Delivered {
					t.Errorf("server %d latency %+v, want one value per delivery (%d)", k, ts.Latency, ts.Delivered)
				}
				sent += ts.Sent
			}
			if sent != res.Sent {
				t.Errorf("the servers' senders sent %d in all, the run %d", sent, res.Sent)
			}
			var table bytes.Buffer
			if err := res.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"url 1:", srvs[0].URL + ": 3 clients", "url 2:", srvs[1].URL + ": 2 clients"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
		})
	}
}

// TestRunWithOneServerReportsItAsTheOnlyTarget: one URL keeps the result
// as it was (no per-server table rows) and still names its one target.
func TestRunWithOneServerReportsItAsTheOnlyTarget(t *testing.T) {
	leaktest.Check(t)
	srv, _ := startFakeChat(t, false)
	res, err := Run(context.Background(), testConfig(srv.URL, TransportWebSocket), nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Targets) != 1 || res.Targets[0].Clients != 5 || res.Targets[0].Latency != nil || res.URL != srv.URL {
		t.Errorf("targets %+v, url %q: want one target of 5 clients without its own latency, url %q", res.Targets, res.URL, srv.URL)
	}
	var table bytes.Buffer
	_ = res.WriteTable(&table)
	if strings.Contains(table.String(), "url 1:") {
		t.Errorf("table of a one-server run has per-server rows:\n%s", table.String())
	}
}

// TestRunTimesAcks: against a server that acks, every message's ack round
// trip is measured; against one that acks nothing (the Node original), the
// result says so and the run does not wait for answers.
func TestRunTimesAcks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nodeLike bool
	}{
		{"server that acks", false},
		{"server without acks", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			srv, _ := startFakeChat(t, tc.nodeLike)
			cfg := testConfig(srv.URL, TransportWebSocket)
			cfg.Drain = time.Minute // a run waiting for acks that never come would hang the test
			res, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Sent == 0 || res.Delivered != res.Expected {
				t.Fatalf("sent %d, delivered %d of %d: want messages delivered", res.Sent, res.Delivered, res.Expected)
			}
			var table bytes.Buffer
			_ = res.WriteTable(&table)
			b, _ := json.Marshal(res)
			if tc.nodeLike {
				if res.AckLatency != nil || !strings.Contains(res.NoAcks, "answered none") {
					t.Fatalf("ack latency %+v, no acks %q: want none, and why", res.AckLatency, res.NoAcks)
				}
				if !strings.Contains(table.String(), "ack ms:") || !strings.Contains(table.String(), "no acks: the server answered none of") {
					t.Errorf("table does not say there were no acks:\n%s", table.String())
				}
				if res.WallSeconds > 30 {
					t.Errorf("the run took %.1f s: it waited for acks", res.WallSeconds)
				}
				return
			}
			if res.AckLatency == nil || int64(res.AckLatency.Count) != res.Sent || res.AcksUntimed != 0 || res.NoAcks != "" {
				t.Fatalf("ack latency %+v, untimed %d, no acks %q: want every one of %d timed", res.AckLatency, res.AcksUntimed, res.NoAcks, res.Sent)
			}
			if l := res.AckLatency; l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
				t.Errorf("ack percentiles out of order: %+v", l)
			}
			if !bytes.Contains(b, []byte(`"ack_latency_ms":{`)) || !strings.Contains(table.String(), "ack ms:") {
				t.Errorf("ack latency missing from the JSON or the table:\n%s\n%s", b, table.String())
			}
		})
	}
}

// TestMessageAnsweredDecidesByTheFirstAnswer: acks are timed only when the
// first answer came within the timeout of the first message; a late first
// answer stops the timing for the whole run.
func TestMessageAnsweredDecidesByTheFirstAnswer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sentAgo   time.Duration // the first message, before the first answer
		wantState int32
		wantCount uint64
	}{
		{"first answer in time", 0, ackAnswering, 2},
		{"first answer too late", time.Hour, ackNone, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(testConfig("http://127.0.0.1:1", TransportWebSocket))
			r.start = time.Now().Add(-2 * time.Hour)
			first := r.since() - int64(tc.sentAgo)
			r.messageSent(first)
			r.messageSent(first + 1) // a later message does not move the start
			r.messageAnswered(first, true)
			r.messageAnswered(first+1, true)
			r.messageAnswered(0, false) // its send time was no longer kept
			if got := r.ackState.Load(); got != tc.wantState {
				t.Fatalf("ack state %d, want %d", got, tc.wantState)
			}
			var s HistogramSnapshot
			r.ackLatency.Snapshot(&s)
			if s.Count() != tc.wantCount {
				t.Errorf("acks timed %d, want %d", s.Count(), tc.wantCount)
			}
			res := &Result{}
			r.ackResult(res, clientTotals{sent: 3, acked: 3})
			if tc.wantState == ackAnswering {
				if res.AckLatency == nil || res.AcksUntimed != 1 || res.NoAcks != "" {
					t.Errorf("result: ack latency %+v, untimed %d, no acks %q; want figures and 1 untimed", res.AckLatency, res.AcksUntimed, res.NoAcks)
				}
			} else if res.AckLatency != nil || !strings.Contains(res.NoAcks, "beyond the 5s timeout") {
				t.Errorf("result: ack latency %+v, no acks %q; want none, and why", res.AckLatency, res.NoAcks)
			}
		})
	}
}

func TestValidateChecksURLsAndPIDs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string // "" for valid
	}{
		{"two servers", func(c *Config) { c.URLs = []string{"http://127.0.0.1:1", "https://127.0.0.1:2/chat"} }, ""},
		{"no server", func(c *Config) { c.URLs = nil }, "no server url"},
		{"the second url is bad", func(c *Config) { c.URLs = []string{"http://127.0.0.1:1", "ftp://x"} }, `url "ftp://x": scheme must be http or https`},
		{"a url without host", func(c *Config) { c.URLs = []string{"http://127.0.0.1:1", "http://"} }, `url "http://" has no host`},
		{"servers and other processes", func(c *Config) { c.ServerPIDs, c.AuxPIDs = []int{10, 11}, []int{12} }, ""},
		{"a zero server pid", func(c *Config) { c.ServerPIDs = []int{10, 0} }, "server pid must be positive, not 0"},
		{"a negative other pid", func(c *Config) { c.AuxPIDs = []int{-3} }, "other process pid must be positive, not -3"},
		{"a server twice", func(c *Config) { c.ServerPIDs = []int{10, 10} }, "pid 10 is listed twice (as server and as server)"},
		{"a server as another process", func(c *Config) { c.ServerPIDs, c.AuxPIDs = []int{10}, []int{10} }, "pid 10 is listed twice (as server and as other process)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			wantValid(t, cfg, tc.wantErr)
		})
	}
}

func TestEndpointOfEachServer(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct{ raw, transport, want string }{
		{"http://127.0.0.1:1", TransportWebSocket, "ws://127.0.0.1:1/socket.io/"},
		{"https://127.0.0.1:2/chat/", TransportPolling, "https://127.0.0.1:2/chat/socket.io/"},
		{"https://127.0.0.1:2", TransportWebSocket, "wss://127.0.0.1:2/socket.io/"},
	} {
		if got := cfg.endpoint(tc.raw, tc.transport); got != tc.want {
			t.Errorf("endpoint(%q, %s) = %q, want %q", tc.raw, tc.transport, got, tc.want)
		}
	}
}

func TestSumStatsAddsServersUp(t *testing.T) {
	a := ServerStats{PID: 10, JoinUserCPUSeconds: 1, JoinSystemCPUSeconds: 0.5, JoinCPUSeconds: 1.5,
		RunUserCPUSeconds: 2, RunSystemCPUSeconds: 3, RunCPUSeconds: 5, RSSStartKB: 100, RSSAfterJoinKB: 200, RSSEndKB: 300}
	b := ServerStats{PID: 11, JoinUserCPUSeconds: 0.25, JoinSystemCPUSeconds: 0.25, JoinCPUSeconds: 0.5,
		RunUserCPUSeconds: 1, RunSystemCPUSeconds: 1, RunCPUSeconds: 2, RSSStartKB: 10, RSSAfterJoinKB: 20, RSSEndKB: 30}
	t.Run("two servers", func(t *testing.T) {
		got := sumStats([]ServerStats{a, b}, 1_000_000)
		want := &ServerStats{
			JoinCPUSeconds: 2, JoinUserCPUSeconds: 1.25, JoinSystemCPUSeconds: 0.75,
			RunCPUSeconds: 7, RunUserCPUSeconds: 3, RunSystemCPUSeconds: 4,
			CPUPerMillion: 7, UserCPUPerMillion: 3, SystemCPUPerMillion: 4,
			RSSStartKB: 110, RSSAfterJoinKB: 220, RSSEndKB: 330,
		}
		checkServerStats(t, got, want)
		if len(got.PIDs) != 2 || got.PIDs[0] != 10 || got.PIDs[1] != 11 {
			t.Errorf("pids %v, want [10 11]", got.PIDs)
		}
	})
	t.Run("one server is its own figures", func(t *testing.T) {
		got := sumStats([]ServerStats{a}, 0)
		checkServerStats(t, got, &a)
		if got.PIDs != nil {
			t.Errorf("pids %v for one server, want none", got.PIDs)
		}
	})
	t.Run("no server", func(t *testing.T) {
		if got := sumStats(nil, 10); got != nil {
			t.Errorf("sum of none = %+v, want nil", got)
		}
	})
	t.Run("a server without figures", func(t *testing.T) {
		gone := ServerStats{PID: 11, Error: "read cpu time: gone"}
		got := sumStats([]ServerStats{a, gone}, 10)
		if got.Error != "pid 11: read cpu time: gone" || got.RunCPUSeconds != 0 {
			t.Errorf("sum %+v, want the missing server's error and no figures", got)
		}
	})
}

func TestTableShowsEveryServerAndOtherProcessesApart(t *testing.T) {
	each := []ServerStats{
		{PID: 10, JoinCPUSeconds: 1, JoinUserCPUSeconds: 1, RunCPUSeconds: 4, RunUserCPUSeconds: 1, RunSystemCPUSeconds: 3, CPUPerMillion: 8, RSSEndKB: 2048},
		{PID: 11, JoinCPUSeconds: 1, JoinUserCPUSeconds: 1, RunCPUSeconds: 2, RunUserCPUSeconds: 1, RunSystemCPUSeconds: 1, CPUPerMillion: 4, RSSEndKB: 1024},
	}
	res := Result{URL: "http://a,http://b", Clients: 10, Senders: 1, Rate: 1, Delivered: 500000,
		Server: sumStats(each, 500000), Servers: each,
		Others: []ServerStats{{PID: 12, Name: "redis-server", RunCPUSeconds: 0.5, RunUserCPUSeconds: 0.25, RunSystemCPUSeconds: 0.25, CPUPerMillion: 1}}}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table.String(), "\n")
	for _, want := range []string{
		"server CPU:        pids 10 + 11: 2.00 s joining, 6.00 s sending, 12.00 s per million deliveries",
		"server pid 10:     1.00 s joining, 4.00 s sending (1.00 user + 3.00 system), 8.00 s per million deliveries; RSS 0.0 MB at rest, 0.0 MB after joins, 2.0 MB at the end",
		"server pid 11:     1.00 s joining, 2.00 s sending (1.00 user + 1.00 system), 4.00 s per million deliveries; RSS 0.0 MB at rest, 0.0 MB after joins, 1.0 MB at the end",
		"other process:     pid 12 (redis-server): 0.00 s joining, 0.50 s sending (0.25 user + 0.25 system), 1.00 s per million deliveries; RSS 0.0 MB at rest, 0.0 MB after joins, 0.0 MB at the end",
	} {
		if !containsLine(lines, want) {
			t.Errorf("table lacks the line %q:\n%s", want, table.String())
		}
	}
	b, err := json.Marshal(&res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"pids":[10,11]`, `"servers":[{"pid":10`, `"other_processes":[{"pid":12,"name":"redis-server"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

// TestRunMeasuresOtherProcessesApart measures this process as the other
// process of a run: its figures come apart from the (absent) server's.
func TestRunMeasuresOtherProcessesApart(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	leaktest.Check(t)
	srv, _ := startFakeChat(t, false)
	cfg := testConfig(srv.URL, TransportWebSocket)
	cfg.AuxPIDs = []int{os.Getpid()}
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Server != nil || res.Servers != nil {
		t.Errorf("server figures %+v %+v without a server pid", res.Server, res.Servers)
	}
	if len(res.Others) != 1 {
		t.Fatalf("other processes %+v, want this one", res.Others)
	}
	o := res.Others[0]
	if o.PID != os.Getpid() || o.Error != "" || o.Name == "" || o.RSSEndKB <= 0 || o.RunCPUSeconds < 0 {
		t.Errorf("other process %+v: want this process's name and figures", o)
	}
}
