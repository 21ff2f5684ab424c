package engineio

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"4hello", 6},
		{"4€", 2},           // three bytes, one code unit
		{"4héllo ☃", 8},     // two- and three-byte characters count one
		{"4😀", 3},           // an emoji outside the BMP counts two
		{"4a😀b👍🏽", 9},       // two emoji and a skin-tone modifier: 2+2+2
		{"\xff\xfe", 2},     // invalid bytes count one each, as U+FFFD
		{"4\xe2\x82", 3},    // a truncated character: one per byte
		{"\U0010ffff", 2},   // the last code point
		{"\uffff", 1},       // the last BMP code point
		{"\u0800\u07ff", 2}, // boundaries of the UTF-8 lengths
	}
	for _, tt := range tests {
		if got := utf16Len([]byte(tt.in)); got != tt.want {
			t.Errorf("utf16Len(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDecodePayload3(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []packet // nil with err
		err  bool
	}{
		{name: "one text message", in: "6:4hello", want: []packet{{typ: '4', data: []byte("hello")}}},
		{name: "several packets, no separator", in: "6:4test16:4test21:2", want: []packet{
			{typ: '4', data: []byte("test1")}, {typ: '4', data: []byte("test2")}, {typ: '2', data: []byte{}},
		}},
		{name: "text then base64 binary", in: "6:4hello10:b4AQIDBA==", want: []packet{
			{typ: '4', data: []byte("hello")}, {typ: '4', data: []byte{1, 2, 3, 4}, binary: true},
		}},
		{name: "empty binary", in: "2:b4", want: []packet{{typ: '4', data: []byte{}, binary: true}}},
		{name: "length in characters, not bytes", in: "2:4€", want: []packet{{typ: '4', data: []byte("€")}}},
		{name: "an emoji counts two", in: "5:4a😀b", want: []packet{{typ: '4', data: []byte("a😀b")}}},
		{name: "emoji then a packet", in: "3:4😀1:3", want: []packet{{typ: '4', data: []byte("😀")}, {typ: '3', data: []byte{}}}},
		{name: "the empty payload", in: "0:", want: nil},
		{name: "an empty element is skipped", in: "0:1:2", want: []packet{{typ: '2', data: []byte{}}}},
		{name: "leading zeros", in: "01:2", want: []packet{{typ: '2', data: []byte{}}}},
		{name: "ping probe", in: "6:2probe", want: []packet{{typ: '2', data: []byte("probe")}}},
		{name: "empty body", in: "", err: true},
		{name: "no length", in: ":4a", err: true},
		{name: "no colon", in: "12", err: true},
		{name: "length not digits", in: "x:4", err: true},
		{name: "negative length", in: "-1:4", err: true},
		{name: "length too long", in: "2:4", err: true},
		{name: "length too short leaves garbage", in: "1:4a", err: true},
		{name: "bytes counted instead of characters", in: "4:4€", err: true},
		{name: "length ends inside an emoji", in: "2:4😀", err: true},
		{name: "invalid UTF-8", in: "2:4\xff", err: true},
		{name: "v4 payload", in: "4hello\x1e4world", err: true},
		{name: "unknown type", in: "1:7", err: true},
		{name: "base64 of a non-message type", in: "6:b2AQID", err: true},
		{name: "b alone", in: "1:b", err: true},
		{name: "invalid base64", in: "5:b4!!!", err: true},
		{name: "base64 without padding", in: "8:b4AQIDBA", err: true},
		{name: "ten-digit length", in: "1234567890:4", err: true},
		{name: "one bad packet spoils the payload", in: "3:4ok1:x", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePayload3([]byte(tt.in))
			checkPackets(t, "decodePayload3", tt.in, got, err, tt.want, tt.err)
		})
	}
}

