package cmd

import (
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// resolveServe parses args as serve does and resolves them (environment,
// configuration file, validation) as serve does, returning the options,
// what resolve found and its error.
func resolveServe(t testing.TB, args ...string) (*serveOptions, *resolved, error) {
	t.Helper()
	var o serveOptions
	var c configOptions
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.addFlags(fs)
	c.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	r, err := c.resolve(fs, func(fs *pflag.FlagSet) { new(serveOptions).addFlags(fs) }, o.validate)
	return &o, r, err
}

// writeConfig writes content to a new configuration file and returns its
// path.
func writeConfig(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chatserver.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// originOf returns where r says the setting key came from.
func originOf(t testing.TB, r *resolved, key string) string {
	t.Helper()
	for _, s := range r.settings {
		if s.key == key {
			return s.origin.String()
		}
	}
	t.Fatalf("no setting %s", key)
	return ""
}

// TestConfigPrecedence sets each representative setting at one level
// after another, default, file, environment, flag, and checks that each
// level wins over the ones before it, and that resolve says so.
func TestConfigPrecedence(t *testing.T) {
	tests := []struct {
		key                          string
		file, env, flag              string // the value as the file, the variable and the flag write it
		got                          func(o *serveOptions) any
		byDefault, byFile, byEnv, by any
	}{
		{"addr", `"127.0.0.1:1"`, "127.0.0.1:2", "127.0.0.1:3", func(o *serveOptions) any { return o.addr },
			":8080", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"},
		{"max-message", "100", "200", "300", func(o *serveOptions) any { return o.room.MaxMessageLen },
			2000, 100, 200, 300},
		{"rate", "1.5", "2.5", "3.5", func(o *serveOptions) any { return o.room.Rate },
			5.0, 1.5, 2.5, 3.5},
		{"allow-eio3", "false", "true", "false", func(o *serveOptions) any { return o.web.SocketIO.Engine.AllowEIO3 },
			true, false, true, false},
		{"ping-interval", `"2s"`, "3s", "4s", func(o *serveOptions) any { return o.web.SocketIO.Engine.PingInterval },
			25 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second},
		{"allowed-hosts", `["a.lan", "b.lan"]`, "c.lan", "d.lan,e.lan", func(o *serveOptions) any { return o.web.AllowedHosts },
			[]string(nil), []string{"a.lan", "b.lan"}, []string{"c.lan"}, []string{"d.lan", "e.lan"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			// The key is on the second line, after another setting.
			path := writeConfig(t, "history = 20\n"+tt.key+" = "+tt.file+"\n")
			env := envName(tt.key)
			levels := []struct {
				name   string
				setup  func(t *testing.T) []string
				want   any
				origin string
			}{
				{"default", func(*testing.T) []string { return nil }, tt.byDefault, "default"},
				{"file", func(*testing.T) []string { return []string{"--config", path} }, tt.byFile, "file " + path + ", line 2"},
				{"environment over file", func(t *testing.T) []string {
					t.Setenv(env, tt.env)
					return []string{"--config", path}
				}, tt.byEnv, "env " + env},
				{"flag over environment and file", func(t *testing.T) []string {
					t.Setenv(env, tt.env)
					return []string{"--config", path, "--" + tt.key + "=" + tt.flag}
				}, tt.by, "flag"},
			}
			for _, lv := range levels {
				t.Run(lv.name, func(t *testing.T) {
					o, r, err := resolveServe(t, lv.setup(t)...)
					if err != nil {
						t.Fatal(err)
					}
					if got := tt.got(o); !reflect.DeepEqual(got, lv.want) {
						t.Errorf("%s is %#v, want %#v", tt.key, got, lv.want)
					}
					if got := originOf(t, r, tt.key); got != lv.origin {
						t.Errorf("%s came from %q, want %q", tt.key, got, lv.origin)
					}
				})
			}
		})
	}
}

func TestConfigFileFromTheEnvironment(t *testing.T) {
	envFile := writeConfig(t, "history = 30\n")
	flagFile := writeConfig(t, "history = 40\n")
	t.Setenv("CHATSERVER_CONFIG", envFile)

	o, r, err := resolveServe(t)
	if err != nil || o.room.History != 30 || r.file != envFile || r.fileOrigin.String() != "env CHATSERVER_CONFIG" {
		t.Errorf("CHATSERVER_CONFIG: history %d from %+v, %v; want 30 from %s", o.room.History, r, err, envFile)
	}
	o, r, err = resolveServe(t, "--config", flagFile)
	if err != nil || o.room.History != 40 || r.file != flagFile {
		t.Errorf("--config did not win over CHATSERVER_CONFIG: history %d from %+v, %v", o.room.History, r, err)
	}
}

// TestConfigMistakes: every kind of mistake in the file ends serve with
// exit status 2 and one line naming the file, and the key and its line
// where there is one. FILE in want stands for the file's path.
func TestConfigMistakes(t *testing.T) {
	tests := []struct {
		name    string
		content string
		args    []string
		want    string
	}{
		{"unknown key", "history = 5\nmax-mesage = 20\n", nil,
			`config file FILE, line 2: unknown key "max-mesage": the keys are the flags of chatserver serve, at the top level of the file; did you mean max-message?`},
		{"a variable's name as the key", "CHATSERVER_MAX_MESSAGE = 20\n", nil,
			`config file FILE, line 1: unknown key "CHATSERVER_MAX_MESSAGE": the keys are the flags of chatserver serve, at the top level of the file; did you mean max-message?`},
		{"unknown key far from every key", "x = 1\n", nil, `config file FILE, line 1: unknown key "x": the keys are the flags of chatserver serve, at the top level of the file` + "\n"},
		{"settings in a table", "\n[serve]\naddr = \":80\"\n", nil, `config file FILE, line 2: unknown key "serve"`},
		{"the config key itself", `config = "other.toml"` + "\n", nil,
			"config file FILE, line 1: config cannot be set in a config file; give the file with --config or CHATSERVER_CONFIG"},
		{"the check flag", "check = true\n", nil, "config file FILE, line 1: check is not a setting: it exists only as the command-line flag --check"},
		{"string for an integer", `max-message = "2000"` + "\n", nil,
			`config file FILE, line 1: max-message must be an integer, such as max-message = 2000; got the string "2000"`},
		{"float for an integer", "history = 1.5\n", nil, `config file FILE, line 1: history must be an integer, such as history = 10; got the number 1.5`},
		{"string for a number", `rate = "fast"` + "\n", nil, `config file FILE, line 1: rate must be a number, such as rate = 5.0; got the string "fast"`},
		{"string for a boolean", `allow-eio3 = "yes"` + "\n", nil,
			`config file FILE, line 1: allow-eio3 must be true or false, such as allow-eio3 = true; got the string "yes"`},
		{"integer for a duration", "ping-interval = 25\n", nil,
			`config file FILE, line 1: ping-interval must be a duration in quotes ("25s", "10m", "1h30m"), such as ping-interval = "25s"; got the integer 25`},
		{"integer for a string", "addr = 8080\n", nil, `config file FILE, line 1: addr must be a string in quotes, such as addr = ":8080"; got the integer 8080`},
		{"string for a list", `allowed-hosts = "chat.lan"` + "\n", nil,
			`config file FILE, line 1: allowed-hosts must be an array of strings, such as allowed-hosts = ["…", "…"]; got the string "chat.lan"`},
		{"a list entry of the wrong type", `allowed-hosts = ["chat.lan", 5]` + "\n", nil,
			`config file FILE, line 1: allowed-hosts must be an array of strings, such as allowed-hosts = ["…", "…"]; entry 2 is the integer 5`},
		{"a date for a string", "db = 2026-11-29\n", nil, `config file FILE, line 1: db must be a string in quotes, such as db = "chatserver.db"; got a date`},
		{"a duration without a unit", `ping-interval = "5"` + "\n", nil,
			`config file FILE, line 1: ping-interval = "5" is not valid: ping-interval takes a duration in quotes ("25s", "10m", "1h30m")`},
		{"a bad value a flag overrides", `ping-timeout = "soon"` + "\n", []string{"--ping-timeout", "5s"},
			`config file FILE, line 1: ping-timeout = "soon" is not valid`},
		{"a value out of range", "# limits\nhistory = 5000\n", nil,
			"--history must be between 1 and 1000, got 5000 (history = 5000 in config file FILE, line 2)"},
		{"a host name that is not one", `allowed-hosts = ["chat.lan", "a_b"]` + "\n", nil,
			`--allowed-hosts entries must be host names such as chat.example.org, got "a_b" (allowed-hosts = ["chat.lan", "a_b"] in config file FILE, line 1)`},
		{"values that do not fit together", "max-connections = 100\nsend-queue = 10\n", nil,
			"--send-queue must be at least --history + --max-connections + 64 = 174, got 10 (a joining chatter is sent the history and the whole chatter list at once) " +
				"(send-queue = 10 in config file FILE, line 2; max-connections = 100 in config file FILE, line 1)"},
		{"bad syntax", "history = 10\naddr = \":8080\n", nil, "config file FILE, line 2: strings cannot contain newlines"},
		{"a key given twice", "history = 10\nhistory = 20\n", nil, "config file FILE, line 2: Key 'history' has already been defined."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.content)
			r := run(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--config", path}, tt.args...)...)
			want := "chatserver: " + strings.ReplaceAll(tt.want, "FILE", path)
			if r.code != exitUsage || !strings.Contains(r.report, want) {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, exitUsage, want)
			}
			if strings.Count(r.report, "\n") != 1 || r.stdout != "" || r.stderr != "" {
				t.Errorf("more than one line: stdout %q stderr %q report %q", r.stdout, r.stderr, r.report)
			}
		})
	}
}

// TestConfigFileThatCannotBeRead: a missing or unreadable file is a
// mistake in the settings too, exit status 2, naming the file and who
// named it.
func TestConfigFileThatCannotBeRead(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"missing, given by the flag", []string{"--config", missing}, "",
			"config file " + missing + " does not exist (given by --config)"},
		{"missing, given by the variable", nil, missing,
			"config file " + missing + " does not exist (given by CHATSERVER_CONFIG)"},
		{"a directory", []string{"--config", dir}, "", "config file " + dir + " is a directory, not a file"},
	}
	if os.Geteuid() != 0 { // root reads any file
		locked := writeConfig(t, "history = 5\n")
		if err := os.Chmod(locked, 0); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name string
			args []string
			env  string
			want string
		}{"without permission", []string{"--config", locked}, "", "config file " + locked + " cannot be read: permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("CHATSERVER_CONFIG", tt.env)
			}
			r := run(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
			if r.code != exitUsage || r.report != "chatserver: "+tt.want+"\n" {
				t.Fatalf("exit %d, printed %q; want exit %d and %q", r.code, r.report, exitUsage, tt.want)
			}
		})
	}
}

