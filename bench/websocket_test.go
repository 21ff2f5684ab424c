package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frame builds an unmasked server frame.
func frame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
	return append(b, payload...)
}

func TestParseFrameTakesWholeFramesOnly(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 300)
	huge := bytes.Repeat([]byte("y"), 70000)
	tests := []struct {
		name    string
		in      []byte
		wantN   int
		wantLen int
		wantErr string
	}{
		{"empty", nil, 0, 0, ""},
		{"one byte", []byte{0x81}, 0, 0, ""},
		{"short text", frame(true, opText, []byte("4hi")), 5, 3, ""},
		{"short text, payload not all here", frame(true, opText, []byte("4hi"))[:4], 0, 0, ""},
		{"16-bit length", frame(true, opText, long), 4 + 300, 300, ""},
		{"16-bit length, header cut", frame(true, opText, long)[:3], 0, 0, ""},
		{"64-bit length", frame(true, opText, huge), 10 + 70000, 70000, ""},
		{"64-bit length, header cut", frame(true, opText, huge)[:9], 0, 0, ""},
		{"a frame and the start of the next", append(frame(true, opText, []byte("a")), 0x81), 3, 1, ""},
		{"masked", []byte{0x81, 0x81, 1, 2, 3, 4, 'x'}, 0, 0, "masked frame"},
		{"reserved bits", []byte{0xC1, 0x01, 'x'}, 0, 0, "reserved bits"},
		{"control frame over 125 bytes", frame(true, opPing, long), 0, 0, "bad control frame"},
		{"fragmented control frame", frame(false, opPing, nil), 0, 0, "bad control frame"},
		{"over the packet limit", binary.BigEndian.AppendUint64([]byte{0x81, 127}, maxPacket+1), 0, 0, "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, payload, n, err := parseFrame(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.wantN || len(payload) != tt.wantLen {
				t.Fatalf("parseFrame = %d bytes, payload %d, %v; want %d, %d, nil", n, len(payload), err, tt.wantN, tt.wantLen)
			}
		})
	}
}

// collect is an onPacket that keeps copies of the packets.
func collect(got *[]string) func(p []byte) error {
	return func(p []byte) error {
		*got = append(*got, string(p))
		return nil
	}
}

func TestTakeJoinsPacketsSplitAcrossReads(t *testing.T) {
	stream := bytes.Join([][]byte{
		frame(true, opText, []byte(`42["messages","a: one"]`)),
		frame(false, opText, []byte(`42["messages",`)), // a fragmented message
		frame(true, opPong, nil),                       // a control frame may come between fragments
		frame(false, opContinuation, []byte(`"b: two`)),
		frame(true, opContinuation, []byte(`"]`)),
		frame(true, opBinary, []byte{1, 2, 3}),
		frame(true, opText, bytes.Repeat([]byte("z"), 5000)),
		frame(true, opText, []byte("3")),
	}, nil)
	want := []string{`42["messages","a: one"]`, `42["messages","b: two"]`, "", strings.Repeat("z", 5000), "3"}
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(stream)} {
		t.Run(fmt.Sprintf("reads of %d bytes", chunk), func(t *testing.T) {
			var got []string
			tr := &wsTransport{}
			tr.onPacket = collect(&got)
			for rest := stream; len(rest) > 0; {
				n := min(chunk, len(rest))
				if err := tr.take(rest[:n]); err != nil {
					t.Fatalf("take: %v", err)
				}
				rest = rest[n:]
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("packets %q, want %q", got, want)
			}
			if len(tr.in) != 0 {
				t.Fatalf("%d bytes left over after whole frames", len(tr.in))
			}
		})
	}
}

