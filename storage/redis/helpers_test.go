package redis

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chatserver/internal/logtest"
	"chatserver/internal/redistest"
	"chatserver/storage"
)

// prefixes numbers the key prefixes of the stores tests open on a shared
// server, so that each test's data is its own.
var prefixes atomic.Int64

// testPrefix returns a key prefix no other test uses.
func testPrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }

// startServer runs a redis-server for the test.
func startServer(tb testing.TB) *redistest.Server {
	tb.Helper()
	return redistest.Start(tb, redistest.Options{})
}

// openStore opens a store on srv with opts (a prefix of its own and a
// logger of the test's unless given), failing the test on error, and closes it when the test ends.
func openStore(tb testing.TB, srv *redistest.Server, opts Options) *Store {
	tb.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix()
	}
	if opts.Logger == nil {
		opts.Logger, _ = logtest.New(tb)
	}
	s, err := Open(tb.Context(), srv.URL(), opts)
	if err != nil {
		tb.Fatalf("Open(%s, %+v): %v", srv.URL(), opts, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// mustChatters reads the names present in room and fails the test on
// error.
func mustChatters(tb testing.TB, s *Store, room string) []string {
	tb.Helper()
	got, err := s.Chatters(tb.Context(), room)
	if err != nil {
		tb.Fatalf("Chatters(%s): %v", room, err)
	}
	return got
}

// do runs a command on srv past the store, failing the test on error.
func do(tb testing.TB, srv *redistest.Server, args ...string) any {
	tb.Helper()
	reply, err := srv.Do(args...)
	if err != nil {
		tb.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return reply
}

// strs is a reply that is an array of strings.
func strs(tb testing.TB, reply any) []string {
	tb.Helper()
	arr, ok := reply.([]any)
	if !ok {
		tb.Fatalf("reply %#v is not an array", reply)
	}
	out := make([]string, len(arr))
	for i, v := range arr {
		s, ok := v.(string)
		if !ok {
			tb.Fatalf("reply element %#v is not a string", v)
		}
		out[i] = s
	}
	return out
}

// dump lists everything srv holds under prefix, sorted, one line per
// value: "KEY hash FIELD VALUE", "KEY list 0 VALUE", "KEY set MEMBER",
// "KEY zset MEMBER", "KEY stream ID VALUE", "KEY string VALUE" (sets
// without their scores, which are times). Two dumps with the same lines
// hold the same data.
func dump(tb testing.TB, srv *redistest.Server, prefix string) []string {
	tb.Helper()
	var lines []string
	for _, key := range strs(tb, do(tb, srv, "KEYS", prefix+"*")) {
		kind := do(tb, srv, "TYPE", key).(string)
		switch kind {
		case "hash":
			kv := strs(tb, do(tb, srv, "HGETALL", key))
			for i := 0; i < len(kv); i += 2 {
				lines = append(lines, fmt.Sprintf("%s hash %s %s", key, kv[i], kv[i+1]))
			}
		case "list":
			for i, v := range strs(tb, do(tb, srv, "LRANGE", key, "0", "-1")) {
				lines = append(lines, fmt.Sprintf("%s list %d %s", key, i, v))
			}
		case "set":
			for _, v := range strs(tb, do(tb, srv, "SMEMBERS", key)) {
				lines = append(lines, fmt.Sprintf("%s set %s", key, v))
			}
		case "zset":
			for _, v := range strs(tb, do(tb, srv, "ZRANGE", key, "0", "-1")) {
				lines = append(lines, fmt.Sprintf("%s zset %s", key, v))
			}
		case "stream":
			for _, e := range do(tb, srv, "XRANGE", key, "-", "+").([]any) {
				pair := e.([]any)
				lines = append(lines, fmt.Sprintf("%s stream %s %s", key, pair[0], strings.Join(strs(tb, pair[1]), " ")))
			}
		case "string":
			lines = append(lines, fmt.Sprintf("%s string %s", key, do(tb, srv, "GET", key)))
		default:
			lines = append(lines, key+" "+kind)
		}
	}
	sort.Strings(lines)
	return lines
}

// assertUnchanged fails the test if srv no longer holds what dump gave as
// before.
func assertUnchanged(tb testing.TB, srv *redistest.Server, prefix string, before []string) {
	tb.Helper()
	if after := dump(tb, srv, prefix); !slices.Equal(after, before) {
		tb.Errorf("the data under %s changed:\nbefore:\n%s\nafter:\n%s", prefix, strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// waitFor waits up to a deadline for cond to hold, looking again every few
// milliseconds (an expiry in Redis is no event anyone can wait on), and
// fails the test with what if it never does.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 10s for %s", what)
		}
		<-tick.C
	}
}

// mustClaim claims name in room with token (not resuming) and fails the
// test on error.
func mustClaim(tb testing.TB, s *Store, room, name, token string) storage.Claimed {
	tb.Helper()
	c, err := s.Claim(tb.Context(), room, name, token, false)
	if err != nil {
		tb.Fatalf("Claim(%s, %s, %q) on node %s: %v", room, name, token, s.Node(), err)
	}
	return c
}

// serverTime is the Redis server's clock, which claims and sessions expire
// by.
func serverTime(tb testing.TB, srv *redistest.Server) time.Time {
	tb.Helper()
	parts := strs(tb, do(tb, srv, "TIME"))
	sec, err1 := strconv.ParseInt(parts[0], 10, 64)
	usec, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("TIME = %q", parts)
	}
	return time.Unix(sec, usec*1000)
}
