package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// WebSocket sizing and timing.
const (
	// readChunk is how much one read asks for when the client reads its
	// own connection (TLS, or without a poller); a burst of small chat
	// packets comes in one read system call.
	readChunk = 4096
	// writeWait bounds one write: a server that stops reading for this long
	// is broken, and the client gives up rather than block its sender.
	writeWait = 10 * time.Second
	// closeWait bounds the close frame written at the end of a run.
	closeWait = time.Second
	// maxHandshake bounds the server's answer to the WebSocket upgrade.
	maxHandshake = 16 << 10
	// initialReadBuffer is the starting size of a polling connection's
	// payload buffer; it grows to the largest payload and is then reused.
	initialReadBuffer = 512
)

// WebSocket opcodes (RFC 6455, 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// wsAcceptGUID is the key suffix of the handshake (RFC 6455, 1.3).
const wsAcceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialFunc opens the TCP connection under a WebSocket.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// wsTLS is the TLS configuration of wss:// connections: the system's
// roots, and the URL's host as the server's name. Tests replace it.
var wsTLS = &tls.Config{NextProtos: []string{"http/1.1"}}

// newDial returns the dial function shared by all WebSocket clients of a
// run: with src each connection is made from src's next source address.
func newDial(src *sourcePicker) dialFunc {
	if src != nil {
		return src.dialContext
	}
	var d net.Dialer
	return d.DialContext
}

// wsTransport is one WebSocket-only Engine.IO session, framed by the tool
// itself rather than a WebSocket library: the tool shares the machine
// with the server it measures, and what it spends per delivery shows in
// the latencies it reports. Until the client has joined, its own
// goroutine reads (next). Then, over plain TCP on a system with a poller
// (Linux), serve hands the connection to one of the run's pollers, which
// reads whatever has arrived in one system call per ready connection and
// hands the packets to the client, so that a delivery costs no goroutine
// switch and no second read that finds nothing. Without a poller (TLS,
// other systems) the client's goroutine keeps reading.
type wsTransport struct {
	conn net.Conn
	rc   syscall.RawConn // nil over TLS
	// in holds received bytes, parsed up to off (the rest is the start
	// of a frame); msg is a fragmented message being put together. Both
	// belong to whoever reads, one at a time: the client's goroutine,
	// then its poller.
	in  []byte
	off int
	msg []byte
	// frag is the opcode of the fragmented message in msg (0: none).
	frag byte

	wmu     sync.Mutex // serialises writers
	wbuf    []byte     // the frame being written, guarded by wmu
	wclosed bool       // a close frame was written, guarded by wmu

	deadline atomic.Int64             // unix nanoseconds; the poller's liveness check
	poller   atomic.Pointer[wsPoller] // set by serve
	token    int32                    // the poller's name for it, set by add
	onPacket func(p []byte) error     // set by add, for the poller
	done     chan error               // capacity 1: how the connection ended, once served
	answers  sync.WaitGroup           // answer's writes in flight
	endOnce  sync.Once
	closing  sync.Once
}

// dialWebSocket opens a WebSocket-only session at endpoint (a ws:// or
// wss:// URL without query), bounded by ctx.
func dialWebSocket(ctx context.Context, dial dialFunc, endpoint string) (*wsTransport, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "wss"])
	}
	raw, err := dial(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	// Until the handshake is done, ctx bounds every read and write: when
	// it ends, the deadline passes at once.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	t := &wsTransport{conn: raw, done: make(chan error, 1)}
	if u.Scheme == "wss" {
		conf := wsTLS.Clone()
		conf.ServerName = u.Hostname()
		tlsConn := tls.Client(raw, conf)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("websocket dial: %w", orCtx(ctx, err))
		}
		t.conn = tlsConn
	} else if tc, ok := raw.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			t.rc = rc // a poller may read it
		}
	}
	if err := t.handshake(u); err != nil {
		_ = t.conn.Close()
		return nil, fmt.Errorf("websocket dial: %w", orCtx(ctx, err))
	}
	if !stop() {
		_ = t.conn.Close()
		return nil, fmt.Errorf("websocket dial: %w", ctx.Err())
	}
	_ = t.conn.SetDeadline(time.Time{})
	return t, nil
}

