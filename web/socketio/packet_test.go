package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"chatserver/internal/logtest"
)

// ph is the placeholder text for attachment n.
func ph(n int) string {
	return `{"_placeholder":true,"num":` + string(rune('0'+n)) + `}`
}

func TestDecodePacketAcceptsProtocolExamples(t *testing.T) {
	type want struct {
		typ     packetType
		nsp     string
		id      int64
		data    string
		args    []string
		nAttach int
	}
	tests := []struct {
		in   string
		want want
	}{
		// The examples of the Socket.IO protocol specification.
		{`0`, want{typ: packetConnect, nsp: "/", id: noAckID}},
		{`0/admin,`, want{typ: packetConnect, nsp: "/admin", id: noAckID}},
		{`0{"token":"123"}`, want{typ: packetConnect, nsp: "/", id: noAckID, data: `{"token":"123"}`}},
		{`1/admin,`, want{typ: packetDisconnect, nsp: "/admin", id: noAckID}},
		{`2["foo"]`, want{typ: packetEvent, nsp: "/", id: noAckID, data: `["foo"]`, args: []string{`"foo"`}}},
		{`2/admin,["bar"]`, want{typ: packetEvent, nsp: "/admin", id: noAckID, data: `["bar"]`, args: []string{`"bar"`}}},
		{`212["foo"]`, want{typ: packetEvent, nsp: "/", id: 12, data: `["foo"]`, args: []string{`"foo"`}}},
		{`3/admin,13["bar"]`, want{typ: packetAck, nsp: "/admin", id: 13, data: `["bar"]`, args: []string{`"bar"`}}},
		{`4{"message":"Not authorized"}`, want{typ: packetConnectError, nsp: "/", id: noAckID, data: `{"message":"Not authorized"}`}},
		{`51-["baz",` + ph(0) + `]`, want{typ: packetBinaryEvent, nsp: "/", id: noAckID, data: `["baz",` + ph(0) + `]`, args: []string{`"baz"`, ph(0)}, nAttach: 1}},
		{`52-/admin,["baz",` + ph(0) + `,` + ph(1) + `]`, want{typ: packetBinaryEvent, nsp: "/admin", id: noAckID, data: `["baz",` + ph(0) + `,` + ph(1) + `]`, args: []string{`"baz"`, ph(0), ph(1)}, nAttach: 2}},
		{`61-15["bar",` + ph(0) + `]`, want{typ: packetBinaryAck, nsp: "/", id: 15, data: `["bar",` + ph(0) + `]`, args: []string{`"bar"`, ph(0)}, nAttach: 1}},
		// Namespace ended by the end of the packet (no comma).
		{`0/custom`, want{typ: packetConnect, nsp: "/custom", id: noAckID}},
		{`1/custom`, want{typ: packetDisconnect, nsp: "/custom", id: noAckID}},
		// The official suite's packets.
		{`2456["message-with-ack",1,"2",{"3":[false]}]`, want{typ: packetEvent, nsp: "/", id: 456,
			data: `["message-with-ack",1,"2",{"3":[false]}]`, args: []string{`"message-with-ack"`, `1`, `"2"`, `{"3":[false]}`}}},
		{`52-789["message-with-ack",` + ph(0) + `,` + ph(1) + `]`, want{typ: packetBinaryEvent, nsp: "/", id: 789,
			data: `["message-with-ack",` + ph(0) + `,` + ph(1) + `]`, args: []string{`"message-with-ack"`, ph(0), ph(1)}, nAttach: 2}},
		// Numbers as event names, spaces between tokens, empty ack, ack without payload.
		{`2[42,"x"]`, want{typ: packetEvent, nsp: "/", id: noAckID, data: `[42,"x"]`, args: []string{`42`, `"x"`}}},
		{`2[ "a" , 1 ]`, want{typ: packetEvent, nsp: "/", id: noAckID, data: `[ "a" , 1 ]`, args: []string{`"a"`, `1`}}},
		{`30[]`, want{typ: packetAck, nsp: "/", id: 0, data: `[]`}},
		{`37`, want{typ: packetAck, nsp: "/", id: 7}},
		{`4"refused"`, want{typ: packetConnectError, nsp: "/", id: noAckID, data: `"refused"`}},
		{`50-["a"]`, want{typ: packetBinaryEvent, nsp: "/", id: noAckID, data: `["a"]`, args: []string{`"a"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := decodePacket([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodePacket(%q): %v", tt.in, err)
			}
			got := want{typ: p.typ, nsp: p.nsp, id: p.id, data: string(p.data), nAttach: p.nAttach}
			for _, a := range p.args {
				got.args = append(got.args, string(a))
			}
			if got.typ != tt.want.typ || got.nsp != tt.want.nsp || got.id != tt.want.id ||
				got.data != tt.want.data || got.nAttach != tt.want.nAttach ||
				strings.Join(got.args, "|") != strings.Join(tt.want.args, "|") {
				t.Errorf("decodePacket(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodePacketRejectsInvalidPackets(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ``},
		{"unknown type", `abc`},
		{"type out of range", `7`},
		{"event payload is an object", `2{}`},
		{"letters where the ack id goes", `2abc["message-with-ack",1,"2",{"3":[false]}]`},
		{"event without payload", `2`},
		{"event with empty array", `2[]`},
		{"event name is a boolean", `2[true]`},
		{"event name is an object", `2[{}]`},
		{"event name is null", `2[null]`},
		{"reserved event connect", `2["connect"]`},
		{"reserved event disconnect", `2["disconnect"]`},
		{"reserved event newListener", `2["newListener",1]`},
		{"reserved event in a binary event", `50-["removeListener"]`},
		{"reserved event spelled with escapes", `2["\u0063onnect"]`},
		{"invalid json", `2["a"`},
		{"trailing garbage after json", `2["a"]x`},
		{"connect payload is an array", `0[]`},
		{"connect payload is a string", `0"token"`},
		{"connect payload is null", `0null`},
		{"disconnect with payload", `1{}`},
		{"ack payload is an object", `3{}`},
		{"connect error payload is an array", `4[]`},
		{"binary event without count", `5["a"]`},
		{"binary event without dash", `51["a"]`},
		{"binary event count not a number", `5x-["a"]`},
		{"too many attachments", `511-["a"]`},
		{"absurd attachment count", `599999999999999999999999-["a"]`},
		{"ack id beyond 2^53", `29007199254740992["a"]`},
		{"namespace then garbage", `2/admin,x`},
		{"placeholder without attachment", `50-["a",` + ph(0) + `]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decoder
			p, err := d.feed([]byte(tt.in), false)
			if err == nil {
				t.Fatalf("feed(%q) = %+v, want a parse error", tt.in, p)
			}
			if !errors.Is(err, errParse) {
				t.Errorf("feed(%q) error %v does not wrap errParse", tt.in, err)
			}
		})
	}
}

func TestDecoderReassemblesAttachments(t *testing.T) {
	t.Run("delivers the packet with its attachments after the last one", func(t *testing.T) {
		var d decoder
		msgs := []struct {
			data   string
			binary bool
		}{
			{`52-["message",` + ph(0) + `,` + ph(1) + `]`, false},
			{"\x01\x02\x03", true},
			{"\x04\x05\x06", true},
		}
		var got *packet
		for i, m := range msgs {
			buf := []byte(m.data)
			p, err := d.feed(buf, m.binary)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			copy(buf, "zzzz") // the decoder must have copied
			if i < len(msgs)-1 && p != nil {
				t.Fatalf("message %d: packet delivered before its attachments", i)
			}
			got = p
		}
		if got == nil {
			t.Fatal("no packet after the last attachment")
		}
		if len(got.attachments) != 2 || string(got.attachments[0]) != "\x01\x02\x03" || string(got.attachments[1]) != "\x04\x05\x06" {
			t.Errorf("attachments = %q", got.attachments)
		}
		if string(got.args[0]) != `"message"` {
			t.Errorf("args[0] = %s", got.args[0])
		}
	})

	errorCases := []struct {
		name string
		msgs []string // "b:" prefix marks a binary message
	}{
		{"binary message when none is expected", []string{"b:\x01"}},
		{"text message while waiting for attachments", []string{`51-["a",` + ph(0) + `]`, `2["b"]`}},
		{"placeholder number beyond the attachments", []string{`51-["a",` + ph(1) + `]`, "b:\x01"}},
		{"placeholder number not an integer", []string{`51-["a",{"_placeholder":true,"num":0.5}]`, "b:\x01"}},
		{"placeholder number negative", []string{`51-["a",{"_placeholder":true,"num":-1}]`, "b:\x01"}},
		{"placeholder number missing", []string{`51-["a",{"_placeholder":true}]`, "b:\x01"}},
		{"placeholder number is a string", []string{`51-["a",{"_placeholder":true,"num":"0"}]`, "b:\x01"}},
	}
	for _, tt := range errorCases {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			var d decoder
			var err error
			for _, m := range tt.msgs {
				bin := strings.HasPrefix(m, "b:")
				_, err = d.feed([]byte(strings.TrimPrefix(m, "b:")), bin)
				if err != nil {
					break
				}
			}
			if !errors.Is(err, errParse) {
				t.Fatalf("error = %v, want a parse error", err)
			}
		})
	}

	t.Run("leaves placeholder-like objects in text events alone", func(t *testing.T) {
		var d decoder
		p, err := d.feed([]byte(`2["a",`+ph(3)+`]`), false)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.args[1]) != ph(3) {
			t.Errorf("args[1] = %s", p.args[1])
		}
	})
}

