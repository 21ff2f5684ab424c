package engineio

import (
	"net/http"
	"net/url"
)

// What a protocol 3 session does differently on arrival: the requests
// that may speak it, and the packets it receives.

// protocolOf returns the protocol a request's EIO parameter names: "4",
// or "3" when AllowEIO3 is set. Anything else is refused (the reference
// reads any value but "4" as 3; only the two revisions that exist are
// served here).
func (st *settings) protocolOf(q url.Values) (protocol, bool) {
	switch q.Get("EIO") {
	case "4":
		return protocol4, true
	case "3":
		return protocol3, st.AllowEIO3
	}
	return 0, false
}

// wantsBase64 reports whether a protocol 3 request asks for binary data
// as base64 text (a non-empty b64 parameter, sent by clients that cannot
// receive binary).
func wantsBase64(r *http.Request) bool { return r.URL.Query().Get("b64") != "" }

// handlePacket3 is handlePacket for protocol 3: any packet counts as a
// sign of life, a ping is answered with a pong, and a pong (the client
// never answers: the server does not ping) closes the session, as the
// reference does ("invalid heartbeat direction").
func (s *Session) handlePacket3(p packet) {
	s.heard()
	switch {
	case p.binary || p.typ == typeMessage:
		s.deliver(p.data, p.binary)
	case p.typ == typePing:
		s.Send(pongMessage)
	case p.typ == typePong:
		s.closeWith(ReasonParseError, closeError)
	case p.typ == typeClose:
		s.closeWith(ReasonTransportClose, closeClient)
	}
}
