package engineio

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientIPHeader carries the test client's address to headerClientIP.
const clientIPHeader = "X-Test-Client"

// headerClientIP is a Config.ClientIP that reads clientIPHeader.
func headerClientIP(r *http.Request) string { return r.Header.Get(clientIPHeader) }

// attempt is the outcome of one handshake.
type attempt struct {
	status      int // 101 for an accepted WebSocket
	contentType string
	body        string
	conn        *websocket.Conn // an accepted WebSocket, open packet read
}

// handshakeFrom attempts a handshake on transport claiming to come from ip
// (sent in clientIPHeader; "" sends none). An accepted WebSocket is closed
// at cleanup.
func (e *env) handshakeFrom(t testing.TB, transport, ip string) attempt {
	t.Helper()
	header := http.Header{}
	if ip != "" {
		header.Set(clientIPHeader, ip)
	}
	if transport == TransportWebSocket {
		conn, resp, err := websocket.DefaultDialer.Dial(e.wsURL("transport=websocket"), header)
		if err == nil {
			t.Cleanup(func() { conn.Close() })
			readFrame(t, conn) // the open packet
			return attempt{status: http.StatusSwitchingProtocols, conn: conn}
		}
		if resp == nil {
			t.Fatalf("websocket handshake: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return attempt{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(b)}
	}
	req, err := http.NewRequest(http.MethodGet, e.url("transport=polling"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp := e.send(t, req)
	return attempt{status: resp.status, contentType: resp.header.Get("Content-Type"), body: resp.body}
}

// mustOpen performs a handshake that the caps must accept and returns the
// new session's server side.
func (e *env) mustOpen(t testing.TB, transport, ip string) *recorder {
	t.Helper()
	if a := e.handshakeFrom(t, transport, ip); a.status != http.StatusOK && a.status != http.StatusSwitchingProtocols {
		t.Fatalf("%s handshake from %q: %d %q, want it accepted", transport, ip, a.status, a.body)
	}
	return e.nextSession(t)
}

// mustRefuse performs a handshake that the caps must refuse, cleanly and
// before any session exists.
func (e *env) mustRefuse(t testing.TB, transport, ip string) {
	t.Helper()
	a := e.handshakeFrom(t, transport, ip)
	if a.status != http.StatusServiceUnavailable || a.contentType != "application/json" || a.body != TooManyConnectionsBody {
		t.Fatalf("%s handshake from %q: %d %q %q, want 503 application/json %q",
			transport, ip, a.status, a.contentType, a.body, TooManyConnectionsBody)
	}
	select {
	case r := <-e.accepted:
		t.Fatalf("a refused %s handshake created session %s", transport, r.sess.ID())
	default:
	}
}

// closeSession closes r's session from the server side and waits until it
// has ended.
func closeSession(t testing.TB, r *recorder) {
	t.Helper()
	r.sess.Close(ReasonForcedClose)
	if reason := r.waitClose(t); reason != ReasonForcedClose {
		t.Fatalf("OnClose(%q)", reason)
	}
	waitDone(t, r.sess)
}

// wantCount checks Server.Count and the per-address counts (nil: none).
func wantCount(t testing.TB, srv *Server, want int, wantPerIP map[string]int) {
	t.Helper()
	if got := srv.Count(); got != want {
		t.Errorf("Count() = %d, want %d", got, want)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	same := len(srv.perIP) == len(wantPerIP)
	for ip, n := range wantPerIP {
		same = same && srv.perIP[ip] == n
	}
	if !same {
		t.Errorf("per-address counts %v, want %v", srv.perIP, wantPerIP)
	}
}

func TestMaxSessions(t *testing.T) {
	for _, transport := range []string{TransportPolling, TransportWebSocket} {
		t.Run(transport, func(t *testing.T) {
			const max = 3
			e := newEnv(t, Config{MaxSessions: max})
			var open []*recorder
			for range max {
				open = append(open, e.mustOpen(t, transport, ""))
			}
			wantCount(t, e.srv, max, nil)
			// Both transports are refused, whichever filled the server.
			e.mustRefuse(t, TransportPolling, "")
			e.mustRefuse(t, TransportWebSocket, "")
			wantCount(t, e.srv, max, nil)

			closeSession(t, open[0])
			wantCount(t, e.srv, max-1, nil)
			open[0] = e.mustOpen(t, transport, "")
			e.mustRefuse(t, transport, "")
			wantCount(t, e.srv, max, nil)

			e.srv.Close()
			wantCount(t, e.srv, 0, nil)
		})
	}
}

func TestMaxSessionsCountsUntilOnCloseReturns(t *testing.T) {
	// A closed session whose OnClose has not returned keeps its slot.
	inClose := make(chan struct{})
	release := make(chan struct{})
	var sessions atomic.Int32
	srv := NewServer(Config{MaxSessions: 1, Logger: testLogger(t)}, func(*Session) Handler {
		if sessions.Add(1) > 1 {
			return nopHandler{}
		}
		return &blockingCloseHandler{inClose: inClose, release: release}
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e := &env{srv: srv, ts: ts, client: ts.Client(), accepted: make(chan *recorder, 1)}

	first := e.handshakeFrom(t, TransportWebSocket, "")
	if first.status != http.StatusSwitchingProtocols {
		t.Fatalf("first handshake: %d %q", first.status, first.body)
	}
	writeText(t, first.conn, "1") // the client closes
	select {
	case <-inClose:
	case <-time.After(waitTimeout):
		t.Fatal("OnClose not called")
	}
	e.mustRefuse(t, TransportPolling, "")
	wantCount(t, srv, 1, nil)
	close(release)
	eventually(t, "slot given back", func() bool { return srv.Count() == 0 })
	if a := e.handshakeFrom(t, TransportPolling, ""); a.status != http.StatusOK {
		t.Errorf("handshake after OnClose returned: %d %q, want 200", a.status, a.body)
	}
}

// blockingCloseHandler's OnClose signals inClose and waits for release.
type blockingCloseHandler struct{ inClose, release chan struct{} }

func (*blockingCloseHandler) OnMessage([]byte, bool) {}

func (h *blockingCloseHandler) OnClose(string) {
	close(h.inClose)
	<-h.release
}

func TestMaxSessionsPerIP(t *testing.T) {
	const (
		alice = "192.0.2.1"
		bob   = "2001:db8::2"
	)
	e := newEnv(t, Config{MaxSessionsPerIP: 2, ClientIP: headerClientIP})
	a1 := e.mustOpen(t, TransportPolling, alice)
	e.mustOpen(t, TransportWebSocket, alice)
	e.mustRefuse(t, TransportPolling, alice)
	e.mustRefuse(t, TransportWebSocket, alice)
	// The same address written as IPv4-mapped IPv6 is the same client.
	e.mustRefuse(t, TransportPolling, "::ffff:"+alice)

	// Other clients are not affected; their addresses are compared in
	// canonical form too.
	e.mustOpen(t, TransportWebSocket, bob)
	e.mustOpen(t, TransportPolling, "2001:DB8:0::2")
	e.mustRefuse(t, TransportPolling, bob)
	wantCount(t, e.srv, 4, map[string]int{alice: 2, bob: 2})

	closeSession(t, a1)
	wantCount(t, e.srv, 3, map[string]int{alice: 1, bob: 2})
	e.mustOpen(t, TransportPolling, alice)
	e.mustRefuse(t, TransportWebSocket, alice)
	wantCount(t, e.srv, 4, map[string]int{alice: 2, bob: 2})

	e.srv.Close()
	wantCount(t, e.srv, 0, nil)
}

func TestMaxSessionsPerIPExemptions(t *testing.T) {
	never := func(string) bool { return false }
	tests := []struct {
		name   string
		cfg    Config // MaxSessionsPerIP is set to 1
		ip     string // sent in clientIPHeader
		capped string // the canonical address that is capped; "" if exempt
	}{
		{name: "loopback RemoteAddr by default", cfg: Config{}},
		{name: "127.0.0.0/8", cfg: Config{ClientIP: headerClientIP}, ip: "127.3.2.1"},
		{name: "::1", cfg: Config{ClientIP: headerClientIP}, ip: "::1"},
		{name: "IPv4-mapped loopback", cfg: Config{ClientIP: headerClientIP}, ip: "::ffff:127.0.0.1"},
		{name: "other address", cfg: Config{ClientIP: headerClientIP}, ip: "198.51.100.7", capped: "198.51.100.7"},
		{name: "custom ExemptIP replaces the default", cfg: Config{ExemptIP: never}, capped: "127.0.0.1"},
		{name: "custom ExemptIP exempts", cfg: Config{ClientIP: headerClientIP, ExemptIP: func(ip string) bool { return ip == "203.0.113.9" }},
			ip: "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.MaxSessionsPerIP = 1
			e := newEnv(t, cfg)
			e.mustOpen(t, TransportPolling, tt.ip)
			if tt.capped != "" {
				e.mustRefuse(t, TransportWebSocket, tt.ip)
				wantCount(t, e.srv, 1, map[string]int{tt.capped: 1})
				return
			}
			e.mustOpen(t, TransportWebSocket, tt.ip)
			e.mustOpen(t, TransportPolling, tt.ip)
			wantCount(t, e.srv, 3, nil)
		})
	}
}

func TestExemptSessionsCountTowardsMaxSessions(t *testing.T) {
	e := newEnv(t, Config{MaxSessions: 1, MaxSessionsPerIP: 5})
	e.mustOpen(t, TransportPolling, "")
	e.mustRefuse(t, TransportWebSocket, "")
}

// TestCapsUnderConcurrentChurn opens, ends and is refused sessions from
// many goroutines at once, on both transports and in several ways a
// session ends, and checks what the application sees (sessions between
// accept and the end of OnClose) never exceeds the caps, and that nothing
// stays counted afterwards.
func TestCapsUnderConcurrentChurn(t *testing.T) {
	checkNoLeaks(t)
	const (
		maxSessions = 6
		maxPerIP    = 2
		clients     = 12
		rounds      = 6
	)
	ips := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}
	var (
		mu        sync.Mutex // guards the counts below
		live      int
		peak      int
		perIPLive = map[string]int{}
		overIP    int
		accepted  atomic.Int32
		refused   atomic.Int32
	)
	srv := NewServer(Config{MaxSessions: maxSessions, MaxSessionsPerIP: maxPerIP, ClientIP: headerClientIP, ClientAddr: headerClientIP, Logger: testLogger(t)},
		func(s *Session) Handler {
			ip := s.ClientAddr()
			mu.Lock()
			live++
			peak = max(peak, live)
			perIPLive[ip]++
			if perIPLive[ip] > maxPerIP {
				overIP++
			}
			mu.Unlock()
			accepted.Add(1)
			return &funcHandler{onClose: func() {
				mu.Lock()
				live--
				perIPLive[ip]--
				mu.Unlock()
			}}
		})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e := &env{srv: srv, ts: ts, client: ts.Client()}

	var wg sync.WaitGroup
	kept := make(chan *websocket.Conn, clients*rounds)
	for c := range clients {
		wg.Go(func() {
			ip := ips[c%len(ips)]
			for i := range rounds {
				status, conn := churnOnce(t, e, ip, churnWay(c+i)%churnWays)
				if status == http.StatusServiceUnavailable {
					refused.Add(1)
				}
				if conn != nil {
					kept <- conn
				}
			}
		})
	}
	wg.Wait()
	close(kept)

	mu.Lock()
	if peak > maxSessions {
		t.Errorf("%d sessions open at once, cap %d", peak, maxSessions)
	}
	if overIP > 0 {
		t.Errorf("the per-address cap was exceeded %d times", overIP)
	}
	mu.Unlock()
	if accepted.Load() == 0 || refused.Load() == 0 {
		t.Errorf("%d sessions accepted, %d refused: the caps were not exercised", accepted.Load(), refused.Load())
	}
	srv.Close()
	wantCount(t, srv, 0, nil)
	mu.Lock()
	if live != 0 {
		t.Errorf("%d sessions without OnClose after Server.Close", live)
	}
	mu.Unlock()
	for conn := range kept {
		conn.Close()
	}
}

// funcHandler calls onClose from OnClose and ignores messages.
type funcHandler struct{ onClose func() }

func (*funcHandler) OnMessage([]byte, bool) {}
func (h *funcHandler) OnClose(string)       { h.onClose() }

// churnWay is how churnOnce ends a session.
type churnWay int

const (
	churnPollingClose   churnWay = iota // polling client sends "1"
	churnWebSocketClose                 // WebSocket client sends "1"
	churnWebSocketDrop                  // WebSocket client goes away
	churnKeep                           // left open for Server.Close
	churnWays
)

// churnOnce opens one session claiming to come from ip and ends it the
// given way. It returns the handshake's HTTP status and, for churnKeep, the
// open WebSocket. It runs on many goroutines, so it reports with Errorf.
func churnOnce(t *testing.T, e *env, ip string, way churnWay) (int, *websocket.Conn) {
	header := http.Header{clientIPHeader: {ip}}
	if way == churnPollingClose {
		req, _ := http.NewRequest(http.MethodGet, e.url("transport=polling"), nil)
		req.Header = header
		resp, err := e.client.Do(req)
		if err != nil {
			t.Errorf("polling handshake: %v", err)
			return 0, nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		var h handshake
		if len(body) == 0 || json.Unmarshal(body[1:], &h) != nil {
			t.Errorf("polling handshake body %q", body)
			return resp.StatusCode, nil
		}
		post, err := e.client.Post(e.pollURL(h.SID), "text/plain;charset=UTF-8", strings.NewReader("1"))
		if err != nil {
			t.Errorf("POST close: %v", err)
			return resp.StatusCode, nil
		}
		post.Body.Close()
		return resp.StatusCode, nil
	}
	conn, resp, err := websocket.DefaultDialer.Dial(e.wsURL("transport=websocket"), header)
	if err != nil {
		if resp == nil {
			t.Errorf("websocket handshake: %v", err)
			return 0, nil
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	switch way {
	case churnWebSocketClose:
		_ = conn.WriteMessage(websocket.TextMessage, []byte("1"))
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				break // the server closed it
			}
		}
		conn.Close()
	case churnWebSocketDrop:
		conn.Close()
	default:
		return http.StatusSwitchingProtocols, conn
	}
	return http.StatusSwitchingProtocols, nil
}
