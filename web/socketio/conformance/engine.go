package main

import (
	"net/http"
	"time"

	"chatserver/web/socketio/engineio"
)

// Engine.IO suite settings: the suite hard-codes them.
const (
	enginePath         = "/engine.io/"
	enginePingInterval = 300 * time.Millisecond
	enginePingTimeout  = 200 * time.Millisecond
	engineMaxPayload   = 1_000_000
)

// engineHandler returns a bare Engine.IO server at /engine.io/ that echoes
// every message back as it came (text as text, binary as binary), its
// connection hooks, and the function that closes it. With allowEIO3 it
// also serves protocol 3, as the protocol 3 suite expects (the protocol 4
// suite checks that EIO=3 is refused).
func engineHandler(allowEIO3 bool) (http.Handler, connHooks, func()) {
	srv := engineio.NewServer(engineio.Config{
		PingInterval: enginePingInterval,
		PingTimeout:  enginePingTimeout,
		MaxPayload:   engineMaxPayload,
		Transports:   []string{engineio.TransportPolling, engineio.TransportWebSocket},
		CheckOrigin:  func(*http.Request) bool { return true },
		AllowEIO3:    allowEIO3,
		Logger:       logger,
	}, func(sess *engineio.Session) engineio.Handler {
		return echoHandler{sess: sess}
	})
	mux := http.NewServeMux()
	mux.Handle(enginePath, srv)
	return mux, srv, srv.Close
}

// echoHandler sends each message back to its session.
type echoHandler struct{ sess *engineio.Session }

// OnMessage echoes data; it is copied because it is only valid during the
// call.
func (h echoHandler) OnMessage(data []byte, binary bool) {
	h.sess.Send(engineio.NewMessage(append([]byte(nil), data...), binary))
}

// OnClose has nothing to release.
func (echoHandler) OnClose(string) {}
