package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"chatserver/internal/epoll"
)

// wsPoller reads the WebSockets of a run's joined clients on one
// goroutine: epoll says which have bytes, each is read once into a shared
// buffer, and every complete packet goes to its client's handler on the
// spot. It also ends connections whose liveness deadline has passed (the
// server stopped pinging). A run starts one per processor of the tool.
//
// It waits through the runtime's network poller (internal/epoll), so
// that while it waits no processor is held in a system call (the tool
// runs on one by default, and its senders need it).
type wsPoller struct {
	ep *epoll.Instance

	// mu guards the fields below and every use of ep from outside the
	// poller's goroutine, so that stop cannot close it under an add.
	mu     sync.Mutex
	conns  epoll.Table[*wsTransport] // by token
	closed bool

	stopOnce sync.Once

	buf     []byte // the read buffer, the poller goroutine's
	stopped chan struct{}
}

// epollET is EPOLLET as the type of EpollEvent.Events: the poller hears
// of a connection when new bytes arrive, not again on every wait while
// bytes are left (which costs the kernel a second look at each ready
// connection). So read reads until a read comes back short.
const epollET = 1 << 31

// pollBuffer is the shared read buffer's size: a burst of small packets
// for one connection comes in one read.
const pollBuffer = 64 << 10

// sweepEvery is how often the poller looks for dead connections; also
// its longest wait in epoll_wait.
const sweepEvery = time.Second

// newWSPoller starts a poller; stop ends it.
func newWSPoller() (*wsPoller, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	p := &wsPoller{ep: ep, buf: make([]byte, pollBuffer), stopped: make(chan struct{})}
	go p.run()
	return p, nil
}

// add hands t to the poller, which calls fn with each packet from now on.
func (p *wsPoller) add(t *wsTransport, fn func(p []byte) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	t.token, t.onPacket = p.conns.Add(t), fn
	var err error
	cerr := t.rc.Control(func(fd uintptr) {
		err = p.ep.Ctl(syscall.EPOLL_CTL_ADD, int(fd), syscall.EPOLLIN|syscall.EPOLLRDHUP|epollET, t.token)
	})
	if cerr != nil {
		err = fmt.Errorf("epoll: %w", cerr) // Ctl's own errors say so already
	}
	if err != nil {
		p.conns.Remove(t.token, t)
	}
	return err
}

// remove stops watching t; events already on their way for it are
// dropped. Safe for a connection never added or already closed.
func (p *wsPoller) remove(t *wsTransport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.conns.Remove(t.token, t) {
		return
	}
	if !p.closed {
		_ = t.rc.Control(func(fd uintptr) {
			_ = p.ep.Ctl(syscall.EPOLL_CTL_DEL, int(fd), 0, 0)
		})
	}
}

// rawRead is read(2) on a non-blocking descriptor as a raw system call:
// it cannot block, and without the runtime's bookkeeping of a thread
// entering the kernel it does not wake the runtime's monitor, which after
// every idle spell would otherwise poll every 20 µs for a millisecond or
// more (about a tenth of the tool's CPU at a thousand clients).
func rawRead(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// fail ends t's serving with err.
func (p *wsPoller) fail(t *wsTransport, err error) {
	p.remove(t)
	t.end(err)
}

// run reads ready connections until stop.
func (p *wsPoller) run() {
	defer close(p.stopped)
	var events [128]syscall.EpollEvent
	lastSweep := time.Now()
	for {
		n, err := p.ep.Wait(events[:], sweepEvery)
		if err != nil { // Wait retries EINTR
			// Only a bug gets here; the connections end, and no more come.
			p.mu.Lock()
			p.closed = true
			p.mu.Unlock()
			p.failAll(fmt.Errorf("epoll: %w", err))
			return
		}
		for i := range n {
			p.mu.Lock()
			t, closed := p.conns.Get(events[i].Fd), p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if t != nil {
				p.read(t, events[i].Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
			}
		}
		if now := time.Now(); now.Sub(lastSweep) >= sweepEvery {
			lastSweep = now
			p.sweep(now)
		}
	}
}

// read takes everything t has, in one read while it comes back short (a
// burst of small packets), and hands its complete packets on. When the
// peer has hung up (hup), it reads on to the end: no further event would
// come for it.
func (p *wsPoller) read(t *wsTransport, hup bool) {
	for {
		var (
			n    int
			rerr error
		)
		cerr := t.rc.Control(func(fd uintptr) {
			for {
				n, rerr = rawRead(int(fd), p.buf)
				if rerr != syscall.EINTR {
					return
				}
			}
		})
		switch {
		case cerr != nil:
			p.fail(t, fmt.Errorf("websocket read: %w", cerr))
			return
		case rerr == syscall.EAGAIN:
			return
		case rerr != nil:
			p.fail(t, fmt.Errorf("websocket read: %w", os.NewSyscallError("read", rerr)))
			return
		case n == 0:
			p.fail(t, fmt.Errorf("websocket read: %w", io.EOF))
			return
		}
		if err := t.take(p.buf[:n]); err != nil {
			p.fail(t, err)
			return
		}
		if n < len(p.buf) && !hup {
			return // nothing was left: a TCP read takes all there is
		}
	}
}

// sweep ends the connections whose liveness deadline is before now.
func (p *wsPoller) sweep(now time.Time) {
	var dead []*wsTransport
	p.mu.Lock()
	for _, t := range p.conns.Values() {
		if d := t.deadline.Load(); d != 0 && now.UnixNano() > d {
			dead = append(dead, t)
		}
	}
	p.mu.Unlock()
	for _, t := range dead {
		p.fail(t, fmt.Errorf("websocket read: no ping from the server in time: %w", os.ErrDeadlineExceeded))
	}
}

// failAll ends every connection with err (the poller itself failed).
func (p *wsPoller) failAll(err error) {
	p.mu.Lock()
	conns := p.conns.Values()
	p.mu.Unlock()
	for _, t := range conns {
		p.fail(t, err)
	}
}

// stop ends the poller goroutine; the connections it still has are
// ended with errClosed. Idempotent.
func (p *wsPoller) stop() {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.ep.Wake()
		<-p.stopped
		p.failAll(errClosed)
		p.mu.Lock()
		_ = p.ep.Close()
		p.mu.Unlock()
	})
}
