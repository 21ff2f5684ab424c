package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"chatserver/internal/leaktest"
)

// testConfig is a small, fast run against url.
func testConfig(url, transport string) Config {
	cfg := DefaultConfig()
	cfg.URLs = []string{url}
	cfg.Transport = transport
	cfg.Clients = 5
	cfg.Senders = 2
	cfg.Rate = 20
	cfg.Duration = 1500 * time.Millisecond
	cfg.Payload = 100
	cfg.Ramp = 0
	cfg.ConnectTimeout = 5 * time.Second
	cfg.Quiet = 200 * time.Millisecond
	return cfg
}

func TestRunDeliversEveryMessageToEveryClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport string
		nodeLike  bool
	}{
		{"websocket, chatserver-like server", TransportWebSocket, false},
		{"websocket, node-like server without acks", TransportWebSocket, true},
		{"polling, chatserver-like server", TransportPolling, false},
		{"polling, node-like server without acks", TransportPolling, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			srv, _ := startFakeChat(t, tc.nodeLike)
			cfg := testConfig(srv.URL, tc.transport)
			var progress bytes.Buffer
			res, err := Run(context.Background(), cfg, &progress)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			n := int64(cfg.Clients)
			wantAddChatter := n * n // each client hears every chatter, itself included
			if tc.nodeLike {
				wantAddChatter = n * (n - 1)
			}
			wantAcked := res.Sent
			if tc.nodeLike {
				wantAcked = 0
			}
			checks := []struct {
				what      string
				got, want int64
			}{
				{"connected", res.Connected, n},
				{"joined", res.Joined, n},
				{"receivers", res.Receivers, n},
				{"lost", res.Lost, 0},
				{"active senders", int64(res.ActiveSenders), int64(cfg.Senders)},
				{"expected", res.Expected, res.Sent * n},
				{"delivered", res.Delivered, res.Expected},
				{"loss", res.Loss, 0},
				{"echoed", res.Echoed, res.Sent},
				{"acked", res.Acked, wantAcked},
				{"refused", res.Refused, 0},
				{"latency count", int64(res.Latency.Count), res.Delivered},
				{"add chatter during joins", res.Join.AddChatter, wantAddChatter},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
				}
			}
			// At 20/s for 1.5 s each sender offers about 30 messages.
			if res.Sent < int64(cfg.Senders)*10 {
				t.Errorf("sent = %d, want at least %d", res.Sent, cfg.Senders*10)
			}
			if !res.Join.Settled || res.Interrupted || res.FirstError != "" {
				t.Errorf("settled %v, interrupted %v, first error %q", res.Join.Settled, res.Interrupted, res.FirstError)
			}
			if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 {
				t.Errorf("latency percentiles out of order: %+v", res.Latency)
			}
			if !strings.Contains(progress.String(), "deliv") {
				t.Errorf("no progress line written: %q", progress.String())
			}
		})
	}
}

// TestRunInARoom runs in a room (--room): the clients connect to its
// namespace only, join and send there, and count nothing of what the
// server says on "/".
func TestRunInARoom(t *testing.T) {
	for _, transport := range []string{TransportWebSocket, TransportPolling} {
		t.Run(transport, func(t *testing.T) {
			leaktest.Check(t)
			srv, _ := startFakeChatIn(t, false, "/games,")
			cfg := testConfig(srv.URL, transport)
			cfg.Room = "games"
			res, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			n := int64(cfg.Clients)
			if res.Joined != n || res.Lost != 0 || res.Sent == 0 || res.Acked != res.Sent ||
				res.Expected != res.Sent*n || res.Delivered != res.Expected || res.Loss != 0 ||
				res.Join.AddChatter != n*n || res.FirstError != "" {
				t.Fatalf("result %+v: want %d joined, every message acked and delivered to all, %d add chatter", res, n, n*n)
			}
		})
	}
}

