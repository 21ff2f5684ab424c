package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"chatserver/internal/redistest"
	"chatserver/storage"
	"chatserver/storage/redis"
)

// seedRedis appends one message per text, sent by name, to room of the
// Redis at url.
func seedRedis(t testing.TB, url, room, name string, texts ...string) {
	t.Helper()
	st, err := redis.Open(context.Background(), url, redis.Options{})
	if err != nil {
		t.Fatalf("open Redis: %v", err)
	}
	defer st.Close()
	msgs := make([]storage.Message, len(texts))
	for i, text := range texts {
		msgs[i] = storage.Message{Name: name, Text: text, Time: time.Now()}
	}
	if _, err := st.AppendMessages(context.Background(), room, msgs); err != nil {
		t.Fatalf("append to %s: %v", room, err)
	}
}

// historyTexts is what `history` printed, without the times: "name: text"
// a line.
func historyTexts(out string) []string {
	var texts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		texts = append(texts, line[len(historyTimeFormat)+1:])
	}
	return texts
}

func TestRedisFlagAndEnvironment(t *testing.T) {
	live := redistest.Start(t, redistest.Options{})
	gone := redistest.Start(t, redistest.Options{})
	gone.Stop()
	seedRedis(t, live.URL(), storage.DefaultRoom, "alice", "in Redis")
	db := filepath.Join(t.TempDir(), "chat.db")
	seed(t, db, 10, "bob", "in the file")

	tests := []struct {
		name string
		env  string
		args []string
		want string // the one message printed, or the start of the report
		code int
	}{
		{"the flag", "", []string{"--redis", live.URL()}, "alice: in Redis", 0},
		{"the variable", live.URL(), nil, "alice: in Redis", 0},
		{"the flag wins over the variable", gone.URL(), []string{"--redis", live.URL()}, "alice: in Redis", 0},
		{"--db on the command line wins over the variable", live.URL(), []string{"--db", db}, "bob: in the file", 0},
		{"the variable wins over the default file", live.URL(), nil, "alice: in Redis", 0},
		{"--db and --redis together", "", []string{"--db", db, "--redis", live.URL()}, "chatserver: --db and --redis name two different stores", exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // no chatserver.db here
			t.Setenv("CHATSERVER_REDIS", tt.env)
			r := run(t, append([]string{"history"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %q %q", r.code, tt.code, r.stdout, r.report)
			}
			if tt.code != 0 {
				if !strings.HasPrefix(r.report, tt.want) {
					t.Errorf("report %q, want it to begin %q", r.report, tt.want)
				}
				return
			}
			if got := historyTexts(r.stdout); len(got) != 1 || got[0] != tt.want {
				t.Errorf("printed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRoomHistoryAndKickOnRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	url := srv.URL()
	where := "Redis at " + srv.Addr()
	t.Chdir(t.TempDir())

	steps := []struct {
		args   []string
		code   int
		output string // stdout on success, the report's text otherwise
	}{
		{[]string{"room", "add", "games", "--topic", "board games"}, 0, "added the room games to " + where + "; clients reach it at the namespace /games\n"},
		{[]string{"room", "add", "games"}, exitError, `there is already a room called "games" in ` + where},
		{[]string{"room", "add", "Bad!"}, exitError, `the room name "Bad!" may hold only a-z, 0-9, - and _, and must start with a letter or digit`},
		{[]string{"history", "--room", "nowhere"}, exitError, `there is no room called "nowhere" in ` + where},
		{[]string{"kick", "alice", "--room", "nowhere"}, exitError, `there is no room called "nowhere" in ` + where},
		{[]string{"room", "remove", "nowhere"}, exitError, `there is no room called "nowhere" in ` + where},
		{[]string{"room", "remove", "general"}, exitError, `the default room "general" cannot be removed`},
		{[]string{"kick", "--unban", "mallory"}, exitError, "mallory is not banned"},
	}
	for _, s := range steps {
		r := run(t, append(s.args, "--redis", url)...)
		got := r.stdout
		if r.code != 0 {
			got = strings.TrimSuffix(strings.TrimPrefix(r.report, "chatserver: "), "\n")
		}
		if r.code != s.code || got != s.output {
			t.Errorf("%q: exit %d, %q; want exit %d, %q", s.args, r.code, got, s.code, s.output)
		}
	}

	seedRedis(t, url, "games", "carol", "first", "second")
	r := run(t, "room", "list", "--json", "--redis", url)
	var rooms []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rooms); err != nil || r.code != 0 {
		t.Fatalf("room list: %v %q %q", err, r.stdout, r.report)
	}
	if got := fmt.Sprint(rooms); got != "[map[chatters:[] messages:0 name:general topic:] map[chatters:[] messages:2 name:games topic:board games]]" {
		t.Errorf("room list: %s", got)
	}
	if r := run(t, "history", "--room", "games", "-n", "1", "--redis", url); r.code != 0 || fmt.Sprint(historyTexts(r.stdout)) != "[carol: second]" {
		t.Errorf("history -n 1: %q %q", r.stdout, r.report)
	}

	// A ban is kept in Redis, for every node; unban lifts it.
	st, err := redis.Open(context.Background(), url, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if r := run(t, "kick", "nobody", "--redis", url); r.code != exitError || !strings.Contains(r.report, `no chatter called "nobody" is present`) {
		t.Errorf("kick of an absent chatter: exit %d, %q", r.code, r.report)
	}
	if r := run(t, "kick", "mallory", "--ban", "10m", "--redis", url); r.code != 0 || r.stdout != "mallory is not present\nbanned mallory for 10m0s\n" {
		t.Errorf("kick --ban: exit %d, %q %q", r.code, r.stdout, r.report)
	}
	// A nickname present through a node (its claim) is kicked from the
	// room it is in.
	if _, err := st.Claim(context.Background(), "games", "carol", "", false); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "kick", "carol", "--redis", url); r.code != 0 || !strings.Contains(r.stdout, "kicked carol from") || !strings.Contains(r.stdout, "games") {
		t.Errorf("kick of a present chatter: exit %d, %q %q", r.code, r.stdout, r.report)
	}
	if names, err := st.Chatters(context.Background(), "games"); err != nil || len(names) != 0 {
		t.Errorf("chatters of games after the kick: %q, %v", names, err)
	}
	if _, banned, err := st.BanExpiry(context.Background(), "mallory", time.Now()); err != nil || !banned {
		t.Errorf("mallory banned = %v, %v", banned, err)
	}
	if r := run(t, "kick", "--unban", "mallory", "--redis", url); r.code != 0 || r.stdout != "unbanned mallory\n" {
		t.Errorf("unban: exit %d, %q %q", r.code, r.stdout, r.report)
	}

	if r := run(t, "room", "remove", "games", "--redis", url); r.code != 0 || r.stdout != "removed the room games from "+where+"\n" {
		t.Errorf("room remove: exit %d, %q %q", r.code, r.stdout, r.report)
	}
}

func TestRedisThatRefusesOrIsAway(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "right-password"})
	gone := redistest.Start(t, redistest.Options{})
	gone.Stop()
	t.Chdir(t.TempDir())
	tests := []struct {
		name, url, want string
	}{
		{"a wrong password", "redis://:wrong-password@" + srv.Addr() + "/0", "Redis at " + srv.Addr() + " refused the user name or password of the URL"},
		{"no password", "redis://" + srv.Addr() + "/0", "Redis at " + srv.Addr() + " wants a password"},
		{"nothing listening", gone.URL(), "cannot connect to Redis at " + gone.Addr() + ": nothing listens there"},
		{"not a Redis URL", "http://:wrong-password@" + srv.Addr(), "the Redis URL http://:xxxxx@" + srv.Addr() + " must begin with redis:// or rediss://"},
		{"no host", "redis://:wrong-password@/0", "the Redis URL redis://:xxxxx@/0 names no host"},
		// A password holding / ? or # that is not percent-encoded ends
		// the URL's host early: the rest, password and all, is a path.
		{"a password holding a slash", "redis://:wrong-password/x@" + srv.Addr() + "/0",
			"the Redis URL is not valid (want redis://[:PASSWORD@]HOST:PORT/DB or rediss://…; write / ? # % in the password as %2F %3F %23 %25)"},
		{"a password holding a slash after digits", "redis://default:12/wrong-password@" + srv.Addr() + "/0",
			"the Redis URL redis://xxxxx@" + srv.Addr() + "/0: the path must be a database number, such as /0"},
		{"another scheme and a slash", "http://:1/wrong-password@" + srv.Addr(), "the Redis URL http://xxxxx@" + srv.Addr() + " must begin with redis:// or rediss://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"history"}, {"room", "list"}, {"room", "add", "games"}, {"kick", "alice"},
				{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "chat.db")},
			} {
				if tt.name == "nothing listening" && args[0] == "serve" {
					continue // serve waits for it (TestServeWaitsForRedis)
				}
				r := run(t, append(args, "--redis", tt.url)...)
				if r.code != exitError || !strings.HasPrefix(r.report, "chatserver: "+tt.want) || strings.Count(r.report, "\n") != 1 {
					t.Errorf("%q: exit %d, %q; want exit 1 and one line beginning %q", args, r.code, r.report, tt.want)
				}
				if strings.Contains(r.report, "wrong-password") || strings.Contains(r.stderr, "wrong-password") {
					t.Errorf("%q: the password is shown: %q %q", args, r.report, r.stderr)
				}
			}
		})
	}
}

