package engineio

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// goneTestGrace replaces connGoneGrace in these tests: long enough for a
// live client's next request on a loaded machine, short enough to wait
// for.
const goneTestGrace = time.Second

// pollClient is one polling client with an HTTP transport of its own, so
// that its connections are its own to close.
type pollClient struct {
	e      *env
	http   *http.Client
	tr     *http.Transport
	sid    string
	closed bool // every request asks for "Connection: close"
}

// newPollClient returns a client with a transport of its own.
func (e *env) newPollClient(connClose bool) *pollClient {
	tr := &http.Transport{}
	return &pollClient{e: e, http: &http.Client{Transport: tr}, tr: tr, closed: connClose}
}

// do performs one request and reads the whole response.
func (c *pollClient) do(t testing.TB, method, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Close = c.closed
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// open performs the handshake and returns the session's server side.
func (c *pollClient) open(t testing.TB) *recorder {
	t.Helper()
	resp := c.do(t, http.MethodGet, c.e.url("transport=polling"), "")
	if resp.status != http.StatusOK {
		t.Fatalf("handshake: %d %q", resp.status, resp.body)
	}
	c.sid = parseOpen(t, resp.body).SID
	return c.e.nextSession(t)
}

// asyncGet starts a GET whose response arrives on the returned channel.
func (c *pollClient) asyncGet(t testing.TB) <-chan response {
	ch := make(chan response, 1)
	go func() {
		resp, err := c.http.Get(c.e.pollURL(c.sid))
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- response{resp.StatusCode, resp.Header, string(b)}
	}()
	return ch
}

// die closes the client's connections, as the kernel does for a process
// that was killed; the client sends nothing more.
func (c *pollClient) die() { c.tr.CloseIdleConnections() }

// suspected reports whether sess's client is suspected gone.
func suspected(sess *Session) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return !sess.goneAt.IsZero()
}

// isOpen reports whether sess has not started to close.
func isOpen(sess *Session) bool {
	select {
	case <-sess.Closing():
		return false
	default:
		return true
	}
}

// TestPollingClientsGoneBetweenGETsAreClosed: clients whose held GETs were
// all answered by one broadcast, and whose connections then closed with
// no request in flight, are closed (transport close) after the grace,
// however their requests were carried.
func TestPollingClientsGoneBetweenGETsAreClosed(t *testing.T) {
	const n = 40
	tests := []struct {
		name string
		// connClose: every request asks for "Connection: close", so the
		// server closes each connection after its answer.
		connClose bool
	}{
		{"each on a keep-alive connection of its own, closed by the client", false},
		{"each request on a connection the server closes after the answer", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{}, withGoneGrace(goneTestGrace))
			clients := make([]*pollClient, n)
			recs := make([]*recorder, n)
			held := make([]<-chan response, n)
			for i := range clients {
				clients[i] = e.newPollClient(tt.connClose)
				recs[i] = clients[i].open(t)
				held[i] = clients[i].asyncGet(t)
			}
			for _, r := range recs {
				eventually(t, "GET held", func() bool { return getActive(r.sess) })
			}
			broadcast := NewMessage([]byte("someone left"), false)
			for _, r := range recs {
				r.sess.Send(broadcast)
			}
			for i := range held {
				if got := await(t, held[i]); got.status != http.StatusOK || got.body != "4someone left" {
					t.Fatalf("held GET %d: %d %q", i, got.status, got.body)
				}
			}
			for _, c := range clients {
				c.die()
			}
			for _, r := range recs {
				if reason := r.waitClose(t); reason != ReasonTransportClose {
					t.Errorf("session %s: OnClose(%q), want %q", r.sess.ID(), reason, ReasonTransportClose)
				}
			}
			if got := e.get(t, e.pollURL(clients[0].sid)); got.status != http.StatusBadRequest {
				t.Errorf("GET after the close: %d %q, want 400", got.status, got.body)
			}
		})
	}
}

