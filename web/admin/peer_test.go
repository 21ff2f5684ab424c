package admin_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
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

	"chatserver/internal/logtest"
	"chatserver/internal/throttle"
	"chatserver/web/admin"
)

// Some tests need a process of another user: the test binary runs itself
// as otherUID in the role named by roleEnv, on the socket pathEnv.
const (
	roleEnv = "CHATSERVER_ADMIN_TEST_ROLE"
	pathEnv = "CHATSERVER_ADMIN_TEST_PATH"

	// roleListen listens on the path and answers every request with 200.
	roleListen = "listen"
	// roleRequest sends GET /history and GET /backup on one connection
	// and prints each status line.
	roleRequest = "request"

	otherUID = 65534
	ready    = "ready"
	// roleTimeout bounds what one process of another user does.
	roleTimeout = 10 * time.Second
)

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Getenv(pathEnv)))
	}
	os.Exit(m.Run())
}

func runRole(role, path string) int {
	switch role {
	case roleListen:
		ln, err := net.Listen("unix", path)
		if err == nil {
			err = os.Chmod(path, 0o777)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "[]") }))
		fmt.Println(ready)
		io.Copy(io.Discard, os.Stdin)
		return 0
	case roleRequest:
		conn, err := net.DialTimeout("unix", path, roleTimeout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		conn.SetDeadline(time.Now().Add(roleTimeout))
		r := bufio.NewReader(conn)
		for _, route := range []string{"/history", "/backup"} {
			req, _ := http.NewRequest(http.MethodGet, "http://admin"+route, nil)
			if err := req.Write(conn); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			resp, err := http.ReadResponse(r, req)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			body, _ := io.ReadAll(resp.Body)
			fmt.Printf("%s %s", resp.Status, body)
		}
		return 0
	}
	return 2
}

// otherUser returns a command running the test binary as otherUID in role
// on path, or skips the test where that is impossible.
func otherUser(t *testing.T, role, path string) *exec.Cmd {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skipf("skipping: running a process as uid %d needs root on Linux", otherUID)
	}
	// The kernel's link to the running binary reaches it even where its
	// directory is private to root.
	cmd := exec.Command("/proc/self/exe")
	cmd.Dir = filepath.Dir(path)
	cmd.Env = append(os.Environ(), roleEnv+"="+role, pathEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	return cmd
}

// openDir returns a new directory every user may enter, removed at the end
// of the test.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "admin-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestServerRefusesAnotherUsersRequests(t *testing.T) {
	dir := openDir(t)
	path := filepath.Join(dir, "chat.db.sock")
	logger, logs := logtest.New(t)
	srv, err := admin.Listen(path, admin.NewHandler(newRoom(t, t.TempDir()), nil, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// As if the mode had been lost: the kernel lets anyone connect.
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		cmd := otherUser(t, roleRequest, path)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("client as uid %d: %v", otherUID, err)
		}
		if got := strings.Count(string(out), "403 Forbidden"); got != 2 || !strings.Contains(string(out), `"error":"forbidden"`) {
			t.Errorf("round %d: client as uid %d got %q, want two 403 forbidden answers", round, otherUID, out)
		}
	}
	const refused = "refused an admin request: only the server's user and root may use the socket"
	lines := logs.Matching(refused, "socket", path)
	if len(lines) != 1 || !strings.Contains(lines[0].Attrs["from"], fmt.Sprintf("uid %d", otherUID)) || lines[0].Level != slog.LevelWarn {
		t.Errorf("log %v, want one warning naming uid %d and the socket (refusals are logged at most once a minute)", lines, otherUID)
	}

	// The server's own user is still served.
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.History(context.Background(), "", 0); err != nil {
		t.Errorf("History as the server's user: %v", err)
	}
	// The refusals held back are counted when the server stops.
	srv.Close()
	if got := logs.Matching(throttle.SummaryMsg, "line", refused, "count", "3"); len(got) != 1 {
		t.Errorf("no summary counting the 3 refusals held back:\n%s", logs)
	}
}

func TestDialRefusesAnotherUsersSocket(t *testing.T) {
	dir := openDir(t)
	path := filepath.Join(dir, "chat.db.sock")
	cmd := otherUser(t, roleListen, path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != ready+"\n" {
		t.Fatalf("listener as uid %d: %q, %v", otherUID, line, err)
	}

	_, err = admin.Dial(path)
	var untrusted *admin.UntrustedError
	if !errors.As(err, &untrusted) || untrusted.UID != otherUID || untrusted.Path != path {
		t.Fatalf("Dial: %v, want an *UntrustedError for uid %d", err, otherUID)
	}
	for _, want := range []string{path, fmt.Sprintf("uid %d", otherUID), "not by you or root"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Dial error %q does not say %q", err, want)
		}
	}
}

func TestListenIsPrivateUnderAnyUmask(t *testing.T) {
	// The umask belongs to the whole process: no test here runs in
	// parallel.
	defer syscall.Umask(syscall.Umask(0))
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db.sock")
	listen(t, path, newRoom(t, t.TempDir()))
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %o under umask 000, want 600", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "chat.db.sock" || entries[0].Type() != fs.ModeSocket {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only the socket", names)
	}
}

func TestListenAtTheLengthLimit(t *testing.T) {
	// The socket is bound one directory deeper than its path first: a
	// path of exactly MaxPathLen bytes must still work.
	base := t.TempDir()
	const name = "chat.db.sock"
	pad := admin.MaxPathLen - len(base) - 2 - len(name)
	if pad < 1 {
		t.Skipf("temporary directory %s is too long for this test", base)
	}
	dir := filepath.Join(base, strings.Repeat("d", pad))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if len(path) != admin.MaxPathLen {
		t.Fatalf("test path is %d bytes, want %d", len(path), admin.MaxPathLen)
	}
	t.Chdir("/") // no shorter relative name
	listen(t, path, newRoom(t, t.TempDir()))
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Chatters(context.Background()); err != nil {
		t.Fatalf("Chatters: %v", err)
	}
}
