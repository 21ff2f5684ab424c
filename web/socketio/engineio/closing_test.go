package engineio

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitingHandler's OnMessage waits, as a Handler applying backpressure
// does when its consumer has stopped, until the session is closing.
type waitingHandler struct {
	sess    *Session
	waiting chan struct{} // closed when OnMessage starts waiting
	once    sync.Once
	closed  chan string // receives the OnClose reason
}

func (h *waitingHandler) OnMessage([]byte, bool) {
	h.once.Do(func() { close(h.waiting) })
	<-h.sess.Closing()
}

func (h *waitingHandler) OnClose(reason string) { h.closed <- reason }

// TestWaitingOnMessageReturnsWhenTheSessionCloses is the regression test
// for a hang of Server.Close: a Handler's OnMessage waited on a consumer
// that had gone away (a test that had failed), holding the session's
// dispatch lock; the session closed (ping timeout, then Server.Close),
// its goroutine waited for that lock to call OnClose, and Server.Close
// waited for the goroutine, forever. Session.Closing lets such a wait
// end. Each case forces the interleaving: OnMessage is waiting before the
// session is closed.
func TestWaitingOnMessageReturnsWhenTheSessionCloses(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		transport  string
		close      func(*Server, *Session)
		wantReason string
	}{
		{"Server.Close, WebSocket", Config{}, TransportWebSocket,
			func(srv *Server, _ *Session) { srv.Close() }, ReasonServerShutdown},
		{"Server.Close, polling", Config{}, TransportPolling,
			func(srv *Server, _ *Session) { srv.Close() }, ReasonServerShutdown},
		{"Session.Close", Config{}, TransportWebSocket,
			func(_ *Server, s *Session) { s.Close(ReasonForcedClose) }, ReasonForcedClose},
		// The reader is stuck in OnMessage, so no pong is read: the
		// session times out, as in the original hang.
		{"ping timeout", Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}, TransportWebSocket,
			func(*Server, *Session) {}, ReasonPingTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeaks(t)
			handlers := make(chan *waitingHandler, 1)
			cfg := tt.cfg
			cfg.Logger = testLogger(t)
			srv := NewServer(cfg, func(s *Session) Handler {
				h := &waitingHandler{sess: s, waiting: make(chan struct{}), closed: make(chan string, 1)}
				handlers <- h
				return h
			})
			ts := httptest.NewServer(srv)
			t.Cleanup(func() { srv.Close(); ts.Close() })
			e := &env{srv: srv, ts: ts, client: ts.Client()}

			var posted <-chan response
			if tt.transport == TransportWebSocket {
				conn := e.dial(t, "transport=websocket", nil)
				readFrame(t, conn)
				writeText(t, conn, "4stuck")
			} else {
				h := parseOpen(t, e.get(t, e.url("transport=polling")).body)
				posted = asyncPost(e, e.pollURL(h.SID), "4stuck")
			}
			h := <-handlers
			select {
			case <-h.waiting:
			case <-time.After(waitTimeout):
				t.Fatal("OnMessage not called")
			}

			closed := make(chan struct{})
			go func() {
				defer close(closed)
				tt.close(srv, h.sess)
			}()
			select {
			case <-closed:
			case <-time.After(waitTimeout):
				t.Fatal("closing did not return while OnMessage waited")
			}
			select {
			case reason := <-h.closed:
				if reason != tt.wantReason {
					t.Errorf("OnClose(%q), want %q", reason, tt.wantReason)
				}
			case <-time.After(waitTimeout):
				t.Fatal("OnClose not called while OnMessage waited")
			}
			waitDone(t, h.sess)
			if posted != nil {
				// The POST whose message was being delivered is answered.
				if got := await(t, posted); got.status != http.StatusOK {
					t.Errorf("POST: %d %q", got.status, got.body)
				}
			}
		})
	}
}

// TestRecorderWithUnreadMessagesDoesNotHoldServerClose replays the
// original hang with the test helpers themselves: a test stops reading
// its session's messages (as one that fails does), the session goes on
// receiving, and the server must still close.
func TestRecorderWithUnreadMessagesDoesNotHoldServerClose(t *testing.T) {
	e := newEnv(t, Config{}, withMsgBuffer(1))
	conn, _, r := e.openWebSocket(t)
	for _, m := range []string{"4read by nobody", "4waits", "4queued behind"} {
		writeText(t, conn, m)
	}
	eventually(t, "first message delivered", func() bool { return len(r.msgs) == 1 })
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		e.srv.Close()
	}()
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		<-r.msgs // let the cleanup finish
		t.Fatal("Server.Close did not return while the recorder waited")
	}
	if reason := r.waitClose(t); reason != ReasonServerShutdown {
		t.Errorf("OnClose(%q)", reason)
	}
}

// asyncPost sends a payload whose response arrives on the returned
// channel.
func asyncPost(e *env, url, payload string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		resp, err := e.client.Post(url, "text/plain;charset=UTF-8", strings.NewReader(payload))
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		ch <- response{status: resp.StatusCode}
	}()
	return ch
}

// TestClosingAndDoneAskedForLate: the channels are made when first asked
// for, so a session asked only once it has started to close, or has
// ended, must hand out closed ones; one asked before must close them.
func TestClosingAndDoneAskedForLate(t *testing.T) {
	e := newEnv(t, Config{})
	_, _, early := e.openWebSocket(t)
	earlyClosing, earlyDone := early.sess.Closing(), early.sess.Done()
	_, _, late := e.openWebSocket(t)

	for _, r := range []*recorder{early, late} {
		r.sess.Close("test")
		select {
		case <-r.closed:
		case <-time.After(waitTimeout):
			t.Fatalf("session %s: OnClose not called within %v", r.sess.ID(), waitTimeout)
		}
	}
	for name, ch := range map[string]<-chan struct{}{
		"Closing asked for before the close": earlyClosing,
		"Done asked for before the close":    earlyDone,
		"Closing asked for after the end":    late.sess.Closing(),
	} {
		select {
		case <-ch:
		case <-time.After(waitTimeout):
			t.Errorf("%s: not closed within %v", name, waitTimeout)
		}
	}
	waitDone(t, late.sess) // Done asked for only now
}
