package engineio

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPollingMessagesBothWays(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    []received
	}{
		{"one text packet", "4hello", []received{{"hello", false}}},
		{"several text packets", "4test1\x1e4test2\x1e4test3", []received{{"test1", false}, {"test2", false}, {"test3", false}}},
		{"text and binary", "4hello\x1ebAQIDBA==", []received{{"hello", false}, {"\x01\x02\x03\x04", true}}},
		{"empty text and empty binary", "4\x1eb", []received{{"", false}, {"", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{}, echoing)
			sid, r := e.openPolling(t)
			resp := e.post(t, e.pollURL(sid), tt.payload)
			if resp.status != http.StatusOK || resp.body != "ok" {
				t.Fatalf("POST: %d %q, want 200 ok", resp.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "text/html" {
				t.Errorf("POST Content-Type %q", ct)
			}
			for _, want := range tt.want {
				if got := r.nextMessage(t); got != want {
					t.Errorf("delivered %+v, want %+v", got, want)
				}
			}
			// The echo comes back as it went, in one payload.
			if got := e.get(t, e.pollURL(sid)); got.status != http.StatusOK || got.body != tt.payload {
				t.Errorf("GET: %d %q, want %q", got.status, got.body, tt.payload)
			}
		})
	}
}

func TestPollingHeldGETIsReleasedBySend(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	held := e.asyncGet(t, e.pollURL(sid))
	eventually(t, "GET held", func() bool { return getActive(r.sess) })
	r.sess.Send(NewMessage([]byte("a"), false), NewMessage([]byte{0xff}, true))
	if got := await(t, held); got.status != http.StatusOK || got.body != "4a\x1eb/w==" {
		t.Errorf("held GET: %d %q", got.status, got.body)
	}
}

func TestPollingSessionErrors(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantReason  string
	}{
		{"invalid packet", "text/plain;charset=UTF-8", "abc", 400, ReasonParseError},
		{"empty body", "text/plain;charset=UTF-8", "", 400, ReasonParseError},
		{"invalid base64", "text/plain;charset=UTF-8", "4ok\x1eb%%%", 400, ReasonParseError},
		{"ping from the client", "text/plain;charset=UTF-8", "2", 200, ReasonParseError},
		{"octet-stream body", "application/octet-stream", "4hello", 400, ReasonParseError},
		{"body over MaxPayload", "text/plain;charset=UTF-8", "4" + strings.Repeat("x", 100), 413, ReasonTransportError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{MaxPayload: 100})
			sid, r := e.openPolling(t)
			resp := e.do(t, http.MethodPost, e.pollURL(sid), tt.contentType, tt.body)
			if resp.status != tt.wantStatus {
				t.Errorf("POST: %d %q, want %d", resp.status, resp.body, tt.wantStatus)
			}
			if reason := r.waitClose(t); reason != tt.wantReason {
				t.Errorf("OnClose(%q), want %q", reason, tt.wantReason)
			}
			select {
			case m := <-r.msgs:
				t.Errorf("delivered %+v from a rejected payload", m)
			default:
			}
			if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest || got.body != `{"code":1,"message":"Session ID unknown"}` {
				t.Errorf("GET after close: %d %q, want 400 code 1", got.status, got.body)
			}
		})
	}
}

func TestPollingBodyAtMaxPayloadIsAccepted(t *testing.T) {
	e := newEnv(t, Config{MaxPayload: 100})
	sid, r := e.openPolling(t)
	body := "4" + strings.Repeat("x", 99)
	if resp := e.post(t, e.pollURL(sid), body); resp.status != http.StatusOK {
		t.Fatalf("POST of exactly MaxPayload bytes: %d %q", resp.status, resp.body)
	}
	if got := r.nextMessage(t); got.data != body[1:] {
		t.Errorf("delivered %d bytes", len(got.data))
	}
}

func TestPollingChunkedBodyOverMaxPayload(t *testing.T) {
	e := newEnv(t, Config{MaxPayload: 100})
	sid, r := e.openPolling(t)
	// No Content-Length: the limit is enforced while reading.
	req, _ := http.NewRequest(http.MethodPost, e.pollURL(sid), struct{ *strings.Reader }{strings.NewReader("4" + strings.Repeat("y", 200))})
	req.ContentLength = -1
	if resp := e.send(t, req); resp.status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST over MaxPayload: %d, want 413", resp.status)
	}
	if reason := r.waitClose(t); reason != ReasonTransportError {
		t.Errorf("OnClose(%q)", reason)
	}
}