// orCtx prefers ctx's error (a timeout, a cancel) to the I/O error it
// caused.
func orCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// handshake sends the upgrade request for u and checks the answer
// (RFC 6455, 4.1); bytes the server sent after its answer are kept in in.
func (t *wsTransport) handshake(u *url.URL) error {
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(key[8:], rand.Uint64())
	k := base64.StdEncoding.EncodeToString(key[:])
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	req := "GET " + path + "?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + k + "\r\nSec-WebSocket-Version: 13\r\n"
	if u.User != nil { // as a browser or the polling transport would
		pass, _ := u.User.Password()
		req += "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)) + "\r\n"
	}
	req += "\r\n"
	if _, err := t.conn.Write([]byte(req)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(&limitedConn{c: t.conn, left: maxHandshake}, readChunk)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("reading the handshake answer: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("bad handshake (HTTP %s)", resp.Status)
	}
	sum := sha1.Sum([]byte(k + wsAcceptGUID))
	switch {
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !hasToken(resp.Header.Values("Connection"), "upgrade"):
		return errors.New("bad handshake: the answer does not upgrade to websocket")
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		return errors.New("bad handshake: wrong Sec-WebSocket-Accept")
	}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		t.in = append(t.in, b...)
	}
	return nil
}

// hasToken reports whether the comma lists of values hold token, in any
// case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// limitedConn reads at most left bytes from c: a server that answers the
// upgrade with endless headers is cut off.
type limitedConn struct {
	c    net.Conn
	left int
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errors.New("handshake answer too long")
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.c.Read(p)
	l.left -= n
	return n, err
}

// errMaskedFrame: servers must not mask (RFC 6455, 5.1).
var errMaskedFrame = errors.New("websocket read: the server sent a masked frame")

// parseFrame reads one frame from the start of b. It returns the frame's
// length in b, or 0 when b holds only part of it.
func parseFrame(b []byte) (fin bool, op byte, payload []byte, n int, err error) {
	if len(b) < 2 {
		return false, 0, nil, 0, nil
	}
	fin, op = b[0]&0x80 != 0, b[0]&0x0F
	if b[0]&0x70 != 0 {
		return false, 0, nil, 0, errors.New("websocket read: reserved bits set")
	}
	if b[1]&0x80 != 0 {
		return false, 0, nil, 0, errMaskedFrame
	}
	size, head := uint64(b[1]&0x7F), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return false, 0, nil, 0, nil
		}
		size, head = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return false, 0, nil, 0, nil
		}
		size, head = binary.BigEndian.Uint64(b[2:]), 10
	}
	if op >= opClose && (size > 125 || !fin) {
		return false, 0, nil, 0, errors.New("websocket read: bad control frame")
	}
	if size > maxPacket {
		return false, 0, nil, 0, fmt.Errorf("websocket read: a frame of %d bytes, over the limit of %d", size, maxPacket)
	}
	if uint64(len(b)-head) < size {
		return false, 0, nil, 0, nil
	}
	end := head + int(size)
	return fin, op, b[head:end], end, nil
}

// packets parses the frames at the start of b and calls fn with each
// complete text packet (an empty one for a binary message); it answers
// pings and returns how many bytes it used. A close frame ends with
// errServerClosed.
func (t *wsTransport) packets(b []byte, fn func(p []byte) error) (int, error) {
	used := 0
	for {
		fin, op, payload, n, err := parseFrame(b[used:])
		if err != nil || n == 0 {
			return used, err
		}
		used += n
		switch op {
		case opPing:
			if err := t.answerFrame(opPong, payload); err != nil {
				return used, err
			}
			continue
		case opPong:
			continue
		case opClose:
			return used, fmt.Errorf("websocket: %w", errServerClosed)
		case opText, opBinary:
			if t.frag != 0 {
				return used, errors.New("websocket read: a new message inside a fragmented one")
			}
			if !fin {
				t.frag, t.msg = op, append(t.msg[:0], payload...)
				continue
			}
		case opContinuation:
			if t.frag == 0 {
				return used, errors.New("websocket read: a continuation without a message")
			}
			if len(t.msg)+len(payload) > maxPacket {
				return used, fmt.Errorf("websocket read: a message over the limit of %d bytes", maxPacket)
			}
			t.msg = append(t.msg, payload...)
			if !fin {
				continue
			}
			op, payload, t.frag = t.frag, t.msg, 0
		default:
			return used, fmt.Errorf("websocket read: unknown opcode %d", op)
		}
		if op == opBinary {
			payload = payload[:0] // the chat contract sends none
		}
		if err := fn(payload); err != nil {
			return used, err
		}
	}
}

// next returns the next text packet, read by the client's own goroutine;
// the slice is valid until the next call. Binary messages come back empty.
func (t *wsTransport) next() ([]byte, error) {
	for {
		var got []byte
		used, err := t.packets(t.in[t.off:], func(p []byte) error {
			got = p
			return errGotPacket
		})
		t.off += used
		if err == errGotPacket {
			return got, nil // in is moved only by a later call
		}
		if err != nil {
			return nil, err
		}
		t.in = t.in[:copy(t.in, t.in[t.off:])]
		t.off = 0
		if len(t.in) == cap(t.in) {
			t.in = append(t.in, make([]byte, readChunk)...)[:len(t.in)]
		}
		n, err := t.conn.Read(t.in[len(t.in):cap(t.in)])
		t.in = t.in[:len(t.in)+n]
		if n == 0 && err != nil {
			return nil, fmt.Errorf("websocket read: %w", err)
		}
	}
}

