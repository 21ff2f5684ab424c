package logger

import (
	"log/slog"
	"strings"
	"testing"

	"chatserver/internal/logtest"
	"chatserver/internal/throttle"
)

func TestNewLogsEachLineThrottledByItsClientOrKind(t *testing.T) {
	logger, rec := logtest.New(t)
	lines := throttle.New(logger, slog.LevelWarn, 1)
	l := New(lines, "http server error", nil)
	l.Printf("http: TLS handshake error from %s: EOF", "10.0.0.1:4242")
	l.Printf("http: TLS handshake error from %s: EOF", "10.0.0.1:4243") // the same client: counted
	l.Printf("http: TLS handshake error from %s: EOF", "10.0.0.2:4242") // another client: logged
	l.Print("http: panic serving 10.0.0.1:4242: 100% wrong\n")
	l.Print("http: panic serving 10.0.0.2:4242: 100% wrong\n") // the same kind: counted
	lines.Close()

	want := []string{
		"WARN http server error err=http: TLS handshake error from 10.0.0.1:4242: EOF",
		"WARN http server error err=http: TLS handshake error from 10.0.0.2:4242: EOF",
		"WARN http server error err=http: panic serving 10.0.0.1:4242: 100% wrong",
		"WARN " + throttle.SummaryMsg + " line=http server error key=10.0.0.1 count=1 window=1m0s",
		"WARN " + throttle.SummaryMsg + " line=http server error key=http: panic serving count=1 window=1m0s",
	}
	got := rec.Records()
	if len(got) != len(want) {
		t.Fatalf("logged %d lines, want %d:\n%s", len(got), len(want), rec)
	}
	for i, r := range got {
		if r.String() != want[i] {
			t.Errorf("line %d: %q, want %q", i, r.String(), want[i])
		}
	}
}

func TestKeyOf(t *testing.T) {
	network := func(host string) string {
		if strings.Contains(host, ":") {
			return host[:strings.LastIndex(host, ":")] + ":/net"
		}
		return host
	}
	w := writer{group: network}
	tests := []struct {
		line, want string
	}{
		{"http: TLS handshake error from 192.0.2.7:4242: EOF", "192.0.2.7"},
		{"http: TLS handshake error from [2001:db8::7]:4242: tls: first record does not look like a TLS handshake", "2001:db8::/net"},
		{"http: TLS handshake error from 192.0.2.7: EOF", "http: TLS handshake"}, // no port: not an address
		{"http: TLS handshake error from 192.0.2.7:4242", "http: TLS handshake"}, // no colon after it
		{"http: Accept error: too many open files; retrying in 5ms", "http: Accept error:"},
		{"from", "from"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := w.keyOf(tt.line); got != tt.want {
			t.Errorf("keyOf(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}