func TestPollingDuplicateGETClosesSession(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	first := e.asyncGet(t, e.pollURL(sid))
	eventually(t, "first GET held", func() bool { return getActive(r.sess) })
	second := e.get(t, e.pollURL(sid)+"&t=burst")
	if second.status != http.StatusBadRequest {
		t.Errorf("second GET: %d %q, want 400", second.status, second.body)
	}
	if got := await(t, first); got.status != http.StatusOK || got.body != "1" {
		t.Errorf("first GET: %d %q, want 200 \"1\"", got.status, got.body)
	}
	if reason := r.waitClose(t); reason != ReasonTransportError {
		t.Errorf("OnClose(%q)", reason)
	}
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("third GET: %d, want 400", got.status)
	}
}

func TestPollingOverlappingPOSTClosesSession(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	// A POST whose body never finishes keeps the first POST in progress.
	pr, pw := io.Pipe()
	defer pw.Close()
	firstDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.pollURL(sid), pr)
		resp, err := e.client.Do(req)
		if err != nil {
			firstDone <- -1
			return
		}
		resp.Body.Close()
		firstDone <- resp.StatusCode
	}()
	eventually(t, "first POST in progress", func() bool {
		r.sess.mu.Lock()
		defer r.sess.mu.Unlock()
		return r.sess.postActive
	})
	if resp := e.post(t, e.pollURL(sid), "4second"); resp.status != http.StatusBadRequest {
		t.Errorf("overlapping POST: %d %q, want 400", resp.status, resp.body)
	}
	if reason := r.waitClose(t); reason != ReasonTransportError {
		t.Errorf("OnClose(%q)", reason)
	}
	pw.Close()
	<-firstDone
}

func TestPollingClientCloseReleasesHeldGETWithNoop(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	held := e.asyncGet(t, e.pollURL(sid))
	eventually(t, "GET held", func() bool { return getActive(r.sess) })
	if resp := e.post(t, e.pollURL(sid), "1"); resp.status != http.StatusOK || resp.body != "ok" {
		t.Errorf("POST 1: %d %q", resp.status, resp.body)
	}
	if got := await(t, held); got.status != http.StatusOK || got.body != "6" {
		t.Errorf("held GET: %d %q, want 200 \"6\"", got.status, got.body)
	}
	if reason := r.waitClose(t); reason != ReasonTransportClose {
		t.Errorf("OnClose(%q), want %q", reason, ReasonTransportClose)
	}
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("GET after close: %d, want 400", got.status)
	}
}

func TestPollingClientCloseAnswersGETThatArrivesLateWithNoop(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	if resp := e.post(t, e.pollURL(sid), "4last\x1e1"); resp.status != http.StatusOK {
		t.Fatalf("POST: %d", resp.status)
	}
	if got := r.nextMessage(t); got.data != "last" {
		t.Errorf("delivered %q before the close", got.data)
	}
	if reason := r.waitClose(t); reason != ReasonTransportClose {
		t.Errorf("OnClose(%q)", reason)
	}
	waitDone(t, r.sess)
	if e.srv.Count() != 0 {
		t.Errorf("Count() = %d after the client's close", e.srv.Count())
	}
	// The GET the client had in flight when it sent "1".
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusOK || got.body != "6" {
		t.Errorf("late GET: %d %q, want 200 \"6\"", got.status, got.body)
	}
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("next GET: %d, want 400", got.status)
	}
}

func TestPollingSessionCloseDeliversQueueThenClose(t *testing.T) {
	t.Run("to the held GET", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid, r := e.openPolling(t)
		held := e.asyncGet(t, e.pollURL(sid))
		eventually(t, "GET held", func() bool { return getActive(r.sess) })
		// One unit: both packets are queued before the GET can take them.
		r.sess.Send(NewMessage([]byte("41"), false), NewMessage([]byte("kicked"), false))
		r.sess.Close(ReasonForcedClose)
		got := await(t, held)
		if got.body != "441\x1e4kicked\x1e1" && got.body != "441\x1e4kicked" {
			t.Errorf("held GET: %q", got.body)
		}
		if got.body == "441\x1e4kicked" { // the GET took the queue before Close
			if next := e.get(t, e.pollURL(sid)); next.body != "1" {
				t.Errorf("next GET: %d %q, want \"1\"", next.status, next.body)
			}
		}
		if reason := r.waitClose(t); reason != ReasonForcedClose {
			t.Errorf("OnClose(%q)", reason)
		}
	})
	t.Run("to the next GET", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid, r := e.openPolling(t)
		r.sess.Send(NewMessage([]byte("41"), false))
		r.sess.Close(ReasonForcedClose)
		if r.sess.Send(NewMessage([]byte("late"), false)) {
			t.Error("Send succeeded after Close")
		}
		if got := e.get(t, e.pollURL(sid)); got.status != http.StatusOK || got.body != "441\x1e1" {
			t.Errorf("GET after Close: %d %q, want \"441\\x1e1\"", got.status, got.body)
		}
		if reason := r.waitClose(t); reason != ReasonForcedClose {
			t.Errorf("OnClose(%q)", reason)
		}
		if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
			t.Errorf("GET after the goodbye: %d, want 400", got.status)
		}
	})
}

