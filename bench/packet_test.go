package bench

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nsp      string // the run's namespace, as Config.namespace gives it
		packet   string
		ok       bool
		event    string
		arg      string
		argIsStr bool
	}{
		{"chatserver message with object", "", `2["messages","bob: hi",{"id":1,"name":"bob"}]`, true, "messages", "bob: hi", true},
		{"node message, string only", "", `2["messages","bob: hi"]`, true, "messages", "bob: hi", true},
		{"node greeting with object argument", "", `2["messages",{"hello":"world"}]`, true, "messages", "", false},
		{"add chatter", "", `2["add chatter","alice"]`, true, "add chatter", "alice", true},
		{"escaped quote kept raw", "", `2["messages","a: say \"x\""]`, true, "messages", `a: say \"x\"`, true},
		{"escaped backslash before the closing quote", "", `2["messages","a\\"]`, true, "messages", `a\\`, true},
		{"event without arguments", "", `2["ping"]`, true, "ping", "", false},
		{"server asks for an ack", "", `27["messages","x"]`, true, "messages", "x", true},
		{"other namespace", "", `2/admin,["messages","x"]`, false, "", "", false},
		{"not an event", "", `3["messages"]`, false, "", "", false},
		{"unterminated name", "", `2["messages`, false, "", "", false},
		{"unterminated argument", "", `2["messages","abc`, true, "messages", "", false},
		{"no array", "", `2{}`, false, "", "", false},
		{"empty", "", ``, false, "", "", false},
		{"type only", "", `2`, false, "", "", false},
		{"a room's message", "/games,", `2/games,["messages","bob: hi",{"id":1}]`, true, "messages", "bob: hi", true},
		{"a room's event with an ack id", "/games,", `2/games,7["add chatter","alice"]`, true, "add chatter", "alice", true},
		{"the default namespace's, in a room's run", "/games,", `2["messages","bob: hi"]`, false, "", "", false},
		{"another room's", "/games,", `2/homework,["messages","bob: hi"]`, false, "", "", false},
		{"a room whose name starts with the run's", "/games,", `2/games2,["messages","bob: hi"]`, false, "", "", false},
		{"the room's namespace only", "/games,", `2/games,`, false, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := parseEvent([]byte(tc.packet), []byte(tc.nsp))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if string(ev.name) != tc.event || string(ev.arg) != tc.arg || ev.argIsStr != tc.argIsStr {
				t.Errorf("got (%q, %q, %v), want (%q, %q, %v)", ev.name, ev.arg, ev.argIsStr, tc.event, tc.arg, tc.argIsStr)
			}
		})
	}
}

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nsp     string // the run's namespace, as Config.namespace gives it
		packet  string
		id      int
		success bool
		ok      bool
	}{
		{"join accepted", "", `30[{"ok":true,"name":"a","token":"t"}]`, 0, true, true},
		{"message accepted", "", `3123[{"ok":true,"id":9}]`, 123, true, true},
		{"message refused", "", `37[{"error":"rate_limited","message":"slow down"}]`, 7, false, true},
		{"empty ack", "", `35[]`, 5, false, true},
		{"no id", "", `3[{"ok":true}]`, 0, false, false},
		{"other namespace", "", `3/admin,1[{"ok":true}]`, 0, false, false},
		{"no payload", "", `31`, 0, false, false},
		{"id too large", "", `399999999999999999999[]`, 0, false, false},
		{"not an ack", "", `21["x"]`, 0, false, false},
		{"a room's join accepted", "/games,", `3/games,0[{"ok":true,"name":"a"}]`, 0, true, true},
		{"a room's message refused", "/games,", `3/games,12[{"error":"rate_limited"}]`, 12, false, true},
		{"the default namespace's, in a room's run", "/games,", `30[{"ok":true}]`, 0, false, false},
		{"another room's", "/games,", `3/homework,0[{"ok":true}]`, 0, false, false},
		{"a room's without id", "/games,", `3/games,[{"ok":true}]`, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, success, ok := parseAck([]byte(tc.packet), []byte(tc.nsp))
			if id != tc.id || success != tc.success || ok != tc.ok {
				t.Errorf("parseAck = (%d, %v, %v), want (%d, %v, %v)", id, success, ok, tc.id, tc.success, tc.ok)
			}
		})
	}
}

