package engineio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// clientFrame builds one masked client-to-server frame. rsv sets the
// reserved bits; length, when not negative, overrides the encoded payload
// length (to write malformed headers); unmasked drops the mask.
type clientFrame struct {
	fin      bool
	op       byte
	payload  []byte
	rsv      byte
	unmasked bool
	length   int // -1: len(payload)
	long16   bool
	long64   bool
}

func (f clientFrame) bytes() []byte {
	b0 := f.op | f.rsv<<4
	if f.fin {
		b0 |= 0x80
	}
	n := len(f.payload)
	if f.length >= 0 {
		n = f.length
	}
	var maskBit byte = 0x80
	if f.unmasked {
		maskBit = 0
	}
	b := []byte{b0}
	switch {
	case f.long64 || n > 0xffff:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case f.long16 || n >= 126:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|byte(n))
	}
	if f.unmasked {
		return append(b, f.payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	for i, c := range f.payload {
		b = append(b, c^key[i&3])
	}
	return b
}

func text(s string) clientFrame {
	return clientFrame{fin: true, op: opText, payload: []byte(s), length: -1}
}
func frag(op byte, s string, fin bool) clientFrame {
	return clientFrame{fin: fin, op: op, payload: []byte(s), length: -1}
}
func ctl(op byte, p []byte) clientFrame {
	return clientFrame{fin: true, op: op, payload: p, length: -1}
}

func joinFrames(fs ...clientFrame) []byte {
	var b []byte
	for _, f := range fs {
		b = append(b, f.bytes()...)
	}
	return b
}

// sinkLog records what a frameReader delivers, as "op:payload" strings.
type sinkLog struct{ got []string }

func (s *sinkLog) onFrame(op byte, data []byte) error {
	s.got = append(s.got, fmt.Sprintf("%d:%s", op, data))
	return nil
}

// decodeAll feeds input to a fresh reader in chunks of size chunk (0:
// all at once) and returns what it delivered and its error.
func decodeAll(input []byte, maxPayload, chunk int) ([]string, error) {
	r := frameReader{maxPayload: maxPayload}
	var log sinkLog
	in := bytes.Clone(input) // feed unmasks in place
	if chunk <= 0 {
		chunk = len(in) + 1
	}
	for len(in) > 0 {
		n := min(chunk, len(in))
		if err := r.feed(in[:n], &log); err != nil {
			return log.got, err
		}
		in = in[n:]
	}
	return log.got, nil
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

func TestFrameReaderDecodes(t *testing.T) {
	long := strings.Repeat("a", 300)
	huge := strings.Repeat("b", 70000)
	tests := []struct {
		name  string
		input []byte
		want  []string
	}{
		{"text", joinFrames(text("4hello")), []string{"1:4hello"}},
		{"empty text", joinFrames(text("")), []string{"1:"}},
		{"binary", joinFrames(clientFrame{fin: true, op: opBinary, payload: []byte{1, 2}, length: -1}), []string{"2:\x01\x02"}},
		{"16-bit length", joinFrames(text(long)), []string{"1:" + long}},
		{"64-bit length", joinFrames(text(huge)), []string{"1:" + huge}},
		{"two frames", joinFrames(text("4a"), text("4b")), []string{"1:4a", "1:4b"}},
		{"fragments", joinFrames(frag(opText, "4he", false), frag(opContinuation, "ll", false), frag(opContinuation, "o", true)),
			[]string{"1:4hello"}},
		{"control frames between fragments come first", joinFrames(frag(opText, "4a", false), ctl(opPing, []byte("p")), ctl(opPong, nil), frag(opContinuation, "b", true)),
			[]string{"9:p", "10:", "1:4ab"}},
		{"UTF-8 split across fragments", joinFrames(frag(opText, "4\xc3", false), frag(opContinuation, "\xa9", true)), []string{"1:4é"}},
		{"empty first fragment", joinFrames(frag(opBinary, "", false), frag(opContinuation, "xy", true)), []string{"2:xy"}},
		{"close without payload", joinFrames(ctl(opClose, nil)), []string{"8:"}},
		{"close with code and reason", joinFrames(ctl(opClose, closePayload(1001, "bye"))), []string{"8:" + string(closePayload(1001, "bye"))}},
		{"message at the limit", joinFrames(text(strings.Repeat("x", 1000))), []string{"1:" + strings.Repeat("x", 1000)}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 3, 7, 100} {
			t.Run(fmt.Sprintf("%s/chunks of %d", tt.name, chunk), func(t *testing.T) {
				got, err := decodeAll(tt.input, 100000, chunk)
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("delivered %.80q, want %.80q", got, tt.want)
				}
			})
		}
	}
}

func TestFrameReaderRefuses(t *testing.T) {
	tests := []struct {
		name     string
		input    []byte
		wantCode int
	}{
		{"unmasked frame", joinFrames(clientFrame{fin: true, op: opText, payload: []byte("4a"), length: -1, unmasked: true}), closeProtocolError},
		{"reserved bit (compression never negotiated)", joinFrames(clientFrame{fin: true, op: opText, payload: []byte("4a"), length: -1, rsv: 4}), closeProtocolError},
		{"unknown data opcode", joinFrames(clientFrame{fin: true, op: 3, length: -1}), closeProtocolError},
		{"unknown control opcode", joinFrames(clientFrame{fin: true, op: 0xB, length: -1}), closeProtocolError},
		{"fragmented ping", joinFrames(clientFrame{fin: false, op: opPing, length: -1}), closeProtocolError},
		{"control frame over 125 bytes", joinFrames(ctl(opPing, bytes.Repeat([]byte("p"), 126))), closeProtocolError},
		{"continuation without a message", joinFrames(frag(opContinuation, "x", true)), closeProtocolError},
		{"new message inside a fragmented one", joinFrames(frag(opText, "4a", false), text("4b")), closeProtocolError},
		{"16-bit length for a short payload", joinFrames(clientFrame{fin: true, op: opText, payload: []byte("4a"), length: -1, long16: true}), closeProtocolError},
		{"64-bit length for a short payload", joinFrames(clientFrame{fin: true, op: opText, payload: []byte("4a"), length: -1, long64: true}), closeProtocolError},
		{"64-bit length with the top bit set", append([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, 1, 2, 3, 4), closeProtocolError},
		{"message over the limit", joinFrames(text(strings.Repeat("x", 1001))), closeTooBig},
		{"fragments over the limit together", joinFrames(frag(opText, strings.Repeat("x", 600), false), frag(opContinuation, strings.Repeat("x", 401), true)), closeTooBig},
		{"invalid UTF-8 text", joinFrames(text("4\xff")), closeInvalidData},
		{"close payload of one byte", joinFrames(ctl(opClose, []byte{3})), closeProtocolError},
		{"close code 1005 (reserved)", joinFrames(ctl(opClose, closePayload(1005, ""))), closeProtocolError},
		{"close code 999", joinFrames(ctl(opClose, closePayload(999, ""))), closeProtocolError},
		{"close reason not UTF-8", joinFrames(ctl(opClose, closePayload(1000, "\xff"))), closeInvalidData},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 5} {
			t.Run(fmt.Sprintf("%s/chunks of %d", tt.name, chunk), func(t *testing.T) {
				got, err := decodeAll(tt.input, 1000, chunk)
				var fe *frameError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v (delivered %q), want a frame error", err, got)
				}
				if fe.code != tt.wantCode {
					t.Errorf("close code %d (%v), want %d", fe.code, err, tt.wantCode)
				}
				if len(got) != 0 {
					t.Errorf("delivered %q before refusing", got)
				}
			})
		}
	}
}

