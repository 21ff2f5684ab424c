package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/web/admin"
)

// rawClient is an HTTP client of the admin socket at path that sends
// whatever a test writes.
func rawClient(t testing.TB, path string) *http.Client {
	t.Helper()
	hc := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// request sends one request and returns the status, the Allow header and
// the body.
func request(t testing.TB, hc *http.Client, method, path, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://admin"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, resp.Header.Get("Allow"), string(b)
}

// joinIn connects a recorded connection to room of hub and joins it as
// name.
func joinIn(t testing.TB, hub *chat.Hub, room, name string) (*chat.Client, *recConn) {
	t.Helper()
	conn := newRecConn()
	c := enter(hub, room, conn)
	t.Cleanup(c.Leave)
	if _, err := c.Join(name, ""); err != nil {
		t.Fatalf("join %s as %s: %v", room, name, err)
	}
	return c, conn
}

func TestRoomRoutes(t *testing.T) {
	dir := t.TempDir()
	hub := newRoom(t, dir)
	path := filepath.Join(dir, "chat.db.sock")
	listen(t, path, hub)
	hc := rawClient(t, path)

	steps := []struct {
		name, method, path, body string
		status                   int
		want                     string // the body, without its newline
		allow                    string
	}{
		{"the default room alone", "GET", "/rooms", "", 200, `[{"name":"general","topic":"","messages":0,"chatters":[]}]`, ""},
		{"add a room", "POST", "/rooms", `{"name":"games","topic":" board games "}`, 200,
			`{"name":"games","topic":"board games","messages":0,"chatters":[]}`, ""},
		{"the rooms, the default room first", "GET", "/rooms", "", 200,
			`[{"name":"general","topic":"","messages":0,"chatters":[]},{"name":"games","topic":"board games","messages":0,"chatters":[]}]`, ""},
		{"a room that exists", "POST", "/rooms", `{"name":"games"}`, 409,
			`{"error":"room_exists","message":"the room \"games\" exists already"}`, ""},
		{"the default room exists", "POST", "/rooms", `{"name":"general"}`, 409,
			`{"error":"room_exists","message":"the room \"general\" exists already"}`, ""},
		{"a name in capitals", "POST", "/rooms", `{"name":"Games"}`, 400,
			`{"error":"invalid_room","message":"the room name \"Games\" may hold only a-z, 0-9, - and _, and must start with a letter or digit"}`, ""},
		{"no name", "POST", "/rooms", `{"topic":"x"}`, 400, `{"error":"invalid_room","message":"the room name is empty"}`, ""},
		{"a topic of two lines", "POST", "/rooms", `{"name":"chess","topic":"a\nb"}`, 400,
			`{"error":"invalid_room","message":"the topic must be one line without control characters (U+000A)"}`, ""},
		{"a body that is not JSON", "POST", "/rooms", `games`, 400, "", ""},
		{"rooms takes GET or POST", "DELETE", "/rooms", "", 405,
			`{"error":"method_not_allowed","message":"/rooms takes GET or POST"}`, "GET, POST"},
		{"remove takes POST", "GET", "/rooms/remove", "", 405,
			`{"error":"method_not_allowed","message":"/rooms/remove takes POST"}`, "POST"},
		{"remove a room that does not exist", "POST", "/rooms/remove", `{"name":"chess"}`, 404,
			`{"error":"no_such_room","message":"there is no room called \"chess\""}`, ""},
		{"remove the default room", "POST", "/rooms/remove", `{"name":"general"}`, 400,
			`{"error":"invalid_room","message":"the default room \"general\" cannot be removed"}`, ""},
		{"history of a room that does not exist", "GET", "/history?room=chess", "", 404,
			`{"error":"no_such_room","message":"there is no room called \"chess\""}`, ""},
		{"chatters of a room that does not exist", "GET", "/chatters?room=chess", "", 404,
			`{"error":"no_such_room","message":"there is no room called \"chess\""}`, ""},
		{"a kick in a room that does not exist", "POST", "/kick", `{"name":"bob","room":"chess"}`, 404,
			`{"error":"no_such_room","message":"there is no room called \"chess\""}`, ""},
		{"a kick in a room without the chatter", "POST", "/kick", `{"name":"bob","room":"games"}`, 404,
			`{"error":"no_such_chatter","message":"no chatter called \"bob\" is present in the room \"games\""}`, ""},
		{"remove a room", "POST", "/rooms/remove", `{"name":"games"}`, 200, `{"ok":true,"closed":0}`, ""},
		{"removed", "GET", "/rooms", "", 200, `[{"name":"general","topic":"","messages":0,"chatters":[]}]`, ""},
		{"the history of a removed room", "GET", "/history?room=games", "", 404,
			`{"error":"no_such_room","message":"there is no room called \"games\""}`, ""},
	}
	for _, s := range steps {
		status, allow, body := request(t, hc, s.method, s.path, s.body)
		body = strings.TrimSuffix(body, "\n")
		if status != s.status || s.want != "" && body != s.want {
			t.Errorf("%s: %s %s: %d %s\nwant %d %s", s.name, s.method, s.path, status, body, s.status, s.want)
		}
		if s.status != 200 && !strings.Contains(body, `"error":"`) {
			t.Errorf("%s: refusal %s without an error code", s.name, body)
		}
		if allow != s.allow {
			t.Errorf("%s: Allow %q, want %q", s.name, allow, s.allow)
		}
	}
}

// TestTheRoomParameterPicksTheRoom: ?room= and the kick's room name one
// room; without them history and chatters are the default room's and a
// kick reaches every room.
func TestTheRoomParameterPicksTheRoom(t *testing.T) {
	dir := t.TempDir()
	hub := newRoom(t, dir)
	path := filepath.Join(dir, "chat.db.sock")
	listen(t, path, hub)
	hc := rawClient(t, path)
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()

	if info, err := c.AddRoom(ctx, "games", "board games"); err != nil || info.Name != "games" || info.Topic != "board games" {
		t.Fatalf("AddRoom = %+v, %v", info, err)
	}
	alice, _ := joinIn(t, hub, "", "alice")
	bobHere, bobHereConn := joinIn(t, hub, "", "bob")
	bobThere, bobThereConn := joinIn(t, hub, "games", "bob")
	carol, carolConn := joinIn(t, hub, "games", "carol")
	for _, say := range []struct {
		c    *chat.Client
		text string
	}{{alice, "in general"}, {bobThere, "in games"}, {bobThere, "again in games"}, {bobHere, "bob in general"}} {
		if _, err := say.c.Say(say.text); err != nil {
			t.Fatal(err)
		}
	}

	texts := func(room string) string {
		t.Helper()
		msgs, err := c.History(ctx, room, 0)
		if err != nil {
			t.Fatalf("History(%q): %v", room, err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return strings.Join(out, ",")
	}
	if got := texts(""); got != "in general,bob in general" {
		t.Errorf("history of the default room: %q", got)
	}
	if got := texts("general"); got != "in general,bob in general" {
		t.Errorf("history?room=general: %q", got)
	}
	if got := texts("games"); got != "in games,again in games" {
		t.Errorf("history?room=games: %q", got)
	}
	if _, _, body := request(t, hc, "GET", "/history?room=games&n=1", ""); !strings.Contains(body, `"text":"again in games"`) || strings.Contains(body, `"text":"in games"`) {
		t.Errorf("history?room=games&n=1: %s", body)
	}
	for _, tc := range []struct{ path, want string }{
		{"/chatters", `["alice","bob"]`},
		{"/chatters?room=general", `["alice","bob"]`},
		{"/chatters?room=games", `["bob","carol"]`},
	} {
		if status, _, body := request(t, hc, "GET", tc.path, ""); status != 200 || strings.TrimSpace(body) != tc.want {
			t.Errorf("GET %s: %d %s, want %s", tc.path, status, body, tc.want)
		}
	}
	rooms, err := c.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(rooms); string(b) != `[{"name":"general","topic":"","messages":2,"chatters":["alice","bob"]},{"name":"games","topic":"board games","messages":2,"chatters":["bob","carol"]}]` {
		t.Errorf("Rooms = %s", b)
	}

	// A kick in one room leaves the nickname's other rooms alone.
	rep, err := c.Kick(ctx, "games", "BOB", "", 0)
	if err != nil || rep.Closed != 1 || strings.Join(rep.Rooms, ",") != "games" {
		t.Fatalf("Kick in games = %+v, %v", rep, err)
	}
	waitClosed(t, bobThereConn)
	bobThere.Leave() // as the transport does once it has closed the connection
	if bobHereConn.isClosed() {
		t.Error("bob's connection to general was closed by a kick in games")
	}
	// Without a room, the kick reaches every room the nickname is in.
	rep, err = c.Kick(ctx, "", "carol", "", time.Hour)
	if err != nil || rep.Closed != 1 || strings.Join(rep.Rooms, ",") != "games" {
		t.Fatalf("Kick everywhere = %+v, %v", rep, err)
	}
	waitClosed(t, carolConn)
	carol.Leave()
	// The ban holds in every room.
	m := enter(hub, "", newRecConn())
	defer m.Leave()
	if _, err := m.Join("carol", ""); chat.ErrorCode(err) != chat.CodeBanned {
		t.Errorf("carol joining general after a ban: %v, want banned", err)
	}

	// Removing the room closes its connections, sending kicked to the
	// chatters, and the room is gone.
	_, daveConn := joinIn(t, hub, "games", "dave")
	closed, err := c.RemoveRoom(ctx, "games")
	if err != nil || closed != 1 {
		t.Fatalf("RemoveRoom = %d, %v; want 1 connection closed", closed, err)
	}
	waitClosed(t, daveConn)
	if ev := daveConn.find(chat.EventKicked); ev == nil {
		t.Error("dave got no kicked event")
	}
	if _, err := c.History(ctx, "games", 0); chat.ErrorCode(err) != chat.CodeNoSuchRoom {
		t.Errorf("History of the removed room: %v, want no_such_room", err)
	}
	var aerr *admin.Error
	if _, err := c.RemoveRoom(ctx, "games"); !errors.As(err, &aerr) || aerr.Status != http.StatusNotFound || aerr.Code != chat.CodeNoSuchRoom {
		t.Errorf("RemoveRoom again: %v, want a 404 no_such_room", err)
	}
	if _, err := c.AddRoom(ctx, "general", ""); chat.ErrorCode(err) != chat.CodeRoomExists {
		t.Errorf("AddRoom(general): %v, want room_exists", err)
	}
	if got := texts(""); got != "in general,bob in general" {
		t.Errorf("history of the default room after the removal: %q", got)
	}
}

func TestRoomsAddedAndRemovedAreLogged(t *testing.T) {
	dir := t.TempDir()
	hub := newRoom(t, dir)
	path := filepath.Join(dir, "chat.db.sock")
	logger, logs := logtest.New(t)
	srv, err := admin.Listen(path, admin.NewHandler(hub, nil, logger), logger)
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

	if _, err := c.AddRoom(ctx, "games", "board games"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRoom(ctx, "games", ""); err == nil { // refused: nothing done, nothing logged
		t.Fatal("a second AddRoom(games) was not refused")
	}
	joinIn(t, hub, "games", "bob")
	if _, err := c.RemoveRoom(ctx, "games"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"INFO room added room=games topic=board games",
		"INFO room removed room=games connections_closed=1",
	}
	var got []string
	for _, r := range logs.Records() {
		got = append(got, r.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// waitClosed waits until the room has closed conn.
func waitClosed(t testing.TB, conn *recConn) {
	t.Helper()
	select {
	case <-conn.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
}

func (c *recConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}
