package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/web/admin"
)

// commandTimeout bounds one command run in a test; every command here
// answers within a couple of seconds (the lock timeout is one).
const commandTimeout = 20 * time.Second

// result is what one run of the root command produced.
type result struct {
	stdout, stderr string
	err            error
	code           int    // exit code Execute would use (0 on success)
	report         string // what Execute would print on failure
}

// run runs the real root command with args.
func run(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	root := NewRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	r := result{stdout: out.String(), stderr: errOut.String(), err: err}
	if err != nil {
		var rep bytes.Buffer
		r.code = report(&rep, cmd, err)
		r.report = rep.String()
	}
	return r
}

// seed creates a database at path holding one message per text, sent by
// name at one-second steps from a fixed time, and returns them as stored.
func seed(t testing.TB, path string, history int, name string, texts ...string) []storage.Message {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{History: history})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer st.Close()
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	msgs := make([]storage.Message, len(texts))
	for i, text := range texts {
		msgs[i] = storage.Message{Name: name, Text: text, Time: start.Add(time.Duration(i+1) * time.Second)}
	}
	stored, err := st.AppendMessages(context.Background(), storage.DefaultRoom, msgs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return stored
}

// withStore opens path read-write for a look at it, then closes it.
func withStore(t testing.TB, path string, fn func(*bolt.Store)) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{History: keepAll})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer st.Close()
	fn(st)
}

// holdLock opens path read-write and keeps it open (and locked) until the
// test ends, as a running server would.
func holdLock(t testing.TB, path string) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	for _, c := range NewRootCommand().Commands() {
		if c.Name() == "help" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			r := run(t, c.Name(), "--help")
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !strings.Contains(r.stdout, "Examples:\n  chatserver "+c.Name()) {
				t.Errorf("help has no example of the command:\n%s", r.stdout)
			}
		})
	}
}

func TestHistoryReadsTheFileWhenNoServerRuns(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	seed(t, db, 10, "alice", "hi", "two\nlines", "<b>&</b>")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("text, oldest first, UTC", func(t *testing.T) {
		r := run(t, "history", "--db", db)
		if r.err != nil {
			t.Fatal(r.err)
		}
		want := "2026-11-29 12:00:01 alice: hi\n" +
			"2026-11-29 12:00:02 alice: two\n" +
			"                    lines\n" +
			"2026-11-29 12:00:03 alice: <b>&</b>\n"
		if r.stdout != want {
			t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
		}
	})
	t.Run("-n keeps the newest", func(t *testing.T) {
		r := run(t, "history", "--db", db, "-n", "1")
		if r.err != nil || r.stdout != "2026-11-29 12:00:03 alice: <b>&</b>\n" {
			t.Errorf("got %q, %v", r.stdout, r.err)
		}
	})
	t.Run("json array of wire messages", func(t *testing.T) {
		r := run(t, "history", "--db", db, "--json")
		if r.err != nil {
			t.Fatal(r.err)
		}
		var got []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		if len(got) != 3 {
			t.Fatalf("%d messages, want 3", len(got))
		}
		first := got[0]
		if first["name"] != "alice" || first["text"] != "hi" || first["time"] != "2026-11-29T12:00:01.000Z" || first["id"] == nil {
			t.Errorf("first message %v", first)
		}
		if !strings.Contains(r.stdout, `"<b>&</b>"`) {
			t.Errorf("text was escaped: %s", r.stdout)
		}
	})
	t.Run("empty history is an empty array", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.db")
		seed(t, empty, 10, "x")
		r := run(t, "history", "--db", empty, "--json")
		if r.err != nil || strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("got %q, %v", r.stdout, r.err)
		}
	})

	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("history changed the database file")
	}
}

func TestHistoryWithoutAFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing.db")
	r := run(t, "history", "--db", db)
	if r.code != exitError || !strings.Contains(r.report, "no database at "+db) {
		t.Fatalf("exit %d, %q", r.code, r.report)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Error("history created the file")
	}
}

func TestKickWithoutServerEditsTheFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	// A server kept 30 messages; an offline kick must not trim them to the
	// default 10.
	texts := make([]string, 30)
	for i := range texts {
		texts[i] = "m"
	}
	seed(t, db, 30, "alice", texts...)
	withStore(t, db, func(st *bolt.Store) {
		if err := st.SetChatters(context.Background(), storage.DefaultRoom, []string{"alice", "Bob"}); err != nil {
			t.Fatal(err)
		}
	})

	steps := []struct {
		name     string
		args     []string
		code     int
		output   string // in stdout on success, in the report on failure
		chatters string
	}{
		{"kick a stored chatter, case-insensitively", []string{"kick", "BOB"}, 0, "removed BOB from the stored chatters of the room general", "alice"},
		{"kick an absent nickname", []string{"kick", "bob"}, exitError, `no chatter called "bob"`, "alice"},
		{"ban an absent nickname", []string{"kick", "carol", "--ban", "1h"}, 0, "banned carol for 1h0m0s", "alice"},
		{"unban", []string{"kick", "--unban", "carol"}, 0, "unbanned carol", "alice"},
		{"unban again", []string{"kick", "--unban", "carol"}, exitError, "carol is not banned", "alice"},
	}
	for _, s := range steps {
		r := run(t, append(s.args, "--db", db)...)
		if r.code != s.code {
			t.Fatalf("%s: exit %d, want %d (%s%s)", s.name, r.code, s.code, r.stdout, r.report)
		}
		if got := r.stdout + r.report; !strings.Contains(got, s.output) {
			t.Errorf("%s: output %q, want %q", s.name, got, s.output)
		}
		withStore(t, db, func(st *bolt.Store) {
			names, err := st.Chatters(context.Background(), storage.DefaultRoom)
			if err != nil || strings.Join(names, ",") != s.chatters {
				t.Errorf("%s: stored chatters %q, %v; want %q", s.name, names, err, s.chatters)
			}
		})
	}
	withStore(t, db, func(st *bolt.Store) {
		if msgs, _ := st.RecentMessages(context.Background(), storage.DefaultRoom, 0); len(msgs) != 30 {
			t.Errorf("%d messages left, want 30", len(msgs))
		}
	})
}

func TestCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"frob"}, exitUsage, `unknown command "frob"`},
		{"unknown flag", []string{"serve", "--frob"}, exitUsage, "unknown flag: --frob\nRun 'chatserver serve --help' for usage."},
		{"argument to serve", []string{"serve", "now"}, exitUsage, "takes no arguments"},
		{"kick without a nickname", []string{"kick"}, exitUsage, "exactly one nickname"},
		{"negative -n", []string{"history", "-n", "-1"}, exitError, "-n must be 0 or more"},
		{"history of zero", []string{"serve", "--history", "0"}, exitError, "--history must be between 1 and 1000"},
		{"address without port", []string{"serve", "--addr", "localhost"}, exitError, "--addr must be host:port"},
		{"origin that is not one", []string{"serve", "--allowed-origins", "chat.example.org"}, exitError, "--allowed-origins entries must look like"},
		{"message limit of zero", []string{"serve", "--max-message", "0"}, exitError, "--max-message must be between 1 and 100000, got 0"},
		{"rate of zero", []string{"serve", "--rate", "0"}, exitError, "--rate must be more than 0"},
		{"rate that is not a number", []string{"serve", "--rate", "NaN"}, exitError, "--rate must be more than 0"},
		{"burst of zero", []string{"serve", "--burst", "0"}, exitError, "--burst must be between 1 and"},
		{"flood limit of zero", []string{"serve", "--flood-limit", "0"}, exitError, "--flood-limit must be between 1 and"},
		{"negative pace backlog", []string{"serve", "--pace-backlog", "-1"}, exitError, "--pace-backlog must be between 0 and 1000, got -1"},
		{"pace backlog too large", []string{"serve", "--pace-backlog", "5000"}, exitError, "--pace-backlog must be between 0 and 1000, got 5000"},
		{"address factor of zero", []string{"serve", "--ip-rate-factor", "0"}, exitError, "--ip-rate-factor must be between 1 and 100000, got 0"},
		{"negative connection cap", []string{"serve", "--max-connections", "-1"}, exitError, "--max-connections must be between 0 and"},
		{"negative per-address cap", []string{"serve", "--max-connections-per-ip", "-5"}, exitError, "--max-connections-per-ip must be between 0 and"},
		{"ping interval too short", []string{"serve", "--ping-interval", "10ms"}, exitError, "--ping-interval must be between 100ms and 1h0m0s, got 10ms"},
		{"ping timeout too long", []string{"serve", "--ping-timeout", "2h"}, exitError, "--ping-timeout must be between 100ms and 1h0m0s"},
		{"header timeout of zero", []string{"serve", "--read-header-timeout", "0s"}, exitError, "--read-header-timeout must be between"},
		{"negative flush interval", []string{"serve", "--flush-interval", "-1ms"}, exitError, "--flush-interval must be between 0 and 1s, got -1ms"},
		{"flush interval over a second", []string{"serve", "--flush-interval", "2s"}, exitError, "--flush-interval must be between 0 and 1s, got 2s"},
		{"payload too small for the longest message", []string{"serve", "--max-payload", "5000"}, exitError,
			"--max-payload must be at least 9024 bytes to carry a message of --max-message 2000 characters, got 5000"},
		{"send queue too small for a join", []string{"serve", "--send-queue", "100"}, exitError,
			"--send-queue must be at least --history + --max-connections + 64 = 2074, got 100"},
		{"send queue too small for the history", []string{"serve", "--max-connections", "0", "--history", "100", "--send-queue", "100"}, exitError,
			"--send-queue must be at least --history + 64 = 164, got 100"},
		{"send queue too small for a recovery", []string{"serve", "--max-connections", "10", "--send-queue", "500"}, exitError,
			"--send-queue must be at least 1064 with --recovery-window on, got 500"},
		{"recovery window over a day", []string{"serve", "--recovery-window", "25h"}, exitError,
			"--recovery-window must be between 0s and 24h0m0s, got 25h0m0s"},
		{"negative presence grace", []string{"serve", "--presence-grace", "-1s"}, exitError,
			"--presence-grace must be between 0s and 10m0s, got -1s"},
		{"proxy that is a host name", []string{"serve", "--trusted-proxies", "10.0.0.1,proxy.lan"}, exitError,
			`--trusted-proxies entries must be addresses such as 10.0.0.1 or networks such as 10.0.0.0/8, got "proxy.lan"`},
		{"log format that is not one", []string{"serve", "--log-format", "logfmt"}, exitError, `--log-format must be text or json, got "logfmt"`},
		{"log level that is not one", []string{"serve", "--log-level", "verbose"}, exitError,
			`--log-level must be debug, info, warn or error, got "verbose"`},
		{"log level in capitals", []string{"serve", "--log-level", "INFO"}, exitError, `--log-level must be debug, info, warn or error, got "INFO"`},
		{"log messages that is not a boolean", []string{"serve", "--log-messages=sometimes"}, exitUsage, "--log-messages"},
		{"unban with ban", []string{"kick", "x", "--unban", "--ban", "1m"}, exitError, "--unban cannot be combined"},
		{"negative ban", []string{"kick", "x", "--ban", "-1m"}, exitError, "--ban must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, tc.code, tc.want)
			}
			if strings.Count(strings.TrimSpace(r.report), "\n") > 1 || r.stdout != "" || r.stderr != "" {
				t.Errorf("more than a short message: stdout %q stderr %q report %q", r.stdout, r.stderr, r.report)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	envDBPath, flagDBPath := filepath.Join(dir, "env.db"), filepath.Join(dir, "flag.db")
	seed(t, envDBPath, 10, "env", "from env")
	seed(t, flagDBPath, 10, "flag", "from flag")
	t.Setenv("CHATSERVER_DB", envDBPath)

	if r := run(t, "history"); r.err != nil || !strings.Contains(r.stdout, "from env") {
		t.Errorf("CHATSERVER_DB not used: %q, %v", r.stdout, r.err)
	}
	if r := run(t, "history", "--db", flagDBPath); r.err != nil || !strings.Contains(r.stdout, "from flag") {
		t.Errorf("--db did not win over CHATSERVER_DB: %q, %v", r.stdout, r.err)
	}
	for _, tc := range []struct{ env, value, want string }{
		{"CHATSERVER_HISTORY", "ten", "CHATSERVER_HISTORY=\"ten\" is not valid: --history takes a whole number"},
		{"CHATSERVER_HISTORY", "0", "--history must be between 1 and 1000"},
		{"CHATSERVER_ADDR", "nowhere", "--addr must be host:port"},
		{"CHATSERVER_RATE", "fast", `CHATSERVER_RATE="fast" is not valid: --rate takes a number such as 5 or 0.5`},
		{"CHATSERVER_PING_INTERVAL", "5", `CHATSERVER_PING_INTERVAL="5" is not valid: --ping-interval takes a duration such as 10m or 2h`},
		{"CHATSERVER_MAX_CONNECTIONS_PER_IP", "-1", "--max-connections-per-ip must be between 0 and"},
		{"CHATSERVER_TRUSTED_PROXIES", "10.0.0.0/8,everyone", `--trusted-proxies entries must be addresses`},
		{"CHATSERVER_LOG_LEVEL", "loud", `--log-level must be debug, info, warn or error, got "loud"`},
		{"CHATSERVER_LOG_MESSAGES", "yes please", `CHATSERVER_LOG_MESSAGES="yes please" is not valid`},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			r := run(t, "serve")
			if r.code != exitError || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, %q; want %q", r.code, r.report, tc.want)
			}
		})
	}
}