func TestTakeRefusesBrokenStreams(t *testing.T) {
	tests := []struct {
		name    string
		stream  []byte
		wantErr string
	}{
		{"a close frame", frame(true, opClose, []byte{0x03, 0xE8}), "closed by the server"},
		{"a continuation without a message", frame(true, opContinuation, []byte("x")), "continuation without a message"},
		{"a message inside a fragmented one", append(frame(false, opText, []byte("a")), frame(true, opText, []byte("b"))...), "inside a fragmented one"},
		{"an unknown opcode", frame(true, 0x3, nil), "unknown opcode"},
		{"a fragmented message over the limit", append(frame(false, opText, make([]byte, maxPacket-10)), frame(true, opContinuation, make([]byte, 20))...), "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tr := &wsTransport{}
			tr.onPacket = collect(&got)
			err := tr.take(tt.stream)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("take: %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}

// rawServer upgrades every request with gorilla and gives the test the
// connection, on which it writes bytes of its own making.
func rawServer(t *testing.T) (endpoint string, conns <-chan *websocket.Conn) {
	t.Helper()
	ch := make(chan *websocket.Conn, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("EIO") != "4" || r.URL.Query().Get("transport") != "websocket" {
			http.Error(w, "want EIO=4 and transport=websocket", http.StatusBadRequest)
			return
		}
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ch <- c
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/", ch
}

// dialTest dials endpoint within 5 s.
func dialTest(t *testing.T, endpoint string) *wsTransport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr, err := dialWebSocket(ctx, newDial(nil), endpoint)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(tr.close)
	return tr
}

// takeConn returns the server side of the connection just dialed.
func takeConn(t *testing.T, conns <-chan *websocket.Conn) *websocket.Conn {
	t.Helper()
	select {
	case c := <-conns:
		t.Cleanup(func() { _ = c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no connection")
		return nil
	}
}

// serveTest serves tr through a poller (or without one where the system
// has none) and passes every packet on to the returned channel.
func serveTest(t *testing.T, tr *wsTransport) (packets <-chan string, ended <-chan error) {
	t.Helper()
	var p *wsPoller
	if runtime.GOOS == "linux" {
		var err error
		if p, err = newWSPoller(); err != nil {
			t.Fatalf("poller: %v", err)
		}
		t.Cleanup(p.stop)
	}
	pk, end := make(chan string, 64), make(chan error, 1)
	go func() { end <- tr.serve(p, func(b []byte) error { pk <- string(b); return nil }) }()
	return pk, end
}

func receive(t *testing.T, packets <-chan string, want string) {
	t.Helper()
	select {
	case got := <-packets:
		if got != want {
			t.Fatalf("packet %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no packet %q within 5 s", want)
	}
}

func TestWebSocketTalksToAWebSocketServer(t *testing.T) {
	endpoint, conns := rawServer(t)
	tr := dialTest(t, endpoint)
	srv := takeConn(t, conns)

	// The handshake phase: the client's goroutine reads. The open packet
	// and the next come in one write, so next reads the second ahead.
	nc := srv.NetConn()
	if _, err := nc.Write(append(frame(true, opText, []byte(`0{"sid":"x"}`)), frame(true, opText, []byte("40"))...)); err != nil {
		t.Fatal(err)
	}
	if p, err := tr.next(); err != nil || string(p) != `0{"sid":"x"}` {
		t.Fatalf("next = %q, %v", p, err)
	}
	// The client's frames are masked and whole, as a server checks.
	for _, msg := range []string{"40", strings.Repeat("m", 200), strings.Repeat("M", 70000)} {
		if err := tr.send([]byte(msg)); err != nil {
			t.Fatalf("send: %v", err)
		}
		typ, got, err := srv.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(got) != msg {
			t.Fatalf("the server read %d %.20q, %v; want text %.20q", typ, got, err, msg)
		}
	}

	// Serving begins with the packet read ahead; then the poller reads.
	packets, ended := serveTest(t, tr)
	receive(t, packets, "40")
	if err := srv.WriteMessage(websocket.TextMessage, []byte(`42["messages","a"]`)); err != nil {
		t.Fatal(err)
	}
	receive(t, packets, `42["messages","a"]`)

	// A frame in pieces, a ping in between the fragments of a message.
	whole := frame(true, opText, []byte(`42["messages","b: split"]`))
	for _, piece := range [][]byte{whole[:1], whole[1:5], whole[5:]} {
		if _, err := nc.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	receive(t, packets, `42["messages","b: split"]`)
	pong := make(chan string, 1)
	srv.SetPongHandler(func(data string) error { pong <- data; return nil })
	go func() { _, _, _ = srv.ReadMessage() }() // runs the pong handler
	stream := bytes.Join([][]byte{
		frame(false, opText, []byte("42[")),
		frame(true, opPing, []byte("are you there")),
		frame(true, opContinuation, []byte(`"x"]`)),
	}, nil)
	if _, err := nc.Write(stream); err != nil {
		t.Fatal(err)
	}
	receive(t, packets, `42["x"]`)
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Fatalf("pong %q, want the ping's data", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong within 5 s")
	}

	// The server closes: serve ends, saying so.
	if err := srv.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, errServerClosed) {
			t.Fatalf("serve ended with %v, want errServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not end after the server's close frame")
	}
}

func TestWebSocketServeEndsWhenClosedOrCut(t *testing.T) {
	tests := []struct {
		name string
		end  func(tr *wsTransport, srv *websocket.Conn)
		want func(error) bool
	}{
		{"closed by the client", func(tr *wsTransport, _ *websocket.Conn) { tr.close() },
			func(err error) bool { return errors.Is(err, errClosed) }},
		{"the server's side cut", func(_ *wsTransport, srv *websocket.Conn) { _ = srv.NetConn().Close() },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "websocket read") }},
		{"no ping in time", func(tr *wsTransport, _ *websocket.Conn) { tr.alive(-time.Second) },
			func(err error) bool {
				return err != nil && (strings.Contains(err.Error(), "no ping") || strings.Contains(err.Error(), "timeout"))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, conns := rawServer(t)
			tr := dialTest(t, endpoint)
			srv := takeConn(t, conns)
			packets, ended := serveTest(t, tr)
			if err := srv.WriteMessage(websocket.TextMessage, []byte("2")); err != nil {
				t.Fatal(err)
			}
			receive(t, packets, "2") // served by now
			tt.end(tr, srv)
			select {
			case err := <-ended:
				if !tt.want(err) {
					t.Fatalf("serve ended with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("serve did not end within 5 s")
			}
			if err := tr.send([]byte("3")); tt.name == "closed by the client" && !errors.Is(err, errClosed) {
				t.Fatalf("send after close: %v, want errClosed", err)
			}
		})
	}
}

func TestWebSocketPollerReadsWhatCameBeforeServing(t *testing.T) {
	tests := []struct {
		name   string
		frames [][]byte
		hangUp bool // the server closes right after its frames
	}{
		// Over the poller's 64 KiB buffer, all in the socket before the
		// poller's one event: it must read on while reads come back full.
		{"a burst over the read buffer", [][]byte{
			frame(true, opText, bytes.Repeat([]byte("a"), 40000)),
			frame(true, opText, bytes.Repeat([]byte("b"), 40000)),
			frame(true, opText, []byte("3")),
		}, false},
		// Data and the hang-up in one event: the packets, then the end.
		{"packets and then the hang-up", [][]byte{
			frame(true, opText, []byte(`42["messages","last"]`)),
			frame(true, opText, []byte("3")),
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, conns := rawServer(t)
			tr := dialTest(t, endpoint)
			nc := takeConn(t, conns).NetConn()
			if _, err := nc.Write(bytes.Join(tt.frames, nil)); err != nil {
				t.Fatal(err)
			}
			if tt.hangUp {
				_ = nc.Close()
			}
			packets, ended := serveTest(t, tr)
			for _, f := range tt.frames {
				_, _, payload, _, _ := parseFrame(f)
				receive(t, packets, string(payload))
			}
			if !tt.hangUp {
				return
			}
			select {
			case err := <-ended:
				if err == nil || !strings.Contains(err.Error(), "websocket read") {
					t.Fatalf("serve ended with %v, want a read error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("serve did not see the hang-up")
			}
		})
	}
}

func TestWebSocketPollerDoesNotWaitOnOneConnectionsWrites(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux's")
	}
	p, err := newWSPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	endpoint, conns := rawServer(t)
	// One at a time: the server's side of each is the one taken after it.
	a := dialTest(t, endpoint)
	srvA := takeConn(t, conns)
	b := dialTest(t, endpoint)
	srvB := takeConn(t, conns)
	pk := make(chan string, 16)
	for _, tr := range []*wsTransport{a, b} {
		go func() { _ = tr.serve(p, func(b []byte) error { pk <- string(b); return nil }) }()
	}
	for _, srv := range []*websocket.Conn{srvA, srvB} {
		if err := srv.WriteMessage(websocket.TextMessage, []byte("2")); err != nil {
			t.Fatal(err)
		}
		receive(t, pk, "2") // both served by now
	}

	// A's writes are stuck (its sender holds the lock); a ping to A must
	// not keep the poller from B.
	a.wmu.Lock()
	locked := true
	t.Cleanup(func() { // before the transports' own: close needs the lock
		if locked {
			a.wmu.Unlock()
		}
	})
	if err := srvA.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() { answered <- a.answer([]byte("3")) }() // nor an Engine.IO pong
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("answer waited for the connection")
	}
	if err := srvB.WriteMessage(websocket.TextMessage, []byte("for b")); err != nil {
		t.Fatal(err)
	}
	receive(t, pk, "for b")
	locked = false
	a.wmu.Unlock()

	// Once A can write again, its answers go out (in either order).
	pong, texts := make(chan string, 1), make(chan string, 1)
	srvA.SetPongHandler(func(data string) error { pong <- data; return nil })
	go func() {
		for {
			_, got, err := srvA.ReadMessage()
			if err != nil {
				return
			}
			texts <- string(got)
		}
	}()
	receive(t, texts, "3")
	receive(t, pong, "ping")
}

func TestWebSocketOverTLS(t *testing.T) {
	conns := make(chan *websocket.Conn, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil); err == nil {
			conns <- c
		}
	}))
	t.Cleanup(srv.Close)
	saved := wsTLS
	wsTLS = srv.Client().Transport.(*http.Transport).TLSClientConfig
	t.Cleanup(func() { wsTLS = saved })

	tr := dialTest(t, "wss"+strings.TrimPrefix(srv.URL, "https")+"/socket.io/")
	if tr.rc != nil {
		t.Fatal("a TLS connection must be read through TLS, not by a poller")
	}
	c := takeConn(t, conns)
	packets, _ := serveTest(t, tr) // without a poller: the client's goroutine reads
	if err := c.WriteMessage(websocket.TextMessage, []byte(`42["messages","over tls"]`)); err != nil {
		t.Fatal(err)
	}
	receive(t, packets, `42["messages","over tls"]`)
	if err := tr.send([]byte("3")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "3" {
		t.Fatalf("the server read %q, %v", got, err)
	}
}

func TestWebSocketDialRefusesBadHandshakes(t *testing.T) {
	tests := []struct {
		name    string
		answer  string // the whole answer to the upgrade request
		wantErr string
	}{
		{"not upgraded", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "bad handshake (HTTP 400 Bad Request)"},
		{"wrong accept key", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n", "wrong Sec-WebSocket-Accept"},
		{"no upgrade header", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", "does not upgrade to websocket"},
		{"no connection header", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "does not upgrade to websocket"},
		{"endless headers", "HTTP/1.1 101 Switching Protocols\r\n" + strings.Repeat("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 1000), "too long"},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", "reading the handshake answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ln.Close() })
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf) // the request
				_, _ = c.Write([]byte(tt.answer))
				_, _ = c.Read(buf) // until the client hangs up
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = dialWebSocket(ctx, newDial(nil), "ws://"+ln.Addr().String()+"/socket.io/")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "websocket dial: ") {
				t.Fatalf("dial: %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestWebSocketDialGivesUpWithTheContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // and never answers
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = dialWebSocket(ctx, newDial(nil), "ws://"+ln.Addr().String()+"/socket.io/")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial: %v, want the context's deadline", err)
	}
	select {
	case c := <-accepted:
		_ = c.Close()
	default:
	}
}
