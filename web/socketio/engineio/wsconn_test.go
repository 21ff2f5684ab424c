package engineio

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawClient is a WebSocket-only session driven frame by frame, below any
// WebSocket library, to send what a library would not.
type rawClient struct {
	nc net.Conn
	r  *recorder
}

func (e *env) openRaw(t *testing.T) rawClient {
	t.Helper()
	conn, _, r := e.openWebSocket(t) // the open packet is read through gorilla, which then holds nothing more
	return rawClient{nc: conn.NetConn(), r: r}
}

func (c rawClient) write(t *testing.T, fs ...clientFrame) {
	t.Helper()
	if _, err := c.nc.Write(joinFrames(fs...)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next reads one server frame: its opcode and payload.
func (c rawClient) next(t *testing.T) (byte, []byte) {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	var hdr [2]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	if hdr[0]&0x80 == 0 || hdr[1]&0x80 != 0 {
		t.Fatalf("server frame header %x: want FIN set and no mask", hdr)
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c.nc, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c.nc, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.nc, p); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	return hdr[0] & 0x0f, p
}

// expectClose reads frames until a close frame, checks its code, and
// then expects the server to close the connection.
func (c rawClient) expectClose(t *testing.T, code int) {
	t.Helper()
	for {
		op, p := c.next(t)
		if op != opClose {
			continue // a ping or a message sent before
		}
		if len(p) < 2 || int(binary.BigEndian.Uint16(p)) != code {
			t.Fatalf("close frame payload %x, want code %d", p, code)
		}
		break
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if n, err := c.nc.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d more bytes after the close frame, want the connection closed", n)
	}
}

func TestWebSocketFrames(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Run("ping is answered with its payload", func(t *testing.T) {
				c := newEnv(t, Config{}, mode.opt).openRaw(t)
				c.write(t, ctl(opPing, []byte("are you there")))
				if op, p := c.next(t); op != opPong || string(p) != "are you there" {
					t.Errorf("got op %d %q, want a pong with the ping's payload", op, p)
				}
			})
			t.Run("fragments around a ping make one message", func(t *testing.T) {
				c := newEnv(t, Config{}, mode.opt).openRaw(t)
				c.write(t, frag(opText, "4frag", false), ctl(opPing, []byte("x")), frag(opContinuation, "mented", true))
				if op, p := c.next(t); op != opPong || string(p) != "x" {
					t.Errorf("got op %d %q, want pong", op, p)
				}
				if got := c.r.nextMessage(t); got != (received{"fragmented", false}) {
					t.Errorf("delivered %+v", got)
				}
			})
			t.Run("frames written together arrive in order", func(t *testing.T) {
				c := newEnv(t, Config{}, mode.opt).openRaw(t)
				var fs []clientFrame
				for i := range 50 {
					fs = append(fs, text(fmt.Sprintf("4m%d", i)))
				}
				c.write(t, fs...)
				for i := range 50 {
					if got := c.r.nextMessage(t); got.data != fmt.Sprintf("m%d", i) {
						t.Fatalf("message %d: %+v", i, got)
					}
				}
			})
			t.Run("a message split across writes", func(t *testing.T) {
				c := newEnv(t, Config{}, mode.opt).openRaw(t)
				b := joinFrames(text("4" + strings.Repeat("s", 20000)))
				for len(b) > 0 {
					n := min(len(b), 1500)
					if _, err := c.nc.Write(b[:n]); err != nil {
						t.Fatal(err)
					}
					b = b[n:]
					time.Sleep(time.Millisecond)
				}
				if got := c.r.nextMessage(t); got.data != strings.Repeat("s", 20000) {
					t.Errorf("delivered %d bytes", len(got.data))
				}
			})
		})
	}
}

