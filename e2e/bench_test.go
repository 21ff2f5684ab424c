package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"
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
			r := runCLI(t, "bench", "--url", srv.url, "--transport", tc.transport,
				"--clients", "6", "--senders", "2", "--rate", "5", "--duration", "2s", "--json")
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
			if res.Joined != 6 || res.Sent == 0 || res.Acked != res.Sent ||
				res.Expected != res.Sent*6 || res.Delivered != res.Expected || res.Loss != 0 {
				t.Fatalf("bench result %+v: want 6 joined, every message acked and delivered to all 6", res)
			}
		})
	}
}
