package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// writeConfigFile writes a configuration file for serve and returns its
// path.
func writeConfigFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chatserver.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFileConfiguresTheServer runs the binary with a configuration
// file whose settings a variable and flags partly override, and checks
// each level through what the running server does.
func TestConfigFileConfiguresTheServer(t *testing.T) {
	config := writeConfigFile(t, `# every level at once
addr = "127.0.0.1:1"   # startServer's --addr wins
history = 2            # kept: nothing overrides it
max-message = 5        # CHATSERVER_MAX_MESSAGE wins
allow-eio3 = false     # kept: protocol 3 is refused
`)
	t.Setenv("CHATSERVER_MAX_MESSAGE", "10")
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db, "--config", config)

	alice := joinWS(t, srv.url, "alice")
	for _, text := range []string{"one", "two", "three"} {
		say(t, alice, text)
	}
	say(t, alice, strings.Repeat("a", 10)) // the variable's 10, not the file's 5
	if reply := call(t, alice, "messages", strings.Repeat("a", 11)); reply["error"] != "invalid_message" {
		t.Errorf("11 characters with max-message 10 from the environment: %v, want invalid_message", reply)
	}
	if got, want := historyTexts(t, db), []string{"three", strings.Repeat("a", 10)}; !slices.Equal(got, want) {
		t.Errorf("history kept %q, want the newest 2 (history = 2 in the file): %q", got, want)
	}
	resp, err := http.Get(srv.url + "/socket.io/?EIO=3&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an Engine.IO 3 handshake with allow-eio3 = false: HTTP %d, want 400", resp.StatusCode)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestCheckWithTheBinary: --check prints the settings with their origins
// and exits 0 when serve would start, 1 when a running server holds the
// database, 2 at a mistake in the file; it never starts serving.
func TestCheckWithTheBinary(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	config := writeConfigFile(t, "history = 20\nrate = 1.5\n")

	r := runCLI(t, "serve", "--check", "--config", config, "--db", db, "--addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("--check: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`^# database ` + regexp.QuoteMeta(db) + `: does not exist yet; serve will create it$`,
		`^history = 20 +# file ` + regexp.QuoteMeta(config) + `, line 1$`,
		`^rate = 1\.5 +# file ` + regexp.QuoteMeta(config) + `, line 2$`,
		`^db = "` + regexp.QuoteMeta(db) + `" +# flag$`,
		`^max-message = 2000 +# default$`,
	} {
		if !regexp.MustCompile("(?m)" + want).MatchString(r.stdout) {
			t.Errorf("no line matching %s in\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("--check created the database: %v", err)
	}

	srv := startServer(t, db, "--config", config)
	r = runCLI(t, "serve", "--check", "--config", config, "--db", db, "--addr", "127.0.0.1:0")
	want := db + " is in use by a running chatserver (it answers on " + db + ".sock); serve would fail on it until that server stops"
	plainFailure(t, r, want)
	if !strings.Contains(r.stdout, "# database "+db+": PROBLEM: "+want) || !strings.Contains(r.stdout, "\nhistory = 20 ") {
		t.Errorf("the report does not show the problem and the settings:\n%s", r.stdout)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("the running server: exit %d after SIGTERM", code)
	}

	bad := writeConfigFile(t, "history = 20\nmax-message = \"2000\"\n")
	r = runCLI(t, "serve", "--check", "--config", bad, "--db", db)
	want = "chatserver: config file " + bad + `, line 2: max-message must be an integer, such as max-message = 2000; got the string "2000"` + "\n"
	if r.code != 2 || r.stderr != want || r.stdout != "" {
		t.Errorf("a mistake in the file: exit %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, want)
	}
}
