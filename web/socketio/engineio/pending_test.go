package engineio

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wantPending checks Server.Pending and the pending places per client
// address (nil: none).
func wantPending(t testing.TB, srv *Server, want int, wantPerIP map[string]int) {
	t.Helper()
	if got := srv.Pending(); got != want {
		t.Errorf("Pending() = %d, want %d", got, want)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	got := make(map[string]int, len(srv.pendingGroups))
	for key, g := range srv.pendingGroups {
		got[key] = g.n
	}
	same := len(got) == len(wantPerIP)
	for ip, n := range wantPerIP {
		same = same && got[ip] == n
	}
	if !same {
		t.Errorf("pending places per address %v, want %v", got, wantPerIP)
	}
}

// wantOpen fails the test if r's session has been closed.
func wantOpen(t testing.TB, what string, r *recorder) {
	t.Helper()
	select {
	case <-r.sess.Closing():
		t.Errorf("%s (session %s) was closed", what, r.sess.ID())
	default:
	}
}

// wantClosedWith waits for r's OnClose and checks its reason.
func wantClosedWith(t testing.TB, what string, r *recorder, reason string) {
	t.Helper()
	if got := r.waitClose(t); got != reason {
		t.Errorf("%s closed with %q, want %q", what, got, reason)
	}
}

func TestPendingTimeout(t *testing.T) {
	for _, transport := range []string{TransportPolling, TransportWebSocket} {
		t.Run(transport, func(t *testing.T) {
			e := newEnv(t, Config{PendingTimeout: 100 * time.Millisecond})
			established := e.mustOpen(t, transport, "")
			established.sess.Establish()
			established.sess.Establish() // idempotent
			pending := e.mustOpen(t, transport, "")
			wantPending(t, e.srv, 1, map[string]int{"127.0.0.1": 1})

			wantClosedWith(t, "the pending session", pending, ReasonPendingTimeout)
			// The established session is older than the one that timed
			// out, and still open.
			wantOpen(t, "the established session", established)
			waitDone(t, pending.sess)
			wantPending(t, e.srv, 0, nil)
			wantCount(t, e.srv, 1, nil)
		})
	}
}

func TestMaxPendingPerIPEvictsTheAddressOwnOldest(t *testing.T) {
	const (
		alice = "192.0.2.1"
		bob   = "192.0.2.2"
	)
	e := newEnv(t, Config{MaxPendingPerIP: 2, ClientIP: headerClientIP})
	a1 := e.mustOpen(t, TransportPolling, alice)
	a2 := e.mustOpen(t, TransportWebSocket, alice)
	b1 := e.mustOpen(t, TransportPolling, bob)
	wantPending(t, e.srv, 3, map[string]int{alice: 2, bob: 1})

	// A third from alice pushes out her oldest, not bob's.
	a3 := e.mustOpen(t, TransportPolling, alice)
	wantClosedWith(t, "alice's oldest", a1, ReasonEvicted)
	wantOpen(t, "alice's second", a2)
	wantOpen(t, "bob's", b1)
	wantPending(t, e.srv, 3, map[string]int{alice: 2, bob: 1})

	// Established sessions hold no pending place and are never evicted.
	a2.sess.Establish()
	wantPending(t, e.srv, 2, map[string]int{alice: 1, bob: 1})
	a4 := e.mustOpen(t, TransportWebSocket, alice)
	a5 := e.mustOpen(t, TransportPolling, alice)
	wantClosedWith(t, "alice's oldest pending", a3, ReasonEvicted)
	wantOpen(t, "alice's established", a2)
	wantOpen(t, "alice's newer", a4)
	wantOpen(t, "alice's newest", a5)
	wantPending(t, e.srv, 3, map[string]int{alice: 2, bob: 1})

	// Loopback is exempt from the per-address cap.
	for range 3 {
		e.mustOpen(t, TransportPolling, "127.0.0.1")
	}
	wantPending(t, e.srv, 6, map[string]int{alice: 2, bob: 1, "127.0.0.1": 3})

	e.srv.Close()
	wantPending(t, e.srv, 0, nil)
	wantCount(t, e.srv, 0, nil)
}

func TestMaxPendingEvictsFromTheBusiestAddress(t *testing.T) {
	const (
		alice = "192.0.2.1"
		bob   = "192.0.2.2"
		carol = "192.0.2.3"
		dave  = "192.0.2.4"
	)
	e := newEnv(t, Config{MaxPending: 3, ClientIP: headerClientIP})
	a1 := e.mustOpen(t, TransportPolling, alice)
	b1 := e.mustOpen(t, TransportPolling, bob)
	a2 := e.mustOpen(t, TransportWebSocket, alice)

	// The server is full of pending sessions: carol gets in, and the
	// place is taken from alice, who holds the most, oldest first.
	c1 := e.mustOpen(t, TransportPolling, carol)
	wantClosedWith(t, "alice's oldest", a1, ReasonEvicted)
	wantPending(t, e.srv, 3, map[string]int{alice: 1, bob: 1, carol: 1})

	// Now every address holds one: the oldest of them goes.
	e.mustOpen(t, TransportWebSocket, dave)
	wantClosedWith(t, "bob's", b1, ReasonEvicted)
	wantOpen(t, "alice's second", a2)
	wantOpen(t, "carol's", c1)
	wantPending(t, e.srv, 3, map[string]int{alice: 1, carol: 1, dave: 1})
}

// TestPendingCapsRefuseWhenOnlyHandshakesHoldThem: a place held by a
// handshake still in progress (reserved, its session not made yet) has no
// session to close, so a handshake that finds every place it could take
// held that way is refused, HTTP 503, rather than waiting.
func TestPendingCapsRefuseWhenOnlyHandshakesHoldThem(t *testing.T) {
	const alice, bob = "192.0.2.1", "192.0.2.2"
	for _, tt := range []struct {
		name string
		cfg  Config
		next string // the address of the refused handshake
	}{
		{"MaxPendingPerIP", Config{MaxPendingPerIP: 1}, alice},
		{"MaxPending", Config{MaxPending: 1}, bob},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.ClientIP = headerClientIP
			e := newEnv(t, tt.cfg)
			from := func(ip string) *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/engine.io/?EIO=4&transport=polling", nil)
				r.Header.Set(clientIPHeader, ip)
				return r
			}
			sl, ok := e.srv.reserve(from(alice)) // a handshake in progress
			if !ok {
				t.Fatal("the first handshake was refused")
			}
			if _, ok := e.srv.reserve(from(tt.next)); ok {
				t.Fatal("a handshake took a place held by a handshake in progress")
			}
			if a := e.handshakeFrom(t, TransportPolling, tt.next); a.status != http.StatusServiceUnavailable || a.body != TooManyConnectionsBody {
				t.Errorf("handshake: %d %q, want 503 %q", a.status, a.body, TooManyConnectionsBody)
			}
			e.srv.release(sl)
			e.mustOpen(t, TransportPolling, tt.next)
			wantPending(t, e.srv, 1, map[string]int{tt.next: 1})
		})
	}
}

