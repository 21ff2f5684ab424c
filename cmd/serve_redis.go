package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"chatserver/internal/sdnotify"
	"chatserver/storage/redis"
)

// Backoff of serve while Redis cannot be reached: the first retry after
// redisRetryFirst, each next one twice as late, redisRetryMax at most.
const (
	redisRetryFirst = time.Second
	redisRetryMax   = 30 * time.Second
	// redisAttemptTimeout bounds one attempt to connect.
	redisAttemptTimeout = redis.DefaultDialTimeout
	// waitingShutdownTimeout bounds the end of the waiting page's server,
	// whose requests are answered at once.
	waitingShutdownTimeout = 2 * time.Second
)

// connectRedis opens serve's Redis store. While Redis cannot be reached it
// logs "waiting for Redis at HOST:PORT" and tries again with a backoff,
// until ctx ends (ctx's error is returned then); a refusal that trying
// again would not change (a wrong password, a bad URL, another program's
// data) is returned at once. waiting is called once, before the first
// wait.
func (o *serveOptions) connectRedis(ctx context.Context, logger *slog.Logger, waiting func()) (*redis.Store, error) {
	opts := redis.Options{History: o.room.History, Prefix: o.redis.prefix, Node: o.node, Logger: logger}
	delay := redisRetryFirst
	for first := true; ; first = false {
		attempt, cancel := context.WithTimeout(ctx, redisAttemptTimeout)
		st, err := redis.Open(attempt, o.redis.url, opts)
		cancel()
		switch {
		case err == nil:
			return st, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !redisRetriable(err):
			return nil, redisOpenError(err)
		}
		if first {
			waiting()
		}
		logger.Warn("waiting for Redis at "+o.redisWhere, "err", err, "retry_in", delay.String())
		// Under systemd (Type=notify), the start is not over until
		// Redis answers: keep the manager's start timeout from ending it.
		notify(logger, sdnotify.Status("waiting for Redis at "+o.redisWhere),
			sdnotify.ExtendTimeout(delay+redisAttemptTimeout+time.Minute))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, redisRetryMax)
	}
}

// waitingPage answers every request while serve waits for Redis: the
// liveness check (/livez, /healthz) 200 "ok" as ever, since the process
// serves; /readyz and everything else 503, in plain words.
func waitingPage() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		unavailable(w, "not ready: waiting for Redis")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		unavailable(w, "chatserver is starting: waiting for Redis; try again in a moment")
	})
	return mux
}

// live answers the liveness check as the web server does.
func live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// unavailable answers 503 with the line msg.
func unavailable(w http.ResponseWriter, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, msg)
}

// serveWaiting serves waitingPage on ln (over TLS with cfg, unless nil)
// until the returned stop is called, which waits for it.
func serveWaiting(ln net.Listener, cfg *tls.Config, logger *slog.Logger) (stop func()) {
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	srv := &http.Server{
		Handler:           waitingPage(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ends with Shutdown
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitingShutdownTimeout)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}
}

// handoff accepts the connections of one listener and hands each to
// whichever of its views is accepting: while serve waits for Redis, the
// waiting page's server, then the chat's, on one port that never stops
// listening. Its goroutine ends with Close.
type handoff struct {
	ln    net.Listener
	conns chan net.Conn
	stop  chan struct{}
	done  chan struct{} // closed when the accepting goroutine returned
	err   error         // why Accept failed, set before done is closed
	once  sync.Once
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{ln: ln, conns: make(chan net.Conn), stop: make(chan struct{}), done: make(chan struct{})}
	go h.accept()
	return h
}

func (h *handoff) accept() {
	defer close(h.done)
	for {
		c, err := h.ln.Accept()
		if err != nil {
			h.err = err
			return
		}
		select {
		case h.conns <- c:
		case <-h.stop:
			c.Close()
			return
		}
	}
}

// Close closes the listener and waits for the accepting goroutine.
func (h *handoff) Close() error {
	var err error
	h.once.Do(func() {
		close(h.stop)
		err = h.ln.Close()
	})
	<-h.done
	return err
}

// view returns a listener taking its connections from h until it is
// closed; closing the last view closes h.
func (h *handoff) view(last bool) net.Listener {
	return &handoffView{h: h, last: last, closed: make(chan struct{})}
}

type handoffView struct {
	h      *handoff
	last   bool
	closed chan struct{}
	once   sync.Once
}

func (v *handoffView) Accept() (net.Conn, error) {
	select {
	case <-v.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-v.h.conns:
		return c, nil
	case <-v.h.done:
		if v.h.err == nil || errors.Is(v.h.err, net.ErrClosed) {
			return nil, net.ErrClosed
		}
		return nil, v.h.err
	case <-v.closed:
		return nil, net.ErrClosed
	}
}

func (v *handoffView) Close() error {
	v.once.Do(func() { close(v.closed) })
	if v.last {
		return v.h.Close()
	}
	return nil
}

func (v *handoffView) Addr() net.Addr { return v.h.ln.Addr() }
