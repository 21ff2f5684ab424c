package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// logRecord is one line of the server's log, in either format.
type logRecord struct {
	line  string
	level string // DEBUG, INFO, WARN, ERROR
	msg   string
	attrs map[string]string // every key but time, level and msg; values as text
}

func (r logRecord) has(kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if v, ok := r.attrs[kv[i]]; !ok || v != kv[i+1] {
			return false
		}
	}
	return true
}

// parseLogLine reads a line of slog's JSON format (an object with time,
// level and msg strings) or of its text format (key=value pairs, a value
// with spaces or quotes in Go's quoted form, beginning with time, level
// and msg). ok is false for anything else.
func parseLogLine(line string) (logRecord, bool) {
	if strings.HasPrefix(line, "{") {
		return parseJSONLine(line)
	}
	return parseTextLine(line)
}

func parseJSONLine(line string) (logRecord, bool) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || dec.More() {
		return logRecord{}, false
	}
	rec := logRecord{line: line, attrs: make(map[string]string)}
	for _, key := range []string{"time", "level", "msg"} {
		if _, ok := obj[key].(string); !ok {
			return logRecord{}, false
		}
	}
	rec.level, rec.msg = obj["level"].(string), obj["msg"].(string)
	for k, v := range obj {
		switch k {
		case "time", "level", "msg":
			continue
		}
		rec.attrs[k] = fmt.Sprint(v)
	}
	return rec, true
}

func parseTextLine(line string) (logRecord, bool) {
	rec := logRecord{line: line, attrs: make(map[string]string)}
	var keys []string
	for rest := line; rest != ""; {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || strings.ContainsAny(rest[:eq], ` "`) {
			return logRecord{}, false
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return logRecord{}, false
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
			if strings.ContainsAny(val, `"=`) {
				return logRecord{}, false
			}
		}
		if rest != "" {
			if rest[0] != ' ' {
				return logRecord{}, false
			}
			rest = rest[1:]
		}
		keys = append(keys, key)
		rec.attrs[key] = val
	}
	if len(keys) < 3 || !slices.Equal(keys[:3], []string{"time", "level", "msg"}) {
		return logRecord{}, false
	}
	rec.level, rec.msg = rec.attrs["level"], rec.attrs["msg"]
	for _, k := range keys[:3] {
		delete(rec.attrs, k)
	}
	return rec, true
}

// logRecords parses everything the server has logged; a line that is
// neither format fails the test.
func (s *server) logRecords(t testing.TB) []logRecord {
	t.Helper()
	recs, bad := parseLog(s.stderr.String())
	if len(bad) > 0 {
		t.Fatalf("the server's standard error has lines that are not log records: %q", bad)
	}
	return recs
}

// parseLog parses each line of out, returning the records and the lines
// that are none.
func parseLog(out string) (recs []logRecord, bad []string) {
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		if r, ok := parseLogLine(line); ok {
			recs = append(recs, r)
		} else {
			bad = append(bad, line)
		}
	}
	return recs, bad
}

// logged returns the records with message msg and every key and value of
// kv, a list of pairs.
func (s *server) logged(t testing.TB, msg string, kv ...string) []logRecord {
	t.Helper()
	var out []logRecord
	for _, r := range s.logRecords(t) {
		if r.msg == msg && r.has(kv) {
			out = append(out, r)
		}
	}
	return out
}

// waitRecord waits until the server has logged a record with message msg
// and the attributes kv (pairs of key and value), within eventTimeout,
// and returns it.
func (s *server) waitRecord(t testing.TB, msg string, kv ...string) logRecord {
	t.Helper()
	var found logRecord
	ok := s.stderr.waitUntil(func(all string) bool {
		recs, _ := parseLog(all)
		for _, r := range recs {
			if r.msg == msg && r.has(kv) {
				found = r
				return true
			}
		}
		return false
	}, eventTimeout)
	if !ok {
		t.Fatalf("the server did not log %q with %q within %s", msg, kv, eventTimeout)
	}
	return found
}

// waitRecordContaining waits until the server has logged a record with
// message msg whose attribute key contains sub, within eventTimeout, and
// returns it.
func (s *server) waitRecordContaining(t testing.TB, msg, key, sub string) logRecord {
	t.Helper()
	var found logRecord
	ok := s.stderr.waitUntil(func(all string) bool {
		recs, _ := parseLog(all)
		for _, r := range recs {
			if r.msg == msg && strings.Contains(r.attrs[key], sub) {
				found = r
				return true
			}
		}
		return false
	}, eventTimeout)
	if !ok {
		t.Fatalf("the server did not log %q with %s containing %q within %s", msg, key, sub, eventTimeout)
	}
	return found
}

// checkLogLines fails the test if the server wrote anything to standard
// error that is not a log record, besides one last plain line of a
// command that failed ("chatserver: ...").
func checkLogLines(t testing.TB, stderr string) {
	t.Helper()
	_, bad := parseLog(stderr)
	if len(bad) == 1 && strings.HasPrefix(bad[0], "chatserver: ") && strings.HasSuffix(strings.TrimSuffix(stderr, "\n"), bad[0]) {
		return
	}
	if len(bad) > 0 {
		t.Errorf("the server's standard error has lines that are not log records: %q", bad)
	}
}
