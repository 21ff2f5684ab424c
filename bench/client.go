package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxPacket bounds one received packet: twice the Engine.IO default
	// maxPayload, so no well-behaved server is cut short.
	maxPacket = 2 << 20
	// pingSlack is added to pingInterval+pingTimeout before a silent
	// server counts as gone: a loaded server's ping may come late.
	pingSlack = 5 * time.Second
	// joinAckID is the ack id of the join; message acks count from 1.
	joinAckID = 0
	// ackRing is how many of a sender's latest messages keep their send
	// time for the ack's round trip: an answer to an older one is counted
	// but not timed. A server more than 1024 messages behind one sender
	// has latencies that say enough already.
	ackRing = 1024
)

var (
	// errClosed is returned by a transport's send after close.
	errClosed = errors.New("connection closed")
	// errServerClosed: the server ended the session (Engine.IO close or
	// Socket.IO disconnect).
	errServerClosed = errors.New("closed by the server")
)

// transport moves Engine.IO packets for one client.
type transport interface {
	// next returns the next received packet, valid until the next call;
	// only the client's reading goroutine calls it.
	next() ([]byte, error)
	// send writes or queues one packet; any goroutine may call it.
	send(p []byte) error
	// answer sends a reply to a packet just received (a pong) without
	// making the reader wait on the connection.
	answer(p []byte) error
	// alive extends the connection's liveness deadline to d from now
	// (after each ping from the server).
	alive(d time.Duration)
	// close ends the connection without waiting, which also ends a blocked
	// next; idempotent, any goroutine.
	close()
	// wait returns when every goroutine the transport started has ended;
	// called after close.
	wait()
}

// openInfo is the Engine.IO handshake (open packet) data the client uses.
type openInfo struct {
	Sid          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"` // milliseconds
	PingTimeout  int64  `json:"pingTimeout"`  // milliseconds
}

// parseOpen reads an Engine.IO open packet: 0{"sid":...}.
func parseOpen(p []byte) (openInfo, error) {
	var info openInfo
	if len(p) == 0 || p[0] != eioOpen {
		return info, fmt.Errorf("handshake: expected an open packet, got %.40q", p)
	}
	if err := json.Unmarshal(p[1:], &info); err != nil {
		return info, fmt.Errorf("handshake: %w", err)
	}
	if info.Sid == "" || info.PingInterval <= 0 || info.PingTimeout <= 0 {
		return info, fmt.Errorf("handshake: incomplete open packet %.80q", p)
	}
	return info, nil
}

// clientStats are one client's counters, written by its own goroutines and
// summed by the progress line and the result (hence atomic).
type clientStats struct {
	sent          atomic.Int64
	sendErrors    atomic.Int64
	acked         atomic.Int64
	refused       atomic.Int64
	delivered     atomic.Int64
	echoed        atomic.Int64
	addChatter    atomic.Int64
	removeChatter atomic.Int64
	chatErrors    atomic.Int64
	kicked        atomic.Int64
}

// client is one bench connection. The runner creates it; its main goroutine
// (run) dials, joins and then reads until the connection ends; a sender
// goroutine may write to it meanwhile.
type client struct {
	idx  int
	nick []byte
	tgt  *target // the server it connects to
	r    *runner

	st clientStats

	mu      sync.Mutex // guards t and stopped
	t       transport
	stopped bool

	ackMu   sync.Mutex // guards ackSent
	ackSent []sentAck  // by ack id mod ackRing; made when the client starts sending

	// The paste's lines as this client received them (Config.Paste):
	// the sequence number it expects next, and whether one came out of
	// order (a gap, a repeat or a swap). Only the reading goroutine
	// writes them; the result reads them once the client has ended.
	pasteNext   int
	pasteBroken bool

	pingWait    time.Duration // set before any reader or sender uses it
	sending     atomic.Bool   // chosen as a sender (runner.sendAll)
	connected   atomic.Bool
	joinRefused atomic.Bool
	lost        atomic.Bool
}

// sentAck is a message waiting for its ack: its ack id (0: none) and when
// it was sent, in nanoseconds since the run started.
type sentAck struct {
	id int
	at int64
}

// noteSent keeps the send time of the message with ack id for its ack.
func (c *client) noteSent(id int, at int64) {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.ackSent == nil {
		c.ackSent = make([]sentAck, ackRing)
	}
	c.ackSent[id%ackRing] = sentAck{id: id, at: at}
}

