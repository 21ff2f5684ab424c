package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readiness is one answer of /readyz.
type readiness struct {
	status int
	body   string
}

// readyz asks the server's /readyz once.
func readyz(t testing.TB, base string) readiness {
	t.Helper()
	c := http.Client{Timeout: eventTimeout}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return readiness{resp.StatusCode, string(body)}
}

// waitReadyz polls /readyz until it answers status, within eventTimeout.
func waitReadyz(t testing.TB, base string, status int) readiness {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		r := readyz(t, base)
		if r.status == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still answers %d %q after %s, want %d", r.status, r.body, eventTimeout, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeletedDatabaseIsNoticed removes the database file under a running
// server: within seconds the server logs it, /readyz answers 503, a
// message is refused with store_failed instead of being acknowledged as
// durable, and joining still replays the history from memory. When the
// file is put back (the same file, from a hard link), the server
// recovers.
func TestDeletedDatabaseIsNoticed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	srv := startServer(t, db)
	if r := readyz(t, srv.url); r.status != http.StatusOK || r.body != "ready\n" {
		t.Fatalf("/readyz of a fresh server: %d %q, want 200 ready", r.status, r.body)
	}
	alice := joinWS(t, srv.url, "alice")
	say(t, alice, "before the file went away")

	backup := filepath.Join(dir, "backup.db")
	if err := os.Link(db, backup); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	if r := waitReadyz(t, srv.url, http.StatusServiceUnavailable); r.body != "not ready: the database file was deleted or replaced\n" {
		t.Errorf("/readyz with the file gone: %q", r.body)
	}
	const goneMsg = "database file deleted or replaced; messages and bans are refused until it is back under its name"
	srv.waitRecord(t, goneMsg, "file", db)
	if reply := call(t, alice, "messages", "into the void"); reply["error"] != "store_failed" {
		t.Fatalf("message with the file gone: %v, want store_failed", reply)
	}
	if r := readyz(t, srv.url); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz after a refused message: %d %q, want 503", r.status, r.body)
	}
	for _, path := range []string{"/livez", "/healthz"} {
		if resp, err := http.Get(srv.url + path); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the file gone: %v %v, want 200", path, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	waitMetrics(t, srv.url+"/metrics", "the refused message",
		series{"chatserver_messages_refused_total", []string{"reason", "store_failed"}, 1},
		series{"chatserver_messages_stored_total", nil, 1},
	)

	if n := len(srv.logged(t, goneMsg, "file", db)); n != 1 {
		t.Errorf("the server reported the lost file %d times, want once:\n%s", n, srv.stderr)
	}

	// A ban cannot be stored either: the operator is told why, and
	// nobody is kicked.
	if r := runCLI(t, "kick", "alice", "--ban", "1h", "--db", db); r.code != 1 ||
		!strings.Contains(r.stderr, "the ban could not be saved, nobody was kicked") || !strings.Contains(r.stderr, "deleted or replaced") {
		t.Errorf("kick --ban with the file gone: exit %d, stderr %q; want 1 and why", r.code, r.stderr)
	}
	if !alice.IsOpen() {
		t.Error("a kick whose ban could not be stored closed the chatter's connection")
	}

	bob := joinWS(t, srv.url, "bob")
	bob.WaitEvent("the history replayed from memory", messageLine("alice", "before the file went away"))
	if bob.Seen(messageLine("alice", "into the void")) {
		t.Error("the refused message was replayed")
	}

	// The same file comes back under its name.
	if err := os.Link(backup, db); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, srv.url, http.StatusOK)
	say(t, alice, "after the file came back")
	bob.WaitEvent("the message after recovery", messageLine("alice", "after the file came back"))
	srv.waitRecord(t, "database file back; messages and bans are stored again", "file", db)
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	texts := historyTexts(t, db)
	if strings.Join(texts, "|") != "before the file went away|after the file came back" {
		t.Errorf("stored history %q, want the two acknowledged messages", texts)
	}
}
