//go:build linux

package engineio

import (
	"net"
	"testing"
)

// TestPollerDoesNotRegisterARemovedConnection plays a session that closes
// its WebSocket (closeConn: remove, then close) around the moment its
// handshake handler starts reading it (add): remove, add, close. The
// connection must not be left in the poller's table, where it would keep
// itself and its session reachable for the life of the server.
func TestPollerDoesNotRegisterARemovedConnection(t *testing.T) {
	checkNoLeaks(t)
	p, err := newPoller()
	if err != nil {
		t.Skipf("no poller: %v", err)
	}
	t.Cleanup(p.close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newWSConn(nil, server, 100, false)

	p.remove(c) // closeConn, first half
	if err := p.add(c); err != nil {
		t.Fatalf("add: %v", err)
	}
	_ = server.Close() // closeConn, second half

	p.mu.Lock()
	n := p.conns.Len()
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("the poller holds %d connections after its only one was removed and closed", n)
	}
}

// TestPollerWaitsThroughTheRuntime checks that the poller's epoll instance
// is watched by the runtime's network poller, so that its goroutine waits
// without holding a processor in a blocking epoll_wait.
func TestPollerWaitsThroughTheRuntime(t *testing.T) {
	checkNoLeaks(t)
	p, err := newPoller()
	if err != nil {
		t.Skipf("no poller: %v", err)
	}
	t.Cleanup(p.close)
	if !p.ep.Watched() {
		t.Fatal("the runtime's poller did not take the epoll instance: the poller blocks in epoll_wait")
	}
}