// checkPackets compares a decoder's result with the wanted packets, or
// wants an error.
func checkPackets(t *testing.T, fn, in string, got []packet, err error, want []packet, wantErr bool) {
	t.Helper()
	if wantErr {
		if err == nil {
			t.Fatalf("%s(%q) = %v, want error", fn, in, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s(%q): %v", fn, in, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s(%q) = %d packets, want %d", fn, in, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.typ != w.typ || g.binary != w.binary || !bytes.Equal(g.data, w.data) {
			t.Errorf("packet %d = {%c %q binary=%v}, want {%c %q binary=%v}", i, g.typ, g.data, g.binary, w.typ, w.data, w.binary)
		}
	}
}

func TestDecodeBinaryPayload3(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []packet
		err  bool
	}{
		{name: "text then binary, as the protocol describes it",
			in:   []byte{0, 4, 0xff, '4', 0xe2, 0x82, 0xac, 1, 5, 0xff, 4, 1, 2, 3, 4},
			want: []packet{{typ: '4', data: []byte("€")}, {typ: '4', data: []byte{1, 2, 3, 4}, binary: true}}},
		{name: "two-digit length", in: append([]byte{0, 1, 2, 0xff}, "4hello world"...),
			want: []packet{{typ: '4', data: []byte("hello world")}}},
		{name: "ping", in: []byte{0, 1, 0xff, '2'}, want: []packet{{typ: '2', data: []byte{}}}},
		{name: "empty binary message", in: []byte{1, 1, 0xff, 4}, want: []packet{{typ: '4', data: []byte{}, binary: true}}},
		{name: "base64 inside a text element", in: append([]byte{0, 1, 0, 0xff}, "b4AQIDBA=="...),
			want: []packet{{typ: '4', data: []byte{1, 2, 3, 4}, binary: true}}},
		{name: "empty body", in: nil, err: true},
		{name: "unknown kind", in: []byte{2, 1, 0xff, '2'}, err: true},
		{name: "no digits", in: []byte{0, 0xff, '2'}, err: true},
		{name: "digit over 9", in: []byte{0, 10, 0xff, '2'}, err: true},
		{name: "ASCII digits", in: []byte{0, '1', 0xff, '2'}, err: true},
		{name: "no end marker", in: []byte{0, 1}, err: true},
		{name: "cut short", in: []byte{0, 5, 0xff, '4', 'a'}, err: true},
		{name: "empty text element", in: []byte{0, 0, 0xff}, err: true},
		{name: "text not UTF-8", in: []byte{0, 2, 0xff, '4', 0xff}, err: true},
		{name: "binary of another type", in: []byte{1, 2, 0xff, 2, 1}, err: true},
		{name: "empty binary element", in: []byte{1, 0, 0xff}, err: true},
		{name: "eleven digits", in: []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBinaryPayload3(tt.in)
			checkPackets(t, "decodeBinaryPayload3", string(tt.in), got, err, tt.want, tt.err)
		})
	}
}

func TestMessageEncodings3(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name    string
		msg     *Message
		elem    string // text payload element
		binElem []byte // XHR2 binary payload element
	}{
		{"text", NewMessage([]byte("hello"), false), "6:4hello", append([]byte{0, 6, 0xff}, "4hello"...)},
		{"non-ASCII: characters in text, bytes in binary", NewMessage([]byte("€"), false), "2:4€", append([]byte{0, 4, 0xff}, "4€"...)},
		{"emoji: two code units", NewMessage([]byte("😀"), false), "3:4😀", append([]byte{0, 5, 0xff}, "4😀"...)},
		{"binary", NewMessage([]byte{1, 2, 3, 4}, true), "10:b4AQIDBA==", []byte{1, 5, 0xff, 4, 1, 2, 3, 4}},
		{"empty binary", NewMessage(nil, true), "2:b4", []byte{1, 1, 0xff, 4}},
		{"three-digit length", NewMessage([]byte(long), false), "301:4" + long, append([]byte{0, 3, 0, 1, 0xff, '4'}, long...)},
		{"pong", pongMessage, "1:3", []byte{0, 1, 0xff, '3'}},
		{"noop", noopMessage, "1:6", []byte{0, 1, 0xff, '6'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.msg.payloadElem3()); got != tt.elem {
				t.Errorf("text payload element %q, want %q", got, tt.elem)
			}
			if got := tt.msg.binaryElem3(); !bytes.Equal(got, tt.binElem) {
				t.Errorf("binary payload element %v, want %v", got, tt.binElem)
			}
			if a, b := tt.msg.payloadElem3(), tt.msg.payloadElem3(); &a[0] != &b[0] {
				t.Error("text payload element built twice")
			}
			// What the element decodes to is the message again.
			ps, err := decodePayload3([]byte(tt.elem))
			if err != nil || len(ps) != 1 || ps[0].binary != tt.msg.binary || !bytes.Equal(ps[0].data, tt.msg.data) {
				t.Errorf("decodePayload3(%q) = %+v, %v", tt.elem, ps, err)
			}
		})
	}
}

func TestWebSocketFrames3(t *testing.T) {
	tests := []struct {
		name    string
		msg     *Message
		b64     bool
		wsType  int
		wsBytes string
	}{
		{"text is as in protocol 4", NewMessage([]byte("4é"), false), false, websocket.TextMessage, "44é"},
		{"binary starts with its type byte", NewMessage([]byte{1, 2, 3}, true), false, websocket.BinaryMessage, "\x04\x01\x02\x03"},
		{"binary for a base64 client is text", NewMessage([]byte{1, 2, 3, 4}, true), true, websocket.TextMessage, "b4AQIDBA=="},
		{"text for a base64 client", NewMessage([]byte("hi"), false), true, websocket.TextMessage, "4hi"},
		{"pong", pongMessage, false, websocket.TextMessage, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tt.msg.wsFrame3(tt.b64)
			if again := tt.msg.wsFrame3(tt.b64); &frame[0] != &again[0] {
				t.Error("frame built twice")
			}
			typ, data := roundTripFrame(t, frame)
			if typ != tt.wsType || string(data) != tt.wsBytes {
				t.Errorf("frame (type %d) %q, want (type %d) %q", typ, data, tt.wsType, tt.wsBytes)
			}
		})
	}
}

