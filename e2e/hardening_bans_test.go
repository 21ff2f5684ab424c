package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"chatserver/internal/siotest"
)

// joinRefused connects, tries to join as name and returns the error code.
func joinRefused(t testing.TB, url, name string) string {
	t.Helper()
	c := connectWS(t, url, wire)
	defer c.Close()
	reply := call(t, c, "join", name)
	code, _ := reply["error"].(string)
	return code
}

// cliOK runs the binary and fails the test unless it succeeds and prints
// want.
func cliOK(t testing.TB, want string, args ...string) {
	t.Helper()
	r := runCLI(t, args...)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("chatserver %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(args, " "), r.code, r.stdout, r.stderr, want)
	}
}

// TestBansRefuseTheNicknameAcrossRestarts: `kick NICK --ban` disconnects
// the chatter and refuses the nickname (any case) while the server runs,
// after a crash and restart, and until `kick --unban`, whether the server
// runs or not. The admin socket is private while serving, survives a
// crash as a stale file that the next start replaces, and is removed on a
// clean stop.
func TestBansRefuseTheNicknameAcrossRestarts(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	sock := db + ".sock"

	srv := startServer(t, db)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket while serving: %v, %v; want a socket with mode 0600", fi, err)
	}
	watcher := joinWS(t, srv.url, "watcher")
	troll := joinWS(t, srv.url, "troll")
	cliOK(t, "kicked troll from the room general (1 connection closed)\nbanned troll for 10m0s", "kick", "troll", "--ban", "10m", "--reason", "spam", "--db", db)
	ev := troll.WaitEvent("kicked", func(ev siotest.Event) bool { return ev.Name == "kicked" })
	var kicked struct{ Reason string }
	if len(ev.Args) != 1 || json.Unmarshal(ev.Args[0], &kicked) != nil || kicked.Reason != "spam" {
		t.Errorf("kicked event %s, want {reason: spam}", ev.Args)
	}
	troll.WaitClosed()
	watcher.WaitEvent("troll leaving", named("remove chatter", "troll"))
	for _, name := range []string{"troll", "TROLL", " Troll "} {
		if code := joinRefused(t, srv.url, name); code != "banned" {
			t.Errorf("join as %q while banned: %q, want banned", name, code)
		}
	}

	// A crash: the ban is in the file, the socket is left behind.
	srv.cmd.Process.Kill()
	<-srv.exited
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("after SIGKILL the socket should be left behind (a stale one): %v", err)
	}
	// Nobody answers on it: the commands use the file.
	if r := runCLI(t, "history", "--db", db); r.code != 0 {
		t.Errorf("history beside a stale socket: exit %d, %q", r.code, r.stderr)
	}
	srv = startServer(t, db) // replaces the stale socket
	if code := joinRefused(t, srv.url, "troll"); code != "banned" {
		t.Errorf("join as troll after a crash and restart: %q, want banned", code)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("admin socket after a clean stop: %v, want it removed", err)
	}

	// Stopped: unban and ban through the file.
	cliOK(t, "unbanned troll", "kick", "--unban", "troll", "--db", db)
	plainFailure(t, runCLI(t, "kick", "--unban", "troll", "--db", db), "troll is not banned")
	cliOK(t, "banned ghost for 10m0s", "kick", "ghost", "--ban", "10m", "--db", db)

	srv = startServer(t, db)
	joinWS(t, srv.url, "troll").Close()
	if code := joinRefused(t, srv.url, "ghost"); code != "banned" {
		t.Errorf("join as ghost, banned while the server was stopped: %q, want banned", code)
	}
	// Running: unban through the admin socket.
	cliOK(t, "unbanned ghost", "kick", "--unban", "ghost", "--db", db)
	joinWS(t, srv.url, "ghost")
}
