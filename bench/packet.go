package bench

import (
	"bytes"
	"math"
	"strconv"
)

// The client's side of the Engine.IO and Socket.IO wire format (summed up
// in docs/PROTOCOL.md): only what a chat load generator sends and
// receives. Parsing works on the received bytes in place and never
// allocates: the hot packet is 42["messages","nick: text",...], tens of
// thousands per second.

// Engine.IO packet types (one ASCII digit).
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioNoop    = '6'
)

// Socket.IO packet types, carried inside an Engine.IO message.
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
)

// pollingSeparator joins packets in a polling payload.
const pollingSeparator = 0x1e

// Chat events of the contract (on namespace "/", or on a room's).
const (
	evJoin          = "join"
	evMessages      = "messages"
	evAddChatter    = "add chatter"
	evRemoveChatter = "remove chatter"
	evChatError     = "chat error"
	evKicked        = "kicked"
)

// appendEmit appends the Engine.IO message carrying a Socket.IO EVENT with
// one string argument: 42<nsp><ackID>["event","arg"], where nsp is nothing
// for the namespace "/" and "/NAME," for another (Config.namespace). ackID
// < 0 asks for no acknowledgement.
func appendEmit(dst, nsp []byte, ackID int, event string, arg []byte) []byte {
	dst = append(dst, eioMessage, sioEvent)
	dst = append(dst, nsp...)
	if ackID >= 0 {
		dst = strconv.AppendInt(dst, int64(ackID), 10)
	}
	dst = append(dst, '[')
	dst = appendJSONString(dst, []byte(event))
	dst = append(dst, ',')
	dst = appendJSONString(dst, arg)
	return append(dst, ']')
}

// appendJSONString appends s as a JSON string. Bench nicknames and texts are
// plain ASCII and pass through unchanged; anything else is escaped correctly
// (UTF-8 is copied as is, which JSON allows).
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// textHeaderMax bounds the header appendBenchText writes before padding:
// "b" + three decimal numbers of at most 20 digits + three colons.
const textHeaderMax = 1 + 3*20 + 3

// appendBenchText appends the text of one bench message:
// b<sender>:<seq>:<sentUnixNanos>: followed by 'x' padding up to size bytes
// in all (the header alone when size is smaller). Receivers read the
// timestamp back to measure latency.
func appendBenchText(dst []byte, sender, seq int, sentUnixNanos int64, size int) []byte {
	start := len(dst)
	dst = append(dst, 'b')
	dst = strconv.AppendInt(dst, int64(sender), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, sentUnixNanos, 10)
	dst = append(dst, ':')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// event is one received Socket.IO EVENT with its name and, when the first
// argument is a string, that string's raw JSON contents (escapes left as they
// are: bench texts have none, and other texts are only compared, never
// shown). Both slices alias the received packet.
type event struct {
	name     []byte
	arg      []byte
	argIsStr bool
}

// inNamespace reports whether the rest of a Socket.IO packet after its type
// digit is for the namespace nsp (as appendEmit takes it), and returns what
// follows the namespace.
func inNamespace(rest, nsp []byte) ([]byte, bool) {
	if len(nsp) == 0 {
		return rest, len(rest) == 0 || rest[0] != '/'
	}
	if !bytes.HasPrefix(rest, nsp) {
		return nil, false
	}
	return rest[len(nsp):], true
}

// parseEvent reads a Socket.IO EVENT packet (sio starts at the Socket.IO type
// digit '2') on the namespace nsp (as appendEmit takes it). Packets for
// other namespaces are reported as not ok.
func parseEvent(sio, nsp []byte) (ev event, ok bool) {
	if len(sio) < 2 || sio[0] != sioEvent {
		return ev, false
	}
	if sio, ok = inNamespace(sio[1:], nsp); !ok || len(sio) == 0 {
		return ev, false
	}
	i := 0
	for i < len(sio) && sio[i] >= '0' && sio[i] <= '9' { // ack id the server asks for; unused
		i++
	}
	if i >= len(sio) || sio[i] != '[' {
		return ev, false
	}
	i++
	name, i, ok := scanString(sio, i)
	if !ok {
		return ev, false
	}
	ev.name = name
	if i < len(sio) && sio[i] == ',' && i+1 < len(sio) && sio[i+1] == '"' {
		ev.arg, _, ev.argIsStr = scanString(sio, i+1)
	}
	return ev, true
}

// scanString reads the JSON string starting at b[i] == '"' and returns its
// raw contents and the index after the closing quote.
func scanString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, i, false
}

// parseAck reads a Socket.IO ACK packet (sio starts at '3') on the namespace
// nsp (as appendEmit takes it): its id, and whether it reports success. The
// chat contract answers {ok: true, ...} or {error: code, message}; any ack
// without "ok":true counts as a refusal.
func parseAck(sio, nsp []byte) (id int, success bool, ok bool) {
	if len(sio) < 2 || sio[0] != sioAck {
		return 0, false, false
	}
	if sio, ok = inNamespace(sio[1:], nsp); !ok {
		return 0, false, false
	}
	i := 0
	for i < len(sio) && sio[i] >= '0' && sio[i] <= '9' {
		if id > 1<<30 {
			return 0, false, false
		}
		id = id*10 + int(sio[i]-'0')
		i++
	}
	if i == 0 || i >= len(sio) || sio[i] != '[' {
		return 0, false, false
	}
	return id, bytes.Contains(sio[i:], []byte(`"ok":true`)), true
}

// parseDelivery reads a delivered chat line "nick: text" where nick is
// prefix+<index> and text was made by appendBenchText. It returns the sending
// client's index, the message's sequence number among that sender's and the
// send timestamp; ok is false for any other line (another run's history, a
// person typing, the Node original's greeting).
func parseDelivery(line, prefix []byte) (sender, seq int, sentUnixNanos int64, ok bool) {
	if !bytes.HasPrefix(line, prefix) {
		return 0, 0, 0, false
	}
	rest := line[len(prefix):]
	nick, rest, ok := cutNumber(rest)
	if !ok || !bytes.HasPrefix(rest, []byte(": b")) {
		return 0, 0, 0, false
	}
	rest = rest[3:]
	textSender, rest, ok := cutNumber(rest)
	if !ok || textSender != nick || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, 0, false
	}
	n, rest, ok := cutNumber(rest[1:])
	if !ok || n > math.MaxInt32 || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, 0, false
	}
	sent, rest, ok := cutNumber(rest[1:])
	if !ok || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, 0, false
	}
	return int(nick), int(n), sent, true
}

// parseNickIndex returns i when name is exactly prefix+<i>.
func parseNickIndex(name, prefix []byte) (int, bool) {
	if !bytes.HasPrefix(name, prefix) {
		return 0, false
	}
	n, rest, ok := cutNumber(name[len(prefix):])
	if !ok || len(rest) != 0 {
		return 0, false
	}
	return int(n), true
}

// cutNumber reads a non-negative decimal int64 from the front of b; a number
// too large for int64 is not ok.
func cutNumber(b []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := int64(b[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, b, false
		}
		n = n*10 + d
		i++
	}
	if i == 0 {
		return 0, b, false
	}
	return n, b[i:], true
}