// feedAll feeds msgs ("b:" marks a binary message) to d and returns the
// last result, stopping at the first error.
func feedAll(d *decoder, msgs ...string) (*packet, error) {
	var p *packet
	var err error
	for _, m := range msgs {
		bin := strings.HasPrefix(m, "b:")
		if p, err = d.feed([]byte(strings.TrimPrefix(m, "b:")), bin); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// rulesOf returns a decoder's rules function: namespaces in binary accept
// binary packets, and every one takes an auth object of up to maxAuth
// bytes.
func rulesOf(maxAuth int, binary ...string) func(string) NamespaceConfig {
	return func(nsp string) NamespaceConfig {
		cfg := NamespaceConfig{MaxAuth: maxAuth}
		for _, b := range binary {
			cfg.AllowBinary = cfg.AllowBinary || b == nsp
		}
		return cfg
	}
}

func TestDecoderAppliesNamespaceRules(t *testing.T) {
	tests := []struct {
		name      string
		maxBinary int
		msgs      []string // "b:" marks a binary message
		wantErr   bool     // a parse error
		wantAuth  string   // the CONNECT payload kept, for a CONNECT
		tooLarge  bool     // the CONNECT was marked authTooLarge
	}{
		{name: "binary event refused at its first message", msgs: []string{`51-["a",` + ph(0) + `]`}, wantErr: true},
		{name: "binary event without attachments refused", msgs: []string{`50-["a"]`}, wantErr: true},
		{name: "binary ack refused at its first message", msgs: []string{`61-0[` + ph(0) + `]`}, wantErr: true},
		{name: "binary event for an unregistered namespace refused", msgs: []string{`51-/other,["a",` + ph(0) + `]`}, wantErr: true},
		{name: "text event on a namespace without binary accepted", msgs: []string{`2["a",` + ph(0) + `]`}},
		{name: "binary event on a namespace that allows it accepted", msgs: []string{`51-/bin,["a",` + ph(0) + `]`, "b:\x01"}},
		{name: "attachments up to maxBinary accepted", maxBinary: 10,
			msgs: []string{`53-/bin,["a",` + ph(0) + `,` + ph(1) + `,` + ph(2) + `]`, "b:aaaa", "b:bbbb", "b:cc"}},
		{name: "attachments over maxBinary in total refused", maxBinary: 10,
			msgs:    []string{`53-/bin,["a",` + ph(0) + `,` + ph(1) + `,` + ph(2) + `]`, "b:aaaa", "b:bbbb", "b:ccc"},
			wantErr: true},
		{name: "maxBinary counts one packet at a time", maxBinary: 10,
			msgs: []string{`51-/bin,["a",` + ph(0) + `]`, "b:aaaaaaaa", `51-/bin,["a",` + ph(0) + `]`, "b:bbbbbbbb"}},
		{name: "auth up to MaxAuth kept", msgs: []string{`0{"t":"1234"}`}, wantAuth: `{"t":"1234"}`},
		{name: "auth over MaxAuth dropped", msgs: []string{`0{"t":"12345"}`}, tooLarge: true},
		{name: "auth over MaxAuth of another namespace dropped", msgs: []string{`0/bin,{"t":"12345"}`}, tooLarge: true},
		{name: "invalid auth over MaxAuth is still a parse error", msgs: []string{`0["t","12345"]`}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder{rules: rulesOf(len(`{"t":"1234"}`), "/bin"), maxBinary: tt.maxBinary}
			p, err := feedAll(&d, tt.msgs...)
			if tt.wantErr {
				if !errors.Is(err, errParse) {
					t.Fatalf("error = %v, want a parse error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p == nil {
				t.Fatal("no packet")
			}
			if p.typ != packetConnect {
				return
			}
			if p.authTooLarge != tt.tooLarge || string(p.data) != tt.wantAuth {
				t.Errorf("CONNECT: authTooLarge %v, data %q; want %v, %q", p.authTooLarge, p.data, tt.tooLarge, tt.wantAuth)
			}
		})
	}

}

// TestDecoderTurnsAV2ConnectQueryIntoAuth: the decoder of a v2 client
// splits a CONNECT's namespace from its query and makes the query the
// auth object, holding both to the namespace's MaxAuth; a query over it
// as sent is refused unparsed, however small the object it stands for.
func TestDecoderTurnsAV2ConnectQueryIntoAuth(t *testing.T) {
	const maxAuth = 16
	tests := []struct {
		name     string
		msg      string
		wantNsp  string
		wantAuth string // the CONNECT payload kept; "" for none
		tooLarge bool   // the CONNECT was marked authTooLarge
	}{
		{name: "no query", msg: `0/custom,`, wantNsp: "/custom"},
		{name: "an empty query", msg: `0/custom?,`, wantNsp: "/custom"},
		{name: "a query", msg: `0/custom?token=a%20b,`, wantNsp: "/custom", wantAuth: `{"token":"a b"}`},
		{name: "a v2 CONNECT's payload is not its auth", msg: `0/custom,{"a":"b"}`, wantNsp: "/custom"},
		{name: "an object over MaxAuth", msg: `0/custom?t=1234567890,`, wantNsp: "/custom", tooLarge: true},
		{name: "a query of MaxAuth bytes making a smaller object", msg: `0/custom?x=1&x=2&x=3&x=4,`, wantNsp: "/custom", wantAuth: `{"x":"4"}`},
		{name: "a query over MaxAuth making a smaller object", msg: `0/custom?x=1&x=2&x=3&x=456,`, wantNsp: "/custom", tooLarge: true},
		{name: "a megabyte of query", msg: `0/custom?` + strings.Repeat("x=1&", 1<<18) + `,`, wantNsp: "/custom", tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder{rules: rulesOf(maxAuth), v2: true}
			p, err := d.feed([]byte(tt.msg), false)
			if err != nil {
				t.Fatal(err)
			}
			if p.nsp != tt.wantNsp || p.authTooLarge != tt.tooLarge || string(p.data) != tt.wantAuth {
				t.Errorf("CONNECT: namespace %q, authTooLarge %v, data %q; want %q, %v, %q",
					p.nsp, p.authTooLarge, p.data, tt.wantNsp, tt.tooLarge, tt.wantAuth)
			}
		})
	}
}

// encoded is an encoded packet: its text and its attachments.
type encoded struct {
	text string
	bins []string
}

func encodeEvent(t testing.TB, nsp, event string, id int64, args ...any) encoded {
	t.Helper()
	e := getEncoder()
	defer putEncoder(e)
	if err := e.argsArray(event, true, args); err != nil {
		t.Fatalf("encode %q %v: %v", event, args, err)
	}
	return toEncoded(e.text(packetEvent, nsp, id), e.bins)
}

func encodeAck(t testing.TB, nsp string, id int64, args ...any) encoded {
	t.Helper()
	e := getEncoder()
	defer putEncoder(e)
	if err := e.argsArray("", false, args); err != nil {
		t.Fatalf("encode ack %v: %v", args, err)
	}
	return toEncoded(e.text(packetAck, nsp, id), e.bins)
}

func toEncoded(text []byte, bins [][]byte) encoded {
	out := encoded{text: string(text)}
	for _, b := range bins {
		out.bins = append(out.bins, string(b))
	}
	return out
}

func TestEncodeMatchesProtocolExamples(t *testing.T) {
	type point struct {
		X int     `json:"x"`
		A string  `json:"a"`
		F float64 `json:"f"`
	}
	tests := []struct {
		name string
		got  func(t *testing.T) encoded
		want encoded
	}{
		{"event on the main namespace", func(t *testing.T) encoded { return encodeEvent(t, "/", "foo", noAckID) }, encoded{text: `2["foo"]`}},
		{"event on a namespace", func(t *testing.T) encoded { return encodeEvent(t, "/admin", "bar", noAckID) }, encoded{text: `2/admin,["bar"]`}},
		{"event with ack id", func(t *testing.T) encoded { return encodeEvent(t, "/", "foo", 12) }, encoded{text: `212["foo"]`}},
		{"ack on a namespace", func(t *testing.T) encoded { return encodeAck(t, "/admin", 13, "bar") }, encoded{text: `3/admin,13["bar"]`}},
		{"empty ack", func(t *testing.T) encoded { return encodeAck(t, "/", 0) }, encoded{text: `30[]`}},
		{"binary event", func(t *testing.T) encoded { return encodeEvent(t, "/", "baz", noAckID, []byte{1}) },
			encoded{text: `51-["baz",` + ph(0) + `]`, bins: []string{"\x01"}}},
		{"binary event on a namespace", func(t *testing.T) encoded {
			return encodeEvent(t, "/admin", "baz", noAckID, []byte{1}, []byte{2})
		}, encoded{text: `52-/admin,["baz",` + ph(0) + `,` + ph(1) + `]`, bins: []string{"\x01", "\x02"}}},
		{"binary ack", func(t *testing.T) encoded { return encodeAck(t, "/", 15, "bar", []byte{9}) },
			encoded{text: `61-15["bar",` + ph(0) + `]`, bins: []string{"\x09"}}},
		{"B6 ack with string and number", func(t *testing.T) encoded { return encodeAck(t, "/", 1, "world", 42) },
			encoded{text: `31["world",42]`}},
		{"B6 event to a namespace", func(t *testing.T) encoded { return encodeEvent(t, "/admin", "welcome", noAckID, "to admin") },
			encoded{text: `2/admin,["welcome","to admin"]`}},
		{"B6 server event with ack id 0", func(t *testing.T) encoded { return encodeEvent(t, "/", "server-asks", 0, "q") },
			encoded{text: `20["server-asks","q"]`}},
		{"B6 ack with an object", func(t *testing.T) encoded {
			return encodeAck(t, "/", 0, map[string]any{"ok": true, "echo": "hi"})
		}, encoded{text: `30[{"echo":"hi","ok":true}]`}},
		{"no HTML escaping", func(t *testing.T) encoded { return encodeEvent(t, "/", "m", noAckID, "<b>&amp;</b>") },
			encoded{text: `2["m","<b>&amp;</b>"]`}},
		{"escapes quotes, backslashes and controls", func(t *testing.T) encoded { return encodeEvent(t, "/", "m", noAckID, "a\"b\\c\n\x01é") },
			encoded{text: `2["m","a\"b\\c\n\u0001é"]`}},
		{"struct fields in declaration order", func(t *testing.T) encoded {
			return encodeEvent(t, "/", "p", noAckID, point{X: 1, A: "<", F: 0.5})
		}, encoded{text: `2["p",{"x":1,"a":"<","f":0.5}]`}},
		{"raw JSON and json.Number kept exact", func(t *testing.T) encoded {
			return encodeEvent(t, "/", "n", noAckID, json.RawMessage(`12345678901234567890`), json.Number("9007199254740993"))
		}, encoded{text: `2["n",12345678901234567890,9007199254740993]`}},
		{"nil and empty values", func(t *testing.T) encoded {
			return encodeEvent(t, "/", "z", noAckID, nil, json.RawMessage(nil), []any{}, map[string]any{})
		}, encoded{text: `2["z",null,null,[],{}]`}},
		{"binary nested in maps and slices", func(t *testing.T) encoded {
			return encodeEvent(t, "/", "f", noAckID, map[string]any{"name": "a", "data": []byte{7}}, []any{[]byte{8}})
		}, encoded{text: `52-["f",{"data":` + ph(0) + `,"name":"a"},[` + ph(1) + `]]`, bins: []string{"\x07", "\x08"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.got(t)
			if got.text != tt.want.text || strings.Join(got.bins, "|") != strings.Join(tt.want.bins, "|") {
				t.Errorf("got  %q %q\nwant %q %q", got.text, got.bins, tt.want.text, tt.want.bins)
			}
		})
	}
}

func TestEncodeControlPackets(t *testing.T) {
	logger, _ := logtest.New(t)
	srv := &Server{cfg: Config{Logger: logger}}
	tests := []struct {
		name string
		typ  packetType
		nsp  string
		data []byte
		want string
	}{
		{"connect reply on the main namespace", packetConnect, "/", []byte(`{"sid":"abc"}`), `0{"sid":"abc"}`},
		{"connect reply on a namespace", packetConnect, "/admin", []byte(`{"sid":"abc"}`), `0/admin,{"sid":"abc"}`},
		{"invalid namespace", packetConnectError, "/nope", invalidNamespace, `4/nope,{"message":"Invalid namespace"}`},
		{"refusal with data", packetConnectError, "/admin",
			connectErrorPayload(srv, &ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}),
			`4/admin,{"message":"not authorized","data":{"reason":"bad token"}}`},
		{"refusal without data", packetConnectError, "/", connectErrorPayload(srv, errors.New("no <entry>")), `4{"message":"no <entry>"}`},
		{"disconnect on the main namespace", packetDisconnect, "/", nil, `1`},
		{"disconnect on a namespace", packetDisconnect, "/admin", nil, `1/admin,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(controlPacket(tt.typ, tt.nsp, tt.data)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncodeRefusesBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []any
		want error
	}{
		{"invalid raw JSON", []any{json.RawMessage(`{`)}, nil},
		{"unencodable value", []any{func() {}}, nil},
		{"too many attachments", func() []any {
			var a []any
			for range maxAttachments + 1 {
				a = append(a, []byte{1})
			}
			return a
		}(), ErrTooManyAttachments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare("/", "x", tt.args...)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	for ev := range reservedEvents {
		if _, err := Prepare("/", ev); !errors.Is(err, ErrReservedEvent) {
			t.Errorf("Prepare(%q) error = %v, want ErrReservedEvent", ev, err)
		}
	}
}

// decodeArgs decodes a text packet and its attachments and returns the
// event's arguments (without the name).
func decodeArgs(t testing.TB, text string, bins ...string) Args {
	t.Helper()
	var d decoder
	p, err := d.feed([]byte(text), false)
	for _, b := range bins {
		if err != nil {
			break
		}
		p, err = d.feed([]byte(b), true)
	}
	if err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	if p == nil {
		t.Fatalf("decode %q: packet incomplete", text)
	}
	return Args{raw: p.args[1:], bins: p.attachments}
}

func TestArgsReEmitExactlyWhatArrived(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		inBins  []string
		reorder func(Args) []any
		want    encoded
	}{
		{"plain-text arguments (suite)", `2["message",1,"2",{"3":[true]}]`, nil,
			func(a Args) []any { return a.Values() },
			encoded{text: `2["message-back",1,"2",{"3":[true]}]`}},
		{"binary attachments (suite)", `52-["message",` + ph(0) + `,` + ph(1) + `]`, []string{"\x01\x02\x03", "\x04\x05\x06"},
			func(a Args) []any { return a.Values() },
			encoded{text: `52-["message-back",` + ph(0) + `,` + ph(1) + `]`, bins: []string{"\x01\x02\x03", "\x04\x05\x06"}}},
		{"the Args value itself", `52-["message",` + ph(0) + `,"x",` + ph(1) + `]`, []string{"\x01", "\x02"},
			func(a Args) []any { return []any{a} },
			encoded{text: `52-["message-back",` + ph(0) + `,"x",` + ph(1) + `]`, bins: []string{"\x01", "\x02"}}},
		{"reordered binary is renumbered", `52-["message",` + ph(0) + `,` + ph(1) + `]`, []string{"\x01", "\x02"},
			func(a Args) []any { v := a.Values(); return []any{v[1], v[0]} },
			encoded{text: `52-["message-back",` + ph(0) + `,` + ph(1) + `]`, bins: []string{"\x02", "\x01"}}},
		{"nested binary alone is renumbered", `52-["message",` + ph(0) + `,{"f":[` + ph(1) + `]}]`, []string{"\x01", "\x02"},
			func(a Args) []any { return []any{a.Values()[1]} },
			encoded{text: `51-["message-back",{"f":[` + ph(0) + `]}]`, bins: []string{"\x02"}}},
		{"big numbers and key order kept", `2["message",123456789012345678901234567890,{"b":1,"a":2.50}]`, nil,
			func(a Args) []any { return a.Values() },
			encoded{text: `2["message-back",123456789012345678901234567890,{"b":1,"a":2.50}]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := decodeArgs(t, tt.in, tt.inBins...)
			got := encodeEvent(t, "/", "message-back", noAckID, tt.reorder(args)...)
			if got.text != tt.want.text || strings.Join(got.bins, "|") != strings.Join(tt.want.bins, "|") {
				t.Errorf("got  %q %q\nwant %q %q", got.text, got.bins, tt.want.text, tt.want.bins)
			}
		})
	}
}

func TestArgsAccessors(t *testing.T) {
	a := decodeArgs(t, `52-["e","hi","esc\u00e9\n",7,`+ph(1)+`,{"k":`+ph(0)+`},null]`, "\x0a", "\x0b")
	if a.Len() != 6 {
		t.Fatalf("Len = %d, want 6", a.Len())
	}
	strs := []struct {
		i    int
		want string
		ok   bool
	}{{0, "hi", true}, {1, "esc\u00e9\n", true}, {2, "", false}, {3, "", false}, {5, "", false}, {6, "", false}, {-1, "", false}}
	for _, s := range strs {
		if got, ok := a.String(s.i); got != s.want || ok != s.ok {
			t.Errorf("String(%d) = %q, %v; want %q, %v", s.i, got, ok, s.want, s.ok)
		}
	}
	if b, ok := a.Bytes(3); !ok || !bytes.Equal(b, []byte{0x0b}) {
		t.Errorf("Bytes(3) = %v, %v; want [0b], true", b, ok)
	}
	if _, ok := a.Bytes(4); ok {
		t.Error("Bytes(4) on an object holding binary reported a binary value")
	}
	if _, ok := a.Bytes(0); ok {
		t.Error("Bytes(0) on a string reported a binary value")
	}
	if got := string(a.Raw(2)); got != "7" {
		t.Errorf("Raw(2) = %q", got)
	}
	if a.Raw(6) != nil {
		t.Error("Raw(6) out of range is not nil")
	}
	var n int
	if err := a.Decode(2, &n); err != nil || n != 7 {
		t.Errorf("Decode(2) = %d, %v", n, err)
	}
	if err := a.Decode(9, &n); err == nil {
		t.Error("Decode(9) out of range succeeded")
	}
	vs := a.Values()
	if _, ok := vs[0].(json.RawMessage); !ok {
		t.Errorf("Values()[0] is %T, want json.RawMessage", vs[0])
	}
	if _, ok := vs[3].([]byte); !ok {
		t.Errorf("Values()[3] is %T, want []byte", vs[3])
	}
	if bj, ok := vs[4].(*BinaryJSON); !ok || string(bj.JSON) != `{"k":`+ph(0)+`}` {
		t.Errorf("Values()[4] = %#v, want *BinaryJSON", vs[4])
	}
	if js, err := json.Marshal(a); err != nil || string(js) != `["hi","esc\u00e9\n",7,`+ph(1)+`,{"k":`+ph(0)+`},null]` {
		t.Errorf("json.Marshal(Args) = %s, %v", js, err)
	}
}