func TestParseDelivery(t *testing.T) {
	prefix := []byte("bench-abc123-")
	for _, tc := range []struct {
		name   string
		line   string
		sender int
		seq    int
		sent   int64
		ok     bool
	}{
		{"own run's message", "bench-abc123-7: b7:42:1700000000123456789:xxxx", 7, 42, 1700000000123456789, true},
		{"header only", "bench-abc123-0: b0:0:5:", 0, 0, 5, true},
		{"another run's history", "bench-ffffff-7: b7:42:1700000000123456789:x", 0, 0, 0, false},
		{"a person typing", "alice: hello", 0, 0, 0, false},
		{"nickname and text disagree", "bench-abc123-7: b8:42:17:x", 0, 0, 0, false},
		{"text of another shape", "bench-abc123-7: hello", 0, 0, 0, false},
		{"missing colon after the time", "bench-abc123-7: b7:42:17", 0, 0, 0, false},
		{"time overflows int64", "bench-abc123-7: b7:42:99999999999999999999:", 0, 0, 0, false},
		{"sequence number beyond an int32", "bench-abc123-7: b7:4294967296:17:", 0, 0, 0, false},
		{"empty", "", 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender, seq, sent, ok := parseDelivery([]byte(tc.line), prefix)
			if sender != tc.sender || seq != tc.seq || sent != tc.sent || ok != tc.ok {
				t.Errorf("parseDelivery = (%d, %d, %d, %v), want (%d, %d, %d, %v)", sender, seq, sent, ok, tc.sender, tc.seq, tc.sent, tc.ok)
			}
		})
	}
}

func TestParseNickIndex(t *testing.T) {
	prefix := []byte("bench-abc123-")
	for _, tc := range []struct {
		name string
		i    int
		ok   bool
	}{
		{"bench-abc123-0", 0, true},
		{"bench-abc123-1999", 1999, true},
		{"bench-abc123-", 0, false},
		{"bench-abc123-12x", 0, false},
		{"bench-zzz-12", 0, false},
		{"alice", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, ok := parseNickIndex([]byte(tc.name), prefix)
			if i != tc.i || ok != tc.ok {
				t.Errorf("parseNickIndex = (%d, %v), want (%d, %v)", i, ok, tc.i, tc.ok)
			}
		})
	}
}

func TestAppendEmitWritesValidSocketIOEvents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nsp    string
		ackID  int
		event  string
		arg    string
		prefix string
	}{
		{"join with ack", "", 0, "join", "bench-abc-3", "420"},
		{"message with ack 17", "", 17, "messages", "b1:2:3:xx", "4217"},
		{"no ack", "", -1, "messages", "plain", "42"},
		{"quotes, backslash and control characters escaped", "", 1, "messages", "say \"hi\" \\ \n\t\x01", "421"},
		{"UTF-8 kept", "", 2, "messages", "héllo ✓", "422"},
		{"a room's join", "/games,", 0, "join", "bench-abc-3", "42/games,0"},
		{"a room's message without ack", "/games,", -1, "messages", "plain", "42/games,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := string(appendEmit(nil, []byte(tc.nsp), tc.ackID, tc.event, []byte(tc.arg)))
			if !strings.HasPrefix(p, tc.prefix+"[") {
				t.Fatalf("packet %q does not start with %q[", p, tc.prefix)
			}
			var args []string
			if err := json.Unmarshal([]byte(p[len(tc.prefix):]), &args); err != nil {
				t.Fatalf("payload of %q is not JSON: %v", p, err)
			}
			if len(args) != 2 || args[0] != tc.event || args[1] != tc.arg {
				t.Errorf("decoded %q, want [%q %q]", args, tc.event, tc.arg)
			}
		})
	}
}

