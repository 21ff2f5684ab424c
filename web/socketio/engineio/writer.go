package engineio

import (
	"sync"
	"time"
)

// A session's send queue and its writer. Send queues and names the
// session to its flusher, which writes the queue without waiting
// (flushNow); what the socket does not take is written by a worker
// goroutine (work) with blocking writes, and the worker also finishes a
// session that has closed. Whoever writes holds the writer role
// (writerRole).
//
// A session has no goroutine of its own while it is idle: its heartbeat
// is an alarm (beat runs on the goroutine of the server's alarm timer),
// its WebSocket is read
// by the server's poller, what it is sent is written by its flusher, and
// a worker goroutine runs only while a slow client has a backlog or the
// session has closed and must be finished.

// Send queues msgs, in order, as one unit (a Socket.IO packet with its
// attachments never interleaves with another). It never blocks: it returns
// false if the session is closed or if the queue overflowed, in which case
// the session is closed with reason "send queue full". Nil messages are
// skipped. The messages are shared, not copied.
func (s *Session) Send(msgs ...*Message) bool {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		return false
	}
	n := 0
	for _, m := range msgs {
		if m != nil {
			n++
		}
	}
	if len(s.queue)+n > s.srv.st.SendQueue {
		s.mu.Unlock()
		s.closeWith(ReasonSendQueueFull, closeError)
		return false
	}
	for _, m := range msgs {
		if m != nil {
			s.queue = append(s.queue, m)
		}
	}
	var wake, flush bool
	if n > 0 {
		wake, flush = s.queuedLocked()
	}
	s.mu.Unlock()
	s.notify(wake, flush)
	return true
}

// queuedLocked says who must learn that packets were just queued: a held
// polling GET (wake), as long as the session has no WebSocket, or else
// the session's flusher (flush; see markDirtyLocked). s.mu must be held;
// the caller passes the answer to notify once it has unlocked.
func (s *Session) queuedLocked() (wake, flush bool) {
	if s.ws == nil {
		return true, false
	}
	return false, s.markDirtyLocked()
}

// notify acts on queuedLocked's answer.
func (s *Session) notify(wake, flush bool) {
	if wake {
		signal(s.pollWake)
	}
	if flush {
		s.flusher.add(s)
	}
}

// markDirtyLocked reports whether s must be handed to its flusher for
// what was just queued: not if it has no WebSocket (polling GETs take the
// queue), not if it is already due, and not if the writer role is held
// (its holder writes what was queued before giving it up). s.mu must be
// held.
func (s *Session) markDirtyLocked() bool {
	if s.ws == nil || s.writer != writerNone || s.dirty {
		return false
	}
	s.dirty = true
	return true
}

// startWorker starts the session's worker unless the writer role is held
// (its holder then sees the new work before it gives the role up).
// Nothing is started for a session that is open without a WebSocket yet:
// polling sessions are written by their GET requests.
func (s *Session) startWorker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writer != writerNone || (!s.closed() && !s.hasBacklogLocked()) {
		return
	}
	s.handWriterLocked(writerWorker)
	go s.work()
}

// hasBacklogLocked reports whether the session's WebSocket has something
// to write: queued packets or the unwritten tail of a write. s.mu held.
func (s *Session) hasBacklogLocked() bool {
	return s.ws != nil && (len(s.queue) > 0 || len(s.ws.pending) > 0)
}

