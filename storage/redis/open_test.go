package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"chatserver/internal/redistest"
	"chatserver/internal/testcert"
	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestOpenCreatesLayout(t *testing.T) {
	srv := startServer(t)
	start := time.Now().UTC()
	s := openStore(t, srv, Options{Prefix: "chat:"})
	var created time.Time
	var epoch string
	for _, line := range dump(t, srv, "chat:") {
		if v, ok := strings.CutPrefix(line, "chat:room:general hash created "); ok {
			created, _ = time.Parse(time.RFC3339Nano, v)
		}
		if v, ok := strings.CutPrefix(line, "chat:room:general hash epoch "); ok {
			epoch = v
		}
	}
	if created.Before(start) || created.After(time.Now()) {
		t.Errorf("the default room was created at %v, want a time since %v", created, start)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(epoch) {
		t.Errorf("the default room's epoch is %q, want 12 hex digits", epoch)
	}
	want := []string{
		"chat:meta hash app chatserver",
		"chat:meta hash schema 1",
		"chat:room:general hash created " + created.Format(time.RFC3339Nano),
		"chat:room:general hash epoch " + epoch,
		"chat:room:general hash id 0",
		"chat:room:general hash seq 0",
		"chat:room:general hash time 0000000000000000000",
		"chat:room:general hash topic ",
		"chat:rooms set general",
	}
	slices.Sort(want)
	if got := dump(t, srv, "chat:"); !slices.Equal(got, want) {
		t.Errorf("layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An append writes the room's history and log; a claim, a kick, a
	// session and a ban their own keys; nothing lands outside the prefix.
	storetest.MustAppend(t, s, []storage.Message{{Name: "ann", Text: "hi", Time: storetest.BaseTime}})
	claimed := mustClaim(t, s, storage.DefaultRoom, "Ann", "")
	mustClaim(t, s, storage.DefaultRoom, "eve", "")
	if _, err := s.Kick(t.Context(), storage.DefaultRoom, "eve", "spam"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(t.Context(), storage.DefaultRoom, storage.Session{PID: "p1", Name: "Ann", Token: claimed.Token, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ban(t.Context(), "eve", storetest.BaseTime); err != nil {
		t.Fatal(err)
	}
	ns := strconv.FormatInt(storetest.BaseTime.UnixNano(), 10)
	msg := `{"id":1,"time":` + ns + `,"name":"ann","text":"hi"}`
	entry := `chat:room:general:log stream %d-0 e {"epoch":"` + epoch + `","seq":%d,%s}`
	for _, line := range []string{
		"chat:room:general:history list 0 " + msg,
		fmt.Sprintf(entry, 1, 1, `"kind":"message","message":`+msg),
		fmt.Sprintf(entry, 2, 2, `"kind":"add","name":"Ann"`),
		fmt.Sprintf(entry, 3, 3, `"kind":"add","name":"eve"`),
		fmt.Sprintf(entry, 4, 4, `"kind":"kick","name":"eve","reason":"spam"`),
		"chat:room:general hash id 1",
		"chat:room:general hash seq 4",
		"chat:room:general hash time " + ns,
		`chat:room:general:claims hash ann {"name":"Ann","token":"` + claimed.Token + `","nodes":{"` + s.Node() + `":1},"grace":0,"added":2}`,
		"chat:node:" + s.Node() + ":claims set general\nann",
		"chat:nodes zset " + s.Node(),
		"chat:room:general:session:p1 hash key ann",
		"chat:bans hash eve " + storetest.BaseTime.Format(time.RFC3339Nano),
	} {
		if got := dump(t, srv, "chat:"); !slices.Contains(got, line) {
			t.Errorf("no %q in\n%s", line, strings.Join(got, "\n"))
		}
	}
	if keys := strs(t, do(t, srv, "KEYS", "*")); slices.ContainsFunc(keys, func(k string) bool { return !strings.HasPrefix(k, "chat:") }) {
		t.Errorf("keys outside the prefix: %q", keys)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	srv := startServer(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative history", Options{History: -1}, "history must be at least 1"},
		{"negative log size", Options{LogSize: -1}, "the log size must be at least 1"},
		{"a prefix with a space", Options{Prefix: "chat server:"}, "the key prefix"},
		{"a prefix with a star", Options{Prefix: "chat*"}, "the key prefix"},
		{"a node with a colon", Options{Node: "a:b"}, "the node name"},
		{"a node too long", Options{Node: strings.Repeat("n", 65)}, "the node name"},
		{"a presence TTL too short", Options{PresenceTTL: time.Millisecond}, "the presence TTL must be at least 100ms"},
		{"a reap interval too short", Options{ReapInterval: time.Millisecond}, "the reap interval must be at least 10ms"},
		{"a negative dial timeout", Options{DialTimeout: -time.Second}, "the dial timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(t.Context(), srv.URL(), tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if keys := strs(t, do(t, srv, "KEYS", "*")); len(keys) != 0 {
		t.Errorf("refused opens wrote %q", keys)
	}
}

func TestOpenRefusesWithPlainErrors(t *testing.T) {
	const password = "s3cr3t-Pa55"
	srv := redistest.Start(t, redistest.Options{Password: password})
	gone := startServer(t)
	gone.Stop()
	hostPort := srv.Addr()
	tests := []struct {
		name   string
		url    string
		want   string // in the error
		wantIs error  // and errors.Is, when set
	}{
		{"not a URL", "redis://:" + password + "@127.0.0.1:bad/0", "the Redis URL is not valid", nil},
		{"another scheme", "http://:" + password + "@" + hostPort + "/0", "must begin with redis:// or rediss://", nil},
		{"no host", "redis:///0", "names no host", nil},
		{"a path that is no database", "redis://:" + password + "@" + hostPort + "/zero", "the path must be a database number", nil},
		{"a query", "redis://:" + password + "@" + hostPort + "/0?dial_timeout=1s", "has a query or a fragment", nil},
		{"a password with an unencoded slash", "redis://:" + password + "/x@" + hostPort + "/0", "write / ? # % in the password as %2F", nil},
		{"a password with a slash after digits", "redis://default:12/" + password + "@" + hostPort + "/0",
			"the Redis URL redis://xxxxx@" + hostPort + "/0: the path must be a database number", nil},
		{"another scheme and a slash", "http://:1/" + password + "@" + hostPort, "the Redis URL http://xxxxx@" + hostPort + " must begin", nil},
		{"a wrong password", "redis://:wrong@" + hostPort + "/0", "Redis at " + hostPort + " refused the user name or password of the URL", nil},
		{"a wrong user", "redis://nobody:" + password + "@" + hostPort + "/0", "refused the user name or password", nil},
		{"no password", "redis://" + hostPort + "/0", "Redis at " + hostPort + " wants a password: give it in the URL", nil},
		{"no such database", "redis://:" + password + "@" + hostPort + "/99", "Redis at " + hostPort + " has no database 99", nil},
		{"nothing listens", gone.URL(), "cannot connect to Redis at " + gone.Addr() + ": nothing listens there", syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.url, Options{Prefix: testPrefix(), DialTimeout: 2 * time.Second})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("Open: %v", err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %q, want it to contain %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open error = %v, want errors.Is %v", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("Open error %q gives the password away", err)
			}
		})
	}
	t.Run("the right password", func(t *testing.T) {
		s := openStore(t, srv, Options{})
		if err := s.Ping(); err != nil {
			t.Errorf("Ping = %v", err)
		}
	})
}

func TestOpenRefusesAnotherProgramsData(t *testing.T) {
	srv := startServer(t)
	tests := []struct {
		name string
		meta []string // the meta hash before Open
		want error
	}{
		{"another program's meta", []string{"app", "widgets"}, storage.ErrNotChatserver},
		{"a newer layout", []string{"app", "chatserver", "schema", "2"}, storage.ErrNewerSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := testPrefix()
			do(t, srv, append([]string{"HSET", prefix + "meta"}, tt.meta...)...)
			before := dump(t, srv, prefix)
			_, err := Open(t.Context(), srv.URL(), Options{Prefix: prefix})
			if !errors.Is(err, tt.want) {
				t.Errorf("Open error = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), srv.Addr()) {
				t.Errorf("Open error %q does not name the server", err)
			}
			assertUnchanged(t, srv, prefix, before)
		})
	}
}

func TestOpenHonoursItsContext(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, srv.URL(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestOpenOverTLS(t *testing.T) {
	ca := testcert.NewCA(t)
	dir := t.TempDir()
	cert, key := ca.WriteFiles(t, dir, "redis", 2, "127.0.0.1")
	caFile := filepath.Join(dir, "ca.pem")
	testcert.Write(t, caFile, ca.PEM)
	srv := redistest.Start(t, redistest.Options{TLS: &redistest.TLSFiles{CertFile: cert, KeyFile: key, CAFile: caFile}})

	s, err := Open(t.Context(), srv.URL(), Options{Prefix: testPrefix(), TLS: &tls.Config{RootCAs: ca.Pool()}})
	if err != nil {
		t.Fatalf("Open over TLS, trusting the authority: %v", err)
	}
	defer s.Close()
	if got := storetest.MustAppend(t, s, storetest.Msgs("over TLS")); got[0].ID != 1 {
		t.Errorf("the first message over TLS has ID %d", got[0].ID)
	}

	_, err = Open(t.Context(), srv.URL(), Options{Prefix: testPrefix(), DialTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "its TLS certificate is not trusted") {
		t.Errorf("Open over TLS with the system's roots = %v, want the certificate not trusted", err)
	}
	plain := "redis://" + srv.Addr() + "/0"
	if s, err := Open(t.Context(), plain, Options{Prefix: testPrefix(), DialTimeout: 2 * time.Second}); err == nil {
		s.Close()
		t.Errorf("Open in plain text of a TLS port succeeded")
	}
}

func TestPing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		spoil  func(t *testing.T, srv *redistest.Server, s *Store)
		wantIs error // nil: Ping succeeds; errAny: any error
	}{
		{"an open store answers", func(*testing.T, *redistest.Server, *Store) {}, nil},
		{"a closed store does not", func(t *testing.T, _ *redistest.Server, s *Store) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrClosed},
		{"a flushed database is gone", func(t *testing.T, srv *redistest.Server, _ *Store) { do(t, srv, "FLUSHDB") }, ErrDataGone},
		{"a server restarted without persistence is gone", func(t *testing.T, srv *redistest.Server, _ *Store) { srv.Restart() }, ErrDataGone},
		{"another program's marker", func(t *testing.T, srv *redistest.Server, s *Store) {
			do(t, srv, "HSET", s.key("meta"), "app", "widgets")
		}, storage.ErrNotChatserver},
		{"a server that is gone", func(t *testing.T, srv *redistest.Server, _ *Store) { srv.Stop() }, errAny},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t)
			s := openStore(t, srv, Options{})
			tt.spoil(t, srv, s)
			err := s.Ping()
			switch {
			case tt.wantIs == nil && err != nil,
				tt.wantIs == errAny && err == nil,
				tt.wantIs != nil && tt.wantIs != errAny && !errors.Is(err, tt.wantIs):
				t.Errorf("Ping() = %v, want %v", err, tt.wantIs)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "ping: ") {
				t.Errorf("Ping() = %q, want it to say what failed", err)
			}
		})
	}
}

// errAny stands for any error in a table of expected errors.
var errAny = errors.New("any error")
