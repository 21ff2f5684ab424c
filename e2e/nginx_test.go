package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/redistest"
)

// The nginx test runs the example configuration that docs/nginx ships,
// in front of real nodes, so that the example cannot rot.

// nginxConf is the shipped example, relative to this package.
const nginxConf = "../docs/nginx/chatserver.conf"

// nginxProgram is Debian's nginx, found on PATH or in /usr/sbin, where
// the package puts it.
func nginxProgram() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// requireNginx returns the nginx program, skipping the test without it,
// or failing it in CI, where it must run.
func requireNginx(t testing.TB) string {
	t.Helper()
	if p := nginxProgram(); p != "" {
		return p
	}
	requireTool(t, "nginx is not installed (Debian's nginx package)")
	return ""
}

// The parts of the example the test replaces: the nodes of the upstream
// block and the address the server block listens on.
var (
	upstreamServer = regexp.MustCompile(`(?m)^(\s*)server\s+\d+\.\d+\.\d+\.\d+:\d+;\n`)
	listenLine     = regexp.MustCompile(`(?m)^(\s*)listen\s+(80|\[::\]:80);\n`)
)

// renderNginx is the example with the nodes at addrs (host:port) as its
// upstream and listening on listen (127.0.0.1:PORT) only.
func renderNginx(t testing.TB, example string, addrs []string, listen string) string {
	t.Helper()
	if n := len(upstreamServer.FindAllString(example, -1)); n < 2 {
		t.Fatalf("%s: found %d upstream server lines, want the example's nodes", nginxConf, n)
	}
	if n := len(listenLine.FindAllString(example, -1)); n < 1 {
		t.Fatalf("%s: found no `listen 80;` line", nginxConf)
	}
	var servers strings.Builder
	first := true
	out := upstreamServer.ReplaceAllStringFunc(example, func(line string) string {
		if !first {
			return ""
		}
		first = false
		indent := upstreamServer.FindStringSubmatch(line)[1]
		for _, a := range addrs {
			fmt.Fprintf(&servers, "%sserver %s;\n", indent, a)
		}
		return servers.String()
	})
	first = true
	return listenLine.ReplaceAllStringFunc(out, func(line string) string {
		if !first {
			return ""
		}
		first = false
		return fmt.Sprintf("%slisten %s;\n", listenLine.FindStringSubmatch(line)[1], listen)
	})
}

// nginxMain is a main configuration for a test's own nginx under prefix:
// in the foreground, its pid, logs and temporary files in prefix, run as
// the current user, with the http block including conf.
func nginxMain(t testing.TB, program, prefix, conf string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(prefix, "temp"), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "daemon off;\nworker_processes 1;\npid %s;\nerror_log %s info;\n",
		filepath.Join(prefix, "nginx.pid"), filepath.Join(prefix, "error.log"))
	if os.Geteuid() == 0 {
		// As root, nginx's workers would run as nobody, who cannot
		// write to the test's directory.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "user %s;\n", u.Username)
	}
	b.WriteString("events { worker_connections 256; }\nhttp {\n")
	fmt.Fprintf(&b, "    access_log %s;\n", filepath.Join(prefix, "access.log"))
	// Debian's build keeps these under /var/lib/nginx; each module that
	// is built in wants its own.
	version, _ := exec.Command(program, "-V").CombinedOutput()
	for _, m := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if m != "client_body" && bytes.Contains(version, []byte("--without-http_"+m+"_module")) {
			continue
		}
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", m, filepath.Join(prefix, "temp", m))
	}
	fmt.Fprintf(&b, "    include %s;\n}\n", conf)
	return b.String()
}

// nginxTest runs `nginx -t` on the main configuration main, under prefix.
func nginxTest(t testing.TB, program, prefix, main string) {
	t.Helper()
	file := filepath.Join(prefix, "test.conf")
	if err := os.WriteFile(file, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, program, "-t", "-p", prefix, "-c", file, "-e", filepath.Join(prefix, "error.log")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, main)
	}
}