func TestFrameReaderRefusesOversizeBeforeReadingIt(t *testing.T) {
	// Only the header of a frame announcing 1 GB is sent: the refusal
	// must come from the header alone, with nothing buffered.
	hdr := joinFrames(clientFrame{fin: true, op: opBinary, length: 1 << 30})
	r := frameReader{maxPayload: 1000}
	err := r.feed(hdr, &sinkLog{})
	var fe *frameError
	if !errors.As(err, &fe) || fe.code != closeTooBig {
		t.Fatalf("error %v, want close code %d", err, closeTooBig)
	}
}

func TestFrameReaderHoldsNothingBetweenFrames(t *testing.T) {
	r := frameReader{maxPayload: 100000}
	in := joinFrames(text(strings.Repeat("z", 5000)))
	if err := r.feed(in[:3000], &sinkLog{}); err != nil {
		t.Fatal(err)
	}
	if r.msg == nil {
		t.Fatal("a half-read message is not kept")
	}
	if err := r.feed(in[3000:], &sinkLog{}); err != nil {
		t.Fatal(err)
	}
	if r.msg != nil || r.ctl != nil || r.inPayload || r.hdrLen != 0 {
		t.Errorf("reader keeps state after a whole frame: %+v", r)
	}
}

func TestFrameReaderStopsWhenTheSinkSaysSo(t *testing.T) {
	r := frameReader{maxPayload: 1000}
	stop := errors.New("stop")
	var n int
	err := r.feed(joinFrames(text("4a"), text("4b")), sinkFunc(func(byte, []byte) error {
		n++
		return stop
	}))
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("feed returned %v after %d frames, want the sink's error after 1", err, n)
	}
}

type sinkFunc func(op byte, data []byte) error

func (f sinkFunc) onFrame(op byte, data []byte) error { return f(op, data) }

// FuzzFrameReader checks that any input decodes the same whatever the
// chunks it arrives in, and never panics.
func FuzzFrameReader(f *testing.F) {
	f.Add(joinFrames(text("4hello"), ctl(opPing, []byte("x"))), uint8(1))
	f.Add(joinFrames(frag(opText, "4a", false), frag(opContinuation, "b", true)), uint8(3))
	f.Add(joinFrames(text(strings.Repeat("q", 300))), uint8(7))
	f.Add(joinFrames(ctl(opClose, closePayload(1000, "bye"))), uint8(2))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, uint8(1))
	f.Fuzz(func(t *testing.T, input []byte, chunk uint8) {
		whole, errWhole := decodeAll(input, 512, 0)
		split, errSplit := decodeAll(input, 512, int(chunk)+1)
		if strings.Join(whole, "|") != strings.Join(split, "|") {
			t.Fatalf("whole delivered %q, in chunks of %d %q", whole, int(chunk)+1, split)
		}
		if (errWhole == nil) != (errSplit == nil) || (errWhole != nil && errWhole.Error() != errSplit.Error()) {
			t.Fatalf("whole: %v, in chunks of %d: %v", errWhole, int(chunk)+1, errSplit)
		}
	})
}
