package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// packetType is the Socket.IO packet type, the digit that begins a packet.
type packetType byte

const (
	packetConnect      packetType = 0
	packetDisconnect   packetType = 1
	packetEvent        packetType = 2
	packetAck          packetType = 3
	packetConnectError packetType = 4
	packetBinaryEvent  packetType = 5
	packetBinaryAck    packetType = 6
)

func (t packetType) isBinary() bool { return t == packetBinaryEvent || t == packetBinaryAck }

const (
	// maxAttachments bounds the binary attachments of one packet, in both
	// directions. It is the reference parser's default, so clients refuse
	// packets with more.
	maxAttachments = 10

	// maxAttachmentPayloads bounds, in transport payloads (the Engine.IO
	// MaxPayload), the attachment bytes one connection may have the
	// server hold for a binary packet not yet complete; more closes the
	// connection with a parse error. The number of attachments alone
	// does not bound it: a client could announce ten, send nine of
	// MaxPayload each and never the tenth, pinning nine payloads for as
	// long as it answers pings. Two payloads let a packet carry one
	// attachment as large as the transport allows, and more small ones.
	maxAttachmentPayloads = 2

	// maxAckID is the largest acknowledgement id accepted: larger ids are
	// not exact in a JavaScript number, so no real client sends them.
	maxAckID = 1<<53 - 1

	// noAckID marks a packet without acknowledgement id.
	noAckID = -1
)

// reservedEvents may not be emitted, and an incoming EVENT naming one is a
// parse error: the reference client and server keep these names for their
// own events.
var reservedEvents = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// errParse is wrapped by every decoding error; the connection that sent
// the packet is closed.
var errParse = errors.New("socketio: parse error")

// errIllegalAttachments reports a placeholder that refers to no attachment.
var errIllegalAttachments = fmt.Errorf("%w: illegal attachments", errParse)

// packet is one decoded Socket.IO packet.
type packet struct {
	typ packetType
	nsp string
	id  int64 // acknowledgement id, noAckID when absent
	// data is the JSON payload as received (binary placeholders in place),
	// nil when the packet has none.
	data []byte
	// args are the elements of data for EVENT and ACK packets (for an EVENT
	// the first is the event name).
	args []json.RawMessage
	// nAttach is the announced attachment count of a binary packet and
	// attachments the buffers received so far.
	nAttach     int
	attachments [][]byte
	// authTooLarge marks a CONNECT whose auth object was over its
	// namespace's MaxAuth; data was dropped.
	authTooLarge bool
}

// decodePacket decodes one text packet. It copies what it keeps: text may
// be reused by the caller once it returns. Attachments of a binary packet
// are not part of text; see decoder.
func decodePacket(text []byte) (*packet, error) {
	if len(text) == 0 {
		return nil, fmt.Errorf("%w: empty packet", errParse)
	}
	b := bytes.Clone(text)
	if b[0] < '0' || b[0] > '6' {
		return nil, fmt.Errorf("%w: unknown packet type %q", errParse, b[0])
	}
	p := &packet{typ: packetType(b[0] - '0'), nsp: "/", id: noAckID}
	i := 1

	if p.typ.isBinary() {
		start := i
		n := 0
		for i < len(b) && isDigit(b[i]) {
			n = n*10 + int(b[i]-'0')
			if n > maxAttachments {
				return nil, fmt.Errorf("%w: too many attachments", errParse)
			}
			i++
		}
		if i == start || i >= len(b) || b[i] != '-' {
			return nil, fmt.Errorf("%w: illegal attachment count", errParse)
		}
		p.nAttach = n
		i++
	}

	if i < len(b) && b[i] == '/' {
		end := bytes.IndexByte(b[i:], ',')
		if end < 0 {
			p.nsp = string(b[i:])
			i = len(b)
		} else {
			p.nsp = string(b[i : i+end])
			i += end + 1
		}
		if !utf8.ValidString(p.nsp) {
			return nil, fmt.Errorf("%w: namespace is not UTF-8", errParse)
		}
	}

	if i < len(b) && isDigit(b[i]) {
		var id int64
		for i < len(b) && isDigit(b[i]) {
			id = id*10 + int64(b[i]-'0')
			if id > maxAckID {
				return nil, fmt.Errorf("%w: ack id too large", errParse)
			}
			i++
		}
		p.id = id
	}

	if i < len(b) {
		p.data = b[i:]
		if !json.Valid(p.data) {
			return nil, fmt.Errorf("%w: invalid json payload", errParse)
		}
	}
	if err := p.validatePayload(); err != nil {
		return nil, err
	}
	return p, nil
}

