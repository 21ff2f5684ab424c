package epoll

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// socketPair is a connected pair of loopback TCP connections.
func socketPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestWaitReportsReadinessWakesAndTimeouts(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if !e.Watched() {
		t.Fatal("the runtime's poller did not take the instance: Wait would block in epoll_wait")
	}
	events := make([]syscall.EpollEvent, 8)

	// Nothing registered: the timeout passes, with no event.
	if n, err := e.Wait(events, 20*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Wait on nothing = %d, %v; want 0 events, no error", n, err)
	}

	// A connection with bytes: its token.
	client, server := socketPair(t)
	rc, err := server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = e.Ctl(syscall.EPOLL_CTL_ADD, int(fd), syscall.EPOLLIN, 7) }); err != nil || cerr != nil {
		t.Fatalf("Ctl: %v, %v", err, cerr)
	}
	got := make(chan int32, 1)
	go func() {
		n, err := e.Wait(events, 5*time.Second)
		if err != nil || n != 1 {
			t.Errorf("Wait = %d, %v", n, err)
			got <- 0
			return
		}
		got <- events[0].Fd
	}()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if tok := <-got; tok != 7 {
		t.Fatalf("event for token %d, want 7", tok)
	}
	if err := rc.Control(func(fd uintptr) { cerr = e.Ctl(syscall.EPOLL_CTL_DEL, int(fd), 0, 0) }); err != nil || cerr != nil {
		t.Fatalf("Ctl DEL: %v, %v", err, cerr)
	}

	// Wake: an event with WakeToken, while waiting without a timeout.
	woken := make(chan int32, 1)
	go func() {
		n, err := e.Wait(events, -1)
		if err != nil || n < 1 {
			t.Errorf("Wait = %d, %v", n, err)
			woken <- 0
			return
		}
		woken <- events[0].Fd
	}()
	e.Wake()
	select {
	case tok := <-woken:
		if tok != WakeToken {
			t.Fatalf("event for token %d, want WakeToken", tok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wake did not end the wait")
	}
}
