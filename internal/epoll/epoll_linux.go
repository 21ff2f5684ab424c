package epoll

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Instance is an epoll instance with a wake-up pipe. One goroutine waits
// on it (Wait); Ctl, Wake and Close may be called from any goroutine,
// Close once, after the waiting goroutine has stopped waiting.
type Instance struct {
	fd   int
	file *os.File        // owns fd once made
	rc   syscall.RawConn // file's, when the runtime watches it; nil: Wait blocks in epoll_wait
	wake [2]int          // a pipe: Wake writes to wake[1]
}

// New makes an instance and hands it to the runtime's poller if the
// runtime takes it; if not, Wait blocks in epoll_wait instead.
func New() (*Instance, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	e := &Instance{fd: fd}
	if err := syscall.Pipe2(e.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("epoll wake pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: WakeToken}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, e.wake[0], &ev); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return e, nil
	}
	e.file = os.NewFile(uintptr(fd), "epoll") // owns fd from now on
	// A file the runtime does not watch has no deadlines.
	if rc, err := e.file.SyscallConn(); err == nil && e.file.SetReadDeadline(time.Time{}) == nil {
		e.rc = rc
	} else {
		_ = syscall.SetNonblock(fd, false)
	}
	return e, nil
}

// Watched reports whether the runtime's poller watches the instance (so
// that Wait holds no processor while it waits).
func (e *Instance) Watched() bool { return e.rc != nil }

// Ctl adds (EPOLL_CTL_ADD), changes (EPOLL_CTL_MOD) or removes
// (EPOLL_CTL_DEL) fd's registration, which reports events under token.
func (e *Instance) Ctl(op, fd int, events uint32, token int32) error {
	ev := syscall.EpollEvent{Events: events, Fd: token}
	if err := syscall.EpollCtl(e.fd, op, fd, &ev); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// Wait fills events with what is ready, waiting up to timeout for
// something to be (forever if timeout < 0); 0 events when the timeout
// passed. An event with WakeToken means Wake was called.
func (e *Instance) Wait(events []syscall.EpollEvent, timeout time.Duration) (int, error) {
	if e.rc == nil {
		ms := -1
		if timeout >= 0 {
			ms = int(timeout / time.Millisecond)
		}
		for {
			n, err := syscall.EpollWait(e.fd, events, ms)
			if err != syscall.EINTR {
				return n, err
			}
		}
	}
	deadline := time.Time{}
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := e.file.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	var (
		n    int
		werr error
	)
	err := e.rc.Read(func(fd uintptr) bool {
		for {
			n, werr = poll(int(fd), events)
			if werr != syscall.EINTR {
				return n > 0 || werr != nil // nothing yet: the runtime waits
			}
		}
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, werr
}

// poll is epoll_wait without waiting, as a raw system call: it cannot
// block, and without the runtime's bookkeeping of a thread entering the
// kernel it does not wake the runtime's monitor.
func poll(fd int, events []syscall.EpollEvent) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Wake makes the waiting goroutine's Wait return an event with
// WakeToken, now or at its next call; the pipe stays readable, so every
// later Wait returns it too.
func (e *Instance) Wake() {
	_, _ = syscall.Write(e.wake[1], []byte{0})
}

// Close closes the instance and its pipe.
func (e *Instance) Close() error {
	var err error
	if e.file != nil {
		err = e.file.Close()
	} else {
		err = syscall.Close(e.fd)
	}
	_ = syscall.Close(e.wake[0])
	_ = syscall.Close(e.wake[1])
	return err
}
