package cmd

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
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
