package main

import (
	"net/http"
	"time"

	"chatserver/web/socketio"
	"chatserver/web/socketio/engineio"
)

// socketHandler returns the server the Socket.IO suite expects: Socket.IO
// at /socket.io/ with namespaces "/" and "/custom", both accepting binary
// packets. Connecting to either
// emits "auth" with the handshake auth object; on "/", "message" is echoed
// back as "message-back" and "message-with-ack" is acknowledged with its
// own arguments. It also returns the server's connection hooks and the
// function that closes it.
func socketHandler() (http.Handler, connHooks, func()) {
	srv := socketio.NewServer(socketio.Config{
		Engine: engineio.Config{
			PingInterval: 300 * time.Millisecond,
			PingTimeout:  200 * time.Millisecond,
			MaxPayload:   1000000,
			Transports:   []string{"polling", "websocket"},
			// The suite's requests carry no Origin; a browser running it
			// from another origin must be let in too.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		ConnectTimeout: 1000 * time.Millisecond,
		Logger:         logger,
	})

	// The suite sends binary events and acks; its auth objects are small.
	for _, name := range []string{"/", "/custom"} {
		srv.Of(name).Configure(socketio.NamespaceConfig{AllowBinary: true})
	}
	srv.Of("/").OnConnect(func(s *socketio.Socket) error {
		s.On("message", func(args socketio.Args, _ socketio.AckFunc) {
			_ = s.Emit("message-back", args)
		})
		s.On("message-with-ack", func(args socketio.Args, ack socketio.AckFunc) {
			if ack != nil {
				_ = ack(args)
			}
		})
		return s.Emit("auth", s.Auth())
	})
	srv.Of("/custom").OnConnect(func(s *socketio.Socket) error {
		return s.Emit("auth", s.Auth())
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	return mux, srv, srv.Close
}