func TestWebSocketCloseAndFailure(t *testing.T) {
	tests := []struct {
		name       string
		frames     []clientFrame
		wantCode   int
		wantReason string
	}{
		{"close frame is answered with its code", []clientFrame{ctl(opClose, closePayload(1001, "going away"))}, 1001, ReasonTransportClose},
		{"unmasked frame", []clientFrame{{fin: true, op: opText, payload: []byte("4x"), length: -1, unmasked: true}}, closeProtocolError, ReasonTransportError},
		{"compressed frame", []clientFrame{{fin: true, op: opText, payload: []byte("4x"), length: -1, rsv: 4}}, closeProtocolError, ReasonTransportError},
		{"text that is not UTF-8", []clientFrame{text("4\xff\xfe")}, closeInvalidData, ReasonTransportError},
		{"message over MaxPayload", []clientFrame{text("4" + strings.Repeat("x", 200))}, closeTooBig, ReasonTransportError},
		{"fragments over MaxPayload", []clientFrame{frag(opText, "4"+strings.Repeat("x", 60), false), frag(opContinuation, strings.Repeat("x", 60), true)}, closeTooBig, ReasonTransportError},
	}
	for _, mode := range readModes {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, Config{MaxPayload: 100}, mode.opt)
				c := e.openRaw(t)
				c.write(t, tt.frames...)
				c.expectClose(t, tt.wantCode)
				if reason := c.r.waitClose(t); reason != tt.wantReason {
					t.Errorf("OnClose(%q), want %q", reason, tt.wantReason)
				}
				eventually(t, "Count() back to 0", func() bool { return e.srv.Count() == 0 })
			})
		}
	}
}

func TestWebSocketPeerHangingUpEndsTheSession(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			c := newEnv(t, Config{}, mode.opt).openRaw(t)
			c.write(t, frag(opText, "4half a mess", false)) // and then nothing
			_ = c.nc.Close()
			if reason := c.r.waitClose(t); reason != ReasonTransportClose {
				t.Errorf("OnClose(%q), want %q", reason, ReasonTransportClose)
			}
		})
	}
}

// TestWebSocketSlowReaderGetsEverythingInOrder sends far more than the
// socket buffers hold to a client that reads only once a worker has taken
// over a write that the socket did not take whole: the worker finishes it
// with blocking writes, and every frame arrives whole and in order.
func TestWebSocketSlowReaderGetsEverythingInOrder(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			const n, size = 3000, 2000
			slowPath := hookPartialWrite(t)
			// Room for every packet, since the client reads only once all
			// are sent; and a write timeout that a loaded machine cannot
			// reach, since the worker writes the whole backlog under one.
			c := newEnv(t, Config{SendQueue: 2 * n, WriteTimeout: time.Minute}, mode.opt).openRaw(t)
			c.shrinkSendBuffer(t)
			pad := strings.Repeat("p", size)
			for i := range n {
				// Units of one and of two messages, so that gathered
				// writes hold frames of different sizes.
				m := NewMessage(fmt.Appendf(nil, "%d:%s", i, pad[:i%size]), false)
				if i%3 == 0 {
					if !c.r.sess.Send(m, NewMessage([]byte("x"), true)) {
						t.Fatalf("Send %d failed", i)
					}
					continue
				}
				if !c.r.sess.Send(m) {
					t.Fatalf("Send %d failed", i)
				}
			}
			select {
			case <-slowPath:
			case <-time.After(waitTimeout):
				t.Fatalf("no worker took over a partial write within %v: the socket took everything, the slow path did not run", waitTimeout)
			}
			for i := range n {
				want := fmt.Sprintf("4%d:%s", i, pad[:i%size])
				op, p := c.next(t)
				if op == opText && string(p) == "2" {
					op, p = c.next(t) // a ping
				}
				if op != opText || string(p) != want {
					t.Fatalf("frame %d: op %d, %.40q…, want %.40q…", i, op, p, want)
				}
				if i%3 == 0 {
					if op, p := c.next(t); op != opBinary || string(p) != "x" {
						t.Fatalf("frame %d's attachment: op %d %q", i, op, p)
					}
				}
			}
		})
	}
}

// hookPartialWrite sets testHookPartialWrite for the test and returns a
// channel told each time a worker takes over a partial write. It must be
// called before the test's server starts: the hook is unset at cleanup,
// once that server has closed.
func hookPartialWrite(t *testing.T) <-chan struct{} {
	t.Helper()
	ch := make(chan struct{}, 1)
	testHookPartialWrite = func(*Session) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { testHookPartialWrite = nil })
	return ch
}

