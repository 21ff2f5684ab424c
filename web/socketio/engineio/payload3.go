package engineio

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Protocol 3 polling payloads. A text payload is a run of elements
// "<length>:<packet>", the length counted in UTF-16 code units (see
// utf16Len), with no separator between them. A client that supports
// binary (its handshake had no b64 parameter) is sent a payload holding
// binary messages as an XHR2 binary payload instead (binaryElem3), and may
// POST one (Content-Type application/octet-stream).

// maxLengthDigits bounds the decimal digits of one element's length: no
// body the server reads is anywhere near 10^10 bytes long.
const maxLengthDigits = 10

// decodePayload3 decodes a protocol 3 text payload (a POST body): each
// element's length, ":", then that many UTF-16 code units of UTF-8 text
// holding one packet (decodePacket3). An element of length 0 holds no
// packet and is skipped, as the reference does ("0:" is the empty
// payload). The whole payload is refused if any element is invalid: a
// length that is not digits, text that is not UTF-8, an element cut off
// or ending inside a character that takes two code units, an invalid
// packet. Text packet data aliases body.
//
// Allocation is bounded by len(body): every packet takes at least three
// bytes ("1:" and its type), and base64 decodes to less than its input.
func decodePayload3(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, errParse
	}
	var packets []packet
	for len(body) > 0 {
		n, rest, err := readLength3(body)
		if err != nil {
			return nil, err
		}
		size, ok := utf16Prefix(rest, n)
		if !ok {
			return nil, errParse
		}
		elem := rest[:size]
		body = rest[size:]
		if len(elem) == 0 {
			continue
		}
		p, err := decodePacket3(elem)
		if err != nil {
			return nil, err
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// readLength3 reads the "<length>:" that begins a text payload element
// and returns the length and what follows the colon.
func readLength3(b []byte) (int, []byte, error) {
	n, i := 0, 0
	for ; i < len(b) && b[i] != ':'; i++ {
		c := b[i]
		if c < '0' || c > '9' || i == maxLengthDigits {
			return 0, nil, errParse
		}
		n = n*10 + int(c-'0')
	}
	if i == 0 || i == len(b) {
		return 0, nil, errParse
	}
	return n, b[i+1:], nil
}

// utf16Prefix returns the length in bytes of the first n UTF-16 code
// units of the UTF-8 text b. It reports false if b is shorter, is not
// valid UTF-8 there, or if the n-th unit is the first half of a character
// that takes two (a JavaScript client never cuts one: it would send half
// a surrogate pair).
func utf16Prefix(b []byte, n int) (int, bool) {
	units, i := 0, 0
	for units < n {
		if i >= len(b) {
			return 0, false
		}
		if c := b[i]; c < utf8.RuneSelf {
			units++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, false
		}
		if r >= 0x10000 {
			units += 2
		} else {
			units++
		}
		i += size
	}
	return i, units == n
}

// decodeBinaryPayload3 decodes an XHR2 binary payload (a POST body sent
// as application/octet-stream): elements of a kind byte (0 text, 1
// binary), the length's decimal digits as bytes 0 to 9, 0xFF, then that
// many bytes: UTF-8 text holding one text packet (decodePacket3), or a
// binary packet (decodeBinaryPacket3). The whole payload is refused if any
// element is invalid. Packet data aliases body, except base64's.
func decodeBinaryPayload3(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, errParse
	}
	var packets []packet
	for len(body) > 0 {
		kind := body[0]
		if kind != binaryElemText && kind != binaryElemBinary {
			return nil, errParse
		}
		n, i := 0, 1
		for ; i < len(body) && body[i] != binaryElemEnd; i++ {
			d := body[i]
			if d > 9 || i > maxLengthDigits {
				return nil, errParse
			}
			n = n*10 + int(d)
		}
		if i == 1 || i == len(body) || n > len(body)-i-1 {
			return nil, errParse
		}
		elem := body[i+1 : i+1+n]
		body = body[i+1+n:]
		var p packet
		var err error
		if kind == binaryElemText {
			if !utf8.Valid(elem) {
				return nil, errParse
			}
			p, err = decodePacket3(elem)
		} else {
			p, err = decodeBinaryPacket3(elem)
		}
		if err != nil {
			return nil, err
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// writePayload3 writes batch and tail as one protocol 3 polling payload:
// an XHR2 binary payload if the batch holds a binary message and the
// client supports binary, a text payload otherwise.
func (s *Session) writePayload3(w http.ResponseWriter, batch []*Message, tail *Message) error {
	binary := false
	if !s.b64 {
		for _, m := range batch {
			if m.binary {
				binary = true
				break
			}
		}
	}
	elem := (*Message).payloadElem3
	contentType := "text/plain; charset=UTF-8"
	if binary {
		elem = (*Message).binaryElem3
		contentType = "application/octet-stream"
	}
	n := 0
	for _, m := range batch {
		n += len(elem(m))
	}
	if tail != nil {
		n += len(elem(tail))
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.srv.st.WriteTimeout))
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	for _, m := range batch {
		if _, err := w.Write(elem(m)); err != nil {
			return err
		}
	}
	if tail != nil {
		if _, err := w.Write(elem(tail)); err != nil {
			return err
		}
	}
	return nil
}
