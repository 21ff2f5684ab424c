package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The browser tests run the page in Debian's Chromium, driven by the npm
// package playwright-core from the Node scripts in browser/ (run.js runs one
// scenario of scenarios.js). They need /usr/bin/chromium and playwright-core
// (`make test` installs both); without them they are skipped, or fail in CI.

const (
	// chromiumPath is Debian's chromium package; no browser is downloaded.
	chromiumPath = "/usr/bin/chromium"
	// scenarioTimeout bounds one scenario in run.js, from the browser's
	// start to its close; each takes a few seconds.
	scenarioTimeout = 60 * time.Second
	// scenarioGrace is how much longer the test waits for run.js to report
	// its own timeout before killing it.
	scenarioGrace = 15 * time.Second
	// scenarioStopTimeout is how long run.js may take to close its browser
	// once the test is over, before it is killed.
	scenarioStopTimeout = 10 * time.Second
	// maxReportLine bounds one line of run.js's output (a failure quotes the
	// page's state).
	maxReportLine = 1 << 20
)

// browserScenarios are the functions exported by browser/scenarios.js, run
// in this order, each in a fresh browser against a fresh server.
var browserScenarios = []struct{ name, what string }{
	{"chat", "desktop and phone chat with the keyboard; history, chatter lists, unread title, taken nickname, leaving, labels"},
	{"markup", "markup in messages and nicknames is shown as text and runs nothing"},
	{"polling", "a browser without WebSocket chats over long-polling"},
	{"restart", "without recovery, after a server restart the pages join again with their tokens, keep their nicknames and chat, history not repeated"},
	{"blip", "a connection lost for a moment while the other writes 15 messages is recovered: each shown once, in order, nobody seen to leave, no join again"},
	{"restartRecovery", "after a server restart the pages recover their connections, over WebSocket and long-polling: what was said meanwhile shown once, no history again, no presence lines"},
	{"crowd", "five people joining and three leaving at once show as one line; the chatter list follows"},
	{"busyAddress", "a page whose join is refused as too fast, its address having used up its joins, tries again and gets in"},
	{"welcome", "a page on its welcome screen holds no connection and does not reconnect when the server closes one that did not join"},
	{"rooms", "rooms on one connection: unread counts in the list and the title, history and chatters per room, the room in the URL, rooms added and removed live, a reload and a restart take every seat back, the room list on a phone"},
}

// gamesTopic is the topic of the room the rooms scenario finds when it starts.
const gamesTopic = "Board games on Friday, video games any time"

// scenarioSetup prepares the server of the scenarios that need it (its
// database is db), once it runs and before the script starts.
var scenarioSetup = map[string]func(t *testing.T, db string){
	"rooms": func(t *testing.T, db string) {
		if r := runCLI(t, "room", "add", "games", "--topic", gamesTopic, "--db", db); r.code != 0 {
			t.Fatalf("chatserver room add games: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	},
}

// scenarioArgs are the serve flags of the scenarios that need some.
var scenarioArgs = map[string][]string{
	// The pages of busyAddress name their address in X-Forwarded-For; with
	// the allowance of one connection, the address gets a join back every
	// 2 s only.
	"busyAddress": {"--trusted-proxies", "127.0.0.1", "--ip-rate-factor", "1"},
	// A connection that has not joined is closed after 1 s; the scenario
	// watches its pages for three times as long (CALM_MS).
	"welcome": {"--pending-timeout", "1s"},
	// The pages cannot recover their connections: they join again with
	// their tokens, as they do after a crash or a long absence.
	"restart": {"--recovery-window", "0"},
	// The other person sends 15 messages in a row while the page is away.
	"blip": {"--burst", "20"},
	// A page that is closed leaves on purpose: the others see it go at
	// once, long before a lost connection's grace would end. Over
	// long-polling the page's DISCONNECT races the held GET that its
	// closing aborts, and on a busy machine the GET can lose: the polling
	// scenario keeps a grace short enough for its wait.
	"chat":    {"--presence-grace", "1m"},
	"polling": {"--presence-grace", "2s"},
}

// browserMissing says why the browser tests cannot run ("" when they can).
func browserMissing(dir string) string {
	if _, err := os.Stat(chromiumPath); err != nil {
		return chromiumPath + " is missing (Debian's chromium package)"
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	check := exec.CommandContext(ctx, "node", "-e", "require.resolve('playwright-core')")
	check.Dir = dir
	if err := check.Run(); err != nil {
		return fmt.Sprintf("the npm package playwright-core is not installed in %s/node_modules or NODE_PATH", dir)
	}
	return ""
}

// requireBrowser skips the test when the browser tests cannot run, or fails
// it in CI, where they must run. It returns the folder of run.js.
func requireBrowser(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	missing := browserMissing(dir)
	if missing == "" {
		return dir
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %s; run `make test`, which installs it", missing)
	}
	t.Skipf("skipping: %s; run `make test` to install it", missing)
	return ""
}

// screenshotDir is where screenshots go: $CHATSERVER_SHOTS if set (kept, to be
// looked at), or a temporary folder removed after the test.
func screenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CHATSERVER_SHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, so that a restarted server can listen on the same one.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scenarioReport is one line of run.js's output.
type scenarioReport struct {
	Type string `json:"type"`
	Text string `json:"text"`
	Op   string `json:"op"`
	Name string `json:"name"`
	Path string `json:"path"`
	OK   bool   `json:"ok"`
	// Args are the arguments of a "room" request: `chatserver room ARGS`
	// against the running server.
	Args []string `json:"args"`
}

// TestBrowser runs every browser scenario in turn (not in parallel: each
// drives a whole browser on a shared machine), each against its own server.
func TestBrowser(t *testing.T) {
	dir := requireBrowser(t)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)
	for _, sc := range browserScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Logf("%s: %s", sc.name, sc.what)
			runScenario(t, dir, sc.name, shots, scenarioSetup[sc.name], scenarioArgs[sc.name]...)
		})
	}
}

