package engineio

import (
	"crypto/tls"
	"net/http"
	"net/url"
)

// handshakeRecord is what a session keeps of the request that opened it,
// for Request: its method, URL, protocol, host, remote address, TLS state
// and headers, the headers as a flat list of names and values sharing the
// request's strings. The request itself (net/http's struct and its header
// map) would cost every connection about half a kilobyte more for its
// whole life, to be read once per namespace the client connects.
type handshakeRecord struct {
	method, proto, host, remoteAddr, requestURI string

	url    *url.URL             // shared with the request, which net/http never changes after its handler
	tls    *tls.ConnectionState // likewise; nil on plain HTTP
	header []string             // name, value, name, value, ...: every value of every header
}

// newHandshakeRecord keeps what Request rebuilds of r.
func newHandshakeRecord(r *http.Request) *handshakeRecord {
	n := 0
	for _, vv := range r.Header {
		n += len(vv)
	}
	h := &handshakeRecord{
		method: r.Method, proto: r.Proto, host: r.Host, remoteAddr: r.RemoteAddr, requestURI: r.RequestURI,
		url: r.URL, tls: r.TLS,
		header: make([]string, 0, 2*n),
	}
	for k, vv := range r.Header {
		for _, v := range vv {
			h.header = append(h.header, k, v)
		}
	}
	return h
}

// request returns a new request like the handshakeRecord's, with no body.
func (h *handshakeRecord) request() *http.Request {
	hdr := make(http.Header, len(h.header)/2)
	for i := 0; i < len(h.header); i += 2 {
		hdr[h.header[i]] = append(hdr[h.header[i]], h.header[i+1])
	}
	major, minor, _ := http.ParseHTTPVersion(h.proto)
	return &http.Request{
		Method:     h.method,
		URL:        h.url,
		Proto:      h.proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     hdr,
		Body:       http.NoBody,
		Host:       h.host,
		RemoteAddr: h.remoteAddr,
		RequestURI: h.requestURI,
		TLS:        h.tls,
	}
}
