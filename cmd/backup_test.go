package cmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/storage/bolt"
	"chatserver/web/admin"
)

// backedUp matches what a successful backup prints.
var backedUp = regexp.MustCompile(`^backed up (.+) to (.+) \((\d+) bytes, (from the running server|from the file; no server was running on it)\)\n$`)

// checkBackup checks that r is a successful backup of db to file, taken
// from the source named, and that history reads the copy: it returns the
// texts there.
func checkBackup(t *testing.T, r result, db, file, source string) []string {
	t.Helper()
	if r.err != nil {
		t.Fatalf("backup: %v (stderr %q)", r.err, r.stderr)
	}
	m := backedUp.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != db || m[2] != file || m[4] != source {
		t.Fatalf("backup printed %q, want a copy of %s to %s %s", r.stdout, db, file, source)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no copy at %s: %v", file, err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("copy has mode %o, want 600", perm)
	}
	if m[3] != strconv.FormatInt(fi.Size(), 10) {
		t.Errorf("backup said %s bytes, the copy has %d", m[3], fi.Size())
	}
	noTempFiles(t, filepath.Dir(file))
	h := run(t, "history", "--db", file, "--json")
	if h.err != nil {
		t.Fatalf("history --db %s: %v", file, h.err)
	}
	var texts []string
	for _, line := range regexp.MustCompile(`"text": "([^"]*)"`).FindAllStringSubmatch(h.stdout, -1) {
		texts = append(texts, line[1])
	}
	return texts
}

