package engineio

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []packet // nil with wantErr
		err  bool
	}{
		{name: "one text message", in: "4hello", want: []packet{{typ: '4', data: []byte("hello")}}},
		{name: "empty message", in: "4", want: []packet{{typ: '4', data: []byte{}}}},
		{name: "several packets", in: "4test1\x1e4test2\x1e3", want: []packet{
			{typ: '4', data: []byte("test1")}, {typ: '4', data: []byte("test2")}, {typ: '3', data: []byte{}},
		}},
		{name: "text then binary", in: "4hello\x1ebAQIDBA==", want: []packet{
			{typ: '4', data: []byte("hello")}, {typ: '4', data: []byte{1, 2, 3, 4}, binary: true},
		}},
		{name: "empty binary", in: "b", want: []packet{{typ: '4', data: []byte{}, binary: true}}},
		{name: "close", in: "1", want: []packet{{typ: '1', data: []byte{}}}},
		{name: "utf-8 text is kept as bytes", in: "4héllo ☃", want: []packet{{typ: '4', data: []byte("héllo ☃")}}},
		{name: "empty body", in: "", err: true},
		{name: "unknown type", in: "abc", err: true},
		{name: "type 7", in: "7", err: true},
		{name: "empty packet between separators", in: "4a\x1e\x1e4b", err: true},
		{name: "trailing separator", in: "4a\x1e", err: true},
		{name: "leading separator", in: "\x1e4a", err: true},
		{name: "invalid base64", in: "b!!!!", err: true},
		{name: "base64 without padding", in: "bAQIDBA", err: true},
		{name: "base64 with newline", in: "bAQID\nBA==", err: true},
		{name: "one bad packet spoils the payload", in: "4ok\x1ex", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePayload([]byte(tt.in))
			if tt.err {
				if err == nil {
					t.Fatalf("decodePayload(%q) = %v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePayload(%q): %v", tt.in, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("decodePayload(%q) = %d packets, want %d", tt.in, len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.typ != w.typ || g.binary != w.binary || !bytes.Equal(g.data, w.data) {
					t.Errorf("packet %d = {%c %q binary=%v}, want {%c %q binary=%v}", i, g.typ, g.data, g.binary, w.typ, w.data, w.binary)
				}
			}
		})
	}
}

func TestDecodePacket(t *testing.T) {
	for _, in := range []string{"0", "1", "2probe", "3", "4x", "5", "6"} {
		if p, err := decodePacket([]byte(in)); err != nil || p.typ != in[0] || string(p.data) != in[1:] {
			t.Errorf("decodePacket(%q) = %+v, %v", in, p, err)
		}
	}
	for _, in := range []string{"", "b", "bAQ==", "7", "abc", "\x1e"} {
		if _, err := decodePacket([]byte(in)); err == nil {
			t.Errorf("decodePacket(%q) succeeded, want error (binary only exists in polling payloads)", in)
		}
	}
}

func TestMessageEncodings(t *testing.T) {
	tests := []struct {
		name     string
		msg      *Message
		polling  string
		wsType   int
		wsBytes  string
		wantData string
	}{
		{"text", NewMessage([]byte("hello"), false), "4hello", websocket.TextMessage, "4hello", "hello"},
		{"binary is raw on WebSocket and base64 on polling", NewMessage([]byte{1, 2, 3, 4}, true), "bAQIDBA==", websocket.BinaryMessage, "\x01\x02\x03\x04", "\x01\x02\x03\x04"},
		{"empty text", NewMessage(nil, false), "4", websocket.TextMessage, "4", ""},
		{"text of 125 bytes: the longest one-byte length", NewMessage([]byte(strings.Repeat("a", 124)), false), "4" + strings.Repeat("a", 124), websocket.TextMessage, "4" + strings.Repeat("a", 124), strings.Repeat("a", 124)},
		{"text of 126 bytes: two-byte length", NewMessage([]byte(strings.Repeat("b", 125)), false), "4" + strings.Repeat("b", 125), websocket.TextMessage, "4" + strings.Repeat("b", 125), strings.Repeat("b", 125)},
		{"text of 65535 bytes: the longest two-byte length", NewMessage([]byte(strings.Repeat("c", 65534)), false), "4" + strings.Repeat("c", 65534), websocket.TextMessage, "4" + strings.Repeat("c", 65534), strings.Repeat("c", 65534)},
		{"binary of 65536 bytes: eight-byte length", NewMessage(bytes.Repeat([]byte{7}, 65536), true), "b" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 65536)), websocket.BinaryMessage, string(bytes.Repeat([]byte{7}, 65536)), string(bytes.Repeat([]byte{7}, 65536))},
		{"ping", pingMessage, "2", websocket.TextMessage, "2", ""},
		{"noop", noopMessage, "6", websocket.TextMessage, "6", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.msg.pollingBytes()); got != tt.polling {
				t.Errorf("polling encoding %q, want %q", got, tt.polling)
			}
			if string(tt.msg.Data()) != tt.wantData {
				t.Errorf("Data() = %q, want %q", tt.msg.Data(), tt.wantData)
			}
			frame := tt.msg.wsFrame()
			if frame2 := tt.msg.wsFrame(); &frame[0] != &frame2[0] {
				t.Error("WebSocket frame built twice")
			}
			// Write it through a real connection pair to see the frame.
			typ, data := roundTripFrame(t, frame)
			if typ != tt.wsType || string(data) != tt.wsBytes {
				t.Errorf("WebSocket frame (type %d) %q, want (type %d) %q", typ, data, tt.wsType, tt.wsBytes)
			}
		})
	}
}

