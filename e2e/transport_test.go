package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"chatserver/internal/siotest"
)

// TestTransportsChatTogether puts two clients of every transport kind in
// one room: every ordered pair of kinds (the same kind included) exchanges
// messages, every message reaches every client exactly once and in order,
// and every sender gets its ack with the delivered id.
func TestTransportsChatTogether(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)

	var clients []string
	var kinds []transportKind
	for i := 1; i <= 2; i++ {
		for _, kind := range transportKinds {
			c := clientName(kind, i)
			d.connectOn(c, srv.url, kind)
			if ack := d.call(c, "join", c); ack["ok"] != true || ack["name"] != c {
				t.Fatalf("%s join ack %v", c, ack)
			}
			clients, kinds = append(clients, c), append(kinds, kind)
		}
	}
	// Presence: the joiner hears of everyone present, itself included,
	// and everyone present hears of the joiner.
	for _, c := range clients {
		for _, other := range clients {
			d.eventWith(c, "add chatter", other)
		}
	}

	say := func(sender, text string) {
		t.Helper()
		id := ackOK(t, sender, d.call(sender, "messages", text))
		for _, c := range clients {
			if got := checkMessage(t, d.event(c, "messages"), sender, text); got.ID != id {
				t.Errorf("%s got %q with id %v, the ack said %v", c, text, got.ID, id)
			}
		}
	}
	for _, sender := range clients {
		say(sender, "hello from "+sender)
	}
	// Every connection receives messages in the order they were queued,
	// so a duplicate of anything above would arrive before this one.
	say(clients[0], "end")
	d.nothingUnread(t, clients...)

	// Chatting changed nobody's transport.
	for i, c := range clients {
		if got := d.transportOf(c); got != kinds[i].want {
			t.Errorf("%s is on %q after chatting, want %q", c, got, kinds[i].want)
		}
	}
}

// TestTransportTextArrivesByteExact sends long and non-ASCII texts from a
// client of every transport kind to clients of every kind: the "nick:
// text" line and the object's text are exactly what was sent. One
// character over the limit is refused and delivered to nobody.
func TestTransportTextArrivesByteExact(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)

	// 10 code points, 1 to 4 UTF-8 bytes each, one outside the BMP (a
	// surrogate pair in JavaScript), and JSON's special characters.
	mixed := "é中😀שa<&\"\\b"
	texts := []struct{ name, text string }{
		{"2000 ASCII characters", strings.Repeat("0123456789", 200)},
		{"2000 mixed characters", strings.Repeat(mixed, 200)},
		{"accents", "Ça va? Crème brûlée, naïve façade, Ærøskøbing, Łódź, ñandú"},
		{"CJK", "你好，世界。こんにちは、世界。안녕하세요 세계"},
		{"emoji", "👋🏽 😀 👨‍👩‍👧‍👦 🇫🇷 ❤️ 𝄞 🚀"},
		{"right to left", "שלום עולם ومرحبا بالعالم 123"},
		{"markup", `<script>alert("pwned")</script> &amp; <b onclick='x()'>bold</b> </script>`},
		{"quotes and backslashes", "\"double\" 'single' `back` \\ \\\\ \\n \\u0041 \\\" C:\\temp\\x\nsecond line\tafter a tab"},
		{"line and paragraph separators", "one\u2028two\u2029three"},
	}
	refused := []struct{ name, text string }{
		{"2001 ASCII characters", strings.Repeat("0123456789", 200) + "x"},
		{"2001 mixed characters", strings.Repeat(mixed, 200) + "😀"},
	}

	var clients []string
	for _, kind := range transportKinds {
		c := clientName(kind, 1)
		d.connectOn(c, srv.url, kind)
		if ack := d.call(c, "join", c); ack["ok"] != true {
			t.Fatalf("%s join ack %v", c, ack)
		}
		clients = append(clients, c)
	}
	for _, c := range clients {
		for _, other := range clients {
			d.eventWith(c, "add chatter", other)
		}
	}

	for _, sender := range clients {
		for _, tc := range texts {
			id := ackOK(t, sender+" "+tc.name, d.call(sender, "messages", tc.text))
			for _, c := range clients {
				m := d.event(c, "messages")
				if got := checkMessage(t, m, sender, tc.text); got.ID != id {
					t.Errorf("%s from %s to %s: id %v, ack said %v", tc.name, sender, c, got.ID, id)
				}
				if t.Failed() {
					t.Fatalf("%s from %s to %s: not byte-exact", tc.name, sender, c)
				}
			}
		}
		for _, tc := range refused {
			ack := d.call(sender, "messages", tc.text)
			if ack["error"] != "invalid_message" || ack["message"] == "" {
				t.Errorf("%s from %s: ack %v, want error invalid_message with a message", tc.name, sender, ack)
			}
		}
	}
	// The refused messages were delivered to nobody: the next message is
	// the next thing everyone receives, and nothing else is left.
	id := ackOK(t, "end", d.call(clients[0], "messages", "end"))
	for _, c := range clients {
		if got := checkMessage(t, d.event(c, "messages"), clients[0], "end"); got.ID != id {
			t.Errorf("%s: end has id %v, ack said %v", c, got.ID, id)
		}
	}
	d.nothingUnread(t, clients...)
}

