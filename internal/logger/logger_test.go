package logger

import (
	"log/slog"
	"testing"

	"chatserver/internal/logtest"
	"chatserver/internal/throttle"
)

func TestNewLogsEachLineThrottledByItsKind(t *testing.T) {
	logger, rec := logtest.New(t)
	lines := throttle.New(logger, slog.LevelWarn, 1)
	l := New(lines, "http server error")
	l.Printf("http: TLS handshake error from %s: EOF", "10.0.0.1:4242")
	l.Printf("http: TLS handshake error from %s: EOF", "10.0.0.2:4242") // the same kind: counted
	l.Print("http: panic serving 10.0.0.1:4242: 100% wrong\n")
	lines.Close()

	want := []string{
		"WARN http server error err=http: TLS handshake error from 10.0.0.1:4242: EOF",
		"WARN http server error err=http: panic serving 10.0.0.1:4242: 100% wrong",
		"WARN " + throttle.SummaryMsg + " line=http server error key=http: TLS handshake count=1 window=1m0s",
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