func TestMaxSessionsEvictsPendingSessions(t *testing.T) {
	e := newEnv(t, Config{MaxSessions: 2, MaxPending: 10})
	s1 := e.mustOpen(t, TransportPolling, "")
	s1.sess.Establish()
	s2 := e.mustOpen(t, TransportWebSocket, "")

	// Full, with one session pending: a newcomer takes its place once it
	// has ended, and the server never holds more than the cap.
	s3 := e.mustOpen(t, TransportPolling, "")
	wantClosedWith(t, "the pending session", s2, ReasonEvicted)
	wantOpen(t, "the established session", s1)
	wantCount(t, e.srv, 2, nil)
	wantPending(t, e.srv, 1, map[string]int{"127.0.0.1": 1})

	// Full of established sessions: refused, as without pending sessions.
	s3.sess.Establish()
	e.mustRefuse(t, TransportWebSocket, "")
	e.mustRefuse(t, TransportPolling, "")
	wantCount(t, e.srv, 2, nil)
}

// TestEstablishingAgainTakesNoServerLock: the application may call
// Establish on every successful join (renames too); once the session is
// established, that costs no turn at the server's lock, which every
// handshake and close takes.
func TestEstablishingAgainTakesNoServerLock(t *testing.T) {
	e := newEnv(t, Config{MaxPending: 10})
	r := e.mustOpen(t, TransportPolling, "")
	r.sess.Establish()
	wantPending(t, e.srv, 0, nil)

	e.srv.mu.Lock()
	done := make(chan struct{})
	go func() {
		r.sess.Establish()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("Establish on an established session waited for the server's lock")
	}
	e.srv.mu.Unlock()
	<-done
}

