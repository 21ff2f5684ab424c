package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unitFile is the systemd unit shipped in the release archives.
const unitFile = "../contrib/chatserver.service"

// unitBinary is where the unit expects the binary.
const unitBinary = "/usr/local/bin/chatserver"

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may reach, in its tenths (the unit scores 1.5 "OK"; 2.0 leaves room for
// a systemd that scores a directive differently).
const maxExposure = 20

// TestSystemdUnitIsWhatTheGuideSays checks the directives the README's
// guide and the server rely on.
func TestSystemdUnitIsWhatTheGuideSays(t *testing.T) {
	t.Parallel()
	unit := readUnit(t)
	for _, want := range []string{
		"Type=notify",
		// No other flag: a drop-in's Environment=CHATSERVER_... would
		// lose to it.
		"ExecStart=" + unitBinary + " serve --db /var/lib/chatserver/chat.db",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"User=chatserver",
		"StateDirectory=chatserver",
		"Restart=on-failure",
		"LimitNOFILE=65536",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"CapabilityBoundingSet=",
		"AmbientCapabilities=",
		"WantedBy=multi-user.target",
	} {
		if !hasLine(unit, want) {
			t.Errorf("%s has no line %q", unitFile, want)
		}
	}
}

// TestSystemdUnitVerifies runs `systemd-analyze verify` on the unit, with
// ExecStart pointed at a copy of the binary (verify checks that it is
// there), and `systemd-analyze security` on its sandboxing. Without
// systemd-analyze the test is skipped, in CI too.
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("skipping: systemd-analyze is not installed (it comes with systemd)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "chatserver")
	copyFile(t, bin, exe, 0o755)
	unit := readUnit(t)
	if !strings.Contains(unit, "ExecStart="+unitBinary+" ") {
		t.Fatalf("%s does not start %s", unitFile, unitBinary)
	}
	path := filepath.Join(dir, "chatserver.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, unitBinary, exe)), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	// verify exits 0 on an unknown key or a bad value, only warning:
	// any line about the unit fails the test too.
	if err != nil || strings.Contains(string(out), "chatserver.service") {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}

	t.Run("security", func(t *testing.T) {
		out, err := exec.CommandContext(ctx, analyze, "security", "--offline=true",
			fmt.Sprintf("--threshold=%d", maxExposure), path).CombinedOutput()
		if strings.Contains(string(out), "unrecognized option") {
			t.Skipf("skipping: this systemd-analyze cannot rate a unit file offline: %s", strings.TrimSpace(string(out)))
		}
		if err != nil {
			t.Errorf("systemd-analyze security rates the unit above %d.%d: %v\n%s", maxExposure/10, maxExposure%10, err, out)
		}
	})
}

// TestServeNotifiesTheServiceManager plays systemd for a unit of
// Type=notify: the server sends READY=1 once it listens and STOPPING=1
// when it begins to shut down.
func TestServeNotifiesTheServiceManager(t *testing.T) {
	// Not parallel: NOTIFY_SOCKET is set for the whole process.
	sock := filepath.Join(shortTempDir(t), "notify")
	manager, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer manager.Close()
	t.Setenv("NOTIFY_SOCKET", sock)

	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	if got, want := receiveNotification(t, manager), "READY=1\nSTATUS=listening on "+srv.url+"\n"; got != want {
		t.Errorf("after start-up the manager received %q, want %q", got, want)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if got, want := receiveNotification(t, manager), "STOPPING=1\nSTATUS=shutting down\n"; got != want {
		t.Errorf("on SIGTERM the manager received %q, want %q", got, want)
	}
}

// TestServeRunsWhenTheManagerIsGone: a NOTIFY_SOCKET nobody listens on
// is logged, and the server serves and stops as usual.
func TestServeRunsWhenTheManagerIsGone(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(shortTempDir(t), "gone"))
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	if r := srv.waitRecord(t, "telling systemd failed"); !strings.Contains(r.attrs["err"], "notify the service manager") {
		t.Errorf("the failure is logged as %q", r.line)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(srv.stderr.String(), `msg="chatserver stopped"`) {
		t.Errorf("the server did not stop cleanly:\n%s", srv.stderr)
	}
}

// receiveNotification returns the next datagram the fake manager gets.
func receiveNotification(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(eventTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification within %s: %v", eventTimeout, err)
	}
	return string(buf[:n])
}

// shortTempDir is a temporary directory short enough for a Unix socket
// path (at most 107 bytes), removed at the end of the test.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chatserver-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func readUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hasLine reports whether text has a line that is exactly line.
func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
