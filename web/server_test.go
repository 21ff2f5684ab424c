package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/internal/siotest"
	"chatserver/storage/bolt"
)

// newTestServer starts the whole HTTP front on a real store in a temp dir.
// A test's log goes to its own; a benchmark's, which would weigh on what
// it measures, nowhere.
func newTestServer(t testing.TB) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if _, bench := t.(*testing.B); !bench {
		logger, _ = logtest.New(t)
	}
	return newTestServerWith(t, nil, logger)
}

// newTestServerWith is newTestServer with the rooms' store wrapped by wrap
// (when not nil), the log sent to logger, and the rooms named added beside
// the default room.
func newTestServerWith(t testing.TB, wrap func(*bolt.Store) chat.Store, logger *slog.Logger, rooms ...string) *httptest.Server {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "chat.db"), bolt.Options{History: 10})
	if err != nil {
		t.Fatal(err)
	}
	var roomStore chat.Store = store
	if wrap != nil {
		roomStore = wrap(store)
	}
	room, err := chat.NewHub(context.Background(), roomStore, chat.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range rooms {
		if _, err := room.AddRoom(context.Background(), name, ""); err != nil {
			room.Close()
			store.Close()
			t.Fatal(err)
		}
	}
	srv := New(room, Config{Logger: logger})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.sio.Close()
		room.Close()
		store.Close()
	})
	return ts
}

func TestStaticRoutes(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		path   string
		status int
		ctype  string
		body   string
	}{
		{"/", 200, "text/html", "<html"},
		{"/socket.io/socket.io.js", 200, "javascript", "io"},
		{"/static/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"/healthz", 200, "text/plain", "ok"},
		{"/livez", 200, "text/plain", "ok"},
		{"/metrics", 404, "", ""}, // no Config.Metrics
		{"/static/nope.js", 404, "", ""},
		{"/nope", 404, "", ""},
		{"/static/../web/server.go", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(ts.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if !strings.Contains(res.Header.Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body does not contain %q", tt.body)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

func TestStaticRevalidatesWithETag(t *testing.T) {
	ts := newTestServer(t)
	res, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Header.Set("If-None-Match", etag)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("status %d, want 304", res.StatusCode)
	}
}

// dial opens a raw Socket.IO client to ts, joined to namespace "/", enough
// to check the chat wiring byte by byte.
func dial(t testing.TB, ts *httptest.Server) *siotest.Client {
	t.Helper()
	c := siotest.Dial(t, ts.URL, siotest.Options{})
	c.Connect("/", "")
	return c
}

func TestChatOverSocketIO(t *testing.T) {
	ts := newTestServer(t)
	alice := dial(t, ts)
	alice.SendText(`420["join","alice"]`)
	alice.Expect(`42["add chatter","alice"]`)
	ack := alice.NextText()
	if !strings.HasPrefix(ack, `430[{"ok":true,"name":"alice","token":"`) {
		t.Fatalf("join ack %q", ack)
	}

	bob := dial(t, ts)
	bob.SendText(`42["join","bob"]`)
	bob.Expect(`42["add chatter","alice"]`)
	bob.Expect(`42["add chatter","bob"]`)
	alice.Expect(`42["add chatter","bob"]`)

	alice.SendText(`421["messages","<b>hi</b> & ünïcode"]`)
	msg := alice.NextText()
	const prefix = `42["messages","alice: <b>hi</b> & ünïcode",{"id":1,"name":"alice","text":"<b>hi</b> & ünïcode","time":"`
	if !strings.HasPrefix(msg, prefix) {
		t.Fatalf("echo %q", msg)
	}
	alice.Expect(`431[{"ok":true,"id":1}]`)
	if got := bob.NextText(); got != msg {
		t.Fatalf("bob got %q, want the same packet %q", got, msg)
	}

	// Refusals without an ack arrive as chat error events.
	bob.SendText(`42["messages",42]`)
	bob.Expect(`42["chat error",{"code":"invalid_message","message":"message must be a string"}]`)
	bob.SendText(`422["join",{"name":"x"}]`)
	bob.Expect(`432[{"error":"invalid_name","message":"nickname must be a string"}]`)
	bob.SendText(`423["join","ALICE"]`)
	reply := bob.NextText()
	var refusal struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(reply, "433[")[:len(reply)-5]), &refusal); err != nil || refusal.Error != "name_taken" {
		t.Fatalf("taken nickname reply %q", reply)
	}

	// Leaving is announced.
	bob.Close()
	alice.Expect(`42["remove chatter","bob"]`)
}
