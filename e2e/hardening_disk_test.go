package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// diskSize is the size of the small file system the disk-full test
// mounts: room for the database to start and a filler to take the rest.
const diskSize = "4m"

// mountSmallDisk mounts a tmpfs of diskSize in a temporary directory and
// returns it, or skips the test when that is impossible (not root, no
// mount privilege in this container). It is unmounted at the end of the
// test, after everything started later has been stopped.
func mountSmallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: a full disk is simulated with a small tmpfs, and mounting one needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+diskSize+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs to fill up (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return path
		}
	}
}

// TestFullDiskRefusesTheMessageAndKeepsServing fills the file system the
// database lives on while the server runs: a message that cannot be
// written is refused with store_failed and reaches nobody, the server
// logs it and keeps serving, and once there is room again messages are
// stored and the file is sound.
func TestFullDiskRefusesTheMessageAndKeepsServing(t *testing.T) {
	t.Parallel()
	disk := mountSmallDisk(t)
	db := filepath.Join(disk, "chat.db")
	srv := startServer(t, db, "--history", "1000", "--rate", "100000", "--burst", "100000")
	watcher := joinWS(t, srv.url, "watcher")
	writer := joinWS(t, srv.url, "writer")
	const before = 3
	for i := range before {
		say(t, writer, fmt.Sprintf("before the disk filled up %d", i))
	}
	filler := fill(t, disk)

	// 2000 three-byte characters: each message needs new pages soon.
	text := strings.Repeat("€", 1990)
	var failedText string
	accepted := before
	for i := 0; i < 1000 && failedText == ""; i++ {
		msg := fmt.Sprintf("%04d %s", i, text)
		reply := call(t, writer, "messages", msg)
		switch {
		case reply["ok"] == true:
			accepted++
		case reply["error"] == "store_failed":
			failedText = msg
		default:
			t.Fatalf("message %d: unexpected reply %v", i, reply)
		}
	}
	if failedText == "" {
		t.Fatalf("1000 messages of 6 KB were stored on a full %s disk", diskSize)
	}
	t.Logf("%d messages stored on the full disk, then store_failed", accepted-before)
	if r := srv.waitRecord(t, "storing messages failed; their senders were told", "count", "1"); r.level != "ERROR" {
		t.Errorf("the failed write was logged at %s, want ERROR", r.level)
	}
	if !writer.IsOpen() || !watcher.IsOpen() {
		t.Fatal("a write error disconnected someone")
	}

	// There is room again: the server stored nothing of the failed
	// message and goes on.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	say(t, writer, "there is room again")
	watcher.WaitEvent("the message after the failure", messageLine("writer", "there is room again"))
	for _, ev := range watcher.Events("messages") {
		if ev.Args.String(0) == "writer: "+failedText {
			t.Fatal("the message refused with store_failed was delivered")
		}
	}
	if got := len(watcher.Events("messages")); got != accepted+1 {
		t.Errorf("watcher got %d messages, want the %d accepted", got, accepted+1)
	}

	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, srv.stderr)
	}
	// The file opens (Open checks every page) and holds what was acked.
	stored := historyJSON(t, db)
	if n := len(stored); n != accepted+1 || stored[n-1].Text != "there is room again" {
		t.Errorf("history after restart: %d messages, want %d ending with the last one", n, accepted+1)
	}
}
