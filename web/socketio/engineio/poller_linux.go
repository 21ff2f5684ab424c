package engineio

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// poller waits, on one goroutine, for any of the server's WebSockets to
// have something to read, so that an idle connection needs no goroutine
// (and no stack) of its own: only when bytes arrive is a goroutine
// started to read and handle them (wsConn.readReady), after which the
// connection is armed again. It uses its own epoll instance beside the
// runtime's; each descriptor is registered one-shot, so at most one
// goroutine reads a connection at any time.
//
// The poller's goroutine waits for that epoll instance through the
// runtime's own network poller (ep, a non-blocking os.File) and takes its
// events without blocking. A blocking epoll_wait would hold one of the
// runtime's processors in a system call while the server is idle, and
// when a message came, the goroutines it makes runnable (a flusher of a
// broadcast) would wait for the runtime's monitor to take that processor
// back: on two processors, half the broadcast's writes a millisecond
// late, and the monitor woken to poll every 20 µs meanwhile.
type poller struct {
	epfd int
	ep   *os.File        // owns epfd (nil: not made)
	eprc syscall.RawConn // ep's, when the runtime watches it; nil: blocking waits
	wake [2]int          // a pipe: close writes to wake[1] to stop run

	mu    sync.Mutex
	conns map[int32]*wsConn // by token; a token is never reused while registered
	next  int32
	done  bool

	readers sync.WaitGroup // readReady goroutines in flight
	stopped chan struct{}  // closed when run has returned
}

// pollerEvents is what a registration waits for: data, or the peer's
// close, once.
const pollerEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// newPoller creates the epoll instance and starts its goroutine.
func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &poller{epfd: epfd, conns: make(map[int32]*wsConn), stopped: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("epoll wake pipe: %w", err)
	}
	p.watchEpoll()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	go p.run()
	return p, nil
}

// add registers c: the poller starts a reader for it when it has data.
// A connection that was removed already (its session closed it before
// its reading started) is not registered: nothing is left to read.
func (p *poller) add(c *wsConn) error {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return errPollerClosed
	}
	if c.removed {
		p.mu.Unlock()
		return nil
	}
	for {
		p.next++
		if p.next <= 0 {
			p.next = 1
		}
		if _, taken := p.conns[p.next]; !taken {
			break
		}
	}
	c.token = p.next
	p.conns[c.token] = c
	p.mu.Unlock()
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD); err != nil {
		p.remove(c)
		return err
	}
	return nil
}

// rearm waits for c's next data; called by c's reader when it is done.
func (p *poller) rearm(c *wsConn) error { return p.ctl(c, syscall.EPOLL_CTL_MOD) }

// ctl changes c's registration. It holds the descriptor while doing so,
// so that a concurrent close cannot hand its number to another connection
// in between.
func (p *poller) ctl(c *wsConn, op int) error {
	var err error
	cerr := c.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: pollerEvents, Fd: c.token}
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// remove forgets c for good, registered or not; events already on their
// way for it are dropped. The kernel drops the registration itself when
// the descriptor is closed.
func (p *poller) remove(c *wsConn) {
	p.mu.Lock()
	c.removed = true
	if p.conns[c.token] == c {
		delete(p.conns, c.token)
	}
	p.mu.Unlock()
}

// watchEpoll hands epfd to the runtime's network poller, if it takes it
// (an epoll instance can be watched by another), so that wait need not
// block; otherwise wait blocks in epoll_wait. Either way ep owns epfd
// from now on (and closes it).
func (p *poller) watchEpoll() {
	if err := syscall.SetNonblock(p.epfd, true); err != nil {
		return
	}
	p.ep = os.NewFile(uintptr(p.epfd), "epoll")
	// A file the runtime does not watch has no deadlines.
	rc, err := p.ep.SyscallConn()
	if err != nil || p.ep.SetReadDeadline(time.Time{}) != nil {
		_ = syscall.SetNonblock(p.epfd, false)
		return
	}
	p.eprc = rc
}

// maxPollEvents is how many readiness events one epoll_wait returns.
const maxPollEvents = 128

// wait returns the next readiness events, waiting for them if none are
// there yet.
func (p *poller) wait(events []syscall.EpollEvent) (int, error) {
	if p.eprc == nil {
		return syscall.EpollWait(p.epfd, events, -1)
	}
	var (
		n    int
		werr error
	)
	err := p.eprc.Read(func(fd uintptr) bool {
		for {
			n, werr = syscall.EpollWait(int(fd), events, 0)
			if werr != syscall.EINTR {
				return n > 0 || werr != nil // nothing yet: the runtime waits
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}

// run waits for events until close and starts a reader for each.
func (p *poller) run() {
	defer close(p.stopped)
	var events [maxPollEvents]syscall.EpollEvent
	for {
		n, err := p.wait(events[:])
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return // only a bug makes epoll_wait fail otherwise; close still works
		}
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			return
		}
		for i := range n {
			c := p.conns[events[i].Fd]
			if c == nil {
				continue // the wake pipe (-1), or a connection removed since
			}
			p.readers.Add(1)
			go func() {
				defer p.readers.Done()
				c.readReady(p)
			}()
		}
		p.mu.Unlock()
	}
}

// close stops the poller and waits for its readers to return; it is
// called once every session has ended.
func (p *poller) close() {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.done = true
	p.mu.Unlock()
	_, _ = syscall.Write(p.wake[1], []byte{0})
	<-p.stopped
	p.readers.Wait()
	p.closeFDs()
}

func (p *poller) closeFDs() {
	if p.ep != nil {
		_ = p.ep.Close()
	} else {
		_ = syscall.Close(p.epfd)
	}
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
}
