package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secretText is what the chatters of these tests say: it must not reach
// the log unless --log-messages asks.
const secretText = "the password is tangerine-42"

// chatInSecret has alice join over WebSocket (Go) and bob over
// long-polling (socket.io-client), both say secretText, and bob leave; it
// returns bob's Engine.IO transport name and waits until the server has
// logged bob's connection closed.
func chatInSecret(t *testing.T, srv *server) {
	t.Helper()
	alice := joinWS(t, srv.url, "alice")
	say(t, alice, secretText+" (alice)")
	d := startDriver(t)
	d.connect("b", srv.url, "polling")
	if ack := d.call("b", "join", "bob"); ack["ok"] != true {
		t.Fatalf("bob could not join: %v", ack)
	}
	if ack := d.call("b", "messages", secretText+" (bob)"); ack["ok"] != true {
		t.Fatalf("bob's message: %v", ack)
	}
	d.send(map[string]any{"op": "disconnect", "client": "b"})
	d.disconnected("b")
	srv.waitRecord(t, "chatter left", "nick", "bob")
	srv.waitRecord(t, "connection closed", "transport", "polling")
}

// TestJSONLogParsesLineByLineAndCarriesNoMessageText: with --log-format
// json every line of standard error is one JSON object with time, level
// and msg; there is one line for each connection opened and closed, with
// its transport, client address and (at the close) reason and duration,
// one for each chatter joining and leaving; and no line holds what the
// chatters said.
func TestJSONLogParsesLineByLineAndCarriesNoMessageText(t *testing.T) {
	requireNode(t)
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--log-format", "json")
	chatInSecret(t, srv)
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	out := srv.stderr.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, line := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("a line of the log is not a JSON object (%v): %q", err, line)
		}
		for _, key := range []string{"time", "level", "msg"} {
			if _, ok := obj[key].(string); !ok {
				t.Errorf("line without a %s string: %q", key, line)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, obj["time"].(string)); err != nil {
			t.Errorf("time of %q: %v", line, err)
		}
	}
	if strings.Contains(out, "tangerine") {
		t.Errorf("the log holds message text:\n%s", out)
	}

	if first := srv.logRecords(t)[0]; first.msg != "chatserver started" {
		t.Errorf("first line %q, want chatserver started", first.line)
	}
	if recs := srv.logRecords(t); recs[len(recs)-1].msg != "chatserver stopped" {
		t.Errorf("last line %q, want chatserver stopped", recs[len(recs)-1].line)
	}
	// Per transport: one connection opened and one closed, from
	// 127.0.0.1, with a reason and a duration at the close. Bob's
	// socket.io-client stayed on polling; alice's on WebSocket.
	for _, transport := range []string{"websocket", "polling"} {
		opened := srv.logged(t, "connection opened", "transport", transport, "addr", "127.0.0.1", "eio", "4")
		if len(opened) != 1 {
			t.Fatalf("%d %s connections opened, want 1:\n%s", len(opened), transport, out)
		}
		sid := opened[0].attrs["sid"]
		closed := srv.logged(t, "connection closed", "sid", sid, "transport", transport, "addr", "127.0.0.1")
		if len(closed) != 1 || closed[0].attrs["reason"] == "" || closed[0].attrs["duration"] == "" || opened[0].level != "INFO" {
			t.Errorf("%s connection %s: closed lines %v, want one with a reason and a duration", transport, sid, closed)
		}
	}
	for _, nick := range []string{"alice", "bob"} {
		if n := len(srv.logged(t, "chatter joined", "nick", nick, "addr", "127.0.0.1")); n != 1 {
			t.Errorf("%d join lines for %s, want 1", n, nick)
		}
		if left := srv.logged(t, "chatter left", "nick", nick); len(left) != 1 || left[0].attrs["reason"] == "" {
			t.Errorf("leave lines for %s: %v, want one with a reason", nick, left)
		}
	}
	// Bob left himself; alice was disconnected by the shutdown.
	if r := srv.logged(t, "chatter left", "nick", "bob"); len(r) == 1 && r[0].attrs["reason"] != "client namespace disconnect" {
		t.Errorf("bob left for %q, want client namespace disconnect", r[0].attrs["reason"])
	}
	if r := srv.logged(t, "chatter left", "nick", "alice"); len(r) == 1 && r[0].attrs["reason"] != "server shutting down" {
		t.Errorf("alice left for %q, want server shutting down", r[0].attrs["reason"])
	}
}

// TestLogMessagesLogsEveryStoredMessage: with --log-messages each stored
// message is one info line with its nickname and text.
func TestLogMessagesLogsEveryStoredMessage(t *testing.T) {
	requireNode(t)
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--log-messages")
	chatInSecret(t, srv)
	for _, nick := range []string{"alice", "bob"} {
		r := srv.waitRecord(t, "message", "nick", nick, "text", secretText+" ("+nick+")")
		if r.level != "INFO" || r.attrs["id"] == "" {
			t.Errorf("message line %q, want INFO with the id", r.line)
		}
	}
	if n := len(srv.logged(t, "message")); n != 2 {
		t.Errorf("%d message lines for 2 messages:\n%s", n, srv.stderr)
	}
}

// TestLogLevelWarnKeepsOnlyWarningsAndErrors: --log-level warn leaves out
// every info line (the connections, the chatters, the start and stop) but
// not a warning about a client.
func TestLogLevelWarnKeepsOnlyWarningsAndErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--log-level", "warn", "--burst", "1", "--rate", "0.1", "--flood-limit", "3")
	calm := joinWS(t, srv.url, "calm")
	say(t, calm, secretText)
	flooder := joinWS(t, srv.url, "flooder")
	for range 6 {
		flooder.EmitWithAck("messages", secretText)
	}
	flooder.WaitClosed()
	srv.waitRecord(t, "disconnected a flooding client", "nick", "flooder", "addr", "127.0.0.1")
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, r := range srv.logRecords(t) {
		if r.level != "WARN" && r.level != "ERROR" {
			t.Errorf("logged at %s with --log-level warn: %q", r.level, r.line)
		}
	}
	if strings.Contains(srv.stderr.String(), "tangerine") {
		t.Errorf("the log holds message text:\n%s", srv.stderr)
	}
}

// TestTextLogIsTheDefault: without --log-format every line is slog's
// text format, and the start-up message for people stays on standard
// output as it was.
func TestTextLogIsTheDefault(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--log-level", "debug")
	c := joinWS(t, srv.url, "alice")
	say(t, c, secretText)
	c.Close()
	srv.waitRecord(t, "connection closed", "transport", "websocket")
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	recs := srv.logRecords(t)
	for _, r := range recs {
		if !strings.HasPrefix(r.line, "time=") {
			t.Errorf("not a text line: %q", r.line)
		}
	}
	if len(srv.logged(t, "socket connected", "namespace", "/")) != 1 {
		t.Errorf("no debug line for the namespace connect:\n%s", srv.stderr)
	}
	if strings.Contains(srv.stderr.String(), "tangerine") {
		t.Errorf("the log holds message text:\n%s", srv.stderr)
	}
	if out := srv.stdout.String(); !strings.HasPrefix(out, "chatserver: listening on http://127.0.0.1:") || strings.Contains(out, "level=") {
		t.Errorf("standard output %q, want the start-up message and no log", out)
	}
}