// startNginx runs nginx on the main configuration main under prefix, waits
// until base answers /healthz through it, and stops it at the end of the
// test.
func startNginx(t testing.TB, program, prefix, main, base string) {
	t.Helper()
	file := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(file, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(program, "-p", prefix, "-c", file, "-e", filepath.Join(prefix, "error.log"))
	// A file, not a pipe: Wait then returns once the master process has
	// exited, whatever its workers still hold open.
	outFile := filepath.Join(prefix, "nginx.out")
	out, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // a fast shutdown
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			output, _ := os.ReadFile(outFile)
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Logf("nginx output:\n%s\nnginx error log:\n%s", output, log)
		}
	})
	c := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			output, _ := os.ReadFile(outFile)
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Fatalf("nginx exited at start: %s\n%s", output, log)
		default:
		}
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx at %s did not pass /healthz on within %s: %v", base, startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTheShippedNginxConfigurationPasses: nginx -t accepts the example
// as shipped, included in an http block.
func TestTheShippedNginxConfigurationPasses(t *testing.T) {
	t.Parallel()
	program := requireNginx(t)
	conf, err := filepath.Abs(nginxConf)
	if err != nil {
		t.Fatal(err)
	}
	prefix := t.TempDir()
	nginxTest(t, program, prefix, nginxMain(t, program, prefix, conf))
}

// TestNginxInFrontOfTwoNodes: the shipped example, given two nodes and a
// port of 127.0.0.1, in front of them: a long-polling client and a
// WebSocket client, from two client addresses that ip_hash sends to
// different nodes, chat with each other through it; each node names its
// client by the address nginx forwarded (X-Forwarded-For, trusted with
// --trusted-proxies).
func TestNginxInFrontOfTwoNodes(t *testing.T) {
	t.Parallel()
	requireNode(t)
	program := requireNginx(t)
	example, err := os.ReadFile(nginxConf)
	if err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t, redistest.Options{})
	n := startNodes(t, rs.URL(), 2, "--trusted-proxies", "127.0.0.1")
	var addrs []string
	for _, s := range n {
		u, err := url.Parse(s.url)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, u.Host)
	}
	prefix := t.TempDir()
	listen := freeLoopbackAddr(t)
	conf := filepath.Join(prefix, "chatserver.conf")
	if err := os.WriteFile(conf, []byte(renderNginx(t, string(example), addrs, listen)), 0o644); err != nil {
		t.Fatal(err)
	}
	main := nginxMain(t, program, prefix, conf)
	nginxTest(t, program, prefix, main)
	base := "http://" + listen
	startNginx(t, program, prefix, main, base)

	d := startDriver(t)
	// ip_hash hashes the first three bytes of an IPv4 address: 127.0.0.1
	// and 127.0.1.1 (both loopback) go to the first and the second node.
	d.connect("poller", base, "polling")
	d.connectWith("websocket", base, map[string]any{"transports": []string{"websocket"}, "localAddress": "127.0.1.1"})
	for _, c := range []string{"poller", "websocket"} {
		if ack := d.call(c, "join", c); ack["ok"] != true {
			t.Fatalf("%s could not join through nginx: %v", c, ack)
		}
	}
	d.eventWith("poller", "add chatter", "websocket")
	for i, want := range []string{"transport=polling addr=127.0.0.1 ", "transport=websocket addr=127.0.1.1 "} {
		if !n[i].stderr.waitFor(want, eventTimeout) {
			t.Fatalf("node n%d logged no connection with %q", i+1, want)
		}
	}
	d.sendAll(t, "poller", []string{"polling through nginx"})
	d.sendAll(t, "websocket", []string{"websocket through nginx"})
	want := []string{"poller: polling through nginx", "websocket: websocket through nginx"}
	for _, c := range []string{"poller", "websocket"} {
		if got := texts(d.lines(t, c, 2)); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s got %q, want %q", c, got, want)
		}
	}
}
