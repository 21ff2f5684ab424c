package engineio

import (
	"bytes"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutineMatching reports whether some goroutine's stack mentions every
// one of want and none of unwanted.
func goroutineMatching(want, unwanted []string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if containsAll(g, want) && !containsAny(g, unwanted) {
			return true
		}
	}
	return false
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestWebSocketWritesNothingAfterAFailedWrite: a client stops reading
// while its session's worker writes it a backlog, the application closes
// the session, and the worker's write times out part way through a frame.
// Nothing more may be written on that connection (not the unwritten part
// again, not the rest of the queue, not a close frame): the client would
// read it as the rest of the interrupted frame. What the client finds
// when it reads again is a prefix of the frames it was sent.
func TestWebSocketWritesNothingAfterAFailedWrite(t *testing.T) {
	const writeTimeout = 2 * time.Second
	e := newEnv(t, Config{WriteTimeout: writeTimeout, PingInterval: time.Minute})
	c := e.openRaw(t)
	sess := c.r.sess
	// A small send buffer, so that the backlog is far more than the
	// socket buffers hold.
	sess.mu.Lock()
	serverConn := sess.ws.nc
	sess.mu.Unlock()
	_ = serverConn.(*net.TCPConn).SetWriteBuffer(16 << 10)

	rng := rand.New(rand.NewPCG(1, 2))
	var want []byte // the frames, as the client must read them
	for range 4 {
		data := make([]byte, 1<<20)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		m := NewMessage(data, true)
		want = append(want, m.wsFrame()...)
		if !sess.Send(m) {
			t.Fatal("Send failed")
		}
	}
	var got []byte
	// read reads what has arrived (up to n bytes, or to the end when n is
	// negative) and checks that it continues the frames sent.
	read := func(n int) {
		t.Helper()
		_ = c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
		buf := make([]byte, 64<<10)
		for n != 0 {
			if n > 0 {
				buf = buf[:min(n, len(buf))]
			}
			k, err := c.nc.Read(buf)
			got = append(got, buf[:k]...)
			n -= k
			if len(got) > len(want) || !bytes.Equal(got, want[:len(got)]) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Fatalf("byte %d of the %d read differs from the frames sent: something was written after the failed write", i, len(got))
			}
			if err != nil {
				if n > 0 {
					t.Fatalf("read: %v", err)
				}
				return
			}
		}
	}

	eventually(t, "the worker blocked on the client", func() bool {
		return goroutineMatching([]string{"(*Session).work(", "(*wsConn).writeBlocking("}, []string{"(*Session).finish("})
	})
	// Let the blocked write take a little more, so that it fails part way
	// through what it was given.
	read(64 << 10)
	sess.Close("bye")
	eventually(t, "the blocked write timed out", func() bool {
		select {
		case <-sess.Done():
			return true
		default:
		}
		// Still finishing the session: it must not write again.
		return goroutineMatching([]string{"(*Session).finish(", "(*wsConn).writeBlocking("}, nil)
	})
	read(-1)
	if reason := c.r.waitClose(t); reason != "bye" {
		t.Fatalf("OnClose(%q): the write did not fail while the session was closing, as this test needs", reason)
	}
}

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

// TestWebSocketWorkerLeavesNoWriteDeadline: a worker that has written a
// slow client's backlog (with blocking writes bounded by WriteTimeout)
// hands the connection back to the flusher, whose non-blocking writes
// fail on an expired deadline; so once the worker has gone, a packet sent
// after WriteTimeout must still arrive. (The worker clears the deadline
// while it still holds the writer role; cleared after, it could be the
// deadline of the next worker's write.)
func TestWebSocketWorkerLeavesNoWriteDeadline(t *testing.T) {
	const writeTimeout = time.Second
	const size = 2 << 20 // more than a fresh connection's socket buffers take at once
	e := newEnv(t, Config{WriteTimeout: writeTimeout, PingInterval: time.Minute})
	c := e.openRaw(t)
	sess := c.r.sess
	big := NewMessage(bytes.Repeat([]byte("b"), size), true)
	if !sess.Send(big, big) {
		t.Fatal("Send failed")
	}
	eventually(t, "a worker writing the backlog", func() bool {
		return goroutineMatching([]string{"(*Session).work("}, nil)
	})
	for range 2 {
		if op, p := c.next(t); op != opBinary || len(p) != size {
			t.Fatalf("got op %d with %d bytes, want the %d-byte binary message", op, len(p), size)
		}
	}
	eventually(t, "the worker gone", func() bool {
		return !goroutineMatching([]string{"(*Session).work("}, nil)
	})
	time.Sleep(writeTimeout + writeTimeout/2) // past any deadline the worker set
	if !sess.Send(NewMessage([]byte("after"), false)) {
		t.Fatal("Send failed")
	}
	if op, p := c.next(t); op != opText || string(p) != "4after" {
		t.Fatalf("got op %d %q, want the text message", op, p)
	}
}
