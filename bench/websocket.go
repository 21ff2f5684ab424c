package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket sizing and timing.
const (
	// wsReadBufferSize is gorilla's per-connection read buffer: 4 KB takes a
	// burst of small chat packets in one read system call, which matters
	// more on two shared cores than 8 MB for two thousand connections.
	wsReadBufferSize = 4096
	// wsWriteBufferSize is the size of the pooled write buffers; a connection
	// holds one only while it writes, so idle clients cost nothing.
	wsWriteBufferSize = 4096
	// writeWait bounds one write: a server that stops reading for this long
	// is broken, and the client gives up rather than block its sender.
	writeWait = 10 * time.Second
	// closeWait bounds the close frame written at the end of a run.
	closeWait = time.Second
	// initialReadBuffer is the starting size of a connection's packet
	// buffer; it grows to the largest packet received and is then reused.
	initialReadBuffer = 512
)

// wsWriteBuffers is shared by every WebSocket client of the process.
var wsWriteBuffers sync.Pool

// newDialer returns the WebSocket dialer shared by all clients of a run;
// with src each connection is made from src's next source address.
func newDialer(timeout time.Duration, src *sourcePicker) *websocket.Dialer {
	d := &websocket.Dialer{
		HandshakeTimeout: timeout,
		ReadBufferSize:   wsReadBufferSize,
		WriteBufferSize:  wsWriteBufferSize,
		WriteBufferPool:  &wsWriteBuffers,
	}
	if src != nil {
		d.NetDialContext = src.dialContext
	}
	return d
}

// wsTransport is one WebSocket-only Engine.IO session. next is called by the
// client's reading goroutine only; send and close may be called from any
// goroutine.
type wsTransport struct {
	conn *websocket.Conn
	buf  []byte // packet buffer, owned by the reading goroutine

	wmu sync.Mutex // serialises writers: gorilla allows one at a time

	closeOnce sync.Once
}

// dialWebSocket opens a WebSocket-only session at endpoint (a ws:// or wss://
// URL without query).
func dialWebSocket(ctx context.Context, d *websocket.Dialer, endpoint string) (*wsTransport, error) {
	conn, resp, err := d.DialContext(ctx, endpoint+"?EIO=4&transport=websocket", nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket dial: %w (HTTP %s)", err, resp.Status)
		}
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	conn.SetReadLimit(maxPacket)
	return &wsTransport{conn: conn, buf: make([]byte, 0, initialReadBuffer)}, nil
}

// next returns the next text packet; the slice is valid until the next call.
// Binary frames (never sent by the chat contract) come back empty.
func (t *wsTransport) next() ([]byte, error) {
	typ, r, err := t.conn.NextReader()
	if err != nil {
		return nil, fmt.Errorf("websocket read: %w", err)
	}
	buf := t.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("websocket read: %w", err)
		}
	}
	t.buf = buf
	if typ != websocket.TextMessage {
		return buf[:0], nil
	}
	return buf, nil
}

// send writes one packet as a text frame.
func (t *wsTransport) send(p []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	if err := t.conn.WriteMessage(websocket.TextMessage, p); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// alive moves the read deadline to d from now: the server's next ping must
// come before it.
func (t *wsTransport) alive(d time.Duration) {
	_ = t.conn.SetReadDeadline(time.Now().Add(d))
}

// close sends a close frame (best effort, bounded by closeWait) and closes
// the connection, which ends a blocked next. Safe to call more than once.
func (t *wsTransport) close() {
	t.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = t.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
		_ = t.conn.Close()
	})
}

// wait returns at once: a WebSocket transport starts no goroutine.
func (t *wsTransport) wait() {}
