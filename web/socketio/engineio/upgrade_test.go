package engineio

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestUpgrade(t *testing.T) {
	e := newEnv(t, Config{}, echoing)
	sid, r := e.openPolling(t)
	held := e.asyncGet(t, e.pollURL(sid))
	eventually(t, "GET held", func() bool { return getActive(r.sess) })

	conn := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, conn, "2probe")
	readText(t, conn, "3probe")
	// The held GET is released with a noop promptly (within
	// upgradeNoopDelay of its arrival), not at the next ping (25 s away
	// with the defaults).
	if got := await(t, held); got.status != http.StatusOK || got.body != "6" {
		t.Fatalf("held GET during upgrade: %d %q, want 200 \"6\"", got.status, got.body)
	}
	// What is sent before "5" waits for the new transport.
	r.sess.Send(NewMessage([]byte("queued during upgrade"), false))
	writeText(t, conn, "5")
	readText(t, conn, "4queued during upgrade")
	if tr := r.sess.Transport(); tr != TransportWebSocket {
		t.Errorf("Transport() = %q after upgrade", tr)
	}

	writeText(t, conn, "4hello")
	readText(t, conn, "4hello")
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{9, 9}); err != nil {
		t.Fatal(err)
	}
	if typ, data := readFrame(t, conn); typ != websocket.BinaryMessage || string(data) != "\x09\x09" {
		t.Errorf("binary echo (type %d) %v", typ, data)
	}

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp := e.do(t, method, e.pollURL(sid), "text/plain", "4late")
		if resp.status != http.StatusBadRequest || resp.body != `{"code":3,"message":"Bad request"}` {
			t.Errorf("polling %s after upgrade: %d %q, want 400 code 3", method, resp.status, resp.body)
		}
	}
	if e.srv.Count() != 1 {
		t.Errorf("Count() = %d, want 1", e.srv.Count())
	}
}

func TestUpgradeGETArrivingAfterProbeGetsNoop(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.openPolling(t)
	conn := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, conn, "2probe")
	readText(t, conn, "3probe")
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusOK || got.body != "6" {
		t.Errorf("GET after 3probe: %d %q, want 200 \"6\"", got.status, got.body)
	}
}

func TestUpgradeGETAfterProbeAndUpgradeBackToBackIsRefused(t *testing.T) {
	e := newEnv(t, Config{}, echoing)
	sid, _ := e.openPolling(t)
	conn := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, conn, "2probe")
	writeText(t, conn, "5")
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("GET after 2probe+5: %d %q, want 400", got.status, got.body)
	}
	readText(t, conn, "3probe")
	writeText(t, conn, "4hello")
	readText(t, conn, "4hello")
}

func TestUpgradeDuplicateWebSocketIsAcceptedThenClosed(t *testing.T) {
	for _, stage := range []string{"while probing", "after upgrade"} {
		t.Run(stage, func(t *testing.T) {
			e := newEnv(t, Config{}, echoing)
			sid, _ := e.openPolling(t)
			conn := e.dial(t, "transport=websocket&sid="+sid, nil)
			if stage == "after upgrade" {
				writeText(t, conn, "2probe")
				readText(t, conn, "3probe")
				writeText(t, conn, "5")
			}
			// 101, then closed, as the reference server does:
			// refusing with 400 breaks real clients' error handling.
			second := e.dial(t, "transport=websocket&sid="+sid, nil)
			waitClosed(t, second)

			if stage == "while probing" {
				writeText(t, conn, "2probe")
				readText(t, conn, "3probe")
				writeText(t, conn, "5")
			}
			writeText(t, conn, "4still here")
			readText(t, conn, "4still here")
		})
	}
}

func TestUpgradeDuplicateOfWebSocketOnlySession(t *testing.T) {
	e := newEnv(t, Config{}, echoing)
	conn, h, _ := e.openWebSocket(t)
	second := e.dial(t, "transport=websocket&sid="+h.SID, nil)
	waitClosed(t, second)
	writeText(t, conn, "4ok")
	readText(t, conn, "4ok")
}

func TestUpgradeAbortedKeepsPolling(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		probe func(t *testing.T, conn *websocket.Conn)
	}{
		{"message before upgrade", Config{}, func(t *testing.T, conn *websocket.Conn) {
			writeText(t, conn, "2probe")
			readText(t, conn, "3probe")
			writeText(t, conn, "4too early")
		}},
		{"binary frame on the probe", Config{}, func(t *testing.T, conn *websocket.Conn) {
			if err := conn.WriteMessage(websocket.BinaryMessage, []byte{1}); err != nil {
				t.Fatal(err)
			}
		}},
		{"upgrade timeout", Config{UpgradeTimeout: 100 * time.Millisecond}, func(*testing.T, *websocket.Conn) {}},
		{"probe socket dropped", Config{}, func(t *testing.T, conn *websocket.Conn) {
			writeText(t, conn, "2probe")
			readText(t, conn, "3probe")
			conn.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			sid, r := e.openPolling(t)
			conn := e.dial(t, "transport=websocket&sid="+sid, nil)
			tt.probe(t, conn)
			waitClosed(t, conn)
			eventually(t, "probe released", func() bool {
				r.sess.mu.Lock()
				defer r.sess.mu.Unlock()
				return r.sess.current() == stateOpen
			})
			if tr := r.sess.Transport(); tr != TransportPolling {
				t.Errorf("Transport() = %q after a failed upgrade", tr)
			}
			r.sess.Send(NewMessage([]byte("still polling"), false))
			if got := e.get(t, e.pollURL(sid)); got.body != "4still polling" {
				t.Errorf("GET after failed upgrade: %d %q", got.status, got.body)
			}
			select {
			case m := <-r.msgs:
				t.Errorf("probe socket delivered %+v", m)
			default:
			}
			// A new attempt may follow.
			again := e.dial(t, "transport=websocket&sid="+sid, nil)
			writeText(t, again, "2probe")
			readText(t, again, "3probe")
		})
	}
}

func TestUpgradeSessionClosedWhileProbing(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	conn := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, conn, "2probe")
	readText(t, conn, "3probe")
	r.sess.Close(ReasonForcedClose)
	waitClosed(t, conn)
	if reason := r.waitClose(t); reason != ReasonForcedClose {
		t.Errorf("OnClose(%q)", reason)
	}
}

func TestUpgradedSessionHeartbeat(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: timeout})
	sid, r := e.openPolling(t)
	conn := e.dial(t, "transport=websocket&sid="+sid, nil)
	writeText(t, conn, "2probe")
	readText(t, conn, "3probe")
	writeText(t, conn, "5")
	for range 2 {
		readText(t, conn, "2")
		writeText(t, conn, "3")
	}
	writeText(t, conn, "1")
	waitClosed(t, conn)
	if reason := r.waitClose(t); reason != ReasonTransportClose {
		t.Errorf("OnClose(%q), want %q", reason, ReasonTransportClose)
	}
}
