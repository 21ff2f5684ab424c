package engineio

import (
	"bytes"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingMetrics records what a server tells its Metrics.
type countingMetrics struct {
	opened, timedOut atomic.Int64

	mu     sync.Mutex
	closed []string // the reasons, in order
}

func (m *countingMetrics) SessionOpened() { m.opened.Add(1) }
func (m *countingMetrics) WriteTimedOut() { m.timedOut.Add(1) }
func (m *countingMetrics) SessionClosed(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = append(m.closed, reason)
}

// closedReasons returns the close reasons so far, sorted.
func (m *countingMetrics) closedReasons() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(slices.Values(m.closed))
}

// TestStatsAndMetricsFollowSessions opens a polling and a WebSocket
// session, establishes one, upgrades the other and closes both, checking
// the server's Stats and what its Metrics were told at each step.
func TestStatsAndMetricsFollowSessions(t *testing.T) {
	m := &countingMetrics{}
	e := newEnv(t, Config{Metrics: m, MaxPending: 10})
	expect := func(step string, want Stats, opened int, closed ...string) {
		t.Helper()
		if got := e.srv.Stats(); got != want {
			t.Errorf("%s: Stats() = %+v, want %+v", step, got, want)
		}
		if got := m.opened.Load(); got != int64(opened) {
			t.Errorf("%s: %d sessions opened, want %d", step, got, opened)
		}
		if got := m.closedReasons(); !slices.Equal(got, closed) {
			t.Errorf("%s: sessions closed with %q, want %q", step, got, closed)
		}
	}
	expect("no session", Stats{}, 0)

	sid, polling := e.openPolling(t)
	expect("a polling session", Stats{Sessions: 1, Pending: 1, Polling: 1}, 1)
	wsConn, _, ws := e.openWebSocket(t)
	expect("and a WebSocket one", Stats{Sessions: 2, Pending: 2, Polling: 1, WebSocket: 1}, 2)
	ws.sess.Establish()
	expect("one established", Stats{Sessions: 2, Pending: 1, Polling: 1, WebSocket: 1}, 2)

	upgraded := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, upgraded, "2probe")
	readText(t, upgraded, "3probe")
	writeText(t, upgraded, "5")
	eventually(t, "the upgrade", func() bool { return polling.sess.Transport() == TransportWebSocket })
	expect("the polling one upgraded", Stats{Sessions: 2, Pending: 1, WebSocket: 2}, 2)

	ws.sess.Close(ReasonForcedClose)
	waitClosed(t, wsConn)
	waitDone(t, ws.sess)
	expect("the server closed one", Stats{Sessions: 1, Pending: 1, WebSocket: 1}, 2, ReasonForcedClose)
	upgraded.Close()
	waitDone(t, polling.sess)
	expect("the client closed the other", Stats{}, 2, ReasonForcedClose, ReasonTransportClose)
	if n := m.timedOut.Load(); n != 0 {
		t.Errorf("%d writes timed out, want none", n)
	}
}

// TestWriteThatTimesOutIsCounted: a WebSocket client stops reading while
// it is sent more than the sockets hold (but less than its send queue);
// the worker's blocking write times out, Metrics is told, and the session
// closes with a transport error.
func TestWriteThatTimesOutIsCounted(t *testing.T) {
	m := &countingMetrics{}
	e := newEnv(t, Config{Metrics: m, WriteTimeout: 200 * time.Millisecond, SendQueue: 1024, PingInterval: time.Minute})
	conn, _, r := e.openWebSocket(t)
	_ = conn.NetConn().(*net.TCPConn).SetReadBuffer(16 << 10)
	r.sess.mu.Lock()
	serverConn := r.sess.ws.nc
	r.sess.mu.Unlock()
	_ = serverConn.(*net.TCPConn).SetWriteBuffer(16 << 10)

	big := NewMessage(bytes.Repeat([]byte("z"), 64<<10), false)
	for range 128 { // 8 MiB: far more than the socket buffers
		if !r.sess.Send(big) {
			break
		}
	}
	if reason := r.waitClose(t); reason != ReasonTransportError {
		t.Errorf("OnClose(%q), want %q", reason, ReasonTransportError)
	}
	waitDone(t, r.sess)
	if n := m.timedOut.Load(); n != 1 {
		t.Errorf("%d writes timed out, want 1", n)
	}
	if got := m.closedReasons(); !slices.Equal(got, []string{ReasonTransportError}) {
		t.Errorf("sessions closed with %q, want one transport error", got)
	}
}
