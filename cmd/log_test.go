package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// logAtEveryLevel logs one line at each level through the logger that
// serve builds from args, and returns what it wrote.
func logAtEveryLevel(t *testing.T, args ...string) string {
	t.Helper()
	var buf bytes.Buffer
	logger := parseServe(t, args...).newLogger(&buf)
	logger.Debug("a debug line", "n", 1)
	logger.Info("an info line", "nick", "alice")
	logger.Warn("a warning", "addr", "192.0.2.7")
	logger.Error("an error", "err", "disk full")
	return buf.String()
}

// textLine is a line of slog's text format: time, level and msg first.
var textLine = regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR) msg=("[^"]*"|\S+)( \w+=("[^"]*"|\S*))*$`)

func TestServeLogsInTheChosenFormatFromTheChosenLevel(t *testing.T) {
	tests := []struct {
		args   []string
		levels []string
	}{
		{nil, []string{"INFO", "WARN", "ERROR"}},
		{[]string{"--log-level", "debug"}, []string{"DEBUG", "INFO", "WARN", "ERROR"}},
		{[]string{"--log-level", "warn"}, []string{"WARN", "ERROR"}},
		{[]string{"--log-level", "error"}, []string{"ERROR"}},
		{[]string{"--log-format", "json"}, []string{"INFO", "WARN", "ERROR"}},
		{[]string{"--log-format", "json", "--log-level", "warn"}, []string{"WARN", "ERROR"}},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		if name == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			out := logAtEveryLevel(t, tt.args...)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			var levels []string
			for _, line := range lines {
				if slices.Contains(tt.args, "json") {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("line %q is not a JSON object: %v", line, err)
					}
					for _, key := range []string{"time", "level", "msg"} {
						if _, ok := rec[key].(string); !ok {
							t.Errorf("line %q has no %s", line, key)
						}
					}
					levels = append(levels, rec["level"].(string))
					continue
				}
				m := textLine.FindStringSubmatch(line)
				if m == nil {
					t.Fatalf("line %q is not slog's text format", line)
				}
				levels = append(levels, m[1])
			}
			if !slices.Equal(levels, tt.levels) {
				t.Errorf("logged the levels %q, want %q:\n%s", levels, tt.levels, out)
			}
		})
	}
}

// TestServeSendsTheStandardLogToItsLog: what libraries write with the
// standard log package (the metrics library's errors) comes out in the
// chosen format, as a warning; when serve returns, the log package and
// slog's default are as they were.
func TestServeSendsTheStandardLogToItsLog(t *testing.T) {
	prevOut, prevFlags, prevDefault := log.Writer(), log.Flags(), slog.Default()
	db := filepath.Join(t.TempDir(), "chat.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRootCommand()
	out, errOut := newLines(), newLines()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-format", "json"})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		root.ExecuteContext(ctx)
	}()
	errOut.waitFor(t, regexp.MustCompile(`"msg":"chatserver (started)"`), 10*time.Second)

	log.Printf("ERROR: metrics: cannot open %s: %s", "/proc/self/io", "permission denied")
	line := errOut.waitFor(t, regexp.MustCompile(`^(\{.*"msg":"library error".*\})$`), 10*time.Second)
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("line %q is not a JSON object: %v", line, err)
	}
	if rec["level"] != "WARN" || rec["err"] != "ERROR: metrics: cannot open /proc/self/io: permission denied" {
		t.Errorf("logged %q, want a warning with the line as err", line)
	}

	cancel()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if log.Writer() != prevOut || log.Flags() != prevFlags || slog.Default() != prevDefault {
		t.Errorf("after serve: log writes to %v with flags %d, slog's default %v; want %v, %d, %v as before",
			log.Writer(), log.Flags(), slog.Default(), prevOut, prevFlags, prevDefault)
	}
}
