package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Polling sizing and timing.
const (
	// maxPollPayload bounds one GET response, which may batch many packets:
	// sixteen times the Engine.IO default maxPayload.
	maxPollPayload = 16 << 20
	// maxOutbox bounds the packets waiting for the next POST; a sender that
	// outruns the server by this much gets send errors instead of memory
	// growing without bound.
	maxOutbox = 4 << 20
	// pollSlack is added to pingInterval+pingTimeout for a held GET: the
	// server answers a held GET at the latest with its next ping.
	pollSlack = 5 * time.Second
	// postTimeout bounds one POST, including the final close packet.
	postTimeout = 10 * time.Second
)

// newHTTPClient returns the HTTP client shared by the polling clients of a
// run: up to two connections per bench client (one held GET and one POST)
// kept alive between requests. With src each connection is made from src's
// next source address.
func newHTTPClient(clients int, timeout time.Duration, src *sourcePicker) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSHandshakeTimeout: timeout,
	}
	if src != nil {
		tr.DialContext = src.dialContext
	}
	return &http.Client{Transport: tr}
}

// pollTransport is one HTTP long-polling Engine.IO session: the reading
// goroutine GETs (in next), a poster goroutine owned by the transport POSTs
// whatever send queued, one POST at a time as the protocol requires.
type pollTransport struct {
	hc  *http.Client
	url string // endpoint with EIO, transport and sid

	// Owned by the reading goroutine.
	payload []byte // last GET body, reused
	rest    []byte // packets of payload not yet returned
	hold    time.Duration

	ctx    context.Context // ends every request in flight; canceled by close
	cancel context.CancelFunc

	mu     sync.Mutex // guards out and closed
	out    []byte     // queued packets, joined by the separator
	closed bool

	kick       chan struct{} // capacity 1: "out has something"
	posterDone chan struct{}
	closeOnce  sync.Once
}

// dialPolling performs the polling handshake (a GET without sid) and starts
// the transport's poster. The open packet stays queued for the first next.
func dialPolling(ctx context.Context, hc *http.Client, endpoint string) (*pollTransport, error) {
	tctx, cancel := context.WithCancel(context.Background())
	t := &pollTransport{
		hc:         hc,
		url:        endpoint + "?EIO=4&transport=polling",
		hold:       DefaultConnectTimeout,
		ctx:        tctx,
		cancel:     cancel,
		kick:       make(chan struct{}, 1),
		posterDone: make(chan struct{}),
		payload:    make([]byte, 0, initialReadBuffer),
	}
	stop := context.AfterFunc(ctx, cancel) // the dial context also bounds the handshake
	defer stop()
	if err := t.get(); err != nil {
		cancel()
		return nil, err
	}
	open := t.rest
	if i := bytes.IndexByte(open, pollingSeparator); i >= 0 {
		open = open[:i]
	}
	info, err := parseOpen(open)
	if err != nil {
		cancel()
		return nil, err
	}
	t.url += "&sid=" + info.Sid
	go t.poster()
	return t, nil
}

// setHold tells the transport how long the server may hold a GET.
func (t *pollTransport) setHold(d time.Duration) { t.hold = d }

// next returns the next packet of the current payload, fetching a new
// payload when it is used up. The slice is valid until the next call.
func (t *pollTransport) next() ([]byte, error) {
	for len(t.rest) == 0 {
		if err := t.get(); err != nil {
			return nil, err
		}
	}
	p := t.rest
	if i := bytes.IndexByte(p, pollingSeparator); i >= 0 {
		p, t.rest = p[:i], p[i+1:]
	} else {
		t.rest = nil
	}
	return p, nil
}

// get performs one GET and keeps its body in t.payload / t.rest.
func (t *pollTransport) get() error {
	ctx, cancel := context.WithTimeout(t.ctx, t.hold)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return fmt.Errorf("polling get: %w", err)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("polling get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPacket))
		return fmt.Errorf("polling get: HTTP %s", resp.Status)
	}
	buf := t.payload[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxPollPayload {
				return fmt.Errorf("polling get: payload over %d bytes", maxPollPayload)
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("polling get: %w", err)
		}
	}
	t.payload, t.rest = buf, buf
	return nil
}

// send queues p for the poster; it does not wait for the POST.
// answer is send: it only queues.
func (t *pollTransport) answer(p []byte) error { return t.send(p) }

func (t *pollTransport) send(p []byte) error {
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return errClosed
	case len(t.out)+len(p) > maxOutbox:
		t.mu.Unlock()
		return fmt.Errorf("polling send: over %d bytes queued", maxOutbox)
	}
	if len(t.out) > 0 {
		t.out = append(t.out, pollingSeparator)
	}
	t.out = append(t.out, p...)
	t.mu.Unlock()
	select {
	case t.kick <- struct{}{}:
	default:
	}
	return nil
}

// poster POSTs queued packets until the transport closes, then POSTs the
// close packet. It swaps two buffers so that steady sending allocates
// nothing for the bodies.
func (t *pollTransport) poster() {
	defer close(t.posterDone)
	var spare []byte
	for {
		select {
		case <-t.ctx.Done():
			_ = t.post([]byte{eioClose}, context.Background())
			return
		case <-t.kick:
		}
		t.mu.Lock()
		t.out, spare = spare[:0], t.out
		t.mu.Unlock()
		if len(spare) == 0 {
			continue
		}
		if err := t.post(spare, t.ctx); err != nil {
			if t.ctx.Err() == nil {
				t.cancel() // the session is broken: end the reader's GET too
			}
			return
		}
	}
}

// post sends one payload and checks the server's "ok".
func (t *pollTransport) post(body []byte, parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("polling post: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("polling post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPacket))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("polling post: HTTP %s", resp.Status)
	}
	return nil
}

// alive is a no-op for polling: every GET already carries its own deadline.
func (t *pollTransport) alive(time.Duration) {}

// close ends the session without waiting: the held GET is canceled, and the
// poster sends the close packet and exits. Safe to call more than once and
// from any goroutine.
func (t *pollTransport) close() {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.cancel()
	})
}

// wait returns when the poster has exited (after close, within postTimeout).
func (t *pollTransport) wait() { <-t.posterDone }