// TestPollingSessionsSharingAConnectionAreClosedWithIt: sessions whose
// last answers all went over one connection (as through a proxy's pool)
// are all suspected when it closes.
func TestPollingSessionsSharingAConnectionAreClosedWithIt(t *testing.T) {
	e := newEnv(t, Config{}, withGoneGrace(goneTestGrace))
	pool := e.newPollClient(false)
	var recs []*recorder
	for range 5 {
		recs = append(recs, pool.open(t)) // the handshakes, one after another on one connection
	}
	pool.die()
	for _, r := range recs {
		if reason := r.waitClose(t); reason != ReasonTransportClose {
			t.Errorf("session %s: OnClose(%q), want %q", r.sess.ID(), reason, ReasonTransportClose)
		}
	}
}

// TestPollingLiveClientsOutlastTheirConnections: a client whose last
// answered GET's connection closes is not closed while it shows it is
// there. Each case runs beside a control client that dies at the same
// time and is closed after the grace; by then the live one must still be
// open.
func TestPollingLiveClientsOutlastTheirConnections(t *testing.T) {
	tests := []struct {
		name string
		// before runs before the connection of c's last answered GET
		// closes, after runs once it has closed and c is suspected.
		before, after func(t *testing.T, e *env, c *pollClient, r *recorder)
		// heard: after clears the suspicion at once.
		heard bool
	}{
		{
			name:  "the next GET comes on a new connection",
			heard: true,
			after: func(t *testing.T, e *env, c *pollClient, r *recorder) {
				held := c.asyncGet(t)
				eventually(t, "GET held", func() bool { return getActive(r.sess) })
				t.Cleanup(func() {
					r.sess.Send(NewMessage([]byte("hello"), false))
					if got := await(t, held); got.status != http.StatusOK || got.body != "4hello" {
						t.Errorf("held GET: %d %q", got.status, got.body)
					}
				})
			},
		},
		{
			name: "a POST that began before is still uploading its body",
			before: func(t *testing.T, e *env, c *pollClient, r *recorder) {
				// On a connection of its own, as a browser does while
				// a GET is held.
				poster := e.newPollClient(false)
				body, upload := io.Pipe()
				posted := make(chan response, 1)
				go func() {
					resp, err := poster.http.Post(e.pollURL(c.sid), "text/plain;charset=UTF-8", body)
					if err != nil {
						posted <- response{status: -1, body: err.Error()}
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					posted <- response{resp.StatusCode, resp.Header, string(b)}
				}()
				if _, err := io.WriteString(upload, "4still"); err != nil {
					t.Fatal(err)
				}
				eventually(t, "POST in flight", func() bool {
					r.sess.mu.Lock()
					defer r.sess.mu.Unlock()
					return r.sess.postActive
				})
				t.Cleanup(func() {
					upload.Close()
					if got := await(t, posted); got.status != http.StatusOK {
						t.Errorf("POST: %d %q", got.status, got.body)
					}
				})
			},
		},
		{
			name: "an upgrade to WebSocket is under way",
			before: func(t *testing.T, e *env, c *pollClient, r *recorder) {
				held := c.asyncGet(t)
				eventually(t, "GET held", func() bool { return getActive(r.sess) })
				conn := e.dial(t, "transport=websocket&sid="+c.sid, nil)
				writeText(t, conn, "2probe")
				readText(t, conn, "3probe")
				if got := await(t, held); got.status != http.StatusOK || got.body != "6" {
					t.Fatalf("held GET during the upgrade: %d %q, want 6", got.status, got.body)
				}
				t.Cleanup(func() {
					writeText(t, conn, "5")
					eventually(t, "upgraded", func() bool { return r.sess.Transport() == TransportWebSocket })
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{}, withGoneGrace(goneTestGrace))
			c, control := e.newPollClient(false), e.newPollClient(false)
			r, rc := c.open(t), control.open(t)
			if tt.before != nil {
				tt.before(t, e, c, r)
			}
			c.die()
			eventually(t, "client suspected", func() bool { return suspected(r.sess) })
			if tt.after != nil {
				tt.after(t, e, c, r)
			}
			if tt.heard && suspected(r.sess) {
				t.Error("still suspected once the client was heard from")
			}
			control.die()
			if reason := rc.waitClose(t); reason != ReasonTransportClose {
				t.Fatalf("control: OnClose(%q), want %q", reason, ReasonTransportClose)
			}
			if !isOpen(r.sess) {
				t.Errorf("live client closed: %q", r.waitClose(t))
			}
		})
	}
}

// TestGoneVerdict: what the grace timer decides about a client suspected
// gone, in each situation.
func TestGoneVerdict(t *testing.T) {
	now := time.Now()
	const grace = 3 * time.Second
	tests := []struct {
		name     string
		set      func(s *Session)
		wantGone bool
		wantWait time.Duration // 0: the suspicion is over
	}{
		{"nothing heard, grace over", func(s *Session) {}, true, 0},
		{"grace not over", func(s *Session) { s.goneAt = now.Add(time.Second) }, false, time.Second},
		{"not suspected", func(s *Session) { s.goneAt = time.Time{} }, false, 0},
		{"a GET held", func(s *Session) { s.getActive = true }, false, 0},
		{"a POST in flight", func(s *Session) { s.postActive = true }, false, grace},
		{"probing", func(s *Session) { s.state.Store(uint32(stateProbing)) }, false, grace},
		{"upgrading", func(s *Session) { s.state.Store(uint32(stateUpgrading)) }, false, grace},
		{"on WebSocket", func(s *Session) { s.transport = TransportWebSocket }, false, 0},
		{"closed", func(s *Session) { s.state.Store(uint32(stateClosing)) }, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{srv: &Server{st: settings{connGoneGrace: grace}}, transport: TransportPolling, goneAt: now}
			tt.set(s)
			gone, wait := s.goneVerdictLocked(now)
			if gone != tt.wantGone || wait != tt.wantWait {
				t.Errorf("verdict (gone %v, wait %v), want (%v, %v)", gone, wait, tt.wantGone, tt.wantWait)
			}
			if suspectedNow := !s.goneAt.IsZero(); suspectedNow != (wait > 0) {
				t.Errorf("still suspected: %v, want %v", suspectedNow, wait > 0)
			}
		})
	}
}

// TestPollingClosedSessionsLeaveTheirConnection: a connection that
// outlives many sessions (a proxy's) does not keep the closed ones.
func TestPollingClosedSessionsLeaveTheirConnection(t *testing.T) {
	e := newEnv(t, Config{}, withGoneGrace(goneTestGrace))
	pool := e.newPollClient(false)
	var recs []*recorder
	for range 3 {
		recs = append(recs, pool.open(t))
	}
	recs[0].sess.mu.Lock()
	w := recs[0].sess.conn
	recs[0].sess.mu.Unlock()
	attached := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.sessions)
	}
	if got := attached(); got != len(recs) {
		t.Fatalf("%d sessions on the connection, want %d", got, len(recs))
	}
	for _, r := range recs {
		r.sess.Close(ReasonForcedClose)
		waitDone(t, r.sess)
	}
	if got := attached(); got != 0 {
		t.Errorf("%d closed sessions still on the connection", got)
	}
}

