package bench

import "testing"

func TestWebSocketPollerWaitsThroughTheRuntime(t *testing.T) {
	p, err := newWSPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	if p.ep == nil {
		t.Fatal("the runtime's poller did not take the epoll instance: the poller blocks in epoll_wait")
	}
}