// runScenario starts a server with args, prepares it with setup (if not nil),
// runs `node run.js name` against it, stops and restarts the server or runs
// `chatserver room` when the script asks, and turns the script's findings
// into test failures.
func runScenario(t *testing.T, dir, name, shots string, setup func(*testing.T, string), args ...string) {
	db := filepath.Join(t.TempDir(), "chat.db")
	addr := freeLoopbackAddr(t)
	args = append([]string{"--addr", addr}, args...)
	srv := startServer(t, db, args...)
	if setup != nil {
		setup(t, db)
	}

	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout+scenarioGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.js", name)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CHATSERVER_URL="+srv.url,
		"SHOTS_DIR="+shots,
		"CHROMIUM="+chromiumPath,
		fmt.Sprintf("TIMEOUT_MS=%d", scenarioTimeout.Milliseconds()))
	// Its own process group, so that a kill reaches the browser too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stderr := &lineWriter{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node run.js: %v", err)
	}
	// The reader hands lines to the loop below until stdout ends or the
	// test is over; then the process is waited for.
	lines := make(chan string)
	over := make(chan struct{})
	exited := make(chan error, 1)
	go func() {
		defer close(lines)
		scan := bufio.NewScanner(stdout)
		scan.Buffer(make([]byte, 64*1024), maxReportLine)
		for scan.Scan() {
			select {
			case lines <- scan.Text():
			case <-over:
			}
		}
		// Drain, so that the script never blocks on a full pipe.
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		close(over)
		// Closing stdin tells run.js to close its browser and exit.
		stdin.Close()
		select {
		case <-exited:
			return
		case <-time.After(scenarioStopTimeout):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	answer := func(op string, ok bool) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"op": op, "ok": ok})
		if _, err := stdin.Write(append(b, '\n')); err != nil {
			t.Fatalf("answer run.js: %v", err)
		}
	}
	done := false
	for line := range lines {
		var r scenarioReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Errorf("run.js printed a line that is not JSON: %s", line)
			continue
		}
		switch r.Type {
		case "log":
			t.Log(r.Text)
		case "shot":
			t.Logf("screenshot %s: %s", r.Name, r.Path)
		case "fail":
			t.Error(r.Text)
		case "ask":
			ok := true
			switch r.Op {
			case "stop":
				if code := srv.stop(t, syscall.SIGTERM); code != 0 {
					t.Errorf("chatserver exited with status %d after SIGTERM\n%s%s", code, srv.stdout, srv.stderr)
				}
			case "start":
				srv = startServer(t, db, args...)
			case "room":
				res := runCLI(t, append(append([]string{"room"}, r.Args...), "--db", db)...)
				if ok = res.code == 0; !ok {
					t.Errorf("chatserver room %v: exit %d\n%s%s", r.Args, res.code, res.stdout, res.stderr)
				}
			default:
				t.Fatalf("run.js asked for %q", r.Op)
			}
			answer(r.Op, ok)
		case "done":
			done = true
			if !r.OK && !t.Failed() {
				t.Error("run.js reported a failure without saying what")
			}
		default:
			t.Errorf("run.js printed an unknown line: %s", line)
		}
	}
	if !done {
		t.Fatalf("run.js ended without a result (%v)\nstderr:\n%s", ctx.Err(), stderr)
	}
}
