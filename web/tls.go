package web

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"

	"chatserver/internal/throttle"
)

// handshakeErrorKind is the throttle kind of failed TLS handshakes.
const handshakeErrorKind = "web: TLS handshake errors"

// handshakeErrorPrefix begins the line net/http logs for each failed TLS
// handshake: "http: TLS handshake error from 192.0.2.7:51234: EOF".
const handshakeErrorPrefix = "http: TLS handshake error from "

// serverTLS returns the TLS configuration Serve uses: cfg's, offering
// HTTP/1.1 only. Engine.IO's connection watch and the WebSocket upgrade
// both want one request stream per connection, which HTTP/2 is not.
func serverTLS(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	return c
}

// handshakeErrors returns a log function for the HTTP server's own log
// that passes on every line but the failed TLS handshakes, which it
// throttles per client address (grouped as the per-address caps group
// IPv6 addresses): a port open to the internet sees scanners and broken
// clients all day, and one of them must not fill the log.
func handshakeErrors(logf func(string, ...any), warn *throttle.Log, ipv6Bits int) func(string, ...any) {
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if !strings.HasPrefix(line, handshakeErrorPrefix) {
			logf("%s", line)
			return
		}
		addr, _, _ := strings.Cut(strings.TrimPrefix(line, handshakeErrorPrefix), ": ")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		warn.Warn(handshakeErrorKind, addressGroup(host, ipv6Bits), "%s", line)
	}
}
