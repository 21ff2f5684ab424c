//go:build !unix

package engineio

import "syscall"

// rawIO is not available on this platform: every write is left to the
// session's writer goroutine and every connection is read by a goroutine
// of its own.
type rawIO struct{}

func newRawIO() *rawIO { return &rawIO{} }

// rawIOSupported reports whether tryRead and tryWrite can do anything on
// this platform.
const rawIOSupported = false

// tryWrite writes nothing: the caller hands the bytes to a writer
// goroutine.
func (*rawIO) tryWrite(syscall.RawConn, []byte) (int, error) { return 0, nil }

// tryRead reads nothing.
func (*rawIO) tryRead(syscall.RawConn, []byte) (int, error) { return 0, nil }