// serving is `chatserver serve` run in this process until the test ends.
type serving struct {
	out, errOut *lines
	done        chan error
	cancel      context.CancelFunc
}

func serveRedis(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{out: newLines(), errOut: newLines(), done: make(chan error, 1), cancel: cancel}
	root := NewRootCommand()
	root.SetOut(s.out)
	root.SetErr(s.errOut)
	root.SetArgs(append([]string{"serve"}, args...))
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		s.done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return s
}

// stop ends the server and returns what serve returned.
func (s *serving) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
		return nil
	}
}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeWaitsForRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.Stop() // its port is free: nothing answers there until Restart
	db := filepath.Join(t.TempDir(), "chat.db")
	s := serveRedis(t, "--addr", "127.0.0.1:0", "--db", db, "--redis", srv.URL(), "--node", "web-1")

	addr := regexp.QuoteMeta(srv.Addr())
	url := s.out.waitFor(t, regexp.MustCompile(`^chatserver: waiting for Redis at `+addr+`; (http://127\.0\.0\.1:\d+) answers 503 until then$`), 10*time.Second)
	s.errOut.waitFor(t, regexp.MustCompile(`level=WARN msg="(waiting for Redis at `+addr+`)"`), 10*time.Second)
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/readyz", http.StatusServiceUnavailable, "not ready: waiting for Redis\n"},
		{"/", http.StatusServiceUnavailable, "chatserver is starting: waiting for Redis; try again in a moment\n"},
		{"/healthz", http.StatusOK, "ok\n"},
		{"/livez", http.StatusOK, "ok\n"},
	} {
		if code, body := get(t, url+tc.path); code != tc.code || body != tc.body {
			t.Errorf("GET %s while waiting: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}

	srv.Restart()
	// The next try (within 2 s of the first, then 4 s…) connects.
	s.out.waitFor(t, regexp.MustCompile(`^chatserver: listening on (`+regexp.QuoteMeta(url)+`) \(Redis at `+addr+`, node web-1\)$`), 40*time.Second)
	if code, body := get(t, url+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("GET /readyz once connected: %d %q", code, body)
	}
	// The admin socket beside --db serves the hub, whose store is Redis.
	if r := run(t, "room", "add", "games", "--db", db); r.code != 0 || !strings.HasPrefix(r.stdout, "added the room games;") {
		t.Errorf("room add through the admin socket: %q %q", r.stdout, r.report)
	}
	if r := run(t, "room", "list", "--redis", srv.URL()); r.code != 0 || !strings.Contains(r.stdout, "\ngames ") {
		t.Errorf("room list in Redis: %q %q", r.stdout, r.report)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("serve --redis created the database file %s", db)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("serve returned %v", err)
	}
}

func TestServeStopsWhileWaitingForRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.Stop()
	s := serveRedis(t, "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "chat.db"), "--redis", srv.URL())
	url := s.out.waitFor(t, regexp.MustCompile(`^chatserver: waiting for Redis at \S+; (\S+) answers 503 until then$`), 10*time.Second)
	if err := s.stop(t); err != nil {
		t.Errorf("serve returned %v after its context ended while waiting", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Errorf("%s still answers after serve returned", url)
	}
}

func TestServeCheckLooksAtRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	db := filepath.Join(t.TempDir(), "chat.db")
	r := run(t, "serve", "--check", "--addr", "127.0.0.1:0", "--db", db, "--redis", srv.URL())
	want := "# Redis at " + srv.Addr() + ": answers; nothing under the prefix chatserver: yet, which serve will set up\n"
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("check of an empty Redis: exit %d, %q %q; want the line %q", r.code, r.stdout, r.report, want)
	}
	if keys, err := srv.Do("DBSIZE"); err != nil || keys != int64(0) {
		t.Errorf("--check wrote to Redis: %v keys, %v", keys, err)
	}
	seedRedis(t, srv.URL(), storage.DefaultRoom, "alice", "hi")
	r = run(t, "serve", "--check", "--addr", "127.0.0.1:0", "--db", db, "--redis", srv.URL())
	if want := "# Redis at " + srv.Addr() + ": answers, holding chatserver's data under the prefix chatserver: in 1 room\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("check: exit %d, %q %q; want the line %q", r.code, r.stdout, r.report, want)
	}
}

