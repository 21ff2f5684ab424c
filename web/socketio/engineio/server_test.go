package engineio

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// sidPattern is what a session id looks like: 20 URL-safe characters.
var sidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

func TestPollingHandshakeIsByteExact(t *testing.T) {
	e := newEnv(t, Config{})
	resp := e.get(t, e.url("transport=polling&t=abc&extra=tolerated"))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d, body %q", resp.status, resp.body)
	}
	if got := resp.header.Get("Content-Type"); got != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	h := parseOpen(t, resp.body)
	if !sidPattern.MatchString(h.SID) {
		t.Errorf("sid %q is not 20 URL-safe characters", h.SID)
	}
	want := `0{"sid":"` + h.SID + `","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if resp.body != want {
		t.Errorf("open packet\n got %s\nwant %s", resp.body, want)
	}
	r := e.nextSession(t)
	if r.sess.ID() != h.SID || r.sess.Transport() != TransportPolling {
		t.Errorf("session %q on %q, want %q on polling", r.sess.ID(), r.sess.Transport(), h.SID)
	}
	if e.srv.Count() != 1 {
		t.Errorf("Count() = %d, want 1", e.srv.Count())
	}
}

func TestWebSocketHandshakeIsByteExact(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 5000})
	conn := e.dial(t, "transport=websocket", nil)
	typ, data := readFrame(t, conn)
	h := parseOpen(t, string(data))
	want := `0{"sid":"` + h.SID + `","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":5000}`
	if typ != websocket.TextMessage || string(data) != want {
		t.Errorf("open frame (type %d)\n got %s\nwant %s", typ, data, want)
	}
	if !sidPattern.MatchString(h.SID) {
		t.Errorf("sid %q is not 20 URL-safe characters", h.SID)
	}
	if r := e.nextSession(t); r.sess.Transport() != TransportWebSocket {
		t.Errorf("transport %q", r.sess.Transport())
	}
}

func TestClientAddrIsTheHandshakes(t *testing.T) {
	t.Run("by default the host of the remote address", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.dial(t, "transport=websocket", nil)
		if got := e.nextSession(t).sess.ClientAddr(); got != "127.0.0.1" {
			t.Errorf("ClientAddr() = %q, want 127.0.0.1", got)
		}
	})
	t.Run("what Config.ClientAddr read of the handshake request", func(t *testing.T) {
		e := newEnv(t, Config{ClientAddr: func(r *http.Request) string {
			return r.Header.Get("X-Custom") + " " + r.URL.Query().Get("extra")
		}})
		e.dial(t, "transport=websocket&extra=kept", http.Header{"X-Custom": {"one"}})
		if got := e.nextSession(t).sess.ClientAddr(); got != "one kept" {
			t.Errorf("ClientAddr() = %q, want %q", got, "one kept")
		}
	})
}

func TestUpgradesListFollowsEnabledTransports(t *testing.T) {
	e := newEnv(t, Config{Transports: []string{TransportPolling}})
	h := parseOpen(t, e.get(t, e.url("transport=polling")).body)
	if h.Upgrades == nil || len(h.Upgrades) != 0 {
		t.Errorf("upgrades %v with WebSocket disabled, want []", h.Upgrades)
	}
	if resp := e.get(t, e.url("transport=websocket")); resp.status != http.StatusBadRequest ||
		resp.body != `{"code":0,"message":"Transport unknown"}` {
		t.Errorf("disabled transport: %d %q", resp.status, resp.body)
	}
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.openPolling(t)
	_, wsHandshake, _ := e.openWebSocket(t)
	wsSID := wsHandshake.SID

	const (
		unknownTransport = `{"code":0,"message":"Transport unknown"}`
		unknownSID       = `{"code":1,"message":"Session ID unknown"}`
		badMethod        = `{"code":2,"message":"Bad handshake method"}`
		badRequest       = `{"code":3,"message":"Bad request"}`
		badVersion       = `{"code":5,"message":"Unsupported protocol version"}`
	)
	tests := []struct {
		name       string
		method     string
		query      string // full query
		wantStatus int
		wantBody   string
	}{
		{"missing EIO", "GET", "transport=polling", 400, badVersion},
		{"EIO 3", "GET", "EIO=3&transport=polling", 400, badVersion},
		{"EIO abc", "GET", "EIO=abc&transport=polling", 400, badVersion},
		{"missing transport", "GET", "EIO=4", 400, unknownTransport},
		{"bogus transport", "GET", "EIO=4&transport=bogus", 400, unknownTransport},
		{"POST handshake", "POST", "EIO=4&transport=polling", 400, badMethod},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", 400, badMethod},
		{"websocket without Upgrade", "GET", "EIO=4&transport=websocket", 400, badRequest},
		{"unknown sid GET", "GET", "EIO=4&transport=polling&sid=nope", 400, unknownSID},
		{"unknown sid POST", "POST", "EIO=4&transport=polling&sid=nope", 400, unknownSID},
		{"PUT with sid", "PUT", "EIO=4&transport=polling&sid=" + sid, 400, badRequest},
		{"polling GET on a WebSocket session", "GET", "EIO=4&transport=polling&sid=" + wsSID, 400, badRequest},
		{"websocket without Upgrade on a polling session", "GET", "EIO=4&transport=websocket&sid=" + sid, 400, badRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(t, tt.method, e.ts.URL+"/engine.io/?"+tt.query, "", "")
			if resp.status != tt.wantStatus || resp.body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.status, resp.body, tt.wantStatus, tt.wantBody)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// None of these errors closed the sessions they named.
	if e.srv.Count() != 2 {
		t.Errorf("Count() = %d after the error requests, want 2", e.srv.Count())
	}
}

func TestWebSocketHandshakeErrorsAreHTTP400(t *testing.T) {
	e := newEnv(t, Config{})
	for _, query := range []string{"transport=websocket&EIO=3", "transport=bogus", "transport=websocket&sid=nope"} {
		t.Run(query, func(t *testing.T) {
			url := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/engine.io/?" + query
			if !strings.Contains(query, "EIO=") {
				url = e.wsURL(query)
			}
			conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("response %v, want 400", resp)
			}
		})
	}
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		origin string
		host   string // Host header; the test server's address when empty
		allow  bool
	}{
		{name: "no Origin", allow: true},
		{name: "same host", origin: "http://HOST", allow: true},
		{name: "other host", origin: "http://evil.example", allow: false},
		{name: "same name, other port", origin: "http://127.0.0.1:1", allow: false},
		{name: "same host, other scheme", origin: "https://HOST", allow: false},
		{name: "same host with a path", origin: "http://HOST/page", allow: false},
		{name: "behind TLS, https", cfg: Config{RequestScheme: func(*http.Request) string { return "https" }}, origin: "https://HOST", allow: true},
		{name: "behind TLS, http", cfg: Config{RequestScheme: func(*http.Request) string { return "https" }}, origin: "http://HOST", allow: false},
		{name: "default port written in Origin only", origin: "http://chat.example:80", host: "chat.example", allow: true},
		{name: "default port written in Host only", origin: "http://chat.example", host: "chat.example:80", allow: true},
		{name: "https default port", cfg: Config{RequestScheme: func(*http.Request) string { return "https" }}, origin: "https://chat.example", host: "chat.example:443", allow: true},
		{name: "null origin", origin: "null", allow: false},
		{name: "allowed list", cfg: Config{AllowedOrigins: []string{"https://Chat.Example/"}}, origin: "https://chat.example", allow: true},
		{name: "allowed list, other scheme", cfg: Config{AllowedOrigins: []string{"https://chat.example"}}, origin: "http://chat.example", allow: false},
		{name: "allowed list with the https default port", cfg: Config{AllowedOrigins: []string{"https://chat.example:443"}}, origin: "https://chat.example", allow: true},
		{name: "allowed list with the http default port", cfg: Config{AllowedOrigins: []string{"HTTP://chat.example:80/"}}, origin: "http://chat.example", allow: true},
		{name: "allowed list, default port in Origin only", cfg: Config{AllowedOrigins: []string{"https://chat.example"}}, origin: "https://chat.example:443", allow: true},
		{name: "allowed list, the other scheme's default port", cfg: Config{AllowedOrigins: []string{"https://chat.example:80"}}, origin: "https://chat.example", allow: false},
		{name: "allowed list, another port", cfg: Config{AllowedOrigins: []string{"https://chat.example:8443"}}, origin: "https://chat.example", allow: false},
		{name: "custom check refuses", cfg: Config{CheckOrigin: func(*http.Request) bool { return false }}, origin: "http://HOST", allow: false},
		{name: "custom check allows", cfg: Config{CheckOrigin: func(*http.Request) bool { return true }}, origin: "http://evil.example", allow: true},
		{name: "custom check is not asked without Origin", cfg: Config{CheckOrigin: func(*http.Request) bool { return false }}, allow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			host := strings.TrimPrefix(e.ts.URL, "http://")
			origin := strings.ReplaceAll(tt.origin, "HOST", host)
			header := http.Header{}
			if origin != "" {
				header.Set("Origin", origin)
			}

			// Polling.
			req, _ := http.NewRequest(http.MethodGet, e.url("transport=polling"), nil)
			req.Header = header.Clone()
			if tt.host != "" {
				req.Host = tt.host
				header.Set("Host", tt.host) // gorilla's Dial sends it as the Host
			}
			resp := e.send(t, req)
			if tt.allow && resp.status != http.StatusOK {
				t.Errorf("polling: %d %q, want 200", resp.status, resp.body)
			}
			if !tt.allow && (resp.status != http.StatusForbidden || resp.body != `{"code":4,"message":"Forbidden"}`) {
				t.Errorf("polling: %d %q, want 403", resp.status, resp.body)
			}

			// WebSocket.
			conn, wsResp, err := websocket.DefaultDialer.Dial(e.wsURL("transport=websocket"), header)
			if tt.allow && err != nil {
				t.Errorf("websocket: %v, want success", err)
			}
			if !tt.allow && (err == nil || wsResp == nil || wsResp.StatusCode != http.StatusForbidden) {
				t.Errorf("websocket: err %v, response %v, want 403", err, wsResp)
			}
			if conn != nil {
				conn.Close()
			}
		})
	}
}

func TestOriginCheckAppliesToRequestsWithSID(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.openPolling(t)
	req, _ := http.NewRequest(http.MethodGet, e.pollURL(sid), nil)
	req.Header.Set("Origin", "http://evil.example")
	if resp := e.send(t, req); resp.status != http.StatusForbidden {
		t.Errorf("GET with foreign Origin: %d %q, want 403", resp.status, resp.body)
	}
}

func TestUnknownTransportInConfigPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewServer accepted transport \"flash\"")
		}
	}()
	NewServer(Config{Transports: []string{"flash"}}, nil)
}

func TestServerCloseEndsEverySessionAndRefusesRequests(t *testing.T) {
	e := newEnv(t, Config{})
	sid, pollRec := e.openPolling(t)
	held := e.asyncGet(t, e.pollURL(sid))
	conn, _, wsRec := e.openWebSocket(t)
	if !pollRec.sess.Send(NewMessage([]byte("bye"), false)) {
		t.Fatal("Send failed")
	}
	if got := await(t, held); got.body != "4bye" {
		t.Fatalf("first held GET got %q", got.body)
	}
	held = e.asyncGet(t, e.pollURL(sid))
	// The held GET must be held (registered) before Close for the "1".
	eventually(t, "GET held", func() bool {
		pollRec.sess.mu.Lock()
		defer pollRec.sess.mu.Unlock()
		return pollRec.sess.getActive
	})
	wsRec.sess.Send(NewMessage([]byte("last words"), false))

	e.srv.Close()

	if got := await(t, held); got.status != http.StatusOK || got.body != "1" {
		t.Errorf("held GET on shutdown: %d %q, want 200 \"1\"", got.status, got.body)
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		_, data, err := conn.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Errorf("WebSocket ended with %v, want a normal close frame", err)
			}
			break
		}
		if string(data) != "4last words" && string(data) != "2" {
			t.Errorf("unexpected frame %q", data)
		}
	}
	for _, r := range []*recorder{pollRec, wsRec} {
		if reason := r.waitClose(t); reason != ReasonServerShutdown {
			t.Errorf("OnClose(%q), want %q", reason, ReasonServerShutdown)
		}
		select {
		case <-r.sess.Done():
		default:
			t.Error("Done not closed after Server.Close returned")
		}
	}
	if e.srv.Count() != 0 {
		t.Errorf("Count() = %d after Close", e.srv.Count())
	}
	if resp := e.get(t, e.url("transport=polling")); resp.status != http.StatusServiceUnavailable {
		t.Errorf("handshake after Close: %d, want 503", resp.status)
	}
	e.srv.Close() // idempotent
}

func TestAcceptReturningNilClosesSession(t *testing.T) {
	checkNoLeaks(t)
	srv := NewServer(Config{Logger: testLogger(t)}, func(*Session) Handler { return nil })
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e := &env{srv: srv, ts: ts, client: ts.Client()}
	h := parseOpen(t, e.get(t, e.url("transport=polling")).body)
	// The refusal is delivered as a goodbye on the next GET.
	if got := e.get(t, e.pollURL(h.SID)); got.status != http.StatusOK || got.body != "1" {
		t.Errorf("GET after a nil handler: %d %q, want \"1\"", got.status, got.body)
	}
	eventually(t, "Count() back to 0", func() bool { return srv.Count() == 0 })
}
