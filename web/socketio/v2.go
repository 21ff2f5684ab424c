package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// Socket.IO v2 clients (protocol 4 of Socket.IO, over Engine.IO protocol
// 3; engineio.Config.AllowEIO3) share the packet format of protocol 5
// except around connecting, so one prepared event serves both and only
// these packets differ (docs/PROTOCOL.md, "Engine.IO protocol 3 and
// Socket.IO v2"):
//   - the default namespace "/" is joined without a CONNECT from the
//     client: the server joins it as soon as the session opens and sends
//     "0";
//   - a CONNECT to another namespace carries no auth object: the
//     namespace may end in "?query", whose parameters become the socket's
//     Auth object (string values, the last of a repeated name winning, as
//     the reference does), made by the decoder (connect2), which holds
//     the query as sent and the object to MaxAuth; the reply is "0/nsp,"
//     without payload;
//   - a refusal is an ERROR packet whose payload is a JSON string
//     ("Invalid namespace", or the OnConnect error's message), or a
//     ConnectError's Data when it has some.
//
// The socket ids of v2 clients are chosen by the server as for v4 ones;
// a v2 client believes its id to be its Engine.IO sid (prefixed with the
// namespace and "#" outside "/"), which is never told to it.

// invalidNamespace2 is the ERROR payload refusing an unknown namespace.
var invalidNamespace2 = []byte(`"Invalid namespace"`)

// authTooLarge2 is the ERROR payload refusing a CONNECT whose query (the
// v2 auth) is over the namespace's MaxAuth.
var authTooLarge2 = []byte(`"Auth too large"`)

// connect2 makes the CONNECT p of a v2 client what a v4 client would
// have sent: its namespace without the query, and the auth object the
// query stands for (none without a query; a payload is not the auth of a
// v2 client). A query longer than the namespace's MaxAuth is refused as
// sent (authTooLarge), before it is parsed; the object it makes is then
// held to MaxAuth as any auth object is.
func (d *decoder) connect2(p *packet) {
	name, query, _ := strings.Cut(p.nsp, "?")
	p.nsp, p.data = name, nil
	if query == "" {
		return
	}
	if d.rules != nil && len(query) > d.rules(name).MaxAuth {
		p.authTooLarge = true
		return
	}
	p.data = queryAuth(query)
}

// queryAuth returns the auth object the query of a v2 CONNECT stands
// for: its parameters as string values, the last of a repeated name
// winning.
func queryAuth(query string) json.RawMessage {
	type param struct{ key, value string }
	var params []param
	seen := make(map[string]int)
	for part := range strings.SplitSeq(query, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		// As URLSearchParams: "+" is a space, bad escapes stay as sent.
		k, v = unescapeQuery(k), unescapeQuery(v)
		if i, ok := seen[k]; ok {
			params[i].value = v
			continue
		}
		seen[k] = len(params)
		params = append(params, param{k, v})
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range params {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshalJS(p.key) // strings always encode
		v, _ := marshalJS(p.value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// unescapeQuery decodes one query component, or returns it as it is when
// its escapes are invalid.
func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// connectErrorPayload2 is the ERROR payload of a v2 client for an
// OnConnect error: a ConnectError's Data when it has some, or else the
// error's message as a JSON string.
func connectErrorPayload2(srv *Server, err error) []byte {
	msg := err.Error()
	var ce *ConnectError
	if errors.As(err, &ce) {
		msg = ce.Message
		if ce.Data != nil {
			b, mErr := marshalJS(ce.Data)
			if mErr == nil {
				return b
			}
			srv.cfg.Logger.Error("connect error data not encodable, sent without it", "err", mErr)
		}
	}
	b, _ := marshalJS(msg) // a string always encodes
	return b
}
