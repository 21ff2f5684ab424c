package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/bolt"
)

// quickRefusal is how soon a refused start must give up: the lock wait is
// one second, the rest is process start.
const quickRefusal = 5 * time.Second

// plainFailure checks a refused command: exit code 1, one plain line
// containing want, no usage dump, no stack trace.
func plainFailure(t testing.TB, r cliResult, want string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "chatserver: ") || !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q, want a chatserver: line containing %q", r.stderr, want)
	}
	if strings.Count(r.stderr, "\n") > 1 || strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "Usage:") {
		t.Errorf("stderr is more than one plain line: %q", r.stderr)
	}
}

var historyLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d alice: (.*)$`)

// historyTexts runs `chatserver history` on db and returns the texts,
// checking the line format.
func historyTexts(t testing.TB, db string) []string {
	t.Helper()
	r := runCLI(t, "history", "--db", db)
	if r.code != 0 {
		t.Fatalf("history: exit %d, %s", r.code, r.stderr)
	}
	var texts []string
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		m := historyLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("history line %q is not `YYYY-MM-DD hh:mm:ss alice: text`", line)
		}
		texts = append(texts, m[1])
	}
	return texts
}

// historyJSON runs `chatserver history --json` on db.
func historyJSON(t testing.TB, db string) []wireMessage {
	t.Helper()
	r := runCLI(t, "history", "--json", "--db", db)
	if r.code != 0 {
		t.Fatalf("history --json: exit %d, %s", r.code, r.stderr)
	}
	var msgs []wireMessage
	if err := json.Unmarshal([]byte(r.stdout), &msgs); err != nil {
		t.Fatalf("history --json printed %q: %v", r.stdout, err)
	}
	return msgs
}

func TestHistoryAndKickWhileServing(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	d := startDriver(t)
	d.join("a", srv.url, "alice")
	d.join("b", srv.url, "bob")
	for _, text := range []string{"one", "two"} {
		d.call("a", "messages", text)
	}

	if got := historyTexts(t, db); strings.Join(got, "|") != "one|two" {
		t.Errorf("history while serving: %q, want one, two", got)
	}
	msgs := historyJSON(t, db)
	if len(msgs) != 2 || msgs[0].Text != "one" || msgs[1].Text != "two" || msgs[0].ID >= msgs[1].ID || msgs[0].Name != "alice" {
		t.Errorf("history --json while serving: %+v", msgs)
	}

	r := runCLI(t, "kick", "BOB", "--reason", "be nice", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "kicked BOB") {
		t.Fatalf("kick: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	var kicked struct{ Reason string }
	d.event("b", "kicked").obj(t, 0, &kicked)
	if kicked.Reason != "be nice" {
		t.Errorf("kicked reason %q", kicked.Reason)
	}
	d.disconnected("b")
	d.eventWith("a", "remove chatter", "bob")

	plainFailure(t, runCLI(t, "kick", "bob", "--db", db), `no chatter called "bob" is present`)
}

func TestKickWhileStoppedEditsTheFile(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// What a crash leaves behind: chatters stored as present.
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetChatters(context.Background(), storage.DefaultRoom, []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := runCLI(t, "kick", "bob", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "removed bob") {
		t.Fatalf("kick with no server: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	plainFailure(t, runCLI(t, "kick", "bob", "--db", db), `no chatter called "bob"`)

	st, err = bolt.Open(db, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if names, err := st.Chatters(context.Background(), storage.DefaultRoom); err != nil || strings.Join(names, ",") != "alice" {
		t.Errorf("stored chatters %q, %v; want alice", names, err)
	}
}

func TestHistoryWhileStopped(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db, "--history", "2")
	d := startDriver(t)
	d.join("a", srv.url, "alice")
	for _, text := range []string{"one", "two", "three"} {
		d.call("a", "messages", text)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if got := historyTexts(t, db); strings.Join(got, "|") != "two|three" {
		t.Errorf("history with no server: %q, want two, three", got)
	}
	if msgs := historyJSON(t, db); len(msgs) != 2 || msgs[1].Text != "three" {
		t.Errorf("history --json with no server: %+v", msgs)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("history changed the database file")
	}
	plainFailure(t, runCLI(t, "history", "--db", filepath.Join(t.TempDir(), "none.db")), "no database at")
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	if fi, err := os.Stat(db + ".sock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket while serving: %v, %v", fi, err)
	}
	d := startDriver(t)
	d.join("a", srv.url, "alice")

	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	d.disconnected("a")
	if _, err := os.Stat(db + ".sock"); !os.IsNotExist(err) {
		t.Errorf("admin socket left after SIGTERM: %v", err)
	}
	if len(srv.logged(t, "chatserver stopped")) != 1 {
		t.Errorf("stderr %q does not say it stopped", srv.stderr)
	}
	// The file is free and whole: it opens at once.
	st, err := bolt.Open(db, bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("database after shutdown: %v", err)
	}
	st.Close()
}

func TestSecondServeOnTheSameFileFails(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	startServer(t, db)
	r := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--db", db)
	plainFailure(t, r, db+" is in use by another chatserver (is one already running?)")
	if r.took > quickRefusal {
		t.Errorf("refusal took %s, want under %s", r.took, quickRefusal)
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	db := filepath.Join(t.TempDir(), "chat.db")
	r := runCLI(t, "serve", "--addr", ln.Addr().String(), "--db", db)
	plainFailure(t, r, "cannot listen on "+ln.Addr().String()+": the port is already in use")
	if _, err := os.Stat(db + ".sock"); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
}

func TestForeignFileIsRefusedUntouched(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "notes.db")
	content := bytes.Repeat([]byte("my notes, not a database\n"), 500)
	if err := os.WriteFile(db, content, 0o644); err != nil {
		t.Fatal(err)
	}
	plainFailure(t, runCLI(t, "serve", "--addr", "127.0.0.1:0", "--db", db), "is not a chatserver database")
	if got, _ := os.ReadFile(db); !bytes.Equal(got, content) {
		t.Error("the file was changed")
	}
}

func TestCommandsSayWhenTheServerCannotBeReached(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db)
	// The socket vanished (deleted by hand): the file is still locked.
	if err := os.Remove(db + ".sock"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"history"}, {"kick", "alice"}} {
		plainFailure(t, runCLI(t, append(args, "--db", db)...), "whose admin socket "+db+".sock cannot be reached")
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
