package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/internal/promtext"
	"chatserver/internal/siotest"
	"chatserver/metrics"
	"chatserver/storage/bolt"
)

// metricsRules are the naming rules the exposition keeps.
var metricsRules = promtext.Rules{Prefixes: []string{"chatserver_", "go_", "process_"}, Own: "chatserver_"}

// metricsServer is a whole HTTP front with its metrics, serving on
// listeners of its own (the metrics on metricsURL when apart).
type metricsServer struct {
	srv               *Server
	url, metricsURL   string
	served, metServed chan error // what Serve and ServeMetrics returned
}

// startMetricsServer runs New with a fresh Registry (served apart when
// separate) on a real store, and shuts it all down when the test ends.
func startMetricsServer(t *testing.T, separate bool) *metricsServer {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "chat.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New()
	logger, _ := logtest.New(t)
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(room, Config{Logger: logger, Metrics: reg, SeparateMetrics: separate})
	m := &metricsServer{srv: srv, served: make(chan error, 1), metServed: make(chan error, 1)}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	ln := listen()
	m.url = "http://" + ln.Addr().String()
	go func() { m.served <- srv.Serve(ln) }()
	if separate {
		mln := listen()
		m.metricsURL = "http://" + mln.Addr().String()
		go func() { m.metServed <- srv.ServeMetrics(mln) }()
	} else {
		m.metServed <- nil
	}
	t.Cleanup(func() {
		m.shutdown(t)
		room.Close()
		store.Close()
	})
	return m
}

// shutdown shuts the server down and checks that both Serve calls
// returned nil. Idempotent.
func (m *metricsServer) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, ch := range []chan error{m.served, m.metServed} {
		select {
		case err, ok := <-ch:
			if ok && err != nil {
				t.Errorf("Serve: %v", err)
			}
			if ok {
				close(ch)
			}
		case <-ctx.Done():
			t.Error("Serve did not return after Shutdown")
		}
	}
}

// fetch GETs url with the Host header host ("" for the URL's).
func fetch(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// scrapeAt fetches and parses the metrics at base, failing the test if
// they do not parse or break a naming rule.
func scrapeAt(t *testing.T, base string) *promtext.Exposition {
	t.Helper()
	status, body := fetch(t, base+"/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d %q", status, body)
	}
	e, err := promtext.Parse(body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	for _, err := range promtext.Lint(e, metricsRules) {
		t.Errorf("/metrics breaks a naming rule: %v", err)
	}
	return e
}

// sample is one expected value of the exposition.
type sample struct {
	name   string
	labels []string
	want   float64
}

// waitSamples scrapes base until every sample has its value, failing the
// test with the last values seen if that does not happen in time.
func waitSamples(t *testing.T, base, what string, want []sample) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e := scrapeAt(t, base)
		var wrong []string
		for _, s := range want {
			if got, ok := e.Value(s.name, s.labels...); !ok || got != s.want {
				wrong = append(wrong, fmt.Sprintf("%s%q = %v (present: %v), want %v", s.name, s.labels, got, ok, s.want))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q", what, wrong)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsFollowChatTraffic: two chatters join over WebSocket, one
// sends a message that is stored and two that are refused, then leaves;
// /metrics tells each step, and keeps the naming rules throughout.
func TestMetricsFollowChatTraffic(t *testing.T) {
	m := startMetricsServer(t, false)
	waitSamples(t, m.url, "a new server", []sample{
		{"chatserver_connections", []string{"transport", "websocket"}, 0},
		{"chatserver_chatters", []string{"room", "general"}, 0},
		{"chatserver_messages_received_total", nil, 0},
	})

	alice := siotest.Dial(t, m.url, siotest.Options{})
	alice.Connect("/", "")
	if reply := alice.Call("join", "alice").Object(0); reply["ok"] != true {
		t.Fatalf("join: %v", reply)
	}
	bob := siotest.Dial(t, m.url, siotest.Options{})
	bob.Connect("/", "")
	if reply := bob.Call("join", "bob").Object(0); reply["ok"] != true {
		t.Fatalf("join: %v", reply)
	}
	if reply := alice.Call("messages", "hello").Object(0); reply["ok"] != true {
		t.Fatalf("message: %v", reply)
	}
	for _, bad := range []any{"   ", 42} {
		if reply := alice.Call("messages", bad).Object(0); reply["error"] != string(chat.CodeInvalidMessage) {
			t.Fatalf("message %v: %v, want invalid_message", bad, reply)
		}
	}
	waitSamples(t, m.url, "after the messages", []sample{
		{"chatserver_connections", []string{"transport", "websocket"}, 2},
		{"chatserver_connections", []string{"transport", "polling"}, 0},
		{"chatserver_engineio_sessions", nil, 2},
		{"chatserver_engineio_sessions_opened_total", nil, 2},
		{"chatserver_chatters", []string{"room", "general"}, 2},
		{"chatserver_messages_received_total", nil, 3},
		{"chatserver_messages_refused_total", []string{"reason", "invalid_message"}, 2},
		{"chatserver_messages_stored_total", nil, 1},
		{"chatserver_messages_delivered_total", nil, 2},
		{"chatserver_store_commit_seconds_count", nil, 1},
		{"chatserver_store_commit_seconds_bucket", []string{"le", "+Inf"}, 1},
	})

	bob.Close()
	waitSamples(t, m.url, "after bob left", []sample{
		{"chatserver_connections", []string{"transport", "websocket"}, 1},
		{"chatserver_engineio_sessions", nil, 1},
		{"chatserver_chatters", []string{"room", "general"}, 1},
		{"chatserver_engineio_sessions_closed_total", []string{"reason", "transport_close"}, 1},
	})
	e := scrapeAt(t, m.url)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := e.Value(name); !ok {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsServedApart: with SeparateMetrics, /metrics is served by
// ServeMetrics's listener alone, which answers nothing else and keeps the
// Host check; Shutdown ends both.
func TestMetricsServedApart(t *testing.T) {
	m := startMetricsServer(t, true)
	for _, tt := range []struct {
		what, url, host string
		status          int
	}{
		{"the main listener's /metrics", m.url + "/metrics", "", http.StatusNotFound},
		{"the main listener's /livez", m.url + "/livez", "", http.StatusOK},
		{"the metrics listener's /livez", m.metricsURL + "/livez", "", http.StatusNotFound},
		{"the metrics listener's page", m.metricsURL + "/", "", http.StatusNotFound},
		{"/metrics for a foreign host", m.metricsURL + "/metrics", "attacker.example", http.StatusMisdirectedRequest},
		{"/metrics for localhost", m.metricsURL + "/metrics", "localhost:9100", http.StatusOK},
	} {
		if status, body := fetch(t, tt.url, tt.host); status != tt.status {
			t.Errorf("%s: %d %q, want %d", tt.what, status, body, tt.status)
		}
	}
	scrapeAt(t, m.metricsURL)
	m.shutdown(t)
	if _, err := http.Get(m.metricsURL + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after Shutdown")
	}
}

func TestServeMetricsNeedsSeparateMetrics(t *testing.T) {
	m := startMetricsServer(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := m.srv.ServeMetrics(ln); err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("ServeMetrics without SeparateMetrics: %v, want an error", err)
	}
}
