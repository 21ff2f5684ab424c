//go:build unix

package engineio

import (
	"errors"
	"io"
	"syscall"
)

// rawIO performs single non-blocking reads and writes on a connection's
// descriptor, bypassing the runtime's poller: an attempt that would block
// returns at once with nothing done instead of parking the goroutine. The
// runtime still guards the descriptor (it cannot be closed, or reused,
// while an attempt is in progress). A rawIO is used by one goroutine at a
// time; its functions are built once so an attempt allocates nothing.
//
// A write runs under RawConn.Control rather than RawConn.Write: it never
// waits for the poller, so it needs neither the descriptor's write lock
// (the session's writer role already lets one goroutine write at a time)
// nor the poller's readiness reset that RawConn.Write does first, and it
// is the one system call (writeNonblocking) of the flushers' hot path.
type rawIO struct {
	buf []byte
	n   int
	err error

	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) // for RawConn.Control
}

func newRawIO() *rawIO {
	r := &rawIO{}
	r.readFn = func(fd uintptr) bool {
		r.n, r.err = syscall.Read(int(fd), r.buf)
		return true
	}
	r.writeFn = func(fd uintptr) {
		r.n, r.err = writeNonblocking(int(fd), r.buf)
	}
	return r
}

// rawIOSupported reports whether tryRead and tryWrite can do anything on
// this platform.
const rawIOSupported = true

// tryWrite writes as much of b as the socket takes without waiting. It
// returns how much was written; (0, nil) when the socket's buffer is full.
func (r *rawIO) tryWrite(rc syscall.RawConn, b []byte) (int, error) {
	r.buf = b
	n, _, err := r.done(rc.Control(r.writeFn))
	return n, err
}

// tryRead reads what the socket holds, up to len(b), without waiting. It
// returns (0, nil) when there is nothing to read and io.EOF once the peer
// has closed its side.
func (r *rawIO) tryRead(rc syscall.RawConn, b []byte) (int, error) {
	r.buf = b
	n, wouldBlock, err := r.done(rc.Read(r.readFn))
	if err == nil && n == 0 && !wouldBlock && len(b) > 0 {
		return 0, io.EOF
	}
	return n, err
}

// done collects the outcome of one attempt: rcErr from the RawConn (the
// connection is closed, say), or the system call's count and error, with
// "would block" (and an interrupted call) reported as nothing done.
func (r *rawIO) done(rcErr error) (n int, wouldBlock bool, err error) {
	n, opErr := r.n, r.err
	r.buf, r.err = nil, nil
	switch {
	case rcErr != nil:
		return 0, false, rcErr
	case opErr == nil:
		return n, false, nil
	case errors.Is(opErr, syscall.EAGAIN) || errors.Is(opErr, syscall.EINTR):
		return 0, true, nil
	default:
		return 0, false, opErr
	}
}