func TestBenchTextRoundTripsThroughDelivery(t *testing.T) {
	prefix := []byte("bench-abc-")
	now := time.Now().UnixNano()
	for _, size := range []int{1, 30, 64, 1000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			text := appendBenchText(nil, 12, 345, now, size)
			if len(text) < size || (len(text) > size && len(text) > textHeaderMax) {
				t.Errorf("text is %d bytes, want %d (or the header alone)", len(text), size)
			}
			line := append([]byte("bench-abc-12: "), text...)
			sender, seq, sent, ok := parseDelivery(line, prefix)
			if !ok || sender != 12 || seq != 345 || sent != now {
				t.Errorf("parseDelivery(%q) = (%d, %d, %d, %v), want (12, 345, %d, true)", line, sender, seq, sent, ok, now)
			}
		})
	}
}

func TestCutNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int64
		rest string
		ok   bool
	}{
		{"0", 0, "", true},
		{"123:x", 123, ":x", true},
		{strconv.FormatInt(math.MaxInt64, 10), math.MaxInt64, "", true},
		{"9223372036854775808", 0, "9223372036854775808", false},
		{":1", 0, ":1", false},
		{"", 0, "", false},
	} {
		n, rest, ok := cutNumber([]byte(tc.in))
		if n != tc.n || string(rest) != tc.rest || ok != tc.ok {
			t.Errorf("cutNumber(%q) = (%d, %q, %v), want (%d, %q, %v)", tc.in, n, rest, ok, tc.n, tc.rest, tc.ok)
		}
	}
}

func TestParseOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		packet string
		ok     bool
	}{
		{"reference handshake", `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, true},
		{"not an open packet", `40{"sid":"x"}`, false},
		{"no sid", `0{"upgrades":[],"pingInterval":25000,"pingTimeout":20000}`, false},
		{"no ping timing", `0{"sid":"x"}`, false},
		{"bad JSON", `0{`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := parseOpen([]byte(tc.packet))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (info.Sid != "lv_VI97HAXpY6yYWAAAC" || info.PingInterval != 25000 || info.PingTimeout != 20000) {
				t.Errorf("parsed %+v", info)
			}
		})
	}
}

// recordingTransport stands in for a connection in tests of the client's
// packet handling: it keeps what the client sends.
type recordingTransport struct {
	mu   sync.Mutex
	sent []string
}

func (t *recordingTransport) next() ([]byte, error) { return nil, errClosed }
func (t *recordingTransport) send(p []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent = append(t.sent, string(p))
	return nil
}
func (t *recordingTransport) answer(p []byte) error { return t.send(p) }
func (t *recordingTransport) alive(time.Duration)   {}
func (t *recordingTransport) close()                {}
func (t *recordingTransport) wait()                 {}

// handleTestClient returns client 1 of a three-client runner.
func handleTestClient(t testing.TB) (*runner, *client, *recordingTransport) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Clients = 3
	r := newRunner(cfg)
	r.start = time.Now()
	tr := &recordingTransport{}
	c := r.clients[1]
	c.setTransport(tr)
	return r, c, tr
}

func TestClientHandlesTheChatContract(t *testing.T) {
	r, c, tr := handleTestClient(t)
	sent := time.Now().Add(-3 * time.Millisecond).UnixNano()
	own := "42" + `["messages","` + string(r.prefix) + `1: ` + string(appendBenchText(nil, 1, 0, sent, 40)) + `",{"id":1}]`
	other := "42" + `["messages","` + string(r.prefix) + `2: ` + string(appendBenchText(nil, 2, 0, sent, 40)) + `"]`
	packets := []string{
		"2",                                // ping: answered with a pong
		"6",                                // noop
		own,                                // own message echoed
		other,                              // another client's message
		`42["messages","alice: hi"]`,       // not ours: ignored
		`42["messages",{"hello":"world"}]`, // the Node original's greeting
		`42["add chatter","` + string(r.prefix) + `0"]`,
		`42["add chatter","alice"]`,
		`42["remove chatter","alice"]`,
		`42["chat error",{"code":"rate_limited"}]`,
		`430[{"ok":true,"name":"x"}]`, // join ack
		`431[{"ok":true,"id":1}]`,
		`432[{"error":"rate_limited","message":"slow down"}]`,
	}
	for _, p := range packets {
		if err := c.handle(tr, []byte(p)); err != nil {
			t.Fatalf("handle(%q): %v", p, err)
		}
	}
	if len(tr.sent) != 1 || tr.sent[0] != "3" {
		t.Errorf("sent %q, want one pong", tr.sent)
	}
	checks := []struct {
		what      string
		got, want int64
	}{
		{"delivered", c.st.delivered.Load(), 2},
		{"echoed", c.st.echoed.Load(), 1},
		{"add chatter", c.st.addChatter.Load(), 2},
		{"remove chatter", c.st.removeChatter.Load(), 1},
		{"chat errors", c.st.chatErrors.Load(), 1},
		{"acked", c.st.acked.Load(), 1},
		{"refused", c.st.refused.Load(), 1},
		{"joined (0 by add chatter, 1 by ack, 2 by delivery)", r.joinedCount.Load(), 3},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %d, want %d", ch.what, ch.got, ch.want)
		}
	}
	var s HistogramSnapshot
	r.latency.Snapshot(&s)
	// The messages were stamped 3ms ago; the histogram may round down by
	// half a bucket.
	if low := time.Duration(float64(3*time.Millisecond) * (1 - maxRelErr)); s.Count() != 2 || s.Percentile(0.5) < low {
		t.Errorf("latency count %d p50 %v, want 2 values of at least %v", s.Count(), s.Percentile(0.5), low)
	}
}

func TestClientStopsWhenTheServerCloses(t *testing.T) {
	for _, p := range []string{"1", "41"} {
		_, c, tr := handleTestClient(t)
		if err := c.handle(tr, []byte(p)); err == nil {
			t.Errorf("handle(%q) = nil, want the connection to end", p)
		}
	}
	_, c, tr := handleTestClient(t)
	if err := c.handle(tr, []byte("41/admin,")); err != nil {
		t.Errorf("disconnect from another namespace ended the connection: %v", err)
	}
	// In a room's run, the room's namespace is the one that counts.
	r, c, tr := handleTestClient(t)
	r.nsp = []byte("/games,")
	for _, p := range []string{"41", "41/homework,"} {
		if err := c.handle(tr, []byte(p)); err != nil {
			t.Errorf("in a room, handle(%q) ended the connection: %v", p, err)
		}
	}
	if err := c.handle(tr, []byte("41/games,")); err == nil {
		t.Error(`in the room "games", handle("41/games,") = nil, want the connection to end`)
	}
}

func TestClientReceivesADeliveryWithoutAllocating(t *testing.T) {
	r, c, tr := handleTestClient(t)
	p := []byte("42" + `["messages","` + string(r.prefix) + `2: ` +
		string(appendBenchText(nil, 2, 7, time.Now().UnixNano(), 64)) + `",{"id":1,"name":"x","text":"y","time":"z"}]`)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := c.handle(tr, p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per delivery, want 0", allocs)
	}
}

func BenchmarkClientHandleDelivery(b *testing.B) {
	r, c, tr := handleTestClient(b)
	p := []byte("42" + `["messages","` + string(r.prefix) + `2: ` +
		string(appendBenchText(nil, 2, 7, time.Now().UnixNano(), 64)) + `",{"id":1,"name":"x","text":"y","time":"z"}]`)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.handle(tr, p)
	}
}