// TestRunInAMissingRoomSaysSo: a room the server does not have refuses
// every connection, and the error names the room.
func TestRunInAMissingRoomSaysSo(t *testing.T) {
	leaktest.Check(t)
	srv, _ := startFakeChatIn(t, false, "/games,")
	cfg := testConfig(srv.URL, TransportWebSocket)
	cfg.Clients = 2
	cfg.Room = "homework"
	res, err := Run(context.Background(), cfg, nil)
	if err == nil || res == nil || res.Connected != 0 {
		t.Fatalf("Run = %+v, %v; want no client connected and an error", res, err)
	}
	if want := `socket.io connect to the room "homework" refused: {"message":"Invalid namespace"}`; !strings.Contains(res.FirstError, want) {
		t.Errorf("first error %q, want it to contain %q", res.FirstError, want)
	}
}

func TestRunIdleHoldsConnectionsAndAnswersPings(t *testing.T) {
	leaktest.Check(t)
	srv, _ := startFakeChat(t, false)
	cfg := testConfig(srv.URL, TransportWebSocket)
	cfg.Clients = 4
	cfg.Idle = true
	// Several of the fake's ping intervals: a client that did not answer
	// would be dropped and count as lost.
	cfg.Duration = 6 * fakePingTimeout
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Connected != 4 || res.Joined != 4 || res.Lost != 0 || res.Sent != 0 || res.Delivered != 0 {
		t.Errorf("connected %d joined %d lost %d sent %d delivered %d; want 4 4 0 0 0 (first error %q)",
			res.Connected, res.Joined, res.Lost, res.Sent, res.Delivered, res.FirstError)
	}
	if res.Join.AddChatter != 16 {
		t.Errorf("add chatter during joins = %d, want 16", res.Join.AddChatter)
	}
}

func TestRunStopsEarlyWhenCanceledAndStillReports(t *testing.T) {
	leaktest.Check(t)
	srv, fake := startFakeChat(t, false)
	cfg := testConfig(srv.URL, TransportWebSocket)
	cfg.Duration = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res *Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = Run(ctx, cfg, nil)
	}()
	// Cancel once messages flow (the fake and the senders are both alive).
	select {
	case <-fake.gotMessage:
	case <-time.After(10 * time.Second):
		t.Fatal("no message was sent within 10 s")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of the cancel")
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.Interrupted || res.Sent == 0 || res.Delivered == 0 {
		t.Errorf("interrupted %v sent %d delivered %d; want true and some traffic", res.Interrupted, res.Sent, res.Delivered)
	}
	if res.SendSeconds >= cfg.Duration.Seconds() {
		t.Errorf("send phase lasted %.1f s, want it cut short", res.SendSeconds)
	}
}