// validatePayload applies the reference parser's payload rules for each
// packet type (spelled out in its errors below) and splits EVENT and ACK
// arrays into args.
func (p *packet) validatePayload() error {
	kind := jsonKind(p.data)
	switch p.typ {
	case packetConnect:
		if p.data != nil && kind != '{' {
			return fmt.Errorf("%w: CONNECT payload must be an object", errParse)
		}
	case packetDisconnect:
		if p.data != nil {
			return fmt.Errorf("%w: DISCONNECT takes no payload", errParse)
		}
	case packetConnectError:
		if p.data != nil && kind != '{' && kind != '"' {
			return fmt.Errorf("%w: CONNECT_ERROR payload must be an object or a string", errParse)
		}
	case packetEvent, packetBinaryEvent:
		if kind != '[' {
			return fmt.Errorf("%w: EVENT payload must be an array", errParse)
		}
		args, err := splitArray(p.data)
		if err != nil {
			return fmt.Errorf("%w: %w", errParse, err)
		}
		if len(args) == 0 {
			return fmt.Errorf("%w: EVENT without a name", errParse)
		}
		switch jsonKind(args[0]) {
		case '0':
		case '"':
			if reservedEvents[eventName(args[0])] {
				return fmt.Errorf("%w: reserved event name", errParse)
			}
		default:
			return fmt.Errorf("%w: event name must be a string or a number", errParse)
		}
		p.args = args
	case packetAck, packetBinaryAck:
		if p.data == nil {
			// The reference accepts an ACK without payload: no arguments.
			return nil
		}
		if kind != '[' {
			return fmt.Errorf("%w: ACK payload must be an array", errParse)
		}
		args, err := splitArray(p.data)
		if err != nil {
			return fmt.Errorf("%w: %w", errParse, err)
		}
		p.args = args
	}
	return nil
}

// checkAttachments verifies that every placeholder of a complete binary
// packet refers to one of its attachments.
func (p *packet) checkAttachments() error {
	if p.data == nil {
		return nil
	}
	if _, err := findPlaceholders(p.data, len(p.attachments)); err != nil {
		if errors.Is(err, errParse) {
			return err
		}
		return fmt.Errorf("%w: %w", errParse, err)
	}
	return nil
}

// eventName returns the handler key of an event name element: the string
// for a JSON string, the number's text for a number.
func eventName(raw json.RawMessage) string {
	if jsonKind(raw) == '"' {
		s, _ := jsonString(raw)
		return s
	}
	return string(raw)
}

// jsonString decodes the JSON string raw.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decoder reassembles packets from the Engine.IO messages of one
// connection: a binary packet's attachments follow it as binary messages.
// It applies the rules of each packet's namespace as the packet arrives,
// so that a refused packet costs nothing to hold. It is used by one
// goroutine.
type decoder struct {
	// rules returns the rules of namespace nsp. Nil means that every
	// namespace accepts binary packets and any auth object.
	rules func(nsp string) NamespaceConfig
	// maxBinary bounds the attachment bytes held for the packet being
	// reassembled; zero means no bound.
	maxBinary int
	// v2 decodes the packets of a Socket.IO v2 client, whose CONNECT
	// carries its auth as the namespace's query (connect2).
	v2 bool

	pending *packet // binary packet waiting for attachments
	held    int     // bytes of pending's attachments so far
}

// feed takes one Engine.IO message and returns a complete packet, or nil
// when more attachments are awaited. data is copied. After an error the
// connection must be closed; the decoder state is undefined.
func (d *decoder) feed(data []byte, binary bool) (*packet, error) {
	if binary {
		p := d.pending
		if p == nil {
			return nil, fmt.Errorf("%w: unexpected binary message", errParse)
		}
		if d.maxBinary > 0 && len(data) > d.maxBinary-d.held {
			return nil, fmt.Errorf("%w: attachments over %d bytes", errParse, d.maxBinary)
		}
		d.held += len(data)
		p.attachments = append(p.attachments, bytes.Clone(data))
		if len(p.attachments) < p.nAttach {
			return nil, nil
		}
		d.reset()
		if err := p.checkAttachments(); err != nil {
			return nil, err
		}
		return p, nil
	}
	if d.pending != nil {
		return nil, fmt.Errorf("%w: text message while waiting for attachments", errParse)
	}
	p, err := decodePacket(data)
	if err != nil {
		return nil, err
	}
	switch {
	case p.typ.isBinary():
		if d.rules != nil && !d.rules(p.nsp).AllowBinary {
			return nil, fmt.Errorf("%w: namespace %q accepts no binary packets", errParse, p.nsp)
		}
		if p.nAttach > 0 {
			p.attachments = make([][]byte, 0, p.nAttach)
			d.pending = p
			return nil, nil
		}
		if err := p.checkAttachments(); err != nil {
			return nil, err
		}
	case p.typ == packetConnect:
		if d.v2 {
			d.connect2(p)
		}
		if p.data != nil && d.rules != nil && len(p.data) > d.rules(p.nsp).MaxAuth {
			// Refused when handled; what it said is not kept meanwhile.
			p.data, p.authTooLarge = nil, true
		}
	}
	return p, nil
}

// reset drops the packet being reassembled, if any.
func (d *decoder) reset() {
	d.pending, d.held = nil, 0
}
