package engineio

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
)

// Engine.IO v4 packet types: one ASCII digit at the start of a text packet.
const (
	typeOpen    byte = '0'
	typeClose   byte = '1'
	typePing    byte = '2'
	typePong    byte = '3'
	typeMessage byte = '4'
	typeUpgrade byte = '5'
	typeNoop    byte = '6'

	// binaryPrefix replaces the type digit of a binary message in a
	// polling payload: "b" + base64(bytes).
	binaryPrefix byte = 'b'
	// recordSeparator joins the packets of a polling payload.
	recordSeparator byte = 0x1e
)

// probeData is the data of the ping/pong pair that tests a WebSocket
// during an upgrade ("2probe" / "3probe").
const probeData = "probe"

// errParse reports a packet or payload that is not valid Engine.IO v4.
var errParse = errors.New("engineio: invalid packet")

// packet is one decoded incoming packet. data aliases the buffer it was
// decoded from (or a fresh base64 decoding for binary packets).
type packet struct {
	typ    byte
	data   []byte
	binary bool
}

// Message is one outgoing message packet. It is immutable once created and
// may be sent to any number of sessions, concurrently; its transport
// encodings (the WebSocket frame, the polling text) are computed once, on
// first use, and shared by every session it is sent to.
type Message struct {
	typ    byte // typeMessage for NewMessage; control packets are internal
	data   []byte
	binary bool

	pollOnce sync.Once
	poll     []byte // polling encoding: typ+data, or "b"+base64(data)

	frameOnce sync.Once
	frame     []byte // the complete server-to-client WebSocket frame

	v3Once sync.Once
	v3     *encodings3 // the protocol 3 encodings, once one is needed
}

// NewMessage returns a message packet carrying data. The caller hands data
// over: it must not be modified afterwards. binary selects a binary frame
// (WebSocket) or "b"+base64 (polling); otherwise data is sent as text and
// should be valid UTF-8.
func NewMessage(data []byte, binary bool) *Message {
	return &Message{typ: typeMessage, data: data, binary: binary}
}

// Data returns the message's payload. It must not be modified.
func (m *Message) Data() []byte { return m.data }

// Binary reports whether m is a binary message.
func (m *Message) Binary() bool { return m.binary }

// controlMessage returns a text packet of type typ, used for the
// server-originated control packets (ping, noop, close).
func controlMessage(typ byte, data string) *Message {
	return &Message{typ: typ, data: []byte(data)}
}

// rawFrameMessage returns a message that is exactly frame on a WebSocket:
// a control frame such as a pong, which must be ordered with the data
// frames. It never goes to a polling session (control frames arrive only
// on the session's WebSocket); if it did, it would read as a noop.
func rawFrameMessage(frame []byte) *Message {
	m := &Message{typ: typeNoop}
	m.frameOnce.Do(func() { m.frame = frame })
	m.pollOnce.Do(func() { m.poll = noopPolling })
	return m
}

// noopPolling is a noop's polling encoding.
var noopPolling = []byte{typeNoop}

// Shared control packets: their encodings are computed once per process.
var (
	pingMessage  = controlMessage(typePing, "")
	noopMessage  = controlMessage(typeNoop, "")
	closeMessage = controlMessage(typeClose, "")
)

// pollingBytes returns m encoded for a polling payload. The result is
// shared and must not be modified. A text message's is the payload of its
// WebSocket frame (typ+data), so that the two transports share one copy.
func (m *Message) pollingBytes() []byte {
	m.pollOnce.Do(func() {
		if m.binary {
			b := make([]byte, 1+base64.StdEncoding.EncodedLen(len(m.data)))
			b[0] = binaryPrefix
			base64.StdEncoding.Encode(b[1:], m.data)
			m.poll = b
			return
		}
		frame := m.wsFrame()
		m.poll = frame[len(frame)-1-len(m.data):]
	})
	return m.poll
}

// wsFrame returns m as one complete, unfragmented, uncompressed
// server-to-client WebSocket frame (RFC 6455 section 5.2: FIN, opcode,
// unmasked length, payload), built once and shared by every session: a
// text frame holding typ+data, or a binary frame holding only the raw
// bytes (a binary message has no type digit). The upgrader does not negotiate compression, so
// this is exactly what gorilla would write. The result must not be
// modified.
func (m *Message) wsFrame() []byte {
	m.frameOnce.Do(func() {
		if m.binary {
			m.frame = appendFrame(make([]byte, 0, maxFrameHeader+len(m.data)), opBinary, m.data)
			return
		}
		n := 1 + len(m.data)
		b := appendFrameHeader(make([]byte, 0, maxFrameHeader+n), opText, n)
		b = append(b, m.typ)
		m.frame = append(b, m.data...)
	})
	return m.frame
}

// maxFrameHeader is the longest server frame header: two bytes and an
// eight-byte extended length (a server's frames carry no mask).
const maxFrameHeader = 10

// appendFrame appends one final, unmasked frame of the given opcode.
func appendFrame(b []byte, opcode byte, payload []byte) []byte {
	return append(appendFrameHeader(b, opcode, len(payload)), payload...)
}

// appendFrameHeader appends the header of a server frame of opcode with
// an n-byte payload to b.
func appendFrameHeader(b []byte, opcode byte, n int) []byte {
	const fin = 0x80
	b = append(b, fin|opcode)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// decodePacket decodes one text packet (a WebSocket text frame, or one
// element of a polling payload without the binary form). The returned
// packet's data aliases b.
func decodePacket(b []byte) (packet, error) {
	if len(b) == 0 || b[0] < typeOpen || b[0] > typeNoop {
		return packet{}, errParse
	}
	return packet{typ: b[0], data: b[1:]}, nil
}

// decodePayload decodes a polling POST body: packets joined by 0x1E, each
// a text packet or "b"+base64 for a binary message. The
// whole payload is rejected if any packet is invalid, so nothing of an
// invalid payload is delivered. Text packet data aliases body.
//
// Allocation is bounded by len(body): at most len(body)/2+1 packets (each
// needs a type byte and all but the last a separator), and base64 decodes
// to less than its input.
func decodePayload(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, errParse
	}
	n := bytes.Count(body, []byte{recordSeparator}) + 1
	packets := make([]packet, 0, n)
	for range n {
		var elem []byte
		if i := bytes.IndexByte(body, recordSeparator); i >= 0 {
			elem, body = body[:i], body[i+1:]
		} else {
			elem, body = body, nil
		}
		p, err := decodePayloadElem(elem)
		if err != nil {
			return nil, err
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// decodePayloadElem decodes one element of a polling payload.
func decodePayloadElem(elem []byte) (packet, error) {
	if len(elem) == 0 || elem[0] != binaryPrefix {
		return decodePacket(elem)
	}
	data, err := decodeBase64(elem[1:])
	if err != nil {
		return packet{}, err
	}
	return packet{typ: typeMessage, data: data, binary: true}, nil
}

// decodeBase64 decodes the base64 of a binary packet: standard, padded,
// nothing else. Go's base64 decoder skips CR and LF; Engine.IO base64 has
// none, so they are refused to keep one encoding per payload.
func decodeBase64(enc []byte) ([]byte, error) {
	if bytes.ContainsAny(enc, "\r\n") {
		return nil, errParse
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Strict().Decode(data, enc)
	if err != nil {
		return nil, errParse
	}
	return data[:n], nil
}

// payloadLen returns the length of msgs encoded as a polling payload.
func payloadLen(msgs []*Message) int {
	n := 0
	for i, m := range msgs {
		if i > 0 {
			n++
		}
		n += len(m.pollingBytes())
	}
	return n
}
