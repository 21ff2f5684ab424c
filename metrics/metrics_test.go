package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/promtext"
	"chatserver/web/socketio/engineio"
)

// rules are the naming rules the whole exposition keeps.
var rules = promtext.Rules{Prefixes: []string{"chatserver_", "go_", "process_"}, Own: "chatserver_"}

// scrape serves r once and parses what it wrote, failing the test on a
// malformed exposition or a broken naming rule.
func scrape(t testing.TB, r *Registry) *promtext.Exposition {
	t.Helper()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type %q, want %q", ct, ContentType)
	}
	e, err := promtext.Parse(rec.Body.String())
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, rec.Body)
	}
	for _, err := range promtext.Lint(e, rules) {
		t.Errorf("naming rule broken: %v", err)
	}
	return e
}

// value returns a sample's value, failing the test if it is missing.
func value(t testing.TB, e *promtext.Exposition, name string, labels ...string) float64 {
	t.Helper()
	v, ok := e.Value(name, labels...)
	if !ok {
		t.Fatalf("no sample %s%q", name, labels)
	}
	return v
}

func TestRegistryCountsWhatItIsTold(t *testing.T) {
	r := New()
	r.Observe(Sources{
		Sessions: func() engineio.Stats { return engineio.Stats{Sessions: 5, Pending: 1, Polling: 1, WebSocket: 3} },
		Chatters: func() []RoomCount { return []RoomCount{{"general", 2}, {"games", 1}} },
	})
	for range 3 {
		r.MessageReceived()
	}
	r.MessagePaced()
	r.MessageRefused(chat.CodeRateLimited)
	r.MessageRefused(chat.CodeNameTaken) // not a message refusal: still counted
	r.Committed(2, 3*time.Millisecond, nil)
	r.Committed(1, 2*time.Second, errors.New("disk full"))
	r.Delivered(4)
	r.Resubscribed()
	r.CaughtUp(false)
	r.CaughtUp(false)
	r.CaughtUp(true)
	r.SessionOpened()
	r.SessionOpened()
	r.SessionClosed(engineio.ReasonPingTimeout)
	r.SessionClosed(engineio.ReasonSendQueueFull)
	r.SessionClosed("Handler Panic")
	r.WriteTimedOut()

	e := scrape(t, r)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"chatserver_messages_received_total", nil, 3},
		{"chatserver_messages_paced_total", nil, 1},
		{"chatserver_messages_refused_total", []string{"reason", "rate_limited"}, 1},
		{"chatserver_messages_refused_total", []string{"reason", "name_taken"}, 1},
		{"chatserver_messages_refused_total", []string{"reason", "store_failed"}, 0},
		{"chatserver_messages_stored_total", nil, 2},
		{"chatserver_messages_delivered_total", nil, 4},
		{"chatserver_redis_resubscribes_total", nil, 1},
		{"chatserver_redis_catchups_total", []string{"result", "complete"}, 2},
		{"chatserver_redis_catchups_total", []string{"result", "reset"}, 1},
		{"chatserver_store_commit_seconds_count", nil, 2},
		{"chatserver_store_commit_seconds_bucket", []string{"le", "0.005"}, 1},
		{"chatserver_store_commit_seconds_bucket", []string{"le", "2.5"}, 2},
		{"chatserver_store_commit_seconds_sum", nil, 2.003},
		{"chatserver_engineio_sessions_opened_total", nil, 2},
		{"chatserver_engineio_sessions_closed_total", []string{"reason", "ping_timeout"}, 1},
		{"chatserver_engineio_sessions_closed_total", []string{"reason", "send_queue_full"}, 1},
		{"chatserver_engineio_sessions_closed_total", []string{"reason", "handler_panic"}, 1},
		{"chatserver_engineio_sessions_closed_total", []string{"reason", "evicted"}, 0},
		{"chatserver_send_queue_overflows_total", nil, 1},
		{"chatserver_slow_clients_dropped_total", nil, 2},
		{"chatserver_connections", []string{"transport", "polling"}, 1},
		{"chatserver_connections", []string{"transport", "websocket"}, 3},
		{"chatserver_engineio_sessions", nil, 5},
		{"chatserver_engineio_sessions_pending", nil, 1},
		{"chatserver_chatters", []string{"room", "general"}, 2},
		{"chatserver_chatters", []string{"room", "games"}, 1},
	} {
		if got := value(t, e, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%q = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_gc_duration_seconds_count"} {
		value(t, e, name)
	}
}