// shrinkSendBuffer makes the server's send buffer small (the kernel no
// longer sizes it to the traffic), so that the connection holds a few
// hundred kilobytes at most while the client does not read. The client's
// receive buffer is left alone: small on both ends, the connection crawls
// once the client reads.
func (c rawClient) shrinkSendBuffer(t *testing.T) {
	t.Helper()
	c.r.sess.mu.Lock()
	server := c.r.sess.ws.nc
	c.r.sess.mu.Unlock()
	if err := server.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatalf("shrink the send buffer: %v", err)
	}
}

// TestUpgradeKeepsFramesSentWithTheUpgradePacket sends "5" and the first
// message in one write: the message belongs to the upgraded session.
func TestUpgradeKeepsFramesSentWithTheUpgradePacket(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, Config{}, mode.opt, echoing)
			sid, r := e.openPolling(t)
			c := rawClient{nc: e.dial(t, "transport=websocket&sid="+sid, nil).NetConn(), r: r}
			c.write(t, text("2probe"))
			if op, p := c.next(t); op != opText || string(p) != "3probe" {
				t.Fatalf("probe answer: op %d %q", op, p)
			}
			c.write(t, text("5"), text("4right after"))
			if got := r.nextMessage(t); got != (received{"right after", false}) {
				t.Fatalf("delivered %+v", got)
			}
			if op, p := c.next(t); op != opText || string(p) != "4right after" {
				t.Errorf("echo on the WebSocket: op %d %q", op, p)
			}
			if tr := r.sess.Transport(); tr != TransportWebSocket {
				t.Errorf("transport %q", tr)
			}
		})
	}
}

// TestWebSocketClientsLeavingDuringWritesAllEnd has clients hang up
// while the server is busy writing to them: every session must still end
// (OnClose), whichever of the reader and the writer sees the end first.
func TestWebSocketClientsLeavingDuringWritesAllEnd(t *testing.T) {
	// busyRounds rounds of one packet per client are queued before the
	// clients hang up.
	const busyRounds = 20
	for _, mode := range readModes {
		t.Run(mode.name, func(t *testing.T) {
			const clients = 100
			e := newEnv(t, Config{SendQueue: 1 << 16}, mode.opt)
			conns := make([]rawClient, clients)
			for i := range conns {
				conns[i] = e.openRaw(t)
			}
			stop := make(chan struct{})
			done := make(chan struct{})
			// busy is closed once the sender has queued to every client
			// several times, so that writes are under way at the hang-up.
			busy := make(chan struct{})
			go func() {
				defer close(done)
				m := NewMessage([]byte(strings.Repeat("w", 300)), false)
				for round := 0; ; round++ {
					select {
					case <-stop:
						return
					default:
					}
					for _, c := range conns {
						c.r.sess.Send(m)
					}
					if round == busyRounds {
						close(busy)
					}
				}
			}()
			select {
			case <-busy:
			case <-time.After(waitTimeout):
				t.Fatal("the sender did not get going")
			}
			for _, c := range conns {
				_ = c.nc.Close()
			}
			for i, c := range conns {
				select {
				case <-c.r.sess.Done():
				case <-time.After(waitTimeout):
					t.Fatalf("session %d did not end after its client hung up", i)
				}
			}
			close(stop)
			<-done
		})
	}
}

// TestFlushIntervalGathersWhatComesDuringThePause: the first packet after
// a quiet spell goes out at once; packets queued right after it wait for
// the end of the flusher's pause and then go out together.
func TestFlushIntervalGathersWhatComesDuringThePause(t *testing.T) {
	const interval = time.Second
	c := newEnv(t, Config{FlushInterval: interval}).openRaw(t)
	c.r.sess.Send(NewMessage([]byte("first"), false))
	if op, p := c.next(t); op != opText || string(p) != "4first" {
		t.Fatalf("got op %d %q, want the first packet at once", op, p)
	}
	c.r.sess.Send(NewMessage([]byte("second"), false))
	c.r.sess.Send(NewMessage([]byte("third"), false))
	// Still inside the pause: nothing may arrive yet.
	_ = c.nc.SetReadDeadline(time.Now().Add(interval / 5))
	if n, err := c.nc.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes during the flusher's pause, want nothing until it ends", n)
	}
	for _, want := range []string{"4second", "4third"} {
		if op, p := c.next(t); op != opText || string(p) != want {
			t.Fatalf("got op %d %q, want %q after the pause", op, p, want)
		}
	}
}