// TestRawFrameMessageIsANoopOnPolling: a message made of a raw control
// frame is that frame on a WebSocket, and reads as a noop should it ever
// reach a polling payload.
func TestRawFrameMessageIsANoopOnPolling(t *testing.T) {
	pong := appendFrame(nil, opPong, []byte("hi"))
	m := rawFrameMessage(pong)
	if got := m.wsFrame(); !bytes.Equal(got, pong) {
		t.Errorf("WebSocket frame %q, want %q", got, pong)
	}
	if got := string(m.pollingBytes()); got != "6" {
		t.Errorf("polling encoding %q, want %q", got, "6")
	}
}

// encodePayload returns msgs as a held GET writes them (writePayload),
// and checks the Content-Length it announces.
func encodePayload(t testing.TB, msgs []*Message) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	s := &Session{srv: &Server{}}
	if err := s.writePayload(w, msgs, nil); err != nil {
		t.Fatalf("writePayload: %v", err)
	}
	if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
		t.Fatalf("Content-Length %s, wrote %s bytes", got, want)
	}
	return w.Body.Bytes()
}

func TestPayloadRoundTrip(t *testing.T) {
	msgs := []*Message{NewMessage([]byte("a"), false), NewMessage([]byte{0, 255}, true), pingMessage}
	b := encodePayload(t, msgs)
	if string(b) != "4a\x1ebAP8=\x1e2" {
		t.Fatalf("payload %q", b)
	}
	got, err := decodePayload(b)
	if err != nil || len(got) != 3 || string(got[1].data) != "\x00\xff" || !got[1].binary {
		t.Fatalf("decodePayload of the payload = %+v, %v", got, err)
	}
}

// FuzzDecodePayload checks that any body decodes without panicking, that
// the number of packets is bounded by the body's size, and that a
// successfully decoded payload re-encodes to exactly the same bytes.
func FuzzDecodePayload(f *testing.F) {
	for _, seed := range []string{"4hello", "4a\x1e4b\x1e3", "4hello\x1ebAQIDBA==", "b", "1", "2probe", "abc", "\x1e", "b===="} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := decodePayload(body)
		if err != nil {
			return
		}
		if len(packets) > len(body)/2+1 {
			t.Fatalf("%d packets from %d bytes", len(packets), len(body))
		}
		msgs := make([]*Message, len(packets))
		for i, p := range packets {
			if p.binary {
				msgs[i] = NewMessage(p.data, true)
			} else {
				msgs[i] = controlMessage(p.typ, string(p.data))
			}
		}
		if again := encodePayload(t, msgs); !bytes.Equal(again, body) {
			t.Fatalf("re-encoded %q as %q", body, again)
		}
	})
}

func BenchmarkDecodePayload(b *testing.B) {
	body := bytes.Repeat([]byte("42[\"messages\",\"hello there\"]\x1ebAQIDBA==\x1e"), 100)
	body = append(body, '3')
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodePayload(body); err != nil {
			b.Fatal(err)
		}
	}
}

// roundTripFrame sends frame from a real server-side connection and
// returns what a client reads.
func roundTripFrame(t *testing.T, frame []byte) (int, []byte) {
	t.Helper()
	upgrader := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.NetConn().Write(frame)
		_, _, _ = conn.ReadMessage() // until the client closes
	}))
	defer ts.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	return readFrame(t, conn)
}
