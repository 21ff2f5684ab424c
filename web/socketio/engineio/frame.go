package engineio

import (
	"encoding/binary"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xA
)

// WebSocket close codes the server sends (RFC 6455 section 7.4.1).
const (
	closeNormal        = 1000
	closeProtocolError = 1002
	closeInvalidData   = 1007
	closeTooBig        = 1009
)

// maxMsgAhead bounds the room a message spanning reads is given ahead of
// its bytes: one full read (readBufSize). A longer message grows as its
// bytes arrive, so a client that announces a large message and sends a
// byte of it costs the server a read's worth of memory, not MaxPayload
// (a thousand such connections would otherwise pin a gigabyte at the
// default MaxPayload).
const maxMsgAhead = readBufSize

// Frame header sizes: a client frame is always masked, so its header is
// 2 bytes, the extended length (0, 2 or 8 bytes) and the 4-byte mask key.
const (
	maxControlPayload = 125
	maxClientHeader   = 2 + 8 + 4
)

// frameError is a violation of the WebSocket protocol by the client: the
// connection is failed with code (sent in a close frame) and the session
// ends with ReasonTransportError.
type frameError struct {
	code int
	msg  string
}

func (e *frameError) Error() string { return "engineio: websocket: " + e.msg }

var (
	errReservedBits     = &frameError{closeProtocolError, "reserved bits set"}
	errUnmasked         = &frameError{closeProtocolError, "client frame not masked"}
	errBadOpcode        = &frameError{closeProtocolError, "unknown opcode"}
	errControlFragment  = &frameError{closeProtocolError, "fragmented control frame"}
	errControlTooLong   = &frameError{closeProtocolError, "control frame over 125 bytes"}
	errStrayContinue    = &frameError{closeProtocolError, "continuation frame without a message"}
	errInterleaved      = &frameError{closeProtocolError, "new message inside a fragmented one"}
	errBadLength        = &frameError{closeProtocolError, "invalid payload length"}
	errBadClosePayload  = &frameError{closeProtocolError, "invalid close frame"}
	errMessageTooBig    = &frameError{closeTooBig, "message over the payload limit"}
	errInvalidUTF8      = &frameError{closeInvalidData, "text message is not valid UTF-8"}
	errInvalidUTF8Close = &frameError{closeInvalidData, "close reason is not valid UTF-8"}
)

// frameSink receives what a frameReader decodes, in order: complete data
// messages (opText or opBinary, reassembled from fragments) and control
// frames (opClose, opPing, opPong). data is valid only during the call.
// An error stops the reader: it is returned by feed.
type frameSink interface {
	onFrame(op byte, data []byte) error
}

// frameReader decodes the client-to-server direction of a WebSocket
// incrementally: bytes are fed as they arrive, in chunks of any size, and
// the reader keeps only what an unfinished frame needs (its header bytes
// and, for a message that spans chunks or fragments, the payload so far).
// Between frames it holds no buffer at all, which is what makes an idle
// connection cheap. It enforces RFC 6455's rules for a server: frames
// must be masked, reserved bits clear (no extension is ever negotiated),
// control frames short and whole, fragments in order, text valid UTF-8,
// and a message no longer than maxPayload.
type frameReader struct {
	maxPayload int

	hdr    [maxClientHeader]byte
	hdrLen int // bytes of hdr received
	hdrEnd int // header length once known (0 until the first two bytes are in)

	inPayload bool
	fin       bool
	op        byte
	mask      [4]byte
	maskPos   int // index into mask of the next payload byte
	left      int // payload bytes of the current frame still to come

	ctl   []byte // payload of the control frame being read
	msgOp byte   // opcode of the data message being assembled, 0 if none
	msg   []byte // its payload so far, when it spans chunks or fragments
}

