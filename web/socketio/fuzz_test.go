package socketio

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodePacket feeds a text packet, then up to 11 copies of one binary
// attachment, to a decoder. Whatever the input, decoding must not panic,
// must keep its bounds, and a packet it accepts must survive re-encoding.
// The seed corpus is in testdata/fuzz/FuzzDecodePacket.
func FuzzDecodePacket(f *testing.F) {
	seeds := []struct {
		text string
		bin  string
		n    uint8
	}{
		{`0`, "", 0},
		{`0/admin,{"token":"123"}`, "", 0},
		{`212["foo",{"a":[1,2.5e3,null]}]`, "", 0},
		{`3/admin,13["bar"]`, "", 0},
		{`52-["message",` + ph(0) + `,` + ph(1) + `]`, "\x01\x02\x03", 2},
		{`61-15["bar",{"x":` + ph(0) + `}]`, "\xff", 1},
		{`2["connect"]`, "", 0},
		{`511-["a"]`, "", 0},
	}
	for _, s := range seeds {
		f.Add([]byte(s.text), []byte(s.bin), s.n)
	}
	f.Fuzz(func(t *testing.T, text, bin []byte, n uint8) {
		var d decoder
		p, err := d.feed(text, false)
		for i := 0; err == nil && p == nil && i < int(n%12); i++ {
			p, err = d.feed(bin, true)
		}
		if err != nil {
			if !errors.Is(err, errParse) {
				t.Fatalf("error %v does not wrap errParse", err)
			}
			return
		}
		if p == nil {
			if d.pending == nil || d.pending.nAttach > maxAttachments {
				t.Fatalf("no packet and no valid pending packet")
			}
			return
		}
		checkDecoded(t, p)
	})
}

// checkDecoded checks the invariants of an accepted packet and that its
// arguments re-encode to a packet that decodes to the same arguments.
func checkDecoded(t *testing.T, p *packet) {
	t.Helper()
	if p.typ > packetBinaryAck {
		t.Fatalf("type %d", p.typ)
	}
	if len(p.attachments) > maxAttachments || (p.typ.isBinary() && len(p.attachments) != p.nAttach) {
		t.Fatalf("%d attachments, %d announced", len(p.attachments), p.nAttach)
	}
	if p.data != nil && !json.Valid(p.data) {
		t.Fatalf("invalid payload %q accepted", p.data)
	}
	if p.typ != packetEvent && p.typ != packetBinaryEvent && p.typ != packetAck && p.typ != packetBinaryAck {
		return
	}
	if (p.typ == packetEvent || p.typ == packetBinaryEvent) && len(p.args) == 0 {
		t.Fatal("event without name")
	}
	args := Args{raw: p.args, bins: p.attachments}
	for i := range args.Len() {
		if !json.Valid(args.Raw(i)) {
			t.Fatalf("argument %d %q is not JSON", i, args.Raw(i))
		}
		args.String(i)
		args.Bytes(i)
	}
	args.Values()

	// Re-encode all elements (for an event, the name is the first) and
	// decode the result again.
	e := getEncoder()
	defer putEncoder(e)
	if err := e.argsArray("", false, []any{args}); err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	typ := packetAck
	if p.typ == packetEvent || p.typ == packetBinaryEvent {
		typ = packetEvent
	}
	var d decoder
	q, err := d.feed(e.text(typ, p.nsp, p.id), false)
	for _, b := range e.bins {
		if err != nil {
			break
		}
		q, err = d.feed(b, true)
	}
	if err != nil || q == nil {
		t.Fatalf("re-encoded packet does not decode: %v (packet %v)", err, q)
	}
	if q.nsp != p.nsp || q.id != p.id || len(q.args) != len(p.args) {
		t.Fatalf("round trip changed the packet: %+v -> %+v", p, q)
	}
	if len(p.attachments) == 0 {
		for i := range p.args {
			if string(p.args[i]) != string(q.args[i]) {
				t.Fatalf("argument %d: %q -> %q", i, p.args[i], q.args[i])
			}
		}
	}
}