// noTempFiles fails the test if a backup left a temporary file in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestBackupWhileNoServerRuns(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	seed(t, db, 10, "alice", "one", "two")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "copy.db")

	texts := checkBackup(t, run(t, "backup", "--db", db, file), db, file, "from the file; no server was running on it")
	if !slices.Equal(texts, []string{"one", "two"}) {
		t.Errorf("history of the copy: %q", texts)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(after, before) {
		t.Error("the database changed")
	}

	t.Run("an existing file needs --force", func(t *testing.T) {
		copyBefore, _ := os.ReadFile(file)
		r := run(t, "backup", "--db", db, file)
		if r.code != exitError || r.report != "chatserver: "+file+" already exists; pass --force to replace it\n" || r.stdout != "" {
			t.Fatalf("exit %d, %q %q; want one plain line", r.code, r.stdout, r.report)
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(after, copyBefore) {
			t.Error("the existing file was changed")
		}
		seed(t, db, 10, "alice", "three")
		texts := checkBackup(t, run(t, "backup", "--force", "--db", db, file), db, file, "from the file; no server was running on it")
		if !slices.Equal(texts, []string{"one", "two", "three"}) {
			t.Errorf("history of the replaced copy: %q", texts)
		}
	})

	t.Run("CHATSERVER_DB names the database", func(t *testing.T) {
		t.Setenv("CHATSERVER_DB", db)
		other := filepath.Join(dir, "env-copy.db")
		checkBackup(t, run(t, "backup", other), db, other, "from the file; no server was running on it")
	})
}

func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	seed(t, db, 10, "alice", "one")
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(foreign, bytes.Repeat([]byte("not a database\n"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(t.TempDir(), "locked.db")
	seed(t, locked, 10, "alice", "one")
	holdLock(t, locked) // a server whose admin socket is gone
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(db, filepath.Join(dir, "link.db")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file named", []string{"backup"}, exitUsage, "takes exactly one file name, got 0 arguments"},
		{"two files named", []string{"backup", "a.db", "b.db"}, exitUsage, "takes exactly one file name, got 2 arguments"},
		{"empty file name", []string{"backup", ""}, exitError, "the backup file name is empty"},
		{"empty --db", []string{"backup", "--db", "", "x.db"}, exitError, "--db must name a file"},
		{"existing file", []string{"backup", "--db", db, existing}, exitError, existing + " already exists; pass --force to replace it"},
		{"the database itself", []string{"backup", "--force", "--db", db, db}, exitError, db + " is the database itself"},
		{"the database by a relative name", []string{"backup", "--force", "--db", db, filepath.Join(dir, ".", "chat.db")}, exitError, "is the database itself"},
		{"a link to the database", []string{"backup", "--force", "--db", db, filepath.Join(dir, "link.db")}, exitError, "is the database itself"},
		{"a directory", []string{"backup", "--force", "--db", db, filepath.Join(dir, "adir")}, exitError, "exists and is not a regular file"},
		{"a missing directory", []string{"backup", "--db", db, filepath.Join(dir, "nowhere", "x.db")}, exitError,
			"cannot create a file in " + filepath.Join(dir, "nowhere") + ": no such file or directory"},
		{"no database", []string{"backup", "--db", filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db")}, exitError, "no database at"},
		{"not a database", []string{"backup", "--db", foreign, filepath.Join(dir, "x.db")}, exitError, "is not a chatserver database"},
		{"locked, socket gone", []string{"backup", "--db", locked, filepath.Join(dir, "x.db")}, exitError,
			"whose admin socket " + locked + ".sock cannot be reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.report, tc.want) {
				t.Fatalf("exit %d, %q; want exit %d and %q", r.code, r.report, tc.code, tc.want)
			}
			if tc.code == exitError && (strings.Count(r.report, "\n") != 1 || r.stdout != "") {
				t.Errorf("more than one plain line: stdout %q report %q", r.stdout, r.report)
			}
			if _, err := os.Stat(filepath.Join(dir, "x.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a copy was written: %v", err)
			}
			noTempFiles(t, dir)
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file holds %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link.db")); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}
}

func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	seed(t, db, 10, "alice", "before the start")
	serveInProcess(t, db)

	file := filepath.Join(dir, "copy.db")
	texts := checkBackup(t, run(t, "backup", "--db", db, file), db, file, "from the running server")
	if !slices.Equal(texts, []string{"before the start"}) {
		t.Errorf("history of the copy: %q", texts)
	}
}

// serveInProcess runs `chatserver serve` on db in this process until the
// test ends, once it listens, and returns its address (http://...).
func serveInProcess(t *testing.T, db string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := NewRootCommand()
	out := newLines()
	root.SetOut(out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--db", db})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return out.waitFor(t, regexp.MustCompile(`^chatserver: listening on (\S+)`), 10*time.Second)
}

// cutStore is an admin.Store whose copy fails part way.
type cutStore struct{}

func (cutStore) Backup(to func(int64) io.Writer) (int64, error) {
	n, _ := to(1 << 20).Write(bytes.Repeat([]byte("x"), 4096))
	return int64(n), errors.New("read error")
}

func TestBackupCutOffLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	store := holdLock(t, db)
	logger, _ := logtest.New(t)
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Close)
	srv, err := admin.Listen(admin.SocketPath(db), admin.NewHandler(room, cutStore{}, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	file := filepath.Join(dir, "copy.db")
	r := run(t, "backup", "--db", db, file)
	if r.code != exitError || !strings.Contains(r.report, "the copy was cut off after 4096 of 1048576 bytes") {
		t.Fatalf("exit %d, %q; want the cut-off reported", r.code, r.report)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a partial copy was left at %s: %v", file, err)
	}
	noTempFiles(t, dir)
}

func TestCheckCopyRefusesWhatHistoryCouldNotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xff}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkCopy(path); err == nil {
		t.Fatal("checkCopy accepted random bytes")
	}
	good := filepath.Join(t.TempDir(), "good.db")
	seed(t, good, 10, "alice", "hi")
	if err := checkCopy(good); err != nil {
		t.Fatalf("checkCopy of a database: %v", err)
	}
	withStore(t, good, func(*bolt.Store) {}) // and it is not left locked
}

// TestOnlyDBHasAnEnvironmentVariableInBackup: a CHATSERVER_FORCE left in
// the environment must not make backups overwrite files.
func TestOnlyDBHasAnEnvironmentVariableInBackup(t *testing.T) {
	cmd, _, err := NewRootCommand().Find([]string{"backup"})
	if err != nil {
		t.Fatal(err)
	}
	var withVar []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Annotations[envAnnotation] != nil {
			withVar = append(withVar, f.Name)
		}
	})
	if !slices.Equal(withVar, []string{"db"}) {
		t.Errorf("backup: flags with an environment variable %q, want [db]", withVar)
	}
}

// TestBackupIsInterruptedByTheSignalsOfAClosedSession: an ssh session
// that drops sends SIGHUP, which must clean up like Ctrl-C and kill.
func TestBackupIsInterruptedByTheSignalsOfAClosedSession(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		if !slices.Contains(interruptSignals, sig) {
			t.Errorf("backup does not catch %v", sig)
		}
	}
}

func TestInterruptedBackupLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	seed(t, db, 10, "alice", "one")
	file := filepath.Join(dir, "copy.db")
	for _, serving := range []bool{false, true} {
		if serving {
			serveInProcess(t, db)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // as SIGINT would, before the first byte
		root := NewRootCommand()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"backup", "--db", db, file})
		err := root.ExecuteContext(ctx)
		if err == nil || err.Error() != "interrupted; "+file+" was not written" {
			t.Errorf("serving %v: backup with its context ended: %v", serving, err)
		}
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serving %v: a copy was left at %s: %v", serving, file, err)
		}
		noTempFiles(t, dir)
	}
}