// takeSent returns and forgets the send time of the message with ack id;
// false when it is no longer kept (or was never sent).
func (c *client) takeSent(id int) (int64, bool) {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.ackSent == nil || id <= 0 {
		return 0, false
	}
	s := &c.ackSent[id%ackRing]
	if s.id != id {
		return 0, false
	}
	s.id = 0
	return s.at, true
}

// transport returns the client's transport, or nil before it connected.
func (c *client) transport() transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// setTransport installs t, unless the run already stopped the client: then
// t is closed and false returned.
func (c *client) setTransport(t transport) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		t.close()
		return false
	}
	c.t = t
	return true
}

// stop closes the client's connection (now or as soon as it exists).
func (c *client) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.t != nil {
		c.t.close()
	}
}

// run is the client's main goroutine: connect and join within the connect
// timeout, then read until the connection ends. It reports the outcome to
// the runner and returns only when the transport's goroutines have ended.
func (c *client) run(ctx context.Context) {
	err := c.connect(ctx)
	c.r.handshakeDone(c, err)
	if err != nil {
		if t := c.transport(); t != nil {
			t.close()
			t.wait()
		}
		return
	}
	t := c.transport()
	err = c.readLoop(t)
	if !c.r.closing.Load() {
		c.lost.Store(true)
		c.r.noteError(fmt.Errorf("client %d: %w", c.idx, err))
	}
	t.close()
	t.wait()
}

// connect dials, completes the Engine.IO and Socket.IO handshakes and emits
// the join (whose ack, if the server sends one, the read loop handles).
func (c *client) connect(ctx context.Context) error {
	cfg := &c.r.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var (
		t   transport
		err error
	)
	if cfg.Transport == TransportPolling {
		t, err = dialPolling(ctx, c.r.httpClient, c.tgt.pollURL)
	} else {
		t, err = dialWebSocket(ctx, c.r.dial, c.tgt.wsURL)
	}
	if err != nil {
		return explainDial(err)
	}
	if !c.setTransport(t) {
		return errClosed
	}
	// A server that stalls the handshake is cut off when ctx ends.
	stop := context.AfterFunc(ctx, t.close)
	defer stop()
	t.alive(cfg.ConnectTimeout)

	p, err := t.next()
	if err != nil {
		return err
	}
	info, err := parseOpen(p)
	if err != nil {
		return err
	}
	c.pingWait = time.Duration(info.PingInterval+info.PingTimeout)*time.Millisecond + pingSlack
	if pt, ok := t.(*pollTransport); ok {
		pt.setHold(c.pingWait)
	}
	nsp := c.r.nsp
	if err := t.send(append([]byte{eioMessage, sioConnect}, nsp...)); err != nil {
		return err
	}
	for connected := false; !connected; {
		p, err := t.next()
		if err != nil {
			return err
		}
		switch {
		case len(p) == 0:
		case p[0] == eioPing:
			if err := t.send([]byte{eioPong}); err != nil {
				return err
			}
		case p[0] == eioClose:
			return errServerClosed
		case len(p) < 2 || p[0] != eioMessage:
		case p[1] == sioConnect:
			_, connected = inNamespace(p[2:], nsp)
		case p[1] == sioConnectError:
			if rest, ours := inNamespace(p[2:], nsp); ours {
				if len(nsp) > 0 {
					return fmt.Errorf("socket.io connect to the room %q refused: %.200s", c.r.cfg.Room, rest)
				}
				return fmt.Errorf("socket.io connect refused: %.200s", rest)
			}
		}
	}
	if !stop() {
		return ctx.Err() // the timeout fired just now and closed t
	}
	t.alive(c.pingWait)
	c.connected.Store(true)
	return t.send(appendEmit(nil, nsp, joinAckID, evJoin, c.nick))
}

// readLoop handles packets until the connection ends. A WebSocket's are
// read by the run's poller for it, if it has one.
func (c *client) readLoop(t transport) error {
	if ws, ok := t.(*wsTransport); ok {
		return ws.serve(c.r.poller(c.idx), func(p []byte) error { return c.handle(t, p) })
	}
	for {
		p, err := t.next()
		if err != nil {
			return err
		}
		if err := c.handle(t, p); err != nil {
			return err
		}
	}
}

// pong is the Engine.IO answer to a ping.
var pong = []byte{eioPong}

