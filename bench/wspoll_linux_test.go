package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWebSocketPollerWaitsThroughTheRuntime(t *testing.T) {
	p, err := newWSPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	if !p.ep.Watched() {
		t.Fatal("the runtime's poller did not take the epoll instance: the poller blocks in epoll_wait")
	}
}

// TestWebSocketPollerReadsManyReadyAtOnce has more connections ready at
// once than one epoll_wait returns: every one must still be read.
func TestWebSocketPollerReadsManyReadyAtOnce(t *testing.T) {
	p, err := newWSPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	endpoint, conns := rawServer(t)
	const n = 300 // over the 128 events of one wait
	got := make(chan string, n)
	var srvs []*websocket.Conn
	for range n {
		tr := dialTest(t, endpoint)
		srvs = append(srvs, takeConn(t, conns))
		go func() { _ = tr.serve(p, func(b []byte) error { got <- string(b); return nil }) }()
	}
	// Registered by the time a first packet on the last one arrives.
	if err := srvs[n-1].WriteMessage(websocket.TextMessage, []byte("ready")); err != nil {
		t.Fatal(err)
	}
	receive(t, got, "ready")
	p.mu.Lock() // the poller waits: every connection becomes ready meanwhile
	for i, srv := range srvs {
		if err := srv.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint(i))); err != nil {
			p.mu.Unlock()
			t.Fatal(err)
		}
	}
	p.mu.Unlock()
	seen := make(map[string]bool)
	for range n {
		select {
		case s := <-got:
			seen[s] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d connections read", len(seen), n)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct packets of %d", len(seen), n)
	}
}
