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
type rawIO struct {
	buf []byte
	n   int
	err error

	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

func newRawIO() *rawIO {
	r := &rawIO{}
	r.readFn = func(fd uintptr) bool {
		r.n, r.err = syscall.Read(int(fd), r.buf)
		return true
	}
	r.writeFn = func(fd uintptr) bool {
		r.n, r.err = syscall.Write(int(fd), r.buf)
		return true
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
	err := rc.Write(r.writeFn)
	n, werr := r.n, r.err
	r.buf, r.err = nil, nil
	if err != nil {
		return 0, err
	}
	if werr != nil {
		if errors.Is(werr, syscall.EAGAIN) || errors.Is(werr, syscall.EINTR) {
			return 0, nil
		}
		return 0, werr
	}
	return n, nil
}

// tryRead reads what the socket holds, up to len(b), without waiting. It
// returns (0, nil) when there is nothing to read and io.EOF once the peer
// has closed its side.
func (r *rawIO) tryRead(rc syscall.RawConn, b []byte) (int, error) {
	r.buf = b
	err := rc.Read(r.readFn)
	n, rerr := r.n, r.err
	r.buf, r.err = nil, nil
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		if errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR) {
			return 0, nil
		}
		return 0, rerr
	}
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}