func TestMaxSessionsPerIPNeverEvicts(t *testing.T) {
	const alice = "192.0.2.1"
	e := newEnv(t, Config{MaxSessionsPerIP: 2, MaxPending: 10, ClientIP: headerClientIP})
	a1 := e.mustOpen(t, TransportPolling, alice)
	a2 := e.mustOpen(t, TransportWebSocket, alice)
	e.mustRefuse(t, TransportPolling, alice)
	e.mustRefuse(t, TransportWebSocket, alice)
	wantOpen(t, "alice's first", a1)
	wantOpen(t, "alice's second", a2)
	wantCount(t, e.srv, 2, map[string]int{alice: 2})
	wantPending(t, e.srv, 2, map[string]int{alice: 2})
}

func TestNoPendingTrackingWithoutPendingLimits(t *testing.T) {
	// Without pending limits, sessions are never evicted: the caps refuse
	// as they always have, and nothing is counted as pending.
	e := newEnv(t, Config{MaxSessions: 1})
	first := e.mustOpen(t, TransportPolling, "")
	e.mustRefuse(t, TransportPolling, "")
	wantOpen(t, "the first session", first)
	first.sess.Establish() // no effect
	wantPending(t, e.srv, 0, nil)
}

func TestEstablishAfterCloseChangesNothing(t *testing.T) {
	e := newEnv(t, Config{MaxPending: 5})
	r := e.mustOpen(t, TransportPolling, "")
	closeSession(t, r)
	r.sess.Establish()
	wantPending(t, e.srv, 0, nil)
	wantCount(t, e.srv, 0, nil)
}

// TestPendingCapsUnderConcurrentHandshakes opens sessions from many
// goroutines at once, some established at once and some left pending, and
// checks that what the application holds never exceeds MaxSessions, that
// the pending count never exceeds MaxPending, and that nothing stays
// counted afterwards.
func TestPendingCapsUnderConcurrentHandshakes(t *testing.T) {
	checkNoLeaks(t)
	const (
		maxSessions = 8
		maxPending  = 4
		perIP       = 2
		clients     = 12
		rounds      = 8
	)
	ips := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}
	var (
		mu          sync.Mutex // guards live and peak
		live, peak  int
		overPending atomic.Int32
		accepted    atomic.Int32
		evicted     atomic.Int32
		srv         *Server
	)
	srv = NewServer(Config{MaxSessions: maxSessions, MaxPending: maxPending, MaxPendingPerIP: perIP, ClientIP: headerClientIP,
		Logger: testLogger(t)},
		func(s *Session) Handler {
			mu.Lock()
			live++
			peak = max(peak, live)
			mu.Unlock()
			if n := accepted.Add(1); n%3 == 0 {
				s.Establish()
			}
			if srv.Pending() > maxPending {
				overPending.Add(1)
			}
			return &reasonHandler{onClose: func(reason string) {
				if reason == ReasonEvicted {
					evicted.Add(1)
				}
				mu.Lock()
				live--
				mu.Unlock()
			}}
		})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e := &env{srv: srv, ts: ts, client: ts.Client()}

	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range rounds {
				transport := TransportPolling
				if (c+i)%2 == 0 {
					transport = TransportWebSocket
				}
				a := e.handshakeFrom(t, transport, ips[(c+i)%len(ips)])
				if a.status != http.StatusOK && a.status != http.StatusSwitchingProtocols && a.status != http.StatusServiceUnavailable {
					t.Errorf("%s handshake: %d %q", transport, a.status, a.body)
				}
			}
		})
	}
	wg.Wait()

	mu.Lock()
	if peak > maxSessions {
		t.Errorf("%d sessions open at once, cap %d", peak, maxSessions)
	}
	mu.Unlock()
	if n := overPending.Load(); n > 0 {
		t.Errorf("more than %d sessions were pending %d times", maxPending, n)
	}
	if evicted.Load() == 0 {
		t.Errorf("%d sessions accepted, none evicted: the caps were not exercised", accepted.Load())
	}
	srv.Close()
	wantCount(t, srv, 0, nil)
	wantPending(t, srv, 0, nil)
	mu.Lock()
	if live != 0 {
		t.Errorf("%d sessions without OnClose after Server.Close", live)
	}
	mu.Unlock()
}

// reasonHandler calls onClose with the reason from OnClose and ignores
// messages.
type reasonHandler struct{ onClose func(reason string) }

func (*reasonHandler) OnMessage([]byte, bool)  {}
func (h *reasonHandler) OnClose(reason string) { h.onClose(reason) }
