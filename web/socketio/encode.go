package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"chatserver/web/socketio/engineio"
)

// ErrTooManyAttachments is returned when the arguments of one event or ack
// hold more binary values than a client accepts (10, the reference
// parser's limit).
var ErrTooManyAttachments = errors.New("socketio: too many binary attachments")

// maxPooledEncoderBuffer is the largest buffer an encoder keeps when it is
// returned to the pool: an occasional huge packet must not pin its memory.
const maxPooledEncoderBuffer = 64 << 10

// encoder builds one packet: the JSON payload with binary values replaced
// by placeholders, and the attachments they refer to.
type encoder struct {
	payload bytes.Buffer
	je      *json.Encoder // writes into payload
	bins    [][]byte
}

var encoderPool = sync.Pool{New: func() any {
	e := &encoder{}
	e.je = json.NewEncoder(&e.payload)
	e.je.SetEscapeHTML(false)
	return e
}}

func getEncoder() *encoder { return encoderPool.Get().(*encoder) }

func putEncoder(e *encoder) {
	if e.payload.Cap() > maxPooledEncoderBuffer {
		return
	}
	e.payload.Reset()
	clear(e.bins)
	e.bins = e.bins[:0]
	encoderPool.Put(e)
}

// argsArray writes ["event",args...] (event omitted when hasEvent is false,
// for an ack) as the payload.
func (e *encoder) argsArray(event string, hasEvent bool, args []any) error {
	e.payload.WriteByte('[')
	n := 0
	if hasEvent {
		e.writeString(event)
		n++
	}
	for i, a := range args {
		if xs, ok := a.(Args); ok {
			// An Args argument stands for all the arguments it holds.
			for _, raw := range xs.raw {
				if n > 0 {
					e.payload.WriteByte(',')
				}
				n++
				if err := e.writeBinaryJSON(raw, xs.bins); err != nil {
					return fmt.Errorf("socketio: argument %d: %w", i, err)
				}
			}
			continue
		}
		if n > 0 {
			e.payload.WriteByte(',')
		}
		n++
		if err := e.value(a); err != nil {
			return fmt.Errorf("socketio: argument %d: %w", i, err)
		}
	}
	e.payload.WriteByte(']')
	if len(e.bins) > maxAttachments {
		return ErrTooManyAttachments
	}
	return nil
}

// value writes one value as JSON.stringify would, turning binary values
// into placeholders.
func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.payload.WriteString("null")
	case string:
		e.writeString(x)
	case bool:
		if x {
			e.payload.WriteString("true")
		} else {
			e.payload.WriteString("false")
		}
	case int:
		e.payload.Write(strconv.AppendInt(e.payload.AvailableBuffer(), int64(x), 10))
	case int64:
		e.payload.Write(strconv.AppendInt(e.payload.AvailableBuffer(), x, 10))
	case json.RawMessage:
		if x == nil {
			e.payload.WriteString("null") // as encoding/json does
			return nil
		}
		if !json.Valid(x) {
			return errors.New("invalid json.RawMessage")
		}
		e.payload.Write(x)
	case []byte:
		e.attach(x)
	case BinaryJSON:
		return e.writeBinaryJSON(x.JSON, x.Attachments)
	case *BinaryJSON:
		if x == nil {
			e.payload.WriteString("null")
			return nil
		}
		return e.writeBinaryJSON(x.JSON, x.Attachments)
	case Args:
		e.payload.WriteByte('[')
		for i, raw := range x.raw {
			if i > 0 {
				e.payload.WriteByte(',')
			}
			if err := e.writeBinaryJSON(raw, x.bins); err != nil {
				return err
			}
		}
		e.payload.WriteByte(']')
	case []any:
		e.payload.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				e.payload.WriteByte(',')
			}
			if err := e.value(el); err != nil {
				return err
			}
		}
		e.payload.WriteByte(']')
	case map[string]any:
		if x == nil {
			e.payload.WriteString("null")
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // as encoding/json does: Go maps have no order
		e.payload.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				e.payload.WriteByte(',')
			}
			e.writeString(k)
			e.payload.WriteByte(':')
			if err := e.value(x[k]); err != nil {
				return err
			}
		}
		e.payload.WriteByte('}')
	default:
		if err := e.je.Encode(v); err != nil {
			return err
		}
		e.payload.Truncate(e.payload.Len() - 1) // Encode's trailing newline
	}
	return nil
}

