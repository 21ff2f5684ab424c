package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wireMessage is the object form of a messages event.
type wireMessage struct {
	ID   float64 `json:"id"`
	Name string  `json:"name"`
	Text string  `json:"text"`
	Time string  `json:"time"`
}

// checkMessage checks a messages event: "nick: text", then the object.
func checkMessage(t testing.TB, m msg, name, text string) wireMessage {
	t.Helper()
	if got, want := m.str(t, 0), name+": "+text; got != want {
		t.Errorf("%s got %q, want %q", m.Client, got, want)
	}
	var w wireMessage
	m.obj(t, 1, &w)
	if w.Name != name || w.Text != text || w.ID <= 0 {
		t.Errorf("%s got message object %+v, want name %q text %q and an id", m.Client, w, name, text)
	}
	if _, err := time.Parse(time.RFC3339, w.Time); err != nil || !strings.HasSuffix(w.Time, "Z") {
		t.Errorf("message time %q is not RFC 3339 UTC", w.Time)
	}
	return w
}

func TestPageAndHealthAreServed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	for _, tc := range []struct{ path, contentType, body string }{
		{"/", "text/html", "<html"},
		{"/healthz", "text/plain", "ok"},
		{"/socket.io/socket.io.js", "javascript", "io"},
	} {
		resp, err := http.Get(srv.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), tc.contentType) ||
			!strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s: %d %q, %d bytes", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
}

func TestTwoClientsChat(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)

	ack := d.join("a", srv.url, "alice")
	if tok, _ := ack["token"].(string); tok == "" || ack["name"] != "alice" {
		t.Errorf("join ack %v, want name alice and a resume token", ack)
	}
	d.eventWith("a", "add chatter", "alice")

	d.join("b", srv.url, "bob")
	// The joiner is told of every present chatter, itself included...
	d.eventWith("b", "add chatter", "alice")
	d.eventWith("b", "add chatter", "bob")
	// ...and the others of the joiner.
	d.eventWith("a", "add chatter", "bob")

	sent := d.call("a", "messages", "hello bob")
	if sent["ok"] != true {
		t.Fatalf("messages ack %v, want ok", sent)
	}
	echo := checkMessage(t, d.event("a", "messages"), "alice", "hello bob")
	got := checkMessage(t, d.event("b", "messages"), "alice", "hello bob")
	if sent["id"] != echo.ID || got.ID != echo.ID {
		t.Errorf("ids: ack %v, echo %v, delivered %v", sent["id"], echo.ID, got.ID)
	}

	// A message without an ack is delivered too, and ids increase.
	d.emit("b", "messages", "  hi alice  ")
	reply := checkMessage(t, d.event("a", "messages"), "bob", "hi alice")
	if reply.ID <= echo.ID {
		t.Errorf("id %v after %v", reply.ID, echo.ID)
	}

	d.send(map[string]any{"op": "disconnect", "client": "b"})
	d.eventWith("a", "remove chatter", "bob")
}

func TestNicknameTakenCaseInsensitively(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	d.join("a", srv.url, "Alice")

	d.connect("b", srv.url, "websocket")
	ack := d.call("b", "join", "aLICE")
	if ack["error"] != "name_taken" || ack["message"] == "" {
		t.Errorf("join ack %v, want error name_taken with a message", ack)
	}
	// Without an ack the refusal comes as a chat error event.
	d.emit("b", "join", "ALICE")
	var e struct{ Code, Message string }
	d.event("b", "chat error").obj(t, 0, &e)
	if e.Code != "name_taken" {
		t.Errorf("chat error %+v, want code name_taken", e)
	}
	// A message before a successful join is refused.
	if ack := d.call("b", "messages", "hi"); ack["error"] != "not_joined" {
		t.Errorf("messages ack before join %v, want not_joined", ack)
	}
}

func TestResumeTokenGivesTheNicknameBack(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	token := d.join("old", srv.url, "alice")["token"].(string)

	// A reloaded page joins again while its old connection is still open.
	d.connect("new", srv.url, "websocket")
	ack := d.call("new", "join", "alice", map[string]any{"token": token})
	if ack["ok"] != true || ack["name"] != "alice" {
		t.Fatalf("join with the resume token: %v, want ok", ack)
	}
	d.eventWith("new", "add chatter", "alice")

	// A wrong token is not enough.
	d.connect("other", srv.url, "websocket")
	if ack := d.call("other", "join", "alice", map[string]any{"token": "forged"}); ack["error"] != "name_taken" {
		t.Errorf("join with a wrong token: %v, want name_taken", ack)
	}
}

func TestHistoryReplayAfterRestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chat.db")
	srv := startServer(t, db, "--history", "3")
	d := startDriver(t)
	d.join("a", srv.url, "alice")
	for _, text := range []string{"m1", "m2", "m3", "m4", "m5"} {
		if ack := d.call("a", "messages", text); ack["ok"] != true {
			t.Fatalf("send %s: %v", text, ack)
		}
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	d.disconnected("a")

	srv = startServer(t, db, "--history", "3")
	d.connect("b", srv.url, "websocket")
	d.call("b", "join", "bob")
	for _, text := range []string{"m3", "m4", "m5"} {
		checkMessage(t, d.event("b", "messages"), "alice", text)
	}
	d.eventWith("b", "add chatter", "bob")
	// Nothing older was replayed.
	d.mu.Lock()
	for i, m := range d.log {
		if m.Client == "b" && m.Event == "messages" && !d.used[i] {
			t.Errorf("extra history replayed: %s", m.Args)
		}
	}
	d.mu.Unlock()
}
