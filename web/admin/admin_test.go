package admin_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/web/admin"
)

// newRoom returns a real hub over a real store in dir, closed at cleanup.
func newRoom(t testing.TB, dir string) *chat.Hub {
	t.Helper()
	store, err := bolt.Open(filepath.Join(dir, "chat.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	logger, _ := logtest.New(t)
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger})
	if err != nil {
		store.Close()
		t.Fatalf("new room: %v", err)
	}
	t.Cleanup(func() {
		room.Close()
		store.Close()
	})
	return room
}

// listen starts an admin server for room at path, closed at cleanup.
func listen(t testing.TB, path string, room admin.Hub) *admin.Server {
	t.Helper()
	logger, _ := logtest.New(t)
	srv, err := admin.Listen(path, admin.NewHandler(room, nil, logger), logger)
	if err != nil {
		t.Fatalf("Listen(%s): %v", path, err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// staleSocket leaves a socket file at path that nobody listens on, as a
// crashed server does.
func staleSocket(t testing.TB, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
}

// recConn is a chat.Conn that records what the room sends it.
type recConn struct {
	mu     sync.Mutex
	events []*chat.Event
	once   sync.Once
	closed chan struct{}
}

func newRecConn() *recConn { return &recConn{closed: make(chan struct{})} }

// enter connects conn to hub's room (the default room when ""), as a
// connection of its own.
func enter(hub *chat.Hub, room string, conn chat.Conn) *chat.Client {
	if room == "" {
		room = storage.DefaultRoom
	}
	c, err := hub.Room(room).Connect(conn, hub.Connect(chat.Peer{}, conn.Close))
	if err != nil {
		panic(err)
	}
	return c
}

func (c *recConn) Send(ev *chat.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return true
}

func (c *recConn) Close() { c.once.Do(func() { close(c.closed) }) }

func (c *recConn) find(name string) *chat.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if ev.Name == name {
			return ev
		}
	}
	return nil
}

func TestListenCreatesPrivateSocketAndCloseRemovesIt(t *testing.T) {
	dir := t.TempDir()
	path := admin.SocketPath(filepath.Join(dir, "chat.db"))
	if want := filepath.Join(dir, "chat.db.sock"); path != want {
		t.Fatalf("SocketPath = %s, want %s", path, want)
	}
	srv := listen(t, path, newRoom(t, dir))

	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("socket missing after Listen: %v", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("%s is %v, want a socket", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode = %o, want 600", perm)
	}

	// Close from several goroutines at once: all return, all agree.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
	}
	wg.Wait()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Close (err %v)", err)
	}
	if _, err := admin.Dial(path); !errors.Is(err, admin.ErrNoServer) {
		t.Errorf("Dial after Close: %v, want ErrNoServer", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db.sock")
	staleSocket(t, path)
	listen(t, path, newRoom(t, dir))

	c, err := admin.Dial(path)
	if err != nil {
		t.Fatalf("Dial after replacing the stale socket: %v", err)
	}
	defer c.Close()
	if _, err := c.Chatters(context.Background()); err != nil {
		t.Fatalf("Chatters: %v", err)
	}
}

func TestListenRefusesWhileAnotherServerAnswers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db.sock")
	listen(t, path, newRoom(t, dir))

	_, err := admin.Listen(path, http.NotFoundHandler(), nil)
	if !errors.Is(err, admin.ErrInUse) {
		t.Fatalf("second Listen: %v, want ErrInUse", err)
	}
	// The first server is untouched.
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatalf("Dial the first server: %v", err)
	}
	c.Close()
}

func TestListenLeavesOtherFilesAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := admin.Listen(path, http.NotFoundHandler(), nil)
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v, want a 'not a socket' error", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("file changed: %q, %v", b, err)
	}
}

func TestDialWithoutServerIsErrNoServer(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	staleSocket(t, stale)
	for _, tc := range []struct{ name, path string }{
		{"missing socket", filepath.Join(dir, "missing.sock")},
		{"stale socket from a crash", stale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := admin.Dial(tc.path); !errors.Is(err, admin.ErrNoServer) {
				t.Fatalf("Dial(%s): %v, want ErrNoServer", tc.path, err)
			}
		})
	}
}

