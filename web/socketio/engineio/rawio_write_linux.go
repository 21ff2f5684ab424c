package engineio

import (
	"syscall"
	"unsafe"
)

// writeNonblocking is write(2) on a non-blocking descriptor, made as a raw
// system call: without the runtime's bookkeeping of a thread entering and
// leaving the kernel (entersyscall, exitsyscall), which a call that cannot
// block does not need. The flushers make one such call per delivery.
func writeNonblocking(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