func TestRunFailsWhenNoClientCanConnect(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, transport := range []string{TransportWebSocket, TransportPolling} {
		t.Run(transport, func(t *testing.T) {
			cfg := testConfig("http://"+addr, transport)
			cfg.Clients = 2
			res, err := Run(context.Background(), cfg, nil)
			if err == nil {
				t.Fatal("Run succeeded against a closed port")
			}
			if res == nil || res.Connected != 0 || res.ConnectErrors != 2 || res.FirstError == "" {
				t.Fatalf("result %+v, want 0 connected, 2 errors and the first error", res)
			}
		})
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Clients = 0
	res, err := Run(context.Background(), cfg, nil)
	if !errors.Is(err, ErrInvalidConfig) || res != nil {
		t.Fatalf("Run = %v, %v; want nil and ErrInvalidConfig", res, err)
	}
}

func TestValidateChecksTheRoom(t *testing.T) {
	for _, tc := range []struct {
		room    string
		nsp     string // Config.namespace when valid
		wantErr string // "" for valid
	}{
		{"", "", ""},
		{"general", "", ""}, // the default room is "/"
		{"games", "/games,", ""},
		{"room-2_b", "/room-2_b,", ""},
		{"Games", "", `room: the room name "Games"`},
		{"/games", "", `room: the room name "/games"`},
		{"a,b", "", `room: the room name "a,b"`},
		{strings.Repeat("x", 33), "", "longer than 32 characters"},
	} {
		t.Run(tc.room, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Room = tc.room
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if got := string(cfg.namespace()); got != tc.nsp {
					t.Errorf("namespace %q, want %q", got, tc.nsp)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestResultReportsAsJSONAndTable(t *testing.T) {
	res := &Result{URL: "http://x", Transport: TransportWebSocket, Clients: 3, Sent: 10, Delivered: 30, Expected: 30,
		ToolCPUSeconds: 1.25, Latency: Latency{P50: 1, P99: 2}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"delivered":30`, `"expected":30`, `"latency_ms":{`, `"p99":2`, `"tool_cpu_s":1.25`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"delivered:", "30 of 30 expected", "load tool CPU:", "1.25 s", "p99 2.00"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// TestRunAgainstServer drives a real server named by BENCH_URL (for example
// the Node original or a running chatserver); skipped without it. Other
// knobs: BENCH_TRANSPORT, BENCH_CLIENTS, BENCH_SENDERS, BENCH_RATE,
// BENCH_DURATION, BENCH_SERVER_PID. It prints the table.
func TestRunAgainstServer(t *testing.T) {
	url := os.Getenv("BENCH_URL")
	if url == "" {
		t.Skip("set BENCH_URL to run against a server")
	}
	cfg := DefaultConfig()
	cfg.URLs = []string{url}
	envInto(t, "BENCH_TRANSPORT", &cfg.Transport)
	envInto(t, "BENCH_CLIENTS", &cfg.Clients)
	envInto(t, "BENCH_SENDERS", &cfg.Senders)
	envInto(t, "BENCH_RATE", &cfg.Rate)
	envInto(t, "BENCH_DURATION", &cfg.Duration)
	var pid int
	envInto(t, "BENCH_SERVER_PID", &pid)
	if pid != 0 {
		cfg.ServerPIDs = []int{pid}
	}
	res, err := Run(context.Background(), cfg, os.Stderr)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var table bytes.Buffer
	_ = res.WriteTable(&table)
	t.Logf("\n%s", table.String())
	if res.Loss != 0 {
		t.Errorf("loss %d", res.Loss)
	}
}

// envInto parses the environment variable name into *dst when it is set.
func envInto(t *testing.T, name string, dst any) {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return
	}
	var err error
	switch d := dst.(type) {
	case *string:
		*d = v
	case *int:
		err = json.Unmarshal([]byte(v), d)
	case *float64:
		err = json.Unmarshal([]byte(v), d)
	case *time.Duration:
		*d, err = time.ParseDuration(v)
	}
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
}

func TestUnconfirmedCountsOnlyLiveClientsWaitingForTheirJoin(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1", TransportWebSocket)
	cfg.Clients = 6
	r := newRunner(cfg)
	type state struct{ connected, joined, lost, refused bool }
	states := []state{
		{connected: true, joined: true},             // confirmed
		{connected: true},                           // waiting: counts
		{connected: true, joined: true, lost: true}, // confirmed, then lost
		{connected: true, lost: true},               // lost before its join
		{connected: true, refused: true},            // refused
		{connected: false},                          // never connected
	}
	for i, s := range states {
		c := r.clients[i]
		c.connected.Store(s.connected)
		c.lost.Store(s.lost)
		c.joinRefused.Store(s.refused)
		if s.joined {
			r.markJoined(i)
		}
	}
	// Two joins are confirmed and two clients alive, but one of the
	// confirmed ones is lost: one live client still waits.
	if got := r.unconfirmed(); got != 1 {
		t.Errorf("unconfirmed = %d, want 1", got)
	}
	if r.joinedCount.Load() != 2 || r.alive() != 2 {
		t.Errorf("joined %d alive %d, want 2 and 2", r.joinedCount.Load(), r.alive())
	}
	r.markJoined(1)
	if got := r.unconfirmed(); got != 0 {
		t.Errorf("unconfirmed after the last join = %d, want 0", got)
	}
}

// TestRunPasteChecksEveryReceiverGetsTheLinesInOrder: with Paste the first
// sender sends its lines back to back, and the result counts the
// receivers that got them all in order, the ones that saw them out of
// order, and the ones still short of the last.
func TestRunPasteChecksEveryReceiverGetsTheLinesInOrder(t *testing.T) {
	const lines = 30
	for _, tc := range []struct {
		name           string
		transport      string
		nodeLike       bool
		senders        int
		holdBack, drop int // the fake's faults, by message number from 1
		want           func(n int64) (whole, outOfOrder, short int64)
	}{
		{"whole, websocket", TransportWebSocket, false, 1, 0, 0, func(n int64) (int64, int64, int64) { return n, 0, 0 }},
		{"whole, polling", TransportPolling, false, 1, 0, 0, func(n int64) (int64, int64, int64) { return n, 0, 0 }},
		{"whole, node-like server without acks", TransportWebSocket, true, 1, 0, 0, func(n int64) (int64, int64, int64) { return n, 0, 0 }},
		{"whole, beside a second sender", TransportWebSocket, false, 2, 0, 0, func(n int64) (int64, int64, int64) { return n, 0, 0 }},
		{"two lines swapped", TransportWebSocket, false, 1, 7, 0, func(n int64) (int64, int64, int64) { return 0, n, 0 }},
		{"a line lost in the middle", TransportWebSocket, false, 1, 0, 12, func(n int64) (int64, int64, int64) { return 0, n, 0 }},
		{"the last line lost", TransportWebSocket, false, 1, 0, lines, func(n int64) (int64, int64, int64) { return 0, 0, n }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			srv, fake := startFakeChat(t, tc.nodeLike)
			fake.holdBack, fake.drop = tc.holdBack, tc.drop
			cfg := testConfig(srv.URL, tc.transport)
			cfg.Senders = tc.senders
			cfg.Paste = lines
			cfg.Duration = 300 * time.Millisecond
			cfg.Drain = time.Second
			res, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			p := res.Paste
			if p == nil {
				t.Fatal("no paste figures in the result")
			}
			n := int64(cfg.Clients)
			whole, outOfOrder, short := tc.want(n)
			if res.Receivers != n || p.Lines != lines || p.Sender != 0 || p.Sent != lines ||
				p.Whole != whole || p.OutOfOrder != outOfOrder || p.Short != short {
				t.Fatalf("receivers %d, paste %+v; want %d receivers, %d lines sent by client 0, %d whole, %d out of order, %d short",
					res.Receivers, *p, n, lines, whole, outOfOrder, short)
			}
			if p.LastLine.Count != uint64(whole) {
				t.Errorf("last line latency over %d receivers, want %d", p.LastLine.Count, whole)
			}
			if tc.senders == 1 && res.Sent != lines {
				t.Errorf("sent %d, want the paste's %d and nothing after", res.Sent, lines)
			}
			var table bytes.Buffer
			if err := res.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if want := "paste:"; !strings.Contains(table.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, table.String())
			}
		})
	}
}

func TestValidateChecksThePaste(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string // "" for valid
	}{
		{"none", func(c *Config) {}, ""},
		{"30 lines", func(c *Config) { c.Paste = 30 }, ""},
		{"the most", func(c *Config) { c.Paste = MaxPaste }, ""},
		{"negative", func(c *Config) { c.Paste = -1 }, "paste must be between 0"},
		{"too long", func(c *Config) { c.Paste = MaxPaste + 1 }, "paste must be between 0"},
		{"idle", func(c *Config) { c.Paste, c.Idle = 30, true }, "a paste needs a sender"},
		{"no sender", func(c *Config) { c.Paste, c.Senders = 30, 0 }, "a paste needs a sender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			wantValid(t, cfg, tc.wantErr)
		})
	}
}
