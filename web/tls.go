package web

import "crypto/tls"

// serverTLS returns the TLS configuration Serve uses: cfg's, offering
// HTTP/1.1 only. Engine.IO's connection watch and the WebSocket upgrade
// both want one request stream per connection, which HTTP/2 is not.
func serverTLS(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	return c
}