// TestGoneGraceGrowsWithTheAnswer: after a large answer, a client on a
// slow link has the time to receive it before its next GET is due.
func TestGoneGraceGrowsWithTheAnswer(t *testing.T) {
	st := resolve(Config{})
	tests := []struct {
		answer int
		want   time.Duration
	}{
		{0, connGoneGrace},
		{slowLinkRate, connGoneGrace + time.Second},
		{100 * slowLinkRate, connGoneGrace + 100*time.Second},
	}
	for _, tt := range tests {
		if got := st.goneGrace(tt.answer); got != tt.want {
			t.Errorf("grace after %d bytes: %v, want %v", tt.answer, got, tt.want)
		}
	}
}

// BenchmarkConnWatchMove moves sessions between the connections of a
// reverse proxy's pool, as their answered GETs arrive on one connection
// after another: each move detaches a session from a watch holding many.
func BenchmarkConnWatchMove(b *testing.B) {
	const sessions, pool = 10_000, 8
	watches := make([]*connWatch, pool)
	for i := range watches {
		watches[i] = &connWatch{}
	}
	ss := make([]*Session, sessions)
	at := make([]int, sessions)
	for i := range ss {
		ss[i] = &Session{}
		at[i] = i % pool
		watches[at[i]].attach(ss[i])
	}
	b.ResetTimer()
	for i := range b.N {
		n := i % sessions
		watches[at[n]].detach(ss[n])
		at[n] = (at[n] + 1) % pool
		watches[at[n]].attach(ss[n])
	}
}