// writeString writes s as a JSON string without HTML escaping.
func (e *encoder) writeString(s string) {
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		e.payload.WriteByte('"')
		e.payload.WriteString(s)
		e.payload.WriteByte('"')
		return
	}
	_ = e.je.Encode(s) // a string always encodes
	e.payload.Truncate(e.payload.Len() - 1)
}

// attach writes a placeholder for b and records a copy of it as the next
// attachment (the caller may reuse b once Emit returns).
func (e *encoder) attach(b []byte) {
	e.payload.WriteString(`{"_placeholder":true,"num":`)
	e.payload.Write(strconv.AppendInt(e.payload.AvailableBuffer(), int64(len(e.bins)), 10))
	e.payload.WriteByte('}')
	if b == nil {
		b = []byte{}
	}
	e.bins = append(e.bins, bytes.Clone(b))
}

// writeBinaryJSON writes raw with its placeholders renumbered to refer to
// the attachments of the packet being built.
func (e *encoder) writeBinaryJSON(raw json.RawMessage, bins [][]byte) error {
	if len(bins) == 0 {
		if !json.Valid(raw) {
			return errors.New("invalid json")
		}
		e.payload.Write(raw)
		return nil
	}
	if !json.Valid(raw) {
		return errors.New("invalid json")
	}
	spans, err := findPlaceholders(raw, len(bins))
	if err != nil {
		return err
	}
	last := 0
	for _, sp := range spans {
		e.payload.Write(raw[last:sp.start])
		e.attach(bins[sp.num])
		last = sp.end
	}
	e.payload.Write(raw[last:])
	return nil
}

// messages returns the packet as Engine.IO messages: the text packet, then
// one binary message per attachment. typ is packetEvent or packetAck; it
// becomes the binary variant when there are attachments. id is the ack id
// or noAckID.
func (e *encoder) messages(typ packetType, nsp string, id int64) []*engineio.Message {
	msgs := make([]*engineio.Message, 1+len(e.bins))
	msgs[0] = engineio.NewMessage(e.text(typ, nsp, id), false)
	for i, b := range e.bins {
		msgs[i+1] = engineio.NewMessage(b, true)
	}
	return msgs
}

// text returns the text packet (see messages); the attachments are e.bins.
func (e *encoder) text(typ packetType, nsp string, id int64) []byte {
	n := len(e.bins)
	if n > 0 {
		typ += packetBinaryEvent - packetEvent
	}
	b := appendHeader(make([]byte, 0, 24+len(nsp)+e.payload.Len()), typ, n, nsp, id)
	return append(b, e.payload.Bytes()...)
}

// appendHeader appends <type>[<n>-][<nsp>,][<id>] to b.
func appendHeader(b []byte, typ packetType, nAttach int, nsp string, id int64) []byte {
	b = append(b, '0'+byte(typ))
	if typ.isBinary() {
		b = strconv.AppendInt(b, int64(nAttach), 10)
		b = append(b, '-')
	}
	if nsp != "/" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	if id >= 0 {
		b = strconv.AppendInt(b, id, 10)
	}
	return b
}

// controlMessage returns a packet without attachments whose payload is
// already JSON (nil for none): CONNECT replies, CONNECT_ERROR, DISCONNECT.
func controlMessage(typ packetType, nsp string, payload []byte) *engineio.Message {
	return engineio.NewMessage(controlPacket(typ, nsp, payload), false)
}

func controlPacket(typ packetType, nsp string, payload []byte) []byte {
	b := appendHeader(make([]byte, 0, 2+len(nsp)+len(payload)), typ, 0, nsp, noAckID)
	return append(b, payload...)
}

// marshalJS returns v as JSON.stringify would write it (no HTML escaping).
func marshalJS(v any) ([]byte, error) {
	e := getEncoder()
	defer putEncoder(e)
	if err := e.value(v); err != nil {
		return nil, err
	}
	if len(e.bins) > 0 {
		return nil, errors.New("binary values are not allowed here")
	}
	return bytes.Clone(e.payload.Bytes()), nil
}