func TestServeCheckHidesThePassword(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "right-password"})
	db := filepath.Join(t.TempDir(), "chat.db")
	r := run(t, "serve", "--check", "--addr", "127.0.0.1:0", "--db", db, "--redis", srv.URL())
	want := "redis = \"redis://:xxxxx@" + srv.Addr() + "/0\""
	if r.code != 0 || !strings.Contains(r.stdout, "\n"+want+" ") {
		t.Errorf("check: exit %d, %q %q; want the setting %s", r.code, r.stdout, r.report, want)
	}
	if strings.Contains(r.stdout+r.stderr, "right-password") {
		t.Errorf("--check shows the password: %q %q", r.stdout, r.stderr)
	}
}

func TestDefaultNode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"pi-8080", "pi-8080"},
		{"pi.lan-8080", "pi.lan-8080"},
		{"my pi:é-80", "my-pi----80"},
		{strings.Repeat("a", 70) + "-8080", strings.Repeat("a", 64)},
	} {
		if got := sanitizeNode(tc.in); got != tc.want {
			t.Errorf("sanitizeNode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	host, _ := os.Hostname()
	if got, want := defaultNode("127.0.0.1:9000"), sanitizeNode(host+"-9000"); got != want || !validName(got, maxNodeName, "._-") {
		t.Errorf("defaultNode = %q, want %q", got, want)
	}
	if o := parseServe(t, "--addr", ":7000", "--redis", "redis://127.0.0.1:1/0"); o.node != defaultNode(":7000") {
		t.Errorf("serve's node %q, want %q", o.node, defaultNode(":7000"))
	}
}