// TestTransportUnknownNamespaceIsRefused: a client of any transport kind
// asking for a namespace that is no room gets connect_error "Invalid
// namespace".
func TestTransportUnknownNamespaceIsRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	for _, kind := range transportKinds {
		c := clientName(kind, 1)
		if got := d.connectError(c, srv.url+"/nope", kind.transports...); got != "Invalid namespace" {
			t.Errorf("%s: connect_error %q, want \"Invalid namespace\"", c, got)
		}
	}
	// The server is unharmed: the main namespace still works.
	d.join("ok", srv.url, "alice")
}

// TestTransportDepartureIsAnnounced: however a chatter's connection ends —
// a Socket.IO disconnect, an Engine.IO close without one, or a connection
// killed abruptly — on any transport, the others see remove chatter and
// the nickname is free again.
func TestTransportDepartureIsAnnounced(t *testing.T) {
	t.Parallel()
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	d := startDriver(t)
	d.join("watcher", srv.url, "watcher")
	d.eventWith("watcher", "add chatter", "watcher")

	ways := []struct {
		op string
		// reason is the client's own disconnect reason, which shows
		// the driver did what the case says.
		reason map[string]string
	}{
		{"disconnect", map[string]string{"polling": "io client disconnect", "websocket": "io client disconnect"}},
		{"close-engine", map[string]string{"polling": "forced close", "websocket": "forced close"}},
		{"drop", map[string]string{"polling": "transport error", "websocket": "transport close"}},
	}
	for _, way := range ways {
		for _, kind := range transportKinds {
			name := kind.name + "-" + way.op
			t.Run(name, func(t *testing.T) {
				defer d.in(t)()
				d.connectOn(name, srv.url, kind)
				if ack := d.call(name, "join", name); ack["ok"] != true {
					t.Fatalf("join ack %v", ack)
				}
				d.eventWith("watcher", "add chatter", name)

				d.send(map[string]any{"op": way.op, "client": name})
				if got, want := d.disconnected(name), way.reason[kind.want]; got != want {
					t.Errorf("client-side disconnect reason %q, want %q", got, want)
				}
				d.eventWith("watcher", "remove chatter", name)

				again := name + "-again"
				d.connect(again, srv.url, "websocket")
				if ack := d.call(again, "join", name); ack["ok"] != true {
					t.Errorf("joining as %s after it left: %v, want ok", name, ack)
				}
				d.send(map[string]any{"op": "disconnect", "client": again})
				d.eventWith("watcher", "add chatter", name)
				d.eventWith("watcher", "remove chatter", name)
			})
		}
	}
	d.nothingUnread(t, "watcher")
}

// originCheck is what an Engine.IO handshake with an Origin header got.
type originCheck struct {
	status int
	body   string
}

