package engineio

import (
	"encoding/base64"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Engine.IO protocol 3, the revision under Socket.IO v2 clients, differs
// from protocol 4 only in its encodings and its heartbeat (docs/PROTOCOL.md,
// "Engine.IO protocol 3 and Socket.IO v2"). This file holds its packet
// encodings: those of a Message for protocol 3 sessions are made once per
// Message, like the protocol 4 ones, and shared by every session.

// protocol is the Engine.IO protocol revision a session speaks: the EIO
// query parameter of its handshake.
type protocol uint8

const (
	protocol4 protocol = 4
	protocol3 protocol = 3
)

// Markers of the XHR2 binary payload (protocol 3 polling, for clients
// that support binary): each packet is one of these, its length as one
// byte per decimal digit, lengthEnd, then the packet's bytes.
const (
	binaryElemText   byte = 0
	binaryElemBinary byte = 1
	binaryElemEnd    byte = 0xff
	// binaryTypeMessage is the type of a binary message packet, as the
	// byte that begins it (protocol 3 puts the type before binary data).
	binaryTypeMessage byte = 4
)

// encodings3 are a Message's protocol 3 encodings, each made on first use.
type encodings3 struct {
	textOnce sync.Once
	text     []byte // the packet as text: typ+data, or "b4"+base64(data)

	elemOnce sync.Once
	elem     []byte // text payload element: "<length>:" + text

	binElemOnce sync.Once
	binElem     []byte // XHR2 binary payload element

	frameOnce sync.Once
	frame     []byte // WebSocket binary frame of a binary message: type byte + data

	b64FrameOnce sync.Once
	b64Frame     []byte // WebSocket text frame of a binary message for a base64 client
}

// enc3 returns m's protocol 3 encodings, allocated on first use so that a
// Message never sent to a protocol 3 session does not carry them.
func (m *Message) enc3() *encodings3 {
	m.v3Once.Do(func() { m.v3 = new(encodings3) })
	return m.v3
}

// text3 returns m as one protocol 3 text packet: the type digit and data
// of a text packet (as in protocol 4), or for a binary message "b4"
// followed by its bytes in base64. The result is shared and must not be
// modified.
func (m *Message) text3() []byte {
	e := m.enc3()
	e.textOnce.Do(func() {
		if !m.binary {
			e.text = m.pollingBytes()
			return
		}
		b := make([]byte, 2+base64.StdEncoding.EncodedLen(len(m.data)))
		b[0], b[1] = binaryPrefix, typeMessage
		base64.StdEncoding.Encode(b[2:], m.data)
		e.text = b
	})
	return e.text
}

// payloadElem3 returns m as one element of a protocol 3 text payload:
// its text3 form preceded by its length and ":". The length is counted in
// UTF-16 code units, as the reference (JavaScript) counts a string's
// characters (see utf16Len). The result is shared and must not be
// modified.
func (m *Message) payloadElem3() []byte {
	e := m.enc3()
	e.elemOnce.Do(func() { e.elem = appendElem3(nil, m.text3()) })
	return e.elem
}

// appendElem3 appends text as a protocol 3 text payload element.
func appendElem3(b, text []byte) []byte {
	b = strconv.AppendInt(b, int64(utf16Len(text)), 10)
	b = append(b, ':')
	return append(b, text...)
}

// binaryElem3 returns m as one element of an XHR2 binary payload: a text
// packet as 0, the decimal digits of its length in bytes (one byte each,
// 0 to 9), 0xFF and its UTF-8 bytes; a binary message as 1, the digits of
// 1+len(data), 0xFF, the type byte 4 and the data. The result is shared
// and must not be modified.
func (m *Message) binaryElem3() []byte {
	e := m.enc3()
	e.binElemOnce.Do(func() {
		if !m.binary {
			text := m.pollingBytes()
			b := appendBinaryLen(make([]byte, 0, 12+len(text)), binaryElemText, len(text))
			e.binElem = append(b, text...)
			return
		}
		b := appendBinaryLen(make([]byte, 0, 13+len(m.data)), binaryElemBinary, 1+len(m.data))
		b = append(b, binaryTypeMessage)
		e.binElem = append(b, m.data...)
	})
	return e.binElem
}

// appendBinaryLen appends the header of an XHR2 binary payload element:
// kind, the digits of n as bytes 0 to 9, and the end marker.
func appendBinaryLen(b []byte, kind byte, n int) []byte {
	b = append(b, kind)
	start := len(b)
	b = strconv.AppendInt(b, int64(n), 10)
	for i := start; i < len(b); i++ {
		b[i] -= '0'
	}
	return append(b, binaryElemEnd)
}

// wsFrame3 returns m as a protocol 3 WebSocket frame. A text packet is
// the same frame as in protocol 4. A binary message is a binary frame of
// the type byte 4 and the data, or, for a client that asked for base64
// (b64), a text frame of its text3 form. The result is shared and must
// not be modified.
func (m *Message) wsFrame3(b64 bool) []byte {
	if !m.binary {
		return m.wsFrame()
	}
	e := m.enc3()
	if b64 {
		e.b64FrameOnce.Do(func() {
			text := m.text3()
			e.b64Frame = appendFrame(make([]byte, 0, maxFrameHeader+len(text)), opText, text)
		})
		return e.b64Frame
	}
	e.frameOnce.Do(func() {
		payload := make([]byte, 0, 1+len(m.data))
		payload = append(append(payload, binaryTypeMessage), m.data...)
		e.frame = appendFrame(make([]byte, 0, maxFrameHeader+len(payload)), opBinary, payload)
	})
	return e.frame
}

// utf16Len returns the length of the UTF-8 text b in UTF-16 code units:
// what a JavaScript string's length is once b is decoded. A character
// outside the Basic Multilingual Plane (an emoji, say) counts two. A byte
// that is not valid UTF-8 counts one, as the U+FFFD it decodes to.
func utf16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// decodePacket3 decodes one protocol 3 text packet (a WebSocket text
// frame, or one element of a polling payload): a type digit and data as
// in protocol 4, or "b4" and base64 for a binary message, which clients
// without binary support send. Text packet data aliases b.
func decodePacket3(b []byte) (packet, error) {
	if len(b) == 0 || b[0] != binaryPrefix {
		return decodePacket(b)
	}
	if len(b) < 2 || b[1] != typeMessage {
		return packet{}, errParse
	}
	data, err := decodeBase64(b[2:])
	if err != nil {
		return packet{}, err
	}
	return packet{typ: typeMessage, data: data, binary: true}, nil
}

// decodeBinaryPacket3 decodes a protocol 3 binary packet (a WebSocket
// binary frame, or a binary element of an XHR2 payload): the type byte,
// which must be 4 (message), then the data, which aliases b.
func decodeBinaryPacket3(b []byte) (packet, error) {
	if len(b) == 0 || b[0] != binaryTypeMessage {
		return packet{}, errParse
	}
	return packet{typ: typeMessage, data: b[1:], binary: true}, nil
}
