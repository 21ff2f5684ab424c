package engineio

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// wsConn is the server's end of one WebSocket after the handshake: the
// connection, the state of the frame being read, and the part of a write
// that the socket did not take yet. Gorilla's upgrader does the handshake;
// from then on frames are read and written here, so that an idle
// connection costs a small struct and no goroutine, no stack and no
// buffer: it is read by the server's poller (Linux) and written by the
// session's flusher, and only a connection with something to do has a
// goroutine, for as long as it has.
type wsConn struct {
	nc   net.Conn
	rc   syscall.RawConn // nil when nc has none: then read by readLoop, written by the worker
	sess *Session
	rd   frameReader

	// probe: the connection is testing an upgrade ("2probe", "3probe",
	// then "5"), its frames go to Session.probeFrame. Only the connection's reader
	// reads or changes it.
	probe bool

	// b64: a protocol 3 client that asked for binary as base64 text
	// frames (b64 in its request). Set before the connection is shared.
	b64 bool

	token   int32 // the poller's name for the connection, while registered
	removed bool  // the poller has forgotten it for good; guarded by the poller's mu

	// pending holds bytes of a frame, or of gathered frames, that a
	// non-blocking write left unwritten: they are the next bytes on the
	// wire. Only the holder of the session's writer role touches it.
	pending []byte

	// writeFailed: a blocking write failed, possibly part way through a
	// frame, so whatever followed would be read as the rest of that frame
	// (or, for a retry of pending, as a copy of bytes already sent):
	// nothing more is written. Touched by whoever may write (see
	// writeBlocking).
	writeFailed bool
}

// frame returns m as c's client reads it: wsFrame, or wsFrame3 for a
// protocol 3 session. The result is shared and must not be modified.
func (c *wsConn) frame(m *Message) []byte {
	if c.sess.proto == protocol3 {
		return m.wsFrame3(c.b64)
	}
	return m.wsFrame()
}

// errStopped is returned by a frame handler to stop reading a connection
// that it has closed (or handed over) itself.
var errStopped = errors.New("engineio: stop reading")

// errPollerClosed refuses a registration once the server is closing.
var errPollerClosed = errors.New("engineio: poller closed")

// errNoPoller: this platform reads every connection on a goroutine.
var errNoPoller = errors.New("engineio: no poller on this platform")

// errWriteFailed refuses a write after an earlier one failed.
var errWriteFailed = errors.New("engineio: websocket: an earlier write failed")

// newWSConn wraps the hijacked connection of an upgraded request.
func newWSConn(s *Session, nc net.Conn, maxPayload int, probe bool) *wsConn {
	c := &wsConn{nc: nc, sess: s, probe: probe}
	c.rd.maxPayload = maxPayload
	if sc, ok := nc.(syscall.Conn); ok && rawIOSupported {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	return c
}

// onFrame routes what the frame reader decoded.
func (c *wsConn) onFrame(op byte, data []byte) error {
	if c.probe {
		return c.sess.probeFrame(c, op, data)
	}
	return c.sess.wsFrame(c, op, data)
}

// readBufSize is the size of the buffers connections are read into: they
// are taken from a pool for one read, so an idle connection holds none.
const readBufSize = 16 << 10

var readBufPool = sync.Pool{New: func() any {
	b := make([]byte, readBufSize)
	return &b
}}

// rawIOPool holds the non-blocking readers of readReady goroutines.
var rawIOPool = sync.Pool{New: func() any { return newRawIO() }}

// feed hands bytes read from the connection to the frame reader and acts
// on its verdict. It returns false once the connection must not be read
// any more.
func (c *wsConn) feed(b []byte) bool {
	err := c.rd.feed(b, c)
	if err == nil {
		return true
	}
	var fe *frameError
	if errors.As(err, &fe) {
		// The client broke the protocol: tell it why, then close.
		c.sess.closeWithFrame(c, ReasonTransportError, closeFrame(fe.code))
	}
	return false
}

// readFailed ends the session after a failed read: the peer closed
// (io.EOF) or the connection broke.
func (c *wsConn) readFailed(err error) {
	reason := ReasonTransportError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = ReasonTransportClose
	}
	c.sess.closeWS(c, reason)
}

// readReady reads what has arrived on a connection the poller reported
// ready, handles it, and arms the connection again. It runs on a
// goroutine of its own, started by the poller; handlers may block in it
// (OnMessage pushing back on a fast sender) without holding up other
// connections.
func (c *wsConn) readReady(p *poller) {
	bp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bp)
	rio := rawIOPool.Get().(*rawIO)
	defer rawIOPool.Put(rio)
	buf := *bp
	for {
		n, err := rio.tryRead(c.rc, buf)
		if err != nil {
			c.readFailed(err)
			return
		}
		if n == 0 {
			break // drained
		}
		if !c.feed(buf[:n]) {
			return
		}
		if n < len(buf) {
			break // most likely drained; if not, the next event says so
		}
	}
	if err := p.rearm(c); err != nil {
		// The connection was closed meanwhile (the session is ending),
		// or the registration is gone: either way nothing more to read.
		c.readFailed(err)
	}
}

// readLoop reads the connection on the calling goroutine until it fails
// or the session stops reading it: used where there is no poller, and
// for a probing connection (whose read deadline the caller sets). It
// reports whether the probe completed the upgrade, after which the
// caller hands the connection to startReading.
func (c *wsConn) readLoop(buf []byte) (handedOver bool) {
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			wasProbe := c.probe
			if !c.feed(buf[:n]) {
				return false
			}
			if wasProbe && !c.probe {
				return true // upgraded: the session reads it from now on
			}
		}
		if err != nil {
			c.readFailed(err)
			return false
		}
	}
}

// writeBlocking writes b, waiting up to deadline. Only the holder of the
// session's writer role (or the only goroutine that knows c) calls it.
// Once a write has failed, later ones fail at once without writing.
func (c *wsConn) writeBlocking(b []byte, deadline time.Time) error {
	if c.writeFailed {
		return errWriteFailed
	}
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		c.writeFailed = true
		return err
	}
	return nil
}
