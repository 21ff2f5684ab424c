package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/promtext"
)

// metricsRules are the naming rules every scrape keeps: chatserver's own
// families, the Go runtime's and the process's, and for chatserver's the
// Prometheus rules in full.
var metricsRules = promtext.Rules{Prefixes: []string{"chatserver_", "go_", "process_"}, Own: "chatserver_"}

// httpGet GETs url with the Host header host ("" for the URL's) and
// returns the status and body.
func httpGet(t testing.TB, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	c := http.Client{Timeout: eventTimeout}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scrapeMetrics fetches the exposition at url and parses it, failing the
// test if it is not served, does not parse or breaks a naming rule.
func scrapeMetrics(t testing.TB, url string) *promtext.Exposition {
	t.Helper()
	status, body := httpGet(t, url, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %q", url, status, body)
	}
	e, err := promtext.Parse(body)
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", url, err, body)
	}
	for _, err := range promtext.Lint(e, metricsRules) {
		t.Errorf("%s breaks a naming rule: %v", url, err)
	}
	return e
}

// series is one expected value of the exposition.
type series struct {
	name   string
	labels []string
	want   float64
}

// waitMetrics scrapes url until every series has its value, within
// eventTimeout, and returns the last scrape.
func waitMetrics(t testing.TB, url, what string, want ...series) *promtext.Exposition {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		e := scrapeMetrics(t, url)
		var wrong []string
		for _, s := range want {
			if got, ok := e.Value(s.name, s.labels...); !ok || got != s.want {
				wrong = append(wrong, fmt.Sprintf("%s%q = %v (present: %v), want %v", s.name, s.labels, got, ok, s.want))
			}
		}
		if len(wrong) == 0 {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %s still %q", what, eventTimeout, wrong)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetricsAfterChatTraffic drives the real socket.io-client over both
// transports: two chatters join, send messages (one refused), and one
// leaves. /metrics follows every step, every scrape keeping the naming
// rules, the commit histogram counting one transaction per message.
func TestMetricsAfterChatTraffic(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	url := srv.url + "/metrics"
	waitMetrics(t, url, "a fresh server",
		series{"chatserver_messages_received_total", nil, 0},
		series{"chatserver_connections", []string{"transport", "websocket"}, 0},
		series{"chatserver_chatters", []string{"room", "general"}, 0},
		series{"chatserver_store_commit_seconds_count", nil, 0},
	)

	d := startDriver(t)
	d.join("alice", srv.url, "alice")
	d.connect("bob", srv.url, "polling")
	if ack := d.call("bob", "join", "bob"); ack["ok"] != true {
		t.Fatalf("bob could not join: %v", ack)
	}
	for _, m := range []struct{ client, text string }{{"alice", "hi bob"}, {"bob", "hi alice"}, {"alice", "how are you?"}} {
		if ack := d.call(m.client, "messages", m.text); ack["ok"] != true {
			t.Fatalf("%s's message refused: %v", m.client, ack)
		}
	}
	if ack := d.call("alice", "messages", "   "); ack["error"] != "invalid_message" {
		t.Fatalf("a blank message: %v, want invalid_message", ack)
	}
	e := waitMetrics(t, url, "after the messages",
		series{"chatserver_connections", []string{"transport", "websocket"}, 1},
		series{"chatserver_connections", []string{"transport", "polling"}, 1},
		series{"chatserver_engineio_sessions", nil, 2},
		series{"chatserver_engineio_sessions_pending", nil, 0},
		series{"chatserver_engineio_sessions_opened_total", nil, 2},
		series{"chatserver_chatters", []string{"room", "general"}, 2},
		series{"chatserver_messages_received_total", nil, 4},
		series{"chatserver_messages_stored_total", nil, 3},
		series{"chatserver_messages_refused_total", []string{"reason", "invalid_message"}, 1},
		series{"chatserver_messages_refused_total", []string{"reason", "rate_limited"}, 0},
		series{"chatserver_messages_delivered_total", nil, 6},
		series{"chatserver_store_commit_seconds_count", nil, 3},
		series{"chatserver_store_commit_seconds_bucket", []string{"le", "+Inf"}, 3},
		series{"chatserver_slow_clients_dropped_total", nil, 0},
		series{"chatserver_send_queue_overflows_total", nil, 0},
	)
	h := e.Family("chatserver_store_commit_seconds")
	if h == nil || h.Type != "histogram" || len(h.Samples) < 4 {
		t.Errorf("the commit histogram: %+v, want a histogram with its buckets", h)
	}
	if sum, _ := e.Value("chatserver_store_commit_seconds_sum"); !(sum > 0) {
		t.Errorf("three commits took %v s in all, want more than 0", sum)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_gc_duration_seconds_count",
		"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if _, ok := e.Value(name); !ok {
			t.Errorf("no %s", name)
		}
	}

	d.send(map[string]any{"op": "close-engine", "client": "bob"})
	waitMetrics(t, url, "after bob left",
		series{"chatserver_connections", []string{"transport", "polling"}, 0},
		series{"chatserver_engineio_sessions", nil, 1},
		series{"chatserver_chatters", []string{"room", "general"}, 1},
		series{"chatserver_engineio_sessions_closed_total", []string{"reason", "transport_close"}, 1},
	)
}

// metricsLine is how serve says where the metrics are served apart.
var metricsLine = regexp.MustCompile(`(?m)^chatserver: metrics on (http://127\.0\.0\.1:\d+/metrics)$`)

// TestMetricsAddr: with --metrics-addr the metrics are served there, with
// the Host check, and no longer on --addr; the server stops cleanly.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--metrics-addr", "127.0.0.1:0")
	if !srv.stdout.waitFor("chatserver: metrics on ", startTimeout) {
		t.Fatalf("serve did not say where the metrics are:\n%s", srv.stdout)
	}
	m := metricsLine.FindStringSubmatch(srv.stdout.String())
	if m == nil {
		t.Fatalf("no metrics address in:\n%s", srv.stdout)
	}
	metricsURL := m[1]
	alice := joinWS(t, srv.url, "alice")
	say(t, alice, "counted")
	waitMetrics(t, metricsURL, "a message",
		series{"chatserver_messages_stored_total", nil, 1},
		series{"chatserver_chatters", []string{"room", "general"}, 1},
	)
	for _, tt := range []struct {
		what, url, host string
		status          int
	}{
		{"/metrics on --addr", srv.url + "/metrics", "", http.StatusNotFound},
		{"/livez on --addr", srv.url + "/livez", "", http.StatusOK},
		{"the page on --metrics-addr", metricsURL[:len(metricsURL)-len("/metrics")] + "/", "", http.StatusNotFound},
		{"/metrics for a foreign host name", metricsURL, "attacker.example", http.StatusMisdirectedRequest},
		{"/metrics for this machine", metricsURL, "localhost", http.StatusOK},
	} {
		if status, body := httpGet(t, tt.url, tt.host); status != tt.status {
			t.Errorf("%s: %d %q, want %d", tt.what, status, body, tt.status)
		}
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