// pollingHandshake opens a polling session with the given Origin ("" for
// none).
func pollingHandshake(t testing.TB, base, origin string) originCheck {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, siotest.PollingURL(base, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	return doOrigin(t, req, origin)
}

// doOrigin sends req with the given Origin ("" for none), within eventTimeout.
func doOrigin(t testing.TB, req *http.Request, origin string) originCheck {
	t.Helper()
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	client := &http.Client{Timeout: eventTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return originCheck{status: resp.StatusCode, body: string(body)}
}

// websocketHandshake opens a WebSocket-only session with the given Origin
// ("" for none) and, when it is accepted, reads the open packet.
func websocketHandshake(t testing.TB, base, origin string) originCheck {
	t.Helper()
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	c, resp, err := siotest.DialWebSocket(t, base, siotest.Options{Header: header, Timeout: eventTimeout})
	if err != nil {
		if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
			t.Fatal(err) // no answer, or no open packet after the upgrade
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return originCheck{status: resp.StatusCode, body: string(body)}
	}
	defer c.Close()
	return originCheck{status: resp.StatusCode, body: c.Open().Packet}
}

// checkOrigin checks one handshake's outcome: accepted with an Engine.IO
// open packet, or refused with 403 and the reference's Forbidden error.
func checkOrigin(t testing.TB, what string, got originCheck, accepted bool, wantStatus int) {
	t.Helper()
	if got.status != wantStatus {
		t.Errorf("%s: status %d, want %d (body %q)", what, got.status, wantStatus, got.body)
		return
	}
	if accepted {
		if !strings.HasPrefix(got.body, `0{"sid":"`) {
			t.Errorf("%s: accepted, but the first packet is %q, want an open packet", what, got.body)
		}
		return
	}
	var e struct {
		Code    *int
		Message string
	}
	if json.Unmarshal([]byte(got.body), &e) != nil || e.Code == nil || *e.Code != 4 || e.Message == "" {
		t.Errorf("%s: body %q, want {\"code\":4,\"message\":...}", what, got.body)
	}
}

// TestTransportOriginsAreChecked: a page from another site may not open a
// connection over either transport (403), the server's own origin and
// clients without an Origin header may, and so may the origins given in
// --allowed-origins.
func TestTransportOriginsAreChecked(t *testing.T) {
	t.Parallel()
	const allowed = "http://chat.example"
	plain := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	opened := startServer(t, filepath.Join(t.TempDir(), "chat.db"), "--allowed-origins", allowed)

	for _, tc := range []struct {
		name     string
		srv      *server
		origin   string // "own" stands for the server's own origin
		accepted bool
	}{
		{"no origin", plain, "", true},
		{"own origin", plain, "own", true},
		{"foreign origin", plain, "http://evil.example", false},
		{"own host on another port", plain, "http://127.0.0.1:1", false},
		{"sandboxed page", plain, "null", false},
		{"allowed origin without the flag", plain, allowed, false},
		{"allowed origin", opened, allowed, true},
		{"foreign origin with the flag", opened, "http://evil.example", false},
		{"own origin with the flag", opened, "own", true},
		{"no origin with the flag", opened, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := tc.origin
			if origin == "own" {
				origin = tc.srv.url
			}
			status := http.StatusOK
			if !tc.accepted {
				status = http.StatusForbidden
			}
			checkOrigin(t, "polling handshake", pollingHandshake(t, tc.srv.url, origin), tc.accepted, status)
			if tc.accepted {
				status = http.StatusSwitchingProtocols
			}
			checkOrigin(t, "websocket handshake", websocketHandshake(t, tc.srv.url, origin), tc.accepted, status)
		})
	}

	// The check covers every polling request, not only the handshake: a
	// session opened without an Origin cannot be used from a foreign page.
	open, err := siotest.ParseOpen(pollingHandshake(t, plain.url, "").body)
	if err != nil {
		t.Fatalf("polling handshake: %v", err)
	}
	session := siotest.PollingURL(plain.url, url.QueryEscape(open.SID))
	for _, origin := range []string{"http://evil.example", plain.url} {
		req, err := http.NewRequest(http.MethodPost, session, strings.NewReader("40"))
		if err != nil {
			t.Fatal(err)
		}
		got := doOrigin(t, req, origin)
		if origin == plain.url {
			if got.status != http.StatusOK || got.body != "ok" {
				t.Errorf("POST from the own origin: %d %q, want 200 ok", got.status, got.body)
			}
			continue
		}
		checkOrigin(t, "POST from a foreign origin", got, false, http.StatusForbidden)
	}
	req, err := http.NewRequest(http.MethodGet, session, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkOrigin(t, "GET from a foreign origin", doOrigin(t, req, "http://evil.example"), false, http.StatusForbidden)
}