func TestLongSocketPath(t *testing.T) {
	// A directory whose absolute path is longer than a socket address.
	base := t.TempDir()
	deep := filepath.Join(base, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(deep, "chat.db.sock")
	if len(path) <= admin.MaxPathLen {
		t.Fatalf("test path is only %d bytes", len(path))
	}

	t.Run("refused when no short relative name exists", func(t *testing.T) {
		t.Chdir("/")
		_, err := admin.Listen(path, http.NotFoundHandler(), nil)
		if !errors.Is(err, admin.ErrPathTooLong) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Listen: %v, want ErrPathTooLong naming the path", err)
		}
		if _, err := admin.Dial(path); !errors.Is(err, admin.ErrPathTooLong) {
			t.Fatalf("Dial: %v, want ErrPathTooLong", err)
		}
	})
	t.Run("served through a relative name from nearby", func(t *testing.T) {
		t.Chdir(deep)
		listen(t, path, newRoom(t, t.TempDir()))
		if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
			t.Fatalf("no socket at the full path: %v", err)
		}
		c, err := admin.Dial(path)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		if _, err := c.Chatters(context.Background()); err != nil {
			t.Fatalf("Chatters: %v", err)
		}
	})
}

func TestClientAgainstRoom(t *testing.T) {
	dir := t.TempDir()
	room := newRoom(t, dir)
	path := filepath.Join(dir, "chat.db.sock")
	listen(t, path, room)
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()

	aliceConn, bobConn := newRecConn(), newRecConn()
	alice, bob := enter(room, "", aliceConn), enter(room, "", bobConn)
	t.Cleanup(func() { alice.Leave(); bob.Leave() })
	for _, j := range []struct {
		c    *chat.Client
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		if _, err := j.c.Join(j.name, ""); err != nil {
			t.Fatalf("join %s: %v", j.name, err)
		}
	}
	for _, text := range []string{"one", "two", "three"} {
		if _, err := alice.Say(text); err != nil {
			t.Fatalf("say %q: %v", text, err)
		}
	}

	t.Run("history oldest first, limited by n", func(t *testing.T) {
		for _, tc := range []struct {
			n    int
			want []string
		}{{0, []string{"one", "two", "three"}}, {2, []string{"two", "three"}}, {10, []string{"one", "two", "three"}}} {
			msgs, err := c.History(ctx, "", tc.n)
			if err != nil {
				t.Fatalf("History(%d): %v", tc.n, err)
			}
			var got []string
			for _, m := range msgs {
				if m.Name != "alice" || m.ID == 0 || m.Time.IsZero() {
					t.Errorf("message %+v lacks name, id or time", m)
				}
				got = append(got, m.Text)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("History(%d) = %q, want %q", tc.n, got, tc.want)
			}
		}
	})

	t.Run("chatters sorted", func(t *testing.T) {
		names, err := c.Chatters(ctx)
		if err != nil || strings.Join(names, ",") != "alice,bob" {
			t.Fatalf("Chatters = %q, %v; want alice,bob", names, err)
		}
	})

	t.Run("kick closes the chatter's connection with a reason", func(t *testing.T) {
		rep, err := c.Kick(ctx, "", "BOB", "be nice", 0)
		if err != nil || rep.Closed != 1 || strings.Join(rep.Rooms, ",") != "general" {
			t.Fatalf("Kick = %+v, %v; want 1 connection closed in general", rep, err)
		}
		select {
		case <-bobConn.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("bob's connection was not closed")
		}
		ev := bobConn.find(chat.EventKicked)
		if ev == nil {
			t.Fatal("bob got no kicked event")
		}
		if names, _ := c.Chatters(ctx); strings.Join(names, ",") != "alice" {
			t.Errorf("chatters after kick = %q, want alice", names)
		}
		if aliceConn.find(chat.EventRemoveChatter) == nil {
			t.Error("alice was not told that bob left")
		}
	})

	t.Run("kicking an absent nickname is no_such_chatter", func(t *testing.T) {
		_, err := c.Kick(ctx, "", "carol", "", 0)
		var aerr *admin.Error
		if !errors.As(err, &aerr) || aerr.Status != http.StatusNotFound {
			t.Fatalf("Kick(carol): %v, want a 404 *admin.Error", err)
		}
		if chat.ErrorCode(err) != chat.CodeNoSuchChatter || !strings.Contains(err.Error(), "carol") {
			t.Fatalf("Kick(carol): code %q message %q", chat.ErrorCode(err), err)
		}
	})

	t.Run("ban and unban an absent nickname", func(t *testing.T) {
		if rep, err := c.Kick(ctx, "", "mallory", "", time.Hour); err != nil || rep.Closed != 0 {
			t.Fatalf("Kick with ban = %+v, %v; want 0, nil", rep, err)
		}
		m := enter(room, "", newRecConn())
		defer m.Leave()
		if _, err := m.Join("mallory", ""); chat.ErrorCode(err) != chat.CodeBanned {
			t.Fatalf("join while banned: %v, want banned", err)
		}
		if was, err := c.Unban(ctx, "mallory"); err != nil || !was {
			t.Fatalf("Unban = %v, %v; want true", was, err)
		}
		if was, err := c.Unban(ctx, "mallory"); err != nil || was {
			t.Fatalf("second Unban = %v, %v; want false", was, err)
		}
		if _, err := m.Join("mallory", ""); err != nil {
			t.Fatalf("join after unban: %v", err)
		}
	})
}

func TestRefusedRequestsAreJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db.sock")
	listen(t, path, newRoom(t, dir))
	hc := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
	t.Cleanup(hc.CloseIdleConnections)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     chat.Code
	}{
		{"unknown route", "GET", "/nope", "", 404, admin.CodeNotFound},
		{"wrong method", "POST", "/history", "", 405, admin.CodeMethodNotAllowed},
		{"backup is a GET", "POST", "/backup", "", 405, admin.CodeMethodNotAllowed},
		{"no store to copy", "GET", "/backup", "", 404, admin.CodeNotFound},
		{"negative n", "GET", "/history?n=-1", "", 400, admin.CodeBadRequest},
		{"n not a number", "GET", "/history?n=ten", "", 400, admin.CodeBadRequest},
		{"body not JSON", "POST", "/kick", "kick bob", 400, admin.CodeBadRequest},
		{"name missing", "POST", "/kick", `{"reason":"x"}`, 400, admin.CodeBadRequest},
		{"blank name", "POST", "/unban", `{"name":"  "}`, 400, admin.CodeBadRequest},
		{"bad ban", "POST", "/kick", `{"name":"bob","ban":"forever"}`, 400, admin.CodeBadRequest},
		{"negative ban", "POST", "/kick", `{"name":"bob","ban":"-1m"}`, 400, admin.CodeBadRequest},
		{"reason too long", "POST", "/kick", `{"name":"bob","reason":"` + strings.Repeat("r", admin.MaxReasonLen+1) + `"}`, 400, admin.CodeBadRequest},
		{"body too large", "POST", "/kick", `{"name":"` + strings.Repeat("n", 20<<10) + `"}`, 413, admin.CodeTooLarge},
		{"absent chatter", "POST", "/kick", `{"name":"bob"}`, 404, chat.CodeNoSuchChatter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://admin"+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			want := `"error":"` + string(tc.code) + `"`
			if !strings.Contains(string(body), want) || !strings.Contains(string(body), `"message":"`) {
				t.Errorf("body %s, want %s and a message", body, want)
			}
		})
	}
}

// TestKicksBansAndLiftedBansAreLogged: each operator action is one info
// line naming the nickname (as the operator wrote it) and what was done.
func TestKicksBansAndLiftedBansAreLogged(t *testing.T) {
	dir := t.TempDir()
	room := newRoom(t, dir)
	path := filepath.Join(dir, "chat.db.sock")
	logger, logs := logtest.New(t)
	srv, err := admin.Listen(path, admin.NewHandler(room, nil, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	bob := enter(room, "", newRecConn())
	t.Cleanup(bob.Leave)
	if _, err := bob.Join("bob", ""); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Kick(ctx, "", "BOB", "be nice", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kick(ctx, "", "mallory", "spam", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unban(ctx, "mallory"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unban(ctx, "mallory"); err != nil { // no ban left: nothing done, nothing logged
		t.Fatal(err)
	}
	want := []string{
		"INFO chatter kicked nick=BOB connections_closed=1 rooms=[general] reason=be nice",
		"INFO nickname banned nick=mallory ban=1h0m0s connections_closed=0 rooms=[] reason=spam",
		"INFO ban lifted nick=mallory",
	}
	var got []string
	for _, r := range logs.Records() {
		got = append(got, r.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
