package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"chatserver/internal/siotest"

	"github.com/gorilla/websocket"
)

// inputPayloadCap is the --max-payload of the malformed-input tests: small,
// so that an over-sized frame is cheap to send.
const inputPayloadCap = 65536

// TestMalformedWebSocketInputClosesOnlyThatConnection sends each kind of
// malformed input from its own joined client: that connection is closed
// and its nickname leaves, while a watching client stays connected and
// the server keeps serving.
func TestMalformedWebSocketInputClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--max-payload", fmt.Sprint(inputPayloadCap))
	watcher := joinWS(t, srv.url, "watcher")

	placeholder := `{"_placeholder":true,"num":0}`
	for i, tc := range []struct {
		name   string
		frames []any // string: a text frame; []byte: a binary frame
	}{
		{"garbage", []any{"hello there"}},
		{"unknown Engine.IO packet type", []any{"9"}},
		{"unknown Socket.IO packet type", []any{"49[]"}},
		{"event that is an object", []any{`42{"name":"messages"}`}},
		{"event without a name", []any{`42[]`}},
		{"event name that is an object", []any{`42[{"x":1},"hi"]`}},
		{"event name that is null", []any{`42[null,"hi"]`}},
		{"truncated JSON", []any{`42["messages","hel`}},
		{"letters where the ack id goes", []any{`42abc["messages","hi"]`}},
		{"ack id beyond what JavaScript counts", []any{`4299999999999999999["messages","hi"]`}},
		{"ack that is not an array", []any{`43{"ok":true}`}},
		{"reserved event connect", []any{`42["connect"]`}},
		{"reserved event disconnect", []any{`42["disconnect","bye"]`}},
		{"reserved event newListener", []any{`42["newListener","messages"]`}},
		{"binary frame nobody announced", []any{[]byte{1, 2, 3}}},
		{"text where an attachment was announced", []any{`451-["messages",` + placeholder + `]`, `42["messages","hi"]`}},
		{"placeholder for a missing attachment", []any{`451-["messages",{"_placeholder":true,"num":3}]`, []byte{1}}},
		{"too many attachments", []any{`4511-["messages"]`}},
		{"second connect", []any{"40"}},
		{"connect error from the client", []any{`44{"message":"no"}`}},
		{"event for a namespace not joined", []any{`42/admin,["messages","hi"]`}},
		{"disconnect with a payload", []any{`41{"x":1}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nick := fmt.Sprintf("bad%d", i)
			c := joinWS(t, srv.url, nick)
			for _, f := range tc.frames {
				switch f := f.(type) {
				case string:
					c.SendText(f)
				case []byte:
					c.SendBinary(f)
				}
			}
			c.WaitClosed()
			watcher.WaitEvent(nick+" leaving", named("remove chatter", nick))
		})
	}

	t.Run("frame over --max-payload", func(t *testing.T) {
		c := joinWS(t, srv.url, "huge")
		c.SendText(`42["messages","` + strings.Repeat("a", inputPayloadCap+1) + `"]`)
		err := c.WaitClosed()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("closed with %v, want close code %d (message too big)", err, websocket.CloseMessageTooBig)
		}
		watcher.WaitEvent("huge leaving", named("remove chatter", "huge"))
	})

	t.Run("harmless oddities keep the connection", func(t *testing.T) {
		c := joinWS(t, srv.url, "odd")
		c.SendText(`4377["late ack for nothing"]`) // an ack nobody asked for is ignored
		c.Emit("no such event", 1, 2)              // unknown events are ignored
		c.Emit("messages")                         // no text: refused, not fatal
		c.SendText(`42[7,"a number as event name"]`)
		say(t, c, "still here")
		watcher.WaitEvent("odd's message", messageLine("odd", "still here"))
	})

	checkStillServing(t, srv, watcher)
}

// TestMalformedPollingInputClosesOnlyThatSession does the same over
// HTTP long-polling: the session that sent it ends, nothing else.
func TestMalformedPollingInputClosesOnlyThatSession(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--max-payload", fmt.Sprint(inputPayloadCap))
	watcher := joinWS(t, srv.url, "watcher")

	for i, tc := range []struct {
		name        string
		contentType string
		body        string
		status      []int // acceptable answers to the POST (0: cut)
	}{
		{"garbage", "text/plain;charset=UTF-8", "hello there", []int{http.StatusBadRequest}},
		{"unknown packet type", "text/plain;charset=UTF-8", "9", []int{http.StatusBadRequest}},
		{"event that is an object", "text/plain;charset=UTF-8", `42{"name":"messages"}`, []int{http.StatusOK, http.StatusBadRequest}},
		{"truncated JSON", "text/plain;charset=UTF-8", `42["messages","hel`, []int{http.StatusOK, http.StatusBadRequest}},
		{"reserved event", "text/plain;charset=UTF-8", `42["connect"]`, []int{http.StatusOK, http.StatusBadRequest}},
		{"bad base64 binary", "text/plain;charset=UTF-8", "b!!!", []int{http.StatusBadRequest}},
		{"binary body", "application/octet-stream", "\x04\x01\x02", []int{http.StatusBadRequest}},
		{"body over --max-payload", "text/plain;charset=UTF-8", "4" + strings.Repeat("a", inputPayloadCap+1),
			[]int{http.StatusRequestEntityTooLarge, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nick := fmt.Sprintf("poll%d", i)
			p := pollJoin(t, srv.url, nick)
			watcher.WaitEvent(nick+" joining", named("add chatter", nick))
			status, err := p.PostAs(tc.contentType, tc.body)
			ok := false
			for _, s := range tc.status {
				ok = ok || s == status
			}
			if !ok {
				t.Errorf("POST answered %d (%v), want one of %v", status, err, tc.status)
			}
			if !p.Ended() {
				t.Fatalf("the session is still open")
			}
			watcher.WaitEvent(nick+" leaving", named("remove chatter", nick))
		})
	}
	checkStillServing(t, srv, watcher)
}

// pollJoin opens a polling session, connects it and joins as nick.
func pollJoin(t testing.TB, base, nick string) *siotest.Polling {
	t.Helper()
	p := pollConnect(t, base)
	if code := p.Post(`420["join","` + nick + `"]`); code != http.StatusOK {
		t.Fatalf("polling join: status %d", code)
	}
	var got strings.Builder
	for !strings.Contains(got.String(), `430[{"ok":true`) {
		code, body := p.Get()
		if code != http.StatusOK || strings.Contains(body, `430[{"error"`) {
			t.Fatalf("polling join: %d %q", code, body)
		}
		got.WriteString(body)
	}
	return p
}

// checkStillServing checks that the watcher is still connected and
// receives a new chatter's message, and that the page is served.
func checkStillServing(t *testing.T, srv *server, watcher *siotest.Client) {
	t.Helper()
	if !watcher.IsOpen() {
		t.Fatal("the watching client was disconnected")
	}
	late := joinWS(t, srv.url, "latecomer")
	say(t, late, "the room still works")
	watcher.WaitEvent("the latecomer's message", messageLine("latecomer", "the room still works"))
	resp, err := http.Get(srv.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case <-srv.exited:
		t.Fatalf("the server exited: %v", srv.err)
	default:
	}
	if out := srv.stderr.String(); strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("the server log shows a panic:\n%s", out)
	}
}

// TestRefusalsAreCodedOverTheWire sends nicknames and messages of the
// wrong type or shape: each is refused with its code, through the ack or,
// without one, as a chat error event, and no refused message reaches
// anyone.
func TestRefusalsAreCodedOverTheWire(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	watcher := joinWS(t, srv.url, "watcher")
	c := connectWS(t, srv.url, wire)

	refused := func(what, code string, reply map[string]any) {
		t.Helper()
		if reply["error"] != code || reply["message"] == "" {
			t.Errorf("%s: reply %v, want error %q with a message", what, reply, code)
		}
	}
	refused("message before join", "not_joined", call(t, c, "messages", "before joining"))
	for _, tc := range []struct {
		name string
		args []any
	}{
		{"number", []any{42}},
		{"object", []any{map[string]any{"name": "x"}}},
		{"array", []any{[]string{"x"}}},
		{"null", []any{nil}},
		{"boolean", []any{true}},
		{"missing", nil},
		{"empty", []any{""}},
		{"blank", []any{" \t "}},
		{"33 characters", []any{strings.Repeat("n", 33)}},
		{"bidi override", []any{"evil\u202Eeman"}},
		{"control character", []any{"nul\x00l"}},
		{"zero-width format character", []any{"zero\u200Bwidth"}},
	} {
		refused("nickname "+tc.name, "invalid_name", call(t, c, "join", tc.args...))
	}
	refused("nickname of another chatter", "name_taken", call(t, c, "join", "WATCHER"))

	if reply := call(t, c, "join", "  tester  "); reply["ok"] != true || reply["name"] != "tester" {
		t.Fatalf("join with spaces around: %v, want ok as tester", reply)
	}
	for _, tc := range []struct {
		name string
		args []any
	}{
		{"number", []any{42}},
		{"object", []any{map[string]any{"text": "x"}}},
		{"array", []any{[]string{"x"}}},
		{"null", []any{nil}},
		{"boolean", []any{false}},
		{"missing", nil},
		{"empty", []any{""}},
		{"blank", []any{" \n\t "}},
		{"2001 characters", []any{strings.Repeat("m", 2001)}},
		{"bidi override", []any{"read \u202Ethis"}},
		{"control character", []any{"bell\x07"}},
	} {
		refused("message "+tc.name, "invalid_message", call(t, c, "messages", tc.args...))
	}

	// Without an ack, a refusal arrives as a chat error event.
	c.Emit("messages", map[string]any{"text": "x"})
	ev := c.WaitEvent("chat error", func(ev siotest.Event) bool { return ev.Name == "chat error" })
	var body struct{ Code, Message string }
	if len(ev.Args) != 1 || json.Unmarshal(ev.Args[0], &body) != nil || body.Code != "invalid_message" || body.Message == "" {
		t.Errorf("chat error %s, want {code: invalid_message, message}", ev.Args)
	}

	// The limits themselves are allowed.
	long := strings.Repeat("é", 2000)
	say(t, c, long)
	say(t, c, "two\nlines\tand a tab")
	say(t, c, "the end")
	watcher.WaitEvent("the last message", messageLine("tester", "the end"))
	var got []string
	for _, ev := range watcher.Events("messages") {
		got = append(got, ev.Args.String(0))
	}
	want := []string{"tester: " + long, "tester: two\nlines\tand a tab", "tester: the end"}
	if !slices.Equal(got, want) {
		t.Errorf("the watcher received %d messages %.60q, want only the %d accepted ones", len(got), got, len(want))
	}
}
