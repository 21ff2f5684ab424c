package cmd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServeMetricsAddrReachesTheConfig(t *testing.T) {
	if o := parseServe(t); o.metricsAddr != "" || o.web.SeparateMetrics {
		t.Errorf("default: --metrics-addr %q, served apart %v; want on --addr", o.metricsAddr, o.web.SeparateMetrics)
	}
	if o := parseServe(t, "--metrics-addr", "127.0.0.1:9100"); o.metricsAddr != "127.0.0.1:9100" || !o.web.SeparateMetrics {
		t.Errorf("--metrics-addr 127.0.0.1:9100: %q, served apart %v", o.metricsAddr, o.web.SeparateMetrics)
	}
	// Two free ports are two addresses.
	if o := parseServe(t, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"); !o.web.SeparateMetrics {
		t.Error("--addr and --metrics-addr both 127.0.0.1:0 refused")
	}
}

func TestServeRefusesBadMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"without a port", []string{"--metrics-addr", "localhost"}, `--metrics-addr must be host:port such as 127.0.0.1:9100, got "localhost"`},
		{"with an empty port", []string{"--metrics-addr", "127.0.0.1:"}, "--metrics-addr must be host:port"},
		{"a URL", []string{"--metrics-addr", "http://127.0.0.1:9100/metrics"}, "--metrics-addr must be host:port"},
		{"the same as --addr", []string{"--addr", ":8080", "--metrics-addr", ":8080"},
			`--metrics-addr must differ from --addr (leave it unset to serve /metrics on --addr), got ":8080" for both`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"serve"}, tc.args...)...)
			if r.code != exitError || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, exitError, tc.want)
			}
		})
	}
	t.Run("from the environment", func(t *testing.T) {
		t.Setenv("CHATSERVER_METRICS_ADDR", "9100")
		if r := run(t, "serve"); r.code != exitError || !strings.Contains(r.report, `--metrics-addr must be host:port`) {
			t.Fatalf("exit %d, printed %q", r.code, r.report)
		}
	})
	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		db := filepath.Join(t.TempDir(), "chat.db")
		r := run(t, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", ln.Addr().String(), "--db", db)
		want := "cannot listen on " + ln.Addr().String() + ": the port is already in use (is another chatserver or program using it? choose another with --metrics-addr)"
		if r.code != exitError || !strings.Contains(r.report, want) {
			t.Fatalf("exit %d, %q; want %q", r.code, r.report, want)
		}
	})
}

// TestServeMetricsApartInProcess runs serve with --metrics-addr: it says
// where the metrics are, serves them there and not on --addr, and stops
// both on shutdown.
func TestServeMetricsApartInProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRootCommand()
	out, errOut := newLines(), newLines()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db})
	done, exited := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(exited)
		done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	mainURL := out.waitFor(t, regexp.MustCompile(`^chatserver: listening on (http://127\.0\.0\.1:\d+) `), 10*time.Second)
	metricsURL := out.waitFor(t, regexp.MustCompile(`^chatserver: metrics on (http://127\.0\.0\.1:\d+/metrics)$`), 10*time.Second)

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(metricsURL); code != http.StatusOK || !strings.Contains(body, "\nchatserver_messages_received_total 0\n") {
		t.Errorf("%s: %d %q", metricsURL, code, body)
	}
	if code, _ := get(mainURL + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on --addr: %d, want 404 when --metrics-addr is set", code)
	}
	if code, body := get(mainURL + "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after its context ended", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(metricsURL); err == nil {
		t.Error("the metrics address still answers after shutdown")
	}
}

// fakeStore answers the readiness questions as told.
type fakeStore struct{ check, ping error }

func (s fakeStore) Check() error { return s.check }
func (s fakeStore) Ping() error  { return s.ping }

func TestStoreReady(t *testing.T) {
	gone, broken := errors.New("deleted"), errors.New("closed")
	for _, tc := range []struct {
		name  string
		store fakeStore
		want  error
	}{
		{"in place and answering", fakeStore{}, nil},
		{"gone", fakeStore{check: gone}, errDatabaseGone},
		{"not answering", fakeStore{ping: broken}, errDatabaseUnreadable},
		{"gone and not answering", fakeStore{check: gone, ping: broken}, errDatabaseGone},
	} {
		if got := storeReady(tc.store); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