// errGotPacket stops packets at the first packet, for next.
var errGotPacket = errors.New("got a packet")

// serve hands every further packet to fn until the connection ends, and
// returns how it ended. With a poller, the poller's goroutine reads and
// calls fn (and serve waits); without one, the caller's goroutine does.
func (t *wsTransport) serve(p *wsPoller, fn func(p []byte) error) error {
	if p == nil || t.rc == nil {
		for {
			pkt, err := t.next()
			if err != nil {
				return err
			}
			if err := fn(pkt); err != nil {
				return err
			}
		}
	}
	// What next read ahead goes first, then the poller takes over.
	used, err := t.packets(t.in[t.off:], fn)
	if err != nil {
		return err
	}
	t.in, t.off = append([]byte(nil), t.in[t.off+used:]...), 0
	t.poller.Store(p)
	if err := p.add(t, fn); err != nil {
		return err
	}
	return <-t.done
}

// take parses data, just read, after what is left of earlier reads, and
// hands the complete packets to onPacket; the poller's goroutine calls it.
func (t *wsTransport) take(data []byte) error {
	if len(t.in) > 0 { // the start of a frame came in an earlier read
		t.in = append(t.in, data...)
		data = t.in
	}
	used, err := t.packets(data, t.onPacket)
	if err != nil {
		return err
	}
	rest := data[used:]
	switch {
	case len(rest) == 0 && cap(t.in) > readChunk:
		t.in = nil // a large message came; its buffer is not kept
	default: // rest may lie in in itself: append moves it down
		t.in = append(t.in[:0], rest...)
	}
	return nil
}

// end records how the connection ended, once, for serve.
func (t *wsTransport) end(err error) {
	t.endOnce.Do(func() { t.done <- err })
}

// send writes one packet as a text frame.
func (t *wsTransport) send(p []byte) error { return t.writeFrame(opText, p) }

// answer sends p, a reply to what was just read (a pong), without making
// a poller wait: another client's sender may hold the write lock, or the
// server may not be reading, and the poller's other connections must not
// wait for that. Read by its own goroutine, the connection writes at once.
func (t *wsTransport) answer(p []byte) error { return t.answerFrame(opText, p) }

// answerFrame is answer for a frame of any opcode.
func (t *wsTransport) answerFrame(op byte, p []byte) error {
	pl := t.poller.Load()
	if pl == nil {
		return t.writeFrame(op, p)
	}
	p = append([]byte(nil), p...) // it lies in the poller's read buffer
	t.answers.Add(1)
	go func() {
		defer t.answers.Done()
		if err := t.writeFrame(op, p); err != nil {
			pl.fail(t, err)
		}
	}()
	return nil
}

// writeFrame writes one masked frame (clients must mask, RFC 6455, 5.3)
// within writeWait.
func (t *wsTransport) writeFrame(op byte, p []byte) error {
	return t.writeFrameWithin(op, p, writeWait)
}

// writeFrameWithin is writeFrame within wait.
func (t *wsTransport) writeFrameWithin(op byte, p []byte, wait time.Duration) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.wclosed {
		return errClosed
	}
	b := append(t.wbuf[:0], 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range b[start:] {
		b[start+i] ^= mask[i&3]
	}
	t.wbuf = b
	if op == opClose {
		t.wclosed = true
	}
	if err := t.conn.SetWriteDeadline(time.Now().Add(wait)); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	if _, err := t.conn.Write(b); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// alive moves the liveness deadline to d from now: the server's next ping
// must come before it.
func (t *wsTransport) alive(d time.Duration) {
	at := time.Now().Add(d)
	t.deadline.Store(at.UnixNano())
	_ = t.conn.SetReadDeadline(at)
}

// close sends a close frame (best effort, bounded by closeWait) and closes
// the connection, which ends a blocked next or serve. Safe to call more
// than once, from any goroutine.
func (t *wsTransport) close() {
	t.closing.Do(func() {
		_ = t.writeFrameWithin(opClose, []byte{0x03, 0xE8}, closeWait) // 1000: normal closure
		if p := t.poller.Load(); p != nil {
			p.remove(t)
		}
		_ = t.conn.Close()
		t.end(errClosed)
	})
}

// wait returns when the answers written on their own goroutines are done
// (at once after close: a closed connection takes no write).
func (t *wsTransport) wait() { t.answers.Wait() }