// encodePayload3 returns msgs as a held GET of a protocol 3 session writes
// them (writePayload3), with its Content-Type, and checks the
// Content-Length it announces.
func encodePayload3(t testing.TB, msgs []*Message, b64 bool) ([]byte, string) {
	t.Helper()
	w := httptest.NewRecorder()
	s := &Session{srv: &Server{}, proto: protocol3, b64: b64}
	if err := s.writePayload3(w, msgs, nil); err != nil {
		t.Fatalf("writePayload3: %v", err)
	}
	if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
		t.Fatalf("Content-Length %s, wrote %s bytes", got, want)
	}
	return w.Body.Bytes(), w.Header().Get("Content-Type")
}

func TestWritePayload3(t *testing.T) {
	text, bin := NewMessage([]byte("hello"), false), NewMessage([]byte{1, 2, 3, 4}, true)
	tests := []struct {
		name        string
		msgs        []*Message
		b64         bool
		body        []byte
		contentType string
	}{
		{"text only", []*Message{text, pongMessage}, false, []byte("6:4hello1:3"), "text/plain; charset=UTF-8"},
		{"binary for a client with binary support: the whole payload in binary",
			[]*Message{text, bin}, false, []byte{0, 6, 0xff, '4', 'h', 'e', 'l', 'l', 'o', 1, 5, 0xff, 4, 1, 2, 3, 4}, "application/octet-stream"},
		{"binary for a base64 client", []*Message{text, bin}, true, []byte("6:4hello10:b4AQIDBA=="), "text/plain; charset=UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := encodePayload3(t, tt.msgs, tt.b64)
			if !bytes.Equal(body, tt.body) || ct != tt.contentType {
				t.Errorf("payload %q (%s), want %q (%s)", body, ct, tt.body, tt.contentType)
			}
			decode := decodePayload3
			if ct == "application/octet-stream" {
				decode = decodeBinaryPayload3
			}
			ps, err := decode(body)
			if err != nil || len(ps) != len(tt.msgs) {
				t.Fatalf("decoding the payload again: %d packets, %v", len(ps), err)
			}
		})
	}
}

// FuzzDecodePayload3 checks that any body decodes without panicking, that
// the number of packets is bounded by the body's size, and that a decoded
// payload, encoded again, decodes to the same packets (not necessarily the
// same bytes: empty elements and leading zeros are not written back).
func FuzzDecodePayload3(f *testing.F) {
	for _, seed := range []string{"6:4hello", "6:4test16:4test21:2", "6:4hello10:b4AQIDBA==", "0:", "2:4€", "3:4😀", "2:4😀", "1:b", "abc", "01:2", ":", "9999999999:"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := decodePayload3(body)
		if err != nil {
			return
		}
		if len(packets) > len(body)/3+1 {
			t.Fatalf("%d packets from %d bytes", len(packets), len(body))
		}
		checkReencodes(t, body, packets, false)
	})
}

// FuzzDecodeBinaryPayload3 is FuzzDecodePayload3 for XHR2 binary payloads.
func FuzzDecodeBinaryPayload3(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 4, 0xff, '4', 0xe2, 0x82, 0xac, 1, 5, 0xff, 4, 1, 2, 3, 4},
		{0, 1, 0xff, '2'}, {1, 1, 0xff, 4}, {0, 0xff}, {1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := decodeBinaryPayload3(body)
		if err != nil {
			return
		}
		if len(packets) > len(body)/4+1 {
			t.Fatalf("%d packets from %d bytes", len(packets), len(body))
		}
		checkReencodes(t, body, packets, true)
	})
}

// checkReencodes encodes packets as a protocol 3 payload, as text or as
// an XHR2 binary payload, and requires it to decode to the same packets.
func checkReencodes(t *testing.T, body []byte, packets []packet, binary bool) {
	t.Helper()
	var again []byte
	for _, p := range packets {
		m := controlMessage(p.typ, string(p.data))
		if p.binary {
			m = NewMessage(p.data, true)
		}
		if binary {
			again = append(again, m.binaryElem3()...)
		} else {
			again = append(again, m.payloadElem3()...)
		}
	}
	decode := decodePayload3
	if binary {
		decode = decodeBinaryPayload3
	}
	if len(packets) == 0 {
		return // "0:" and the like: nothing to write back
	}
	got, err := decode(again)
	if err != nil || len(got) != len(packets) {
		t.Fatalf("%q decoded to %d packets, re-encoded as %q: %d packets, %v", body, len(packets), again, len(got), err)
	}
	for i := range got {
		if got[i].typ != packets[i].typ || got[i].binary != packets[i].binary || !bytes.Equal(got[i].data, packets[i].data) {
			t.Fatalf("%q: packet %d re-decoded as %+v, want %+v", body, i, got[i], packets[i])
		}
	}
}