// work is the session's worker, started with the writer role held: it
// writes the WebSocket with blocking writes until the backlog is gone,
// and, once the session has closed, finishes it. The session counts in
// the server's WaitGroup from newSession until finish has returned.
func (s *Session) work() {
	for {
		s.mu.Lock()
		if s.closed() {
			s.handWriterLocked(writerFinisher)
			s.mu.Unlock()
			s.finish()
			s.srv.wg.Done()
			return
		}
		if !s.hasBacklogLocked() {
			s.handWriterLocked(writerNone)
			s.mu.Unlock()
			return
		}
		c := s.ws
		s.mu.Unlock()
		if hook := testHookPartialWrite; hook != nil && len(c.pending) > 0 {
			hook(s)
		}
		if err := s.flushWebSocket(time.Time{}); err != nil {
			s.srv.countTimeout(err)
			s.closeWith(ReasonTransportError, closeError)
			continue
		}
		// The flusher's non-blocking writes would fail on an expired
		// deadline. It is cleared while the role is still held: cleared
		// after giving the role up, it could be the deadline of the next
		// worker's blocking write, which would then wait forever on a
		// client that does not read.
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
}

// testHookPartialWrite, set by tests only, is called by a worker about to
// finish with blocking writes a write that the flusher's non-blocking
// write left part way: the path of a client slower than its socket.
var testHookPartialWrite func(*Session)

// flushNow writes what is queued for s without waiting, on the flusher
// f's goroutine, if nobody holds the writer role. What the socket does
// not take is left to a worker goroutine; what was queued meanwhile is
// handed back to f.
func (s *Session) flushNow(f *flusher) {
	s.mu.Lock()
	s.dirty = false
	c := s.ws
	if s.writer != writerNone || s.closed() || c == nil || len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	if c.rc == nil {
		// No non-blocking writes on this connection.
		s.handWriterLocked(writerWorker)
		s.mu.Unlock()
		go s.work()
		return
	}
	s.handWriterLocked(writerFlusher)
	batch := s.takeQueueLocked()
	s.mu.Unlock()

	rest, err := s.writeFrames(c, batch, f.rio, time.Time{})

	s.mu.Lock()
	if len(rest) > 0 {
		// Back to the front of the queue, before what came meanwhile.
		q := make([]*Message, 0, len(rest)+len(s.queue))
		q = append(append(q, rest...), s.queue...)
		clear(s.queue)
		s.queue = q
	}
	s.recycleLocked(batch)
	var worker, again bool
	switch {
	case err != nil || s.closed() || len(c.pending) > 0 || len(rest) > 0:
		// The role passes to a worker: it writes the backlog, or
		// finishes the session. (A closeWith that ran during the write
		// left that to the role's holder.)
		s.handWriterLocked(writerWorker)
		worker = true
	case len(s.queue) > 0:
		s.handWriterLocked(writerNone)
		again = s.markDirtyLocked()
	default:
		s.handWriterLocked(writerNone)
	}
	s.mu.Unlock()
	if err != nil {
		s.closeWith(ReasonTransportError, closeError)
	}
	switch {
	case worker:
		go s.work()
	case again:
		f.add(s)
	}
}

// flushStopped is told by a stopped flusher (the server is closing) that
// s was due: a worker writes what is queued instead.
func (s *Session) flushStopped() {
	s.mu.Lock()
	s.dirty = false
	s.mu.Unlock()
	s.startWorker()
}

// takeQueueLocked removes and returns everything queued. s.mu must be held.
// The caller hands the slice back with recycle.
func (s *Session) takeQueueLocked() []*Message {
	batch := s.queue
	s.queue = s.spare[:0]
	s.spare = nil
	return batch
}

// recycle clears a batch returned by takeQueueLocked and keeps its array
// for the next one, unless it is larger than maxSpareQueue.
func (s *Session) recycle(batch []*Message) {
	if cap(batch) == 0 || cap(batch) > maxSpareQueue {
		return
	}
	s.mu.Lock()
	s.recycleLocked(batch)
	s.mu.Unlock()
}

// recycleLocked is recycle with s.mu held.
func (s *Session) recycleLocked(batch []*Message) {
	if cap(batch) == 0 || cap(batch) > maxSpareQueue {
		return
	}
	clear(batch)
	if s.spare == nil {
		s.spare = batch[:0]
	}
}

// maxSpareQueue caps the queue array a session keeps between flushes: a
// join hands one joiner the history and the whole chatter list at once
// (thousands of packets), and keeping that array would cost every idle
// connection tens of kilobytes; steady traffic queues a few at a time.
const maxSpareQueue = 64

// flushWebSocket writes what a non-blocking write left over and
// everything queued to the session's WebSocket, if it has one, waiting up
// to WriteTimeout, or to deadline when it is not zero. Only the holder of
// the writer role calls it.
func (s *Session) flushWebSocket(deadline time.Time) error {
	s.mu.Lock()
	c := s.ws
	if c == nil {
		s.mu.Unlock()
		return nil
	}
	batch := s.takeQueueLocked()
	s.mu.Unlock()
	defer s.recycle(batch)

	if deadline.IsZero() {
		deadline = time.Now().Add(s.srv.st.WriteTimeout)
	}
	if len(c.pending) > 0 {
		if err := c.writeBlocking(c.pending, deadline); err != nil {
			return err
		}
		c.pending = nil
	}
	_, err := s.writeFrames(c, batch, nil, deadline)
	return err
}

// writeFrames writes the frames of batch, each built once per Message
// (wsFrame) and copied into one pooled buffer, so they go out in as few
// writes as possible (one per writeChunk bytes); a frame this large or
// larger is written on its own, without a copy. With rio nil the writes
// wait up to deadline. With rio they do not wait: at the first write the
// socket does not take whole, its unwritten bytes go to c.pending and the
// messages not written yet are returned. Only the holder of the writer
// role calls it, with c.pending empty.
//
// A copy rather than a vectored write: the runtime keeps a descriptor's
// largest iovec array for the life of the connection.
func (s *Session) writeFrames(c *wsConn, batch []*Message, rio *rawIO, deadline time.Time) ([]*Message, error) {
	// write reports whether b was written whole.
	write := func(b []byte) (bool, error) {
		if rio == nil {
			return true, c.writeBlocking(b, deadline)
		}
		n, err := rio.tryWrite(c.rc, b)
		if err != nil {
			return false, err
		}
		if n < len(b) {
			c.pending = append([]byte(nil), b[n:]...)
			return false, nil
		}
		return true, nil
	}
	if len(batch) == 1 {
		_, err := write(c.frame(batch[0]))
		return nil, err
	}
	bp := writeBufPool.Get().(*[]byte)
	defer writeBufPool.Put(bp)
	buf := (*bp)[:0]
	for i, m := range batch {
		f := c.frame(m)
		if len(buf) > 0 && len(buf)+len(f) > writeChunk {
			if whole, err := write(buf); !whole || err != nil {
				return batch[i:], err
			}
			buf = buf[:0]
		}
		if len(f) >= writeChunk {
			if whole, err := write(f); !whole || err != nil {
				return batch[i+1:], err
			}
			continue
		}
		buf = append(buf, f...)
	}
	if len(buf) > 0 {
		if whole, err := write(buf); !whole || err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// writeChunk bounds one write of gathered frames: large enough that a
// joiner's history and chatter list (thousands of small frames) go out in
// a handful of writes, small enough that the pooled buffers stay cheap.
// A frame this large or larger is written on its own, without a copy.
const writeChunk = 32 << 10

// writeBufPool holds flushWebSocket's gathering buffers, shared by all
// sessions so that an idle session holds none.
var writeBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeChunk)
	return &b
}}