func TestPollingDroppedHeldGETClosesSession(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.pollURL(sid), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := e.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "GET held", func() bool { return getActive(r.sess) })
	cancel()
	<-done
	if reason := r.waitClose(t); reason != ReasonTransportError {
		t.Errorf("OnClose(%q), want %q", reason, ReasonTransportError)
	}
}

func TestPollingHeartbeat(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: timeout})
	sid, r := e.openPolling(t)
	for i := range 3 {
		if got := e.get(t, e.pollURL(sid)); got.status != http.StatusOK || got.body != "2" {
			t.Fatalf("GET %d: %d %q, want ping", i, got.status, got.body)
		}
		if resp := e.post(t, e.pollURL(sid), "3"); resp.status != http.StatusOK {
			t.Fatalf("POST pong %d: %d", i, resp.status)
		}
	}
	// Stop answering: the deadline runs from the ping being queued,
	// whether or not a GET collects it.
	if reason := r.waitClose(t); reason != ReasonPingTimeout {
		t.Errorf("OnClose(%q), want %q", reason, ReasonPingTimeout)
	}
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("GET after ping timeout: %d, want 400", got.status)
	}
}

func TestPollingPingTimeoutIsArmedAtHandshake(t *testing.T) {
	const interval, timeout = 50 * time.Millisecond, 50 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: timeout})
	sid, r := e.openPolling(t)
	// As the conformance suite does: interval+timeout after the handshake
	// response the session must be gone, however late the server's timer
	// goroutine runs.
	time.Sleep(interval + timeout)
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("GET at interval+timeout: %d %q, want 400", got.status, got.body)
	}
	if reason := r.waitClose(t); reason != ReasonPingTimeout {
		t.Errorf("OnClose(%q)", reason)
	}
}

func TestPollingSendQueueOverflow(t *testing.T) {
	e := newEnv(t, Config{SendQueue: 3})
	sid, r := e.openPolling(t)
	if !r.sess.Send(NewMessage([]byte("a"), false), NewMessage([]byte("b"), false)) {
		t.Fatal("Send within the queue failed")
	}
	if r.sess.Send(NewMessage([]byte("c"), false), NewMessage([]byte("d"), false)) {
		t.Fatal("Send over the queue succeeded")
	}
	if reason := r.waitClose(t); reason != ReasonSendQueueFull {
		t.Errorf("OnClose(%q), want %q", reason, ReasonSendQueueFull)
	}
	if r.sess.Send(NewMessage([]byte("e"), false)) {
		t.Error("Send after close succeeded")
	}
	if got := e.get(t, e.pollURL(sid)); got.status != http.StatusBadRequest {
		t.Errorf("GET after overflow: %d, want 400", got.status)
	}
}

func TestPollingHandlerCallsAreSerializedInOrder(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.openPolling(t)
	const n = 50
	for i := range n {
		if resp := e.post(t, e.pollURL(sid), "4m"+strconv.Itoa(i)+"\x1ebAA=="); resp.status != http.StatusOK {
			t.Fatalf("POST %d: %d", i, resp.status)
		}
	}
	for i := range n {
		if got := r.nextMessage(t); got.data != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d = %q", i, got.data)
		}
		if got := r.nextMessage(t); !got.binary {
			t.Fatalf("message %d: binary expected", i)
		}
	}
	r.sess.Close("done")
	r.sess.Close("twice")
	if reason := r.waitClose(t); reason != "done" {
		t.Errorf("OnClose(%q)", reason)
	}
	<-r.sess.Done()
	if r.closeCalls.Load() != 1 {
		t.Errorf("OnClose called %d times", r.closeCalls.Load())
	}
}

// getActive reports whether sess has a GET held.
func getActive(sess *Session) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.getActive
}