func TestGaugesWaitForObserve(t *testing.T) {
	e := scrape(t, New())
	for _, name := range []string{"chatserver_connections", "chatserver_engineio_sessions", "chatserver_chatters"} {
		if f := e.Family(name); f != nil {
			t.Errorf("%s is written before Observe: %+v", name, f)
		}
	}
	if v := value(t, e, "chatserver_messages_received_total"); v != 0 {
		t.Errorf("a new registry has received %v messages", v)
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.MessageReceived()
	if v := value(t, scrape(t, b), "chatserver_messages_received_total"); v != 0 {
		t.Errorf("the second registry counts the first one's message: %v", v)
	}
	if v := value(t, scrape(t, a), "chatserver_messages_received_total"); v != 1 {
		t.Errorf("the first registry counts %v messages, want 1", v)
	}
}

func TestCloseReasonsAreCapped(t *testing.T) {
	r := New()
	for i := range 2 * maxCloseReasons {
		r.SessionClosed(fmt.Sprintf("reason %d", i))
	}
	e := scrape(t, r)
	f := e.Family("chatserver_engineio_sessions_closed_total")
	if n := len(f.Samples); n != maxCloseReasons+1 {
		t.Errorf("%d reason series, want %d and other", n, maxCloseReasons)
	}
	// The transport's reasons are there from the start, so the first few
	// application reasons get their own series and the rest are "other".
	if got, want := value(t, e, f.Name, "reason", otherCloseReason), float64(2*maxCloseReasons-(maxCloseReasons-len(closeReasons))); got != want {
		t.Errorf("other = %v, want %v", got, want)
	}
}

// TestCountingDoesNotAllocate: the calls made for every message and every
// delivery batch cost no allocation.
func TestCountingDoesNotAllocate(t *testing.T) {
	r := New()
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"MessageReceived", r.MessageReceived},
		{"MessageRefused", func() { r.MessageRefused(chat.CodeRateLimited) }},
		{"Committed", func() { r.Committed(3, time.Millisecond, nil) }},
		{"Delivered", func() { r.Delivered(1000) }},
		{"SessionOpened", r.SessionOpened},
		{"WriteTimedOut", r.WriteTimedOut},
	} {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, n)
		}
	}
}

func TestReasonLabel(t *testing.T) {
	for in, want := range map[string]string{
		"ping timeout":  "ping_timeout",
		"Handler Panic": "handler_panic",
		" x-y ":         "x_y",
		"":              "other",
	} {
		if got := reasonLabel(in); got != want {
			t.Errorf("reasonLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTidy(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"a total typed as a gauge",
			"# HELP process_io_read_bytes_total\n# TYPE process_io_read_bytes_total gauge\nprocess_io_read_bytes_total 1\n",
			"# HELP process_io_read_bytes_total " + runtimeHelp["process_io_read_bytes_total"] +
				"\n# TYPE process_io_read_bytes_total counter\nprocess_io_read_bytes_total 1\n"},
		{"a counter without _total",
			"# HELP go_gc_forced_count\n# TYPE go_gc_forced_count counter\ngo_gc_forced_count 3\n",
			"# HELP go_gc_forced_total " + runtimeHelp["go_gc_forced_total"] + "\n# TYPE go_gc_forced_total counter\ngo_gc_forced_total 3\n"},
		{"a gauge named like a count, with labels",
			"# HELP go_cpu_count\n# TYPE go_cpu_count gauge\ngo_cpu_count{x=\"y\"} 4\n",
			"# HELP go_cpus " + runtimeHelp["go_cpus"] + "\n# TYPE go_cpus gauge\ngo_cpus{x=\"y\"} 4\n"},
		{"chatserver's own, kept",
			"# HELP chatserver_chatters\n# TYPE chatserver_chatters gauge\nchatserver_chatters{room=\"/\"} 2\n",
			"# HELP chatserver_chatters " + help["chatserver_chatters"] + "\n# TYPE chatserver_chatters gauge\nchatserver_chatters{room=\"/\"} 2\n"},
		{"an unknown family, kept", "# HELP x_y\n# TYPE x_y gauge\nx_y 1\n", "# HELP x_y\n# TYPE x_y gauge\nx_y 1\n"},
	} {
		if got := string(tidy([]byte(tt.in))); got != tt.want {
			t.Errorf("%s: tidy gave\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

// TestEveryFamilyHasHelp: every family this system's exposition holds has
// its help text, the runtime's and the process's included (a family a
// newer library adds shows up here).
func TestEveryFamilyHasHelp(t *testing.T) {
	for _, f := range scrape(t, New()).Families {
		if f.Help == "" {
			t.Errorf("%s has no help text", f.Name)
		}
	}
}
