package engineio

import "testing"

// TestFrameReaderGrowsAMessageAsItArrives: the header of a message that
// announces a megabyte, and one byte of it, must not make the reader hold
// a megabyte (a few bytes from each of many connections would pin that
// much each); the message still arrives whole once the rest comes.
func TestFrameReaderGrowsAMessageAsItArrives(t *testing.T) {
	const size = 1 << 20
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	in := joinFrames(clientFrame{fin: true, op: opBinary, payload: payload, length: -1})
	const header = 2 + 8 + 4
	r := frameReader{maxPayload: size}
	var log sinkLog
	if err := r.feed(in[:header+1], &log); err != nil {
		t.Fatal(err)
	}
	if held := cap(r.msg); held > 1+maxMsgAhead {
		t.Errorf("after one byte of a %d-byte message the reader holds %d bytes, want at most %d", size, held, 1+maxMsgAhead)
	}
	for rest := in[header+1:]; len(rest) > 0; {
		n := min(len(rest), 5000)
		if err := r.feed(rest[:n], &log); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if len(log.got) != 1 || log.got[0] != "2:"+string(payload) {
		t.Errorf("delivered %d messages, want the %d-byte one", len(log.got), size)
	}
}
