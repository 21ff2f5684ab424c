package socketio

import (
	"encoding/json"
	"fmt"
)

// Args are the arguments of a received event or ack. They are kept as the
// JSON text that arrived (numbers exact, key order as sent) plus the
// binary attachments of the packet. An Args value is immutable and may be
// kept and used from any goroutine after its handler returns; the slices
// its methods return must not be modified.
type Args struct {
	raw  []json.RawMessage // one per argument; placeholders in place
	bins [][]byte          // attachments of the packet, nil for a text packet
}

// BinaryJSON is a JSON value containing binary values: each placeholder
// object {"_placeholder":true,"num":K} in JSON stands for Attachments[K].
// Args.Values returns it for arguments that hold binary data below the top
// level; Emit sends it with the binary data as attachments again.
type BinaryJSON struct {
	JSON        json.RawMessage
	Attachments [][]byte
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// String returns argument i if it is a JSON string.
func (a Args) String(i int) (string, bool) {
	if i < 0 || i >= len(a.raw) {
		return "", false
	}
	return jsonString(a.raw[i])
}

// Raw returns argument i as JSON (binary attachments appear as their
// placeholders), or nil if i is out of range.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// Bytes returns argument i if it is a binary value (an attachment).
func (a Args) Bytes(i int) ([]byte, bool) {
	if i < 0 || i >= len(a.raw) || len(a.bins) == 0 {
		return nil, false
	}
	if b, ok := a.wholeAttachment(a.raw[i]); ok {
		return b, true
	}
	return nil, false
}

// Decode unmarshals argument i into v with encoding/json. Binary values
// appear as their placeholder objects.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a.raw) {
		return fmt.Errorf("socketio: decode argument %d of %d: out of range", i, len(a.raw))
	}
	if err := json.Unmarshal(a.raw[i], v); err != nil {
		return fmt.Errorf("socketio: decode argument %d: %w", i, err)
	}
	return nil
}

// Values returns the arguments in a form that Emit sends back exactly as
// they arrived, binary attachments included: json.RawMessage for an
// argument without binary data, []byte for a binary argument, *BinaryJSON
// for JSON with binary data inside. Passing the Args value itself to Emit
// has the same effect (it stands for all its arguments).
func (a Args) Values() []any {
	vs := make([]any, len(a.raw))
	for i, raw := range a.raw {
		vs[i] = a.value(raw)
	}
	return vs
}

func (a Args) value(raw json.RawMessage) any {
	if len(a.bins) == 0 {
		return raw
	}
	if b, ok := a.wholeAttachment(raw); ok {
		return b
	}
	spans, err := findPlaceholders(raw, len(a.bins))
	if err != nil || len(spans) == 0 {
		// The decoder validated the placeholders; err cannot happen.
		return raw
	}
	return &BinaryJSON{JSON: raw, Attachments: a.bins}
}

// wholeAttachment reports whether raw is exactly one placeholder.
func (a Args) wholeAttachment(raw json.RawMessage) ([]byte, bool) {
	if jsonKind(raw) != '{' {
		return nil, false
	}
	spans, err := findPlaceholders(raw, len(a.bins))
	if err != nil || len(spans) != 1 || spans[0].start != 0 || spans[0].end != len(raw) {
		return nil, false
	}
	return a.bins[spans[0].num], true
}

// MarshalJSON writes the arguments as a JSON array, binary values as their
// placeholders; it makes Args readable in logs and tests.
func (a Args) MarshalJSON() ([]byte, error) {
	out := []byte{'['}
	for i, raw := range a.raw {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, raw...)
	}
	return append(out, ']'), nil
}