// feed decodes p. Complete messages and control frames go to sink as
// soon as they are whole; a message contained in p is passed without a
// copy (unmasked in place, so p is modified). It returns the first error:
// a *frameError for a protocol violation, or what sink returned. After an
// error the reader must not be fed again.
func (r *frameReader) feed(p []byte, sink frameSink) error {
	for len(p) > 0 {
		if !r.inPayload {
			var err error
			if p, err = r.readHeader(p); err != nil {
				return err
			}
			if !r.inPayload {
				return nil // the header is not complete yet
			}
			if r.left == 0 {
				if err := r.endFrame(nil, sink); err != nil {
					return err
				}
				continue
			}
		}
		n := min(len(p), r.left)
		chunk := p[:n]
		p = p[n:]
		r.unmask(chunk)
		r.left -= n
		switch {
		case r.op >= opClose:
			r.ctl = append(r.ctl, chunk...)
			if r.left == 0 {
				if err := r.endFrame(nil, sink); err != nil {
					return err
				}
			}
		case r.left == 0 && r.msg == nil && r.fin:
			// The whole message was in this chunk: no copy.
			if err := r.endFrame(chunk, sink); err != nil {
				return err
			}
		default:
			if r.msg == nil && r.fin {
				// The exact size of a message spanning chunks, but
				// never more than maxMsgAhead beyond the bytes that
				// have arrived: a header announcing MaxPayload must
				// not by itself make the server hold MaxPayload.
				r.msg = make([]byte, 0, n+min(r.left, maxMsgAhead))
			}
			r.msg = append(r.msg, chunk...)
			if r.left == 0 {
				if err := r.endFrame(nil, sink); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readHeader consumes header bytes from p and returns the rest. Once the
// header is complete it is checked and the frame's payload starts
// (r.inPayload).
func (r *frameReader) readHeader(p []byte) ([]byte, error) {
	if r.hdrEnd == 0 {
		n := copy(r.hdr[r.hdrLen:2], p)
		r.hdrLen += n
		p = p[n:]
		if r.hdrLen < 2 {
			return p, nil
		}
		b0, b1 := r.hdr[0], r.hdr[1]
		if b0&0x70 != 0 {
			return nil, errReservedBits
		}
		if b1&0x80 == 0 {
			return nil, errUnmasked
		}
		r.hdrEnd = 2 + 4
		switch b1 & 0x7f {
		case 126:
			r.hdrEnd += 2
		case 127:
			r.hdrEnd += 8
		}
	}
	n := copy(r.hdr[r.hdrLen:r.hdrEnd], p)
	r.hdrLen += n
	p = p[n:]
	if r.hdrLen < r.hdrEnd {
		return p, nil
	}
	return p, r.startFrame()
}

// startFrame checks a complete header and prepares for its payload.
func (r *frameReader) startFrame() error {
	b0, b1 := r.hdr[0], r.hdr[1]
	r.fin = b0&0x80 != 0
	r.op = b0 & 0x0f
	length := uint64(b1 & 0x7f)
	rest := r.hdr[2:r.hdrEnd]
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(rest))
		if length < 126 {
			return errBadLength // not the shortest form
		}
		rest = rest[2:]
	case 127:
		length = binary.BigEndian.Uint64(rest)
		if length>>63 != 0 || length <= 0xffff {
			return errBadLength
		}
		rest = rest[8:]
	}
	copy(r.mask[:], rest)
	r.maskPos = 0
	r.hdrLen, r.hdrEnd = 0, 0

	switch r.op {
	case opClose, opPing, opPong:
		if !r.fin {
			return errControlFragment
		}
		if length > maxControlPayload {
			return errControlTooLong
		}
		r.ctl = make([]byte, 0, length)
	case opText, opBinary:
		if r.msgOp != 0 {
			return errInterleaved
		}
		if length > uint64(r.maxPayload) {
			return errMessageTooBig
		}
		r.msgOp = r.op
	case opContinuation:
		if r.msgOp == 0 {
			return errStrayContinue
		}
		if length > uint64(r.maxPayload-len(r.msg)) {
			return errMessageTooBig
		}
	default:
		return errBadOpcode
	}
	r.left = int(length)
	r.inPayload = true
	return nil
}

// unmask undoes the client's masking of b in place.
func (r *frameReader) unmask(b []byte) {
	pos := r.maskPos
	for i := range b {
		b[i] ^= r.mask[pos&3]
		pos++
	}
	r.maskPos = pos & 3
}

// endFrame finishes the current frame: a control frame or the last
// fragment of a message goes to sink. whole, when not nil, is the complete
// payload of an unfragmented message that never needed r.msg.
func (r *frameReader) endFrame(whole []byte, sink frameSink) error {
	r.inPayload = false
	if r.op >= opClose {
		ctl := r.ctl
		r.ctl = nil
		if r.op == opClose {
			if err := checkClosePayload(ctl); err != nil {
				return err
			}
		}
		return sink.onFrame(r.op, ctl)
	}
	if !r.fin {
		return nil // more fragments follow
	}
	op, data := r.msgOp, whole
	if data == nil {
		data = r.msg
	}
	r.msgOp, r.msg = 0, nil
	if op == opText && !utf8.Valid(data) {
		return errInvalidUTF8
	}
	if data == nil {
		data = []byte{}
	}
	return sink.onFrame(op, data)
}

// checkClosePayload checks a close frame's payload: empty, or a status
// code a peer may send followed by a UTF-8 reason (RFC 6455 section 7.4).
func checkClosePayload(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case len(b) == 1:
		return errBadClosePayload
	}
	if !validCloseCode(int(binary.BigEndian.Uint16(b))) {
		return errBadClosePayload
	}
	if !utf8.Valid(b[2:]) {
		return errInvalidUTF8Close
	}
	return nil
}

// validCloseCode reports whether a peer may send code in a close frame.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closeReply returns the close frame that answers a client's close frame
// with payload p: the same status code, or none if the client gave none.
func closeReply(p []byte) []byte {
	if len(p) < 2 {
		return appendFrame(nil, opClose, nil)
	}
	return appendFrame(nil, opClose, p[:2])
}

// closeFrame returns a close frame with status code.
func closeFrame(code int) []byte {
	return appendFrame(nil, opClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
}
