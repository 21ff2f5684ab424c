// Command conformance runs a server configured exactly as the official
// Engine.IO and Socket.IO protocol test suites expect (docs/PROTOCOL.md
// tells how to run them), so that those suites can be run against this
// implementation:
//
//	go run ./web/socketio/conformance -suite engine   # bare Engine.IO at /engine.io/, echo
//	go run ./web/socketio/conformance -suite engine3  # the same, protocol 3 allowed too
//	go run ./web/socketio/conformance -suite socket   # Socket.IO at /socket.io/
//
// "engine" is for the Engine.IO protocol 4 suite, "engine3" for the
// protocol 3 one (the v3 branch of the protocol's repository). All listen
// on localhost:3000 by default, as the suites hard-code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// logger is the servers' log: warnings and errors only, as the suites
// open hundreds of connections, each of which would be a line at info.
var logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func main() {
	suite := flag.String("suite", "", `which suite to serve: "engine", "engine3" or "socket"`)
	addr := flag.String("addr", "localhost:3000", "address to listen on")
	flag.Parse()

	var h http.Handler
	var hooks connHooks
	var closeFn func()
	switch *suite {
	case "engine":
		h, hooks, closeFn = engineHandler(false)
	case "engine3":
		h, hooks, closeFn = engineHandler(true)
	case "socket":
		h, hooks, closeFn = socketHandler()
	default:
		fmt.Fprintln(os.Stderr, `conformance: -suite must be "engine", "engine3" or "socket"`)
		os.Exit(2)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("conformance: %v", err)
	}
	// The connection hooks are set as chatserver sets them.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ConnContext: hooks.ConnContext, ConnState: hooks.ConnState}
	log.Printf("conformance: %s suite server listening on %s", *suite, ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("conformance: %v", err)
	}
	closeFn()
}

// connHooks are a server's hooks for the http.Server fields of the same
// names, with which it notices polling clients gone between two requests.
type connHooks interface {
	ConnContext(ctx context.Context, c net.Conn) context.Context
	ConnState(c net.Conn, state http.ConnState)
}