func TestServeRefusesToStart(t *testing.T) {
	dir := t.TempDir()

	t.Run("file held by another server", func(t *testing.T) {
		db := filepath.Join(dir, "held.db")
		holdLock(t, db)
		r := run(t, "serve", "--addr", "127.0.0.1:0", "--db", db)
		want := db + " is in use by another chatserver (is one already running?)"
		if r.code != exitError || !strings.Contains(r.report, want) {
			t.Fatalf("exit %d, %q; want %q", r.code, r.report, want)
		}
	})
	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		db := filepath.Join(dir, "port.db")
		r := run(t, "serve", "--addr", ln.Addr().String(), "--db", db)
		if r.code != exitError || !strings.Contains(r.report, "the port is already in use") {
			t.Fatalf("exit %d, %q", r.code, r.report)
		}
		if _, err := os.Stat(admin.SocketPath(db)); !errors.Is(err, os.ErrNotExist) {
			t.Error("admin socket left behind")
		}
	})
	t.Run("foreign file", func(t *testing.T) {
		db := filepath.Join(dir, "notes.txt")
		content := bytes.Repeat([]byte("not a database\n"), 1000)
		if err := os.WriteFile(db, content, 0o644); err != nil {
			t.Fatal(err)
		}
		r := run(t, "serve", "--addr", "127.0.0.1:0", "--db", db)
		if r.code != exitError || !strings.Contains(r.report, "is not a chatserver database") {
			t.Fatalf("exit %d, %q", r.code, r.report)
		}
		if got, _ := os.ReadFile(db); !bytes.Equal(got, content) {
			t.Error("the foreign file was changed")
		}
	})
}

