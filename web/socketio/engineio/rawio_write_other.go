//go:build unix && !linux

package engineio

import "syscall"

// writeNonblocking is write(2) on a non-blocking descriptor.
func writeNonblocking(fd int, b []byte) (int, error) {
	n, err := syscall.Write(fd, b)
	if n < 0 {
		n = 0
	}
	return n, err
}
