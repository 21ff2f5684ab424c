package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Python tests drive the server with Debian's python-socketio 5.x
// client (python3-socketio, with python3-requests for long-polling and
// python3-websocket for WebSocket) through python/driver.py, which speaks
// the same JSON lines as node/driver.js, so the driver's methods serve both.
// `make test` installs the packages; without them the tests are skipped, or
// fail in CI.

// pythonPath is Debian's interpreter, the one that sees Debian's python3-*
// packages; another python3 earlier on PATH (pyenv's, say) does not.
const pythonPath = "/usr/bin/python3"

// pythonCheck is run by pythonPath: it fails, saying what is missing,
// unless the client and both its transports import and the client is 5.x.
const pythonCheck = `
import importlib.metadata, sys
import socketio, requests, websocket
v = importlib.metadata.version("python-socketio")
if v.split(".")[0] != "5":
    sys.exit("python-socketio is %s, not 5.x" % v)
`

// pythonMissing says why the Python driver cannot run ("" when it can);
// it looks once.
var pythonMissing = sync.OnceValue(func() string {
	if _, err := os.Stat(pythonPath); err != nil {
		return pythonPath + " is missing (Debian's python3)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var stderr bytes.Buffer
	check := exec.CommandContext(ctx, pythonPath, "-I", "-c", pythonCheck)
	check.Stderr = &stderr
	if err := check.Run(); err != nil {
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		return fmt.Sprintf("Debian's python3-socketio 5.x, python3-requests and python3-websocket are not all installed for %s (%s)",
			pythonPath, lines[len(lines)-1])
	}
	return ""
})

// requirePython skips the test when the Python driver cannot run, or fails
// it in CI, where it must run.
func requirePython(t testing.TB) {
	t.Helper()
	missing := pythonMissing()
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %s; run `make test`, which installs them", missing)
	}
	t.Skipf("skipping: %s; run `make test` to install them", missing)
}

// startPythonDriver starts python/driver.py and stops it at the end of the
// test.
func startPythonDriver(t testing.TB) *driver {
	t.Helper()
	requirePython(t)
	dir, err := filepath.Abs("python")
	if err != nil {
		t.Fatal(err)
	}
	// -I: ignore PYTHON* variables and the user's site-packages, so that
	// only Debian's packages are imported.
	return runDriver(t, "python driver", exec.Command(pythonPath, "-I", "driver.py"), dir)
}

// TestPythonClientChats has two python-socketio clients chat on each
// transport: joins acknowledged with a name and a resume token, the
// history replayed to a joiner, presence both ways, every message echoed
// to its sender and broadcast to the other (with an ack or without), and a
// departure seen by the one who stays.
func TestPythonClientChats(t *testing.T) {
	t.Parallel()
	for _, kind := range []transportKind{
		{name: "polling", transports: []string{"polling"}, want: "polling"},
		{name: "websocket", transports: []string{"websocket"}, want: "websocket"},
	} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
			d := startPythonDriver(t)

			d.connectOn("a", srv.url, kind)
			ack := d.call("a", "join", "alice")
			if tok, _ := ack["token"].(string); ack["ok"] != true || ack["name"] != "alice" || tok == "" {
				t.Fatalf("alice's join ack %v, want ok, name alice and a resume token", ack)
			}
			d.eventWith("a", "add chatter", "alice")
			// Python's JSON escapes everything beyond ASCII, the emoji as a
			// surrogate pair; it arrives as sent.
			early := "grüße 😀, before bob came"
			earlyID := ackOK(t, "alice", d.call("a", "messages", early))
			if got := checkMessage(t, d.event("a", "messages"), "alice", early); got.ID != earlyID {
				t.Errorf("alice's echo has id %v, the ack said %v", got.ID, earlyID)
			}

			d.connectOn("b", srv.url, kind)
			if ack := d.call("b", "join", "bob"); ack["ok"] != true || ack["name"] != "bob" {
				t.Fatalf("bob's join ack %v, want ok and name bob", ack)
			}
			// The joiner gets the history, then everyone present...
			if got := checkMessage(t, d.event("b", "messages"), "alice", early); got.ID != earlyID {
				t.Errorf("bob's history has id %v, want %v", got.ID, earlyID)
			}
			d.eventWith("b", "add chatter", "alice")
			d.eventWith("b", "add chatter", "bob")
			// ...and the others hear of the joiner.
			d.eventWith("a", "add chatter", "bob")

			// With an ack: echoed to the sender, broadcast to the other,
			// with the acknowledged id.
			id := ackOK(t, "bob", d.call("b", "messages", "hello alice"))
			for _, c := range []string{"a", "b"} {
				if got := checkMessage(t, d.event(c, "messages"), "bob", "hello alice"); got.ID != id {
					t.Errorf("%s got id %v, the ack said %v", c, got.ID, id)
				}
			}
			// Without an ack: the same, trimmed.
			d.emit("a", "messages", "  hi bob  ")
			for _, c := range []string{"a", "b"} {
				if got := checkMessage(t, d.event(c, "messages"), "alice", "hi bob"); got.ID <= id {
					t.Errorf("%s got id %v after %v", c, got.ID, id)
				}
			}
			d.nothingUnread(t, "a", "b")

			// Departure: bob disconnects, alice is told.
			d.send(map[string]any{"op": "disconnect", "client": "b"})
			d.disconnected("b")
			d.eventWith("a", "remove chatter", "bob")
			d.nothingUnread(t, "a")
		})
	}
}