func TestHistoryAndKickWhenServerCannotBeReached(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chat.db")
	holdLock(t, db) // a server whose admin socket is gone
	for _, args := range [][]string{{"history"}, {"kick", "alice"}} {
		r := run(t, append(args, "--db", db)...)
		want := "whose admin socket " + db + ".sock cannot be reached"
		if r.code != exitError || !strings.Contains(r.report, want) {
			t.Errorf("%s: exit %d, %q; want %q", args[0], r.code, r.report, want)
		}
	}
}

// lines collects what a command writes, line by line, for a test to wait
// on.
type lines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan string
}

func newLines() *lines { return &lines{seen: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line) // keep the partial line
			return len(p), nil
		}
		select {
		case l.seen <- strings.TrimSuffix(line, "\n"):
		default:
		}
	}
}

// waitFor returns the first submatch of re in a line written within d.
func (l *lines) waitFor(t testing.TB, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case line := <-l.seen:
			if m := re.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		case <-deadline:
			t.Fatalf("no line matching %s within %s", re, d)
			return ""
		}
	}
}

// next returns the next line written, within d.
func (l *lines) next(t testing.TB, d time.Duration) string {
	t.Helper()
	select {
	case line := <-l.seen:
		return line
	case <-time.After(d):
		t.Fatalf("no line within %s", d)
		return ""
	}
}

func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	seed(t, db, 10, "alice", "before the start")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRootCommand()
	out, errOut := newLines(), newLines()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--db", db})
	done, exited := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(exited)
		done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	url := out.waitFor(t, regexp.MustCompile(`^chatserver: listening on (http://127\.0\.0\.1:\d+) \(database `+regexp.QuoteMeta(db)+`\)$`), 10*time.Second)
	// The log, on the other writer, begins with the start.
	errOut.waitFor(t, regexp.MustCompile(`^time=\S+ level=INFO msg="chatserver (started)" version="[^"]+" addr=127\.0\.0\.1:\d+ db=`+regexp.QuoteMeta(db)+`$`), 10*time.Second)
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	if fi, err := os.Stat(admin.SocketPath(db)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket: %v, %v", fi, err)
	}

	// The file is locked by the server; these work through its socket.
	if r := run(t, "history", "--db", db); r.err != nil || r.stdout != "2026-11-29 12:00:01 alice: before the start\n" {
		t.Errorf("history while serving: %q, %v", r.stdout, r.err)
	}
	if r := run(t, "kick", "nobody", "--db", db); r.code != exitError || !strings.Contains(r.report, `no chatter called "nobody" is present`) {
		t.Errorf("kick of an absent chatter: exit %d, %q", r.code, r.report)
	}
	if r := run(t, "kick", "mallory", "--ban", "10m", "--db", db); r.err != nil || !strings.Contains(r.stdout, "banned mallory for 10m0s") {
		t.Errorf("ban while serving: %q, %v", r.stdout+r.report, r.err)
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
	errOut.waitFor(t, regexp.MustCompile(`^time=\S+ level=INFO msg="chatserver (stopped)"$`), time.Second)
	if _, err := os.Stat(admin.SocketPath(db)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left after shutdown: %v", err)
	}
	// The ban was stored, and the file is free again.
	withStore(t, db, func(st *bolt.Store) {
		if _, banned, err := st.BanExpiry(context.Background(), "mallory", time.Now()); err != nil || !banned {
			t.Errorf("mallory banned = %v, %v", banned, err)
		}
	})
}

func TestDatabaseInAVeryLongPath(t *testing.T) {
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(deep, "chat.db")
	seed(t, db, 10, "alice", "hi")
	t.Chdir("/") // no short relative name for the socket from here

	r := run(t, "serve", "--addr", "127.0.0.1:0", "--db", db)
	if r.code != exitError || !strings.Contains(r.report, "is too long for a Unix socket") {
		t.Fatalf("serve: exit %d, %q; want a plain refusal", r.code, r.report)
	}
	// With no server, history still reads the file.
	if r := run(t, "history", "--db", db); r.err != nil || !strings.Contains(r.stdout, "alice: hi") {
		t.Errorf("history: %q, %v", r.stdout, r.err)
	}
}