// handle acts on one received Engine.IO packet.
func (c *client) handle(t transport, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	switch p[0] {
	case eioPing:
		t.alive(c.pingWait)
		return t.answer(pong)
	case eioClose:
		return errServerClosed
	case eioMessage:
		return c.handleSocketIO(p[1:])
	}
	return nil // noop, or anything the chat client has no use for
}

// handleSocketIO acts on one Socket.IO packet on the connection.
func (c *client) handleSocketIO(sio []byte) error {
	if len(sio) == 0 {
		return nil
	}
	switch sio[0] {
	case sioEvent:
		if ev, ok := parseEvent(sio, c.r.nsp); ok {
			c.handleEvent(ev)
		}
	case sioAck:
		id, success, ok := parseAck(sio, c.r.nsp)
		switch {
		case !ok:
		case id == joinAckID:
			c.r.joinAcked(c, success)
		default:
			if success {
				c.st.acked.Add(1)
			} else {
				c.st.refused.Add(1)
			}
			sentAt, kept := c.takeSent(id)
			c.r.messageAnswered(sentAt, kept)
		}
	case sioDisconnect:
		if _, ours := inNamespace(sio[1:], c.r.nsp); ours { // not another namespace
			return errServerClosed
		}
	}
	return nil
}

// handleEvent counts one chat event; a bench message's latency is recorded.
func (c *client) handleEvent(ev event) {
	switch string(ev.name) {
	case evMessages:
		if !ev.argIsStr {
			return
		}
		sender, seq, sent, ok := parseDelivery(ev.arg, c.r.prefix)
		if !ok {
			return
		}
		d := time.Duration(time.Now().UnixNano() - sent)
		c.r.latency.Record(d)
		if int64(sender) == c.r.pasteSender.Load() {
			c.pasteLine(seq, d)
		}
		if h := c.tgt.latency; h != nil {
			h.Record(d)
		}
		c.st.delivered.Add(1)
		if sender == c.idx {
			c.st.echoed.Add(1)
		}
		c.r.markJoined(sender)
	case evAddChatter:
		c.st.addChatter.Add(1)
		c.r.joinTraffic()
		if ev.argIsStr {
			if j, ok := parseNickIndex(ev.arg, c.r.prefix); ok {
				c.r.markJoined(j)
			}
		}
	case evRemoveChatter:
		c.st.removeChatter.Add(1)
	case evChatError:
		c.st.chatErrors.Add(1)
	case evKicked:
		c.st.kicked.Add(1)
	}
}

// pasteLine checks one line of the paste, number seq, that arrived d after
// it was sent: the lines must come one after another from 0, and the last
// one's latency is recorded when all came so.
func (c *client) pasteLine(seq int, d time.Duration) {
	if c.pasteBroken {
		return
	}
	if seq != c.pasteNext {
		c.pasteBroken = true
		return
	}
	c.pasteNext++
	if c.pasteNext == c.r.cfg.Paste {
		c.r.pasteLast.Record(d)
	}
}

// sendLoop is a sender goroutine: from first on, one message every interval
// until ctx ends or the connection fails. A ticker drops ticks the sender
// could not keep up with, so Sent counts what was really offered. With
// paste > 0 it sends paste messages back to back at first instead, and
// then nothing more.
func (c *client) sendLoop(ctx context.Context, first time.Time, interval time.Duration, paste int) {
	t := c.transport()
	if t == nil {
		return
	}
	wait := time.NewTimer(time.Until(first))
	defer wait.Stop()
	select {
	case <-ctx.Done():
		return
	case <-wait.C:
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	size := c.r.cfg.Payload
	text := make([]byte, 0, size+textHeaderMax)
	buf := make([]byte, 0, size+textHeaderMax+len(evMessages)+32)
	for seq, ackID := 0, joinAckID+1; ; seq, ackID = seq+1, ackID+1 {
		now := time.Now()
		at := int64(now.Sub(c.r.start))
		text = appendBenchText(text[:0], c.idx, seq, now.UnixNano(), size)
		buf = appendEmit(buf[:0], c.r.nsp, ackID, evMessages, text)
		// Noted before the send: the ack may come back before send returns.
		c.noteSent(ackID, at)
		c.r.messageSent(at)
		if err := t.send(buf); err != nil {
			c.st.sendErrors.Add(1)
			if ctx.Err() == nil {
				c.r.noteError(fmt.Errorf("sender %d: %w", c.idx, err))
			}
			return
		}
		c.st.sent.Add(1)
		if paste > 0 {
			if seq+1 == paste {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
