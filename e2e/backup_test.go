package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// backupLine is what a successful `chatserver backup` prints.
var backupLine = regexp.MustCompile(`^backed up (.+) to (.+) \((\d+) bytes, (from the running server|from the file; no server was running on it)\)\n$`)

// Where a backup came from, as it says.
const (
	fromServer = "from the running server"
	fromFile   = "from the file; no server was running on it"
)

// backup runs `chatserver backup` of db to file with extra flags and
// checks that it succeeded from source, wrote a private file of the size
// it said, and left no temporary file.
func backup(t *testing.T, db, file, source string, flags ...string) {
	t.Helper()
	r := runCLI(t, append(append([]string{"backup", "--db", db}, flags...), file)...)
	if r.code != 0 {
		t.Fatalf("backup: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	m := backupLine.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != db || m[2] != file || m[4] != source {
		t.Fatalf("backup printed %q, want a copy of %s to %s %s", r.stdout, db, file, source)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no copy: %v", err)
	}
	if size, _ := strconv.ParseInt(m[3], 10, 64); size != fi.Size() || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup said %s bytes; the copy has %d bytes, mode %o (want 600)", m[3], fi.Size(), fi.Mode().Perm())
	}
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left beside the copy", e.Name())
		}
	}
}

func TestBackupWhileServingAndStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	srv := startServer(t, db)
	d := startDriver(t)
	d.join("a", srv.url, "alice")
	for _, text := range []string{"one", "two"} {
		ackOK(t, "a", d.call("a", "messages", text))
	}

	running := filepath.Join(dir, "running.db")
	backup(t, db, running, fromServer)
	// The server goes on; the copy is what was there.
	ackOK(t, "a", d.call("a", "messages", "three"))
	if got := historyTexts(t, running); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("history --db of the copy taken while serving: %q", got)
	}
	plainFailure(t, runCLI(t, "backup", "--db", db, running), running+" already exists; pass --force to replace it")

	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	stopped := filepath.Join(dir, "stopped.db")
	backup(t, db, stopped, fromFile)
	if after, _ := os.ReadFile(db); string(after) != string(before) {
		t.Error("a backup with no server running changed the database")
	}
	want := []string{"one", "two", "three"}
	if got := historyTexts(t, stopped); !slices.Equal(got, want) {
		t.Errorf("history --db of the copy taken while stopped: %q", got)
	}
	backup(t, db, running, fromFile, "--force")
	if got := historyTexts(t, running); !slices.Equal(got, want) {
		t.Errorf("history --db of the copy replaced with --force: %q", got)
	}

	// A copy is a database: a server runs on it and serves its history.
	restored := startServer(t, stopped)
	d.join("r", restored.url, "alice")
	if got := historyTexts(t, stopped); !slices.Equal(got, want) {
		t.Errorf("history of a server running on the copy: %q", got)
	}
	backup(t, stopped, filepath.Join(dir, "copy-of-copy.db"), fromServer)
	if code := restored.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d of the server on the copy", code)
	}
}

func TestBackupIsConsistentUnderTraffic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	srv := startServer(t, db, "--history", "1000", "--rate", "10000", "--burst", "10000")
	d := startDriver(t)
	d.join("a", srv.url, "alice")

	// The messages are sent without waiting for their acks, so the
	// server stores them while the copies are taken.
	const sent = 300
	texts := make([]string, sent)
	for i := range texts {
		texts[i] = fmt.Sprintf("m%03d", i)
		d.emit("a", "messages", texts[i])
	}
	var copies []string
	for i := range 3 {
		file := filepath.Join(dir, fmt.Sprintf("copy-%d.db", i))
		backup(t, db, file, fromServer)
		copies = append(copies, file)
	}
	ackOK(t, "a", d.call("a", "messages", "last"))
	for _, file := range copies {
		var got []string
		for _, m := range historyJSON(t, file) {
			got = append(got, m.Text)
		}
		// All that a copy holds is what had been stored at one moment:
		// the messages in the order sent, none missing, nothing after.
		if len(got) > sent || !slices.Equal(got, texts[:len(got)]) {
			t.Errorf("%s holds %d messages, not the first ones in order: %q", file, len(got), got)
		}
	}
	if got := historyTexts(t, db); len(got) != sent+1 || !slices.Equal(got[:sent], texts) {
		t.Errorf("the database holds %d messages, want %d", len(got), sent+1)
	}
}

func TestBackupRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	srv := startServer(t, db)

	plainFailure(t, runCLI(t, "backup", "--force", "--db", db, db), db+" is the database itself; name another file for the copy")
	plainFailure(t, runCLI(t, "backup", "--db", db, filepath.Join(dir, "missing", "copy.db")),
		"cannot create a file in "+filepath.Join(dir, "missing")+": no such file or directory")
	plainFailure(t, runCLI(t, "backup", "--db", filepath.Join(dir, "none.db"), filepath.Join(dir, "copy.db")), "no database at")
	r := runCLI(t, "backup", "--db", db)
	if r.code != 2 || !strings.Contains(r.stderr, "takes exactly one file name") {
		t.Errorf("backup without a file: exit %d, %q; want a usage error", r.code, r.stderr)
	}

	// The socket vanished (deleted by hand): the file is still locked.
	if err := os.Remove(db + ".sock"); err != nil {
		t.Fatal(err)
	}
	plainFailure(t, runCLI(t, "backup", "--db", db, filepath.Join(dir, "copy.db")), "whose admin socket "+db+".sock cannot be reached")
	if _, err := os.Stat(filepath.Join(dir, "copy.db")); !os.IsNotExist(err) {
		t.Errorf("a refused backup left a file: %v", err)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