// TestEnvironmentRefusalsNameTheVariable: a value from a variable that
// validation refuses says which variable, and stays exit status 1.
func TestEnvironmentRefusalsNameTheVariable(t *testing.T) {
	t.Setenv("CHATSERVER_HISTORY", "0")
	r := run(t, "serve", "--addr", "127.0.0.1:0")
	want := "chatserver: --history must be between 1 and 1000, got 0 (history from CHATSERVER_HISTORY)\n"
	if r.code != exitError || r.report != want {
		t.Fatalf("exit %d, %q; want exit %d and %q", r.code, r.report, exitError, want)
	}
}

// TestConfigTakesAnyFlag defines flags of every kind pflag has, as a new
// serve flag might be, and sets each from a file: the file needs nothing
// but the flag.
func TestConfigTakesAnyFlag(t *testing.T) {
	define := func(fs *pflag.FlagSet) {
		fs.String("a-string", "", "")
		fs.Int("an-int", 0, "")
		fs.Uint16("a-uint16", 0, "")
		fs.Int64("an-int64", 0, "")
		fs.Float64("a-float", 0, "")
		fs.Bool("a-bool", false, "")
		fs.Duration("a-duration", 0, "")
		fs.StringSlice("a-list", nil, "")
		fs.StringArray("an-array", nil, "")
		fs.IntSlice("int-list", nil, "")
		fs.DurationSlice("duration-list", nil, "")
		fs.IP("an-ip", nil, "")
		withEnv(fs)
	}
	file := writeConfig(t, `a-string = "x, \"y\""
an-int = -3
a-uint16 = 65535
an-int64 = 9007199254740993
a-float = 7
a-bool = true
a-duration = "1h30m"
a-list = ["one, with a comma", "two"]
an-array = ["a,b"]
int-list = [1, 2]
duration-list = ["1s", "2m"]
an-ip = "192.0.2.1"
`)
	var c configOptions
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	define(fs)
	c.addFlags(fs)
	if err := fs.Parse([]string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	r, err := c.resolve(fs, define, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a value out of the flag's range", func(t *testing.T) {
		var c configOptions
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		define(fs)
		c.addFlags(fs)
		big := writeConfig(t, "a-uint16 = 65536\n")
		if err := fs.Parse([]string{"--config", big}); err != nil {
			t.Fatal(err)
		}
		_, err := c.resolve(fs, define, func() error { return nil })
		if want := "config file " + big + ", line 1: a-uint16 = 65536 is out of range for a-uint16"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	want := map[string]any{
		"a-string": `x, "y"`, "an-int": "-3", "a-uint16": "65535", "an-int64": "9007199254740993", "a-float": "7",
		"a-bool": "true", "a-duration": "1h30m0s", "an-ip": "192.0.2.1",
		"a-list": []string{"one, with a comma", "two"}, "an-array": []string{"a,b"},
		"int-list": []string{"1", "2"}, "duration-list": []string{"1s", "2m0s"},
	}
	for name, w := range want {
		var got any = fs.Lookup(name).Value.String()
		if sv, ok := fs.Lookup(name).Value.(pflag.SliceValue); ok {
			got = sv.GetSlice()
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	// What --check prints for them reads back as the same values.
	var printed strings.Builder
	for _, s := range r.settings {
		printed.WriteString(s.key + " = " + s.value + "\n")
	}
	again := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	define(again)
	keys, err := readConfig(writeConfig(t, printed.String()), origin{}, again)
	if err != nil {
		t.Fatalf("%v in\n%s", err, printed.String())
	}
	for _, k := range keys {
		if err := k.apply(again); err != nil {
			t.Fatal(err)
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if g := again.Lookup(f.Name); g != nil && g.Value.String() != f.Value.String() {
			t.Errorf("%s printed as %s reads back as %s, want %s", f.Name, flagTOML(f), g.Value.String(), f.Value.String())
		}
	})
}

// TestContribConfigListsEveryDefault keeps contrib/chatserver.toml in step
// with the flags: every setting is there, with one line of explanation
// above it, and the file yields exactly the defaults.
func TestContribConfigListsEveryDefault(t *testing.T) {
	const path = "../contrib/chatserver.toml"
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := serveFlags()
	new(configOptions).addFlags(fs)
	keys, err := readConfig(path, origin{}, fs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(content), "\n")
	inFile := make(map[string]bool)
	for _, k := range keys {
		inFile[k.key] = true
		if k.line < 2 || !strings.HasPrefix(lines[k.line-2], "# ") {
			t.Errorf("%s: %s has no line of explanation above it", path, k.key)
		}
		if err := k.apply(fs); err != nil {
			t.Error(err)
		}
	}
	for _, name := range settingNames(fs) {
		if !inFile[name] {
			t.Errorf("%s has no key %s: add `%s = %s` with one line of explanation above it",
				path, name, name, flagTOML(fs.Lookup(name)))
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if got := f.Value.String(); got != f.DefValue {
			t.Errorf("%s sets %s to %s, but its default is %s", path, f.Name, got, f.DefValue)
		}
	})
}

func TestCheckReportsTheSettingsAndWhereEachCameFrom(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	file := writeConfig(t, "# a comment\nhistory = 50\nallowed-hosts = [\"chat.lan\"]\nrate = 2\n")
	t.Setenv("CHATSERVER_PING_INTERVAL", "10s")
	r := run(t, "serve", "--check", "--config", file, "--db", db, "--addr", "127.0.0.1:0", "--max-message", "500")
	if r.err != nil {
		t.Fatalf("exit %d: %s", r.code, r.report)
	}
	for _, want := range []string{
		"^# chatserver serve --check$",
		"^# settings: valid, config file " + regexp.QuoteMeta(file) + ` \(given by --config\)$`,
		"^# database " + regexp.QuoteMeta(db) + ": does not exist yet; serve will create it$",
		"^# admin socket " + regexp.QuoteMeta(db) + `\.sock: free$`,
		`^# address 127\.0\.0\.1:0: free`,
		"^# serve would start with these settings:$",
		`^addr = "127\.0\.0\.1:0" +# flag$`,
		`^max-message = 500 +# flag$`,
		`^ping-interval = "10s" +# env CHATSERVER_PING_INTERVAL$`,
		`^history = 50 +# file ` + regexp.QuoteMeta(file) + ", line 2$",
		`^allowed-hosts = \["chat\.lan"\] +# file ` + regexp.QuoteMeta(file) + ", line 3$",
		`^rate = 2\.0 +# file ` + regexp.QuoteMeta(file) + ", line 4$",
		`^burst = 10 +# default$`,
		`^send-queue = 0 +# default$`,
		`^trusted-proxies = \[\] +# default$`,
	} {
		if !regexp.MustCompile("(?m)" + want).MatchString(r.stdout) {
			t.Errorf("no line matching %s in\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("--check created the database: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--check left files behind: %v", entries)
	}

	// The report is a configuration file that gives the same settings.
	_, again, err := resolveServe(t, "--config", writeConfig(t, r.stdout))
	if err != nil {
		t.Fatalf("the report does not read back: %v", err)
	}
	_, first, err := resolveServe(t, "--config", file, "--db", db, "--addr", "127.0.0.1:0", "--max-message", "500")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range first.settings {
		if got := again.settings[i]; got.key != s.key || got.value != s.value {
			t.Errorf("the report reads back as %s = %s, want %s = %s", got.key, got.value, s.key, s.value)
		}
	}
}

func TestCheckLooksAtTheDatabaseAndTheAddresses(t *testing.T) {
	dir := t.TempDir()
	stored := filepath.Join(dir, "stored.db")
	seed(t, stored, 10, "alice", "one", "two", "three")
	held := filepath.Join(dir, "held.db")
	holdLock(t, held)
	foreign := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(foreign, []byte(strings.Repeat("not a database\n", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	tests := []struct {
		name     string
		db, addr string
		metrics  string // --metrics-addr, unless empty
		code     int
		line     string // in the report on standard output
		err      string // the error, when the code is not 0
	}{
		{"a stored database", stored, "127.0.0.1:0", "", 0,
			"# database " + stored + ": a chatserver database holding 3 messages in 1 room, not in use", ""},
		{"an empty file", empty, "127.0.0.1:0", "", 0,
			"# database " + empty + ": an empty file, which serve will set up as a new database", ""},
		{"a database another process holds", held, "127.0.0.1:0", "", exitError,
			"# database " + held + ": PROBLEM: " + held + " is locked by another process",
			held + " is locked by another process (a chatserver starting or stopping, or another program); serve would fail on it"},
		{"another program's file", foreign, "127.0.0.1:0", "", exitError,
			"# database " + foreign + ": PROBLEM: " + foreign + " is not a chatserver database",
			foreign + " is not a chatserver database"},
		{"a directory that does not exist", filepath.Join(dir, "nowhere", "chat.db"), "127.0.0.1:0", "", exitError,
			": PROBLEM: " + filepath.Join(dir, "nowhere", "chat.db") + " does not exist, and neither does its directory",
			"neither does its directory " + filepath.Join(dir, "nowhere")},
		{"an address in use", stored, taken.Addr().String(), "", exitError,
			"# address " + taken.Addr().String() + ": PROBLEM: cannot listen on " + taken.Addr().String() + ": the port is already in use",
			"the port is already in use"},
		{"a free metrics address", stored, "127.0.0.1:0", "127.0.0.1:0", 0,
			"# metrics address 127.0.0.1:0: free", ""},
		{"a metrics address in use", stored, "127.0.0.1:0", taken.Addr().String(), exitError,
			"# metrics address " + taken.Addr().String() + ": PROBLEM: cannot listen on " + taken.Addr().String() + ": the port is already in use",
			"the port is already in use (is another chatserver or program using it? choose another with --metrics-addr)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.db)
			args := []string{"serve", "--check", "--db", tt.db, "--addr", tt.addr}
			if tt.metrics != "" {
				args = append(args, "--metrics-addr", tt.metrics)
			}
			r := run(t, args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.line) {
				t.Fatalf("exit %d, report\n%s\nwant exit %d and the line %q", r.code, r.stdout, tt.code, tt.line)
			}
			if tt.code != 0 && (!strings.Contains(r.report, tt.err) || !strings.Contains(r.stdout, "# serve would not start now: 1 problem above.")) {
				t.Errorf("error %q, want %q and a summary in\n%s", r.report, tt.err, r.stdout)
			}
			if !strings.Contains(r.stdout, "\nmax-message = 2000") {
				t.Errorf("the settings are missing from the report:\n%s", r.stdout)
			}
			if after, _ := os.ReadFile(tt.db); string(after) != string(before) {
				t.Error("--check changed the database file")
			}
		})
	}
}

// TestCheckStopsAtAMistakeInTheSettings: with a mistake in the settings,
// --check prints nothing but the mistake, exit status 2 from the file and
// 1 from a flag, as serve.
func TestCheckStopsAtAMistakeInTheSettings(t *testing.T) {
	file := writeConfig(t, "history = 0\n")
	r := run(t, "serve", "--check", "--config", file)
	if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.report, "(history = 0 in config file "+file+", line 1)") {
		t.Errorf("file: exit %d, stdout %q, %q", r.code, r.stdout, r.report)
	}
	r = run(t, "serve", "--check", "--history", "0")
	if r.code != exitError || r.stdout != "" || !strings.Contains(r.report, "--history must be between 1 and 1000") {
		t.Errorf("flag: exit %d, stdout %q, %q", r.code, r.stdout, r.report)
	}
}

// TestConfigAndCheckFlags: --config has its variable and its README row
// like every flag; --check has a row and, on purpose, no variable.
func TestConfigAndCheckFlags(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	serve, _, err := NewRootCommand().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	fs := serve.Flags()
	if f := fs.Lookup(configFlag); f == nil || f.Annotations[envAnnotation] == nil || isSetting(f) {
		t.Errorf("--config: %+v, want a flag with CHATSERVER_CONFIG that is not a key of the file", f)
	}
	if f := fs.Lookup(checkFlag); f == nil || f.Annotations[envAnnotation] != nil || isSetting(f) {
		t.Errorf("--check: %+v, want a flag without a variable that is not a key of the file", f)
	}
	for _, row := range []string{"| `--config` | `CHATSERVER_CONFIG` |", "| `--check` | none |"} {
		if !strings.Contains(string(readme), "\n"+row) {
			t.Errorf("README.md has no row %q", row)
		}
	}
	if got, want := settingNames(fs), flagNames(serveFlags()); !slices.Equal(got, want) {
		t.Errorf("the keys of the file are %q, want serve's flags %q", got, want)
	}
}

func TestNearestKey(t *testing.T) {
	keys := flagNames(serveFlags())
	for _, tt := range []struct{ key, want string }{
		{"max_message", "max-message"},
		{"MAX_MESSAGE", "max-message"},
		{"CHATSERVER_MAX_MESSAGE", "max-message"},
		{"--max-message", "max-message"},
		{"max-mesage", "max-message"},
		{"histroy", "history"},
		{"rat", "rate"},
		{"x", ""},
		{"database", ""},
		{"listen", ""},
	} {
		if got := nearestKey(tt.key, keys); got != tt.want {
			t.Errorf("nearestKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestTOMLStringReadsBack: every string the report writes is read back
// by the TOML library as itself.
func TestTOMLStringReadsBack(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r\x00\x1b\x7f", "ünïcødé ✓", "#not a comment"} {
		var got map[string]string
		if _, err := toml.Decode("k = "+tomlString(s)+"\n", &got); err != nil || got["k"] != s {
			t.Errorf("%q written as %s reads back as %q, %v", s, tomlString(s), got["k"], err)
		}
	}
}

// TestFitsInt: what the config file gives an int flag must fit the
// system's int, which is 32 bits on some targets.
func TestFitsInt(t *testing.T) {
	tests := []struct {
		n    int64
		bits int
		want bool
	}{
		{0, 32, true},
		{2147483647, 32, true},
		{2147483648, 32, false},
		{-2147483648, 32, true},
		{-2147483649, 32, false},
		{9000000000, 64, true},
		{math.MinInt64, 64, true},
	}
	for _, tt := range tests {
		if got := fitsInt(tt.n, tt.bits); got != tt.want {
			t.Errorf("fitsInt(%d, %d) = %v, want %v", tt.n, tt.bits, got, tt.want)
		}
	}
}
