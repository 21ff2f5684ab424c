package e2e

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/bolt"
)

// TestBenchDrivesTheRealServer runs `chatserver bench` against a real
// `chatserver serve` on both transports: every message sent is acked and
// delivered to every joined client, nothing is lost.
func TestBenchDrivesTheRealServer(t *testing.T) {
	for _, tc := range []struct {
		name, transport string
		serve           []string
	}{
		{"websocket", "websocket", nil},
		{"polling", "polling", nil},
		// Writes gathered for up to 50 ms: still every message, in order.
		{"websocket with --flush-interval", "websocket", []string{"--flush-interval", "50ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--rate", "100", "--burst", "100"}, tc.serve...)
			srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), args...)
			benchAllDelivered(t, 6, "--url", srv.url, "--transport", tc.transport,
				"--clients", "6", "--senders", "2", "--rate", "5", "--duration", "2s")
		})
	}
}

// openedFrom matches the client address of a `connection opened` log line.
var openedFrom = regexp.MustCompile(`msg="connection opened" .*\baddr=(\S+)`)

// TestBenchConnectsFromEverySourceAddress runs `chatserver bench
// --source-addrs` with two loopback addresses on both transports: the
// server logs connections from each of them.
func TestBenchConnectsFromEverySourceAddress(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 here (only Linux has all of 127.0.0.0/8 on loopback): %v", err)
	}
	ln.Close()
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--rate", "100", "--burst", "100")
			r := runCLI(t, "bench", "--url", srv.url, "--transport", transport, "--source-addrs", "127.0.0.1-127.0.0.2",
				"--clients", "4", "--senders", "1", "--rate", "5", "--duration", "1s", "--json")
			if r.code != 0 {
				t.Fatalf("bench exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			var res struct {
				Joined      int64 `json:"joined"`
				Loss        int64 `json:"loss"`
				SourceAddrs int   `json:"source_addrs"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("bench --json output: %v\n%s", err, r.stdout)
			}
			if res.Joined != 4 || res.Loss != 0 || res.SourceAddrs != 2 {
				t.Fatalf("bench result %+v: want 4 joined, no loss, 2 source addresses", res)
			}
			// One Engine.IO connection per client.
			byAddr := func(log string) map[string]int {
				n := map[string]int{}
				for _, m := range openedFrom.FindAllStringSubmatch(log, -1) {
					n[m[1]]++
				}
				return n
			}
			if !srv.stderr.waitUntil(func(all string) bool {
				n := byAddr(all)
				return n["127.0.0.1"]+n["127.0.0.2"] >= 4
			}, 10*time.Second) {
				t.Fatalf("the server did not log 4 connections opened:\n%s", srv.stderr)
			}
			// WebSocket clients dial once each, so the turns are exact; a
			// polling client's requests share a connection pool, whose
			// dials the handshakes interleave with.
			n := byAddr(srv.stderr.String())
			exact := transport == "websocket"
			if len(n) != 2 || n["127.0.0.1"] == 0 || n["127.0.0.2"] == 0 || (exact && n["127.0.0.1"] != 2) {
				t.Fatalf("connections opened by address %v, want them from 127.0.0.1 and 127.0.0.2 (2 each over WebSocket)", n)
			}
		})
	}
}

// TestBenchLoadsARoom runs `chatserver bench --room` against a real server
// with that room: the clients join and chat in the room, every message is
// acked and delivered to all of them, and the room's history holds the
// messages while the default room's stays empty.
func TestBenchLoadsARoom(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddRoom(context.Background(), storage.Room{Name: "games", Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, db, "--rate", "100", "--burst", "100")
	sent := benchAllDelivered(t, 4, "--url", srv.url, "--room", "games",
		"--clients", "4", "--senders", "1", "--rate", "5", "--duration", "1s")
	for _, tc := range []struct {
		room string
		want int64
	}{{"games", sent}, {storage.DefaultRoom, 0}} {
		h := runCLI(t, "history", "--db", db, "--room", tc.room)
		if h.code != 0 {
			t.Fatalf("history --room %s: exit %d, %s", tc.room, h.code, h.stderr)
		}
		if got := int64(strings.Count(h.stdout, ": b0:")); got != tc.want {
			t.Errorf("history --room %s holds %d bench messages, want %d:\n%s", tc.room, got, tc.want, h.stdout)
		}
	}
}

// benchAllDelivered runs chatserver bench with args (and --json) and
// fails the test unless all n clients joined and every message sent was
// acked and delivered to all of them. It returns how many were sent.
func benchAllDelivered(t *testing.T, n int64, args ...string) int64 {
	t.Helper()
	r := runCLI(t, append(append([]string{"bench"}, args...), "--json")...)
	if r.code != 0 {
		t.Fatalf("bench exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Joined    int64 `json:"joined"`
		Sent      int64 `json:"sent"`
		Acked     int64 `json:"acked"`
		Delivered int64 `json:"delivered"`
		Expected  int64 `json:"expected"`
		Loss      int64 `json:"loss"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("bench --json output: %v\n%s", err, r.stdout)
	}
	if res.Joined != n || res.Sent == 0 || res.Acked != res.Sent ||
		res.Expected != res.Sent*n || res.Delivered != res.Expected || res.Loss != 0 {
		t.Fatalf("bench result %+v: want %d joined, every message acked and delivered to all %d", res, n, n)
	}
	return res.Sent
}

// TestBenchFloorMeasuresThisMachine runs `chatserver bench --floor`: the
// program starts itself as the reading process, writes every connection
// at the pace asked, and reports what a write cost it.
func TestBenchFloorMeasuresThisMachine(t *testing.T) {
	r := runCLI(t, "bench", "--floor", "--clients", "200", "--senders", "1", "--rate", "100", "--duration", "1s", "--json")
	if r.code != 0 {
		t.Fatalf("bench --floor: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Conns      int     `json:"connections"`
		Frame      int     `json:"frame_bytes"`
		IntervalMS float64 `json:"interval_ms"`
		Writes     int64   `json:"writes"`
		PerWrite   float64 `json:"us_per_write"`
		System     float64 `json:"system_us_per_write"`
		User       float64 `json:"user_us_per_write"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("bench --floor --json output: %v\n%s", err, r.stdout)
	}
	if res.Conns != 200 || res.Frame != 64+46 || res.IntervalMS != 10 {
		t.Fatalf("floor of %d connections, %d-byte frames every %g ms; want 200, 110 and 10", res.Conns, res.Frame, res.IntervalMS)
	}
	// 100 rounds in the second, give or take the last one.
	if res.Writes%200 != 0 || res.Writes < 90*200 || res.Writes > 101*200 {
		t.Fatalf("%d writes, want whole rounds of 200, about 100 of them", res.Writes)
	}
	if res.System <= 0 || res.PerWrite < res.System {
		t.Fatalf("per write %g µs (system %g + user %g): the writes were not measured", res.PerWrite, res.System, res.User)
	}

	table := runCLI(t, "bench", "--floor", "--clients", "10", "--duration", "200ms")
	if table.code != 0 || !strings.Contains(table.stdout, "per write") {
		t.Fatalf("bench --floor as a table: exit %d\n%s%s", table.code, table.stdout, table.stderr)
	}
	bad := runCLI(t, "bench", "--floor", "--rate", "0")
	if bad.code != 2 || !strings.Contains(bad.stderr, "--floor needs --senders and --rate above 0") {
		t.Fatalf("bench --floor --rate 0: exit %d, %s; want a usage error", bad.code, bad.stderr)
	}
}
