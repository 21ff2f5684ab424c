package engineio

import (
	"sync"
	"syscall"

	"chatserver/internal/epoll"
)

// poller waits, on one goroutine, for any of the server's WebSockets to
// have something to read, so that an idle connection needs no goroutine
// (and no stack) of its own: only when bytes arrive is a goroutine
// started to read and handle them (wsConn.readReady), after which the
// connection is armed again. It uses its own epoll instance beside the
// runtime's; each descriptor is registered one-shot, so at most one
// goroutine reads a connection at any time.
//
// The poller's goroutine waits through the runtime's own network poller
// (internal/epoll), so that it holds no processor while the server is
// idle: a blocking epoll_wait did, and when a message came, the flusher
// writing half of its broadcast waited about a millisecond for the
// runtime's monitor to take that processor back.
type poller struct {
	ep *epoll.Instance

	mu    sync.Mutex
	conns epoll.Table[*wsConn] // by token
	done  bool

	readers sync.WaitGroup // readReady goroutines in flight
	stopped chan struct{}  // closed when run has returned
}

// pollerEvents is what a registration waits for: data, or the peer's
// close, once.
const pollerEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// newPoller creates the epoll instance and starts its goroutine.
func newPoller() (*poller, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	p := &poller{ep: ep, stopped: make(chan struct{})}
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
	c.token = p.conns.Add(c)
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
		err = p.ep.Ctl(op, int(fd), pollerEvents, c.token)
	})
	if cerr != nil {
		return cerr
	}
	return err // Ctl's errors say "epoll" already
}

// remove forgets c for good, registered or not; events already on their
// way for it are dropped. The kernel drops the registration itself when
// the descriptor is closed.
func (p *poller) remove(c *wsConn) {
	p.mu.Lock()
	c.removed = true
	p.conns.Remove(c.token, c)
	p.mu.Unlock()
}

// maxPollEvents is how many readiness events one epoll_wait returns.
const maxPollEvents = 128

// run waits for events until close and starts a reader for each.
func (p *poller) run() {
	defer close(p.stopped)
	var events [maxPollEvents]syscall.EpollEvent
	for {
		n, err := p.ep.Wait(events[:], -1)
		if err != nil {
			return // only a bug makes epoll_wait fail (Wait retries EINTR); close still works
		}
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			return
		}
		for i := range n {
			c := p.conns.Get(events[i].Fd)
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
	p.ep.Wake()
	<-p.stopped
	p.readers.Wait()
	_ = p.ep.Close()
}
