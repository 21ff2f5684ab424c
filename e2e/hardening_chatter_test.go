package e2e

import (
	"net/http"
	"testing"

	"chatserver/internal/siotest"
)

// The flood, host-name and CORS tests reach the raw Socket.IO client only
// through the helpers below, and make their plain HTTP requests with
// rawHTTP.

// rawHTTP is the HTTP client of the flood, host-name and CORS tests:
// requests never hang.
var rawHTTP = &http.Client{Timeout: 2 * eventTimeout}

// chatterClient is a raw Socket.IO connection to namespace "/".
type chatterClient = *siotest.Client

// connectAs connects a raw client over WebSocket with the extra request
// headers (nil: none), failing the test if that does not work.
func connectAs(t *testing.T, base string, header http.Header) chatterClient {
	t.Helper()
	return connectWS(t, base, siotest.Options{Header: header})
}

// joinAs connects as connectAs does and joins as name, failing the test
// unless the join is accepted.
func joinAs(t *testing.T, base string, header http.Header, name string) chatterClient {
	t.Helper()
	c := connectAs(t, base, header)
	if reply := call(t, c, "join", name); reply["ok"] != true {
		t.Fatalf("join as %q refused: %v", name, reply)
	}
	return c
}

// sayAs sends a message on c, failing the test unless it is accepted.
func sayAs(t *testing.T, c chatterClient, text string) {
	t.Helper()
	say(t, c, text)
}

// waitMessage waits until c has received nick's message text.
func waitMessage(c chatterClient, nick, text string) {
	c.WaitEvent(nick+"'s message", messageLine(nick, text))
}

// sawChatter reports, without waiting, whether c was told that name joined.
func sawChatter(c chatterClient, name string) bool { return c.Seen(named("add chatter", name)) }

// waitGone waits until the server has closed c, failing the test if it
// does not within eventTimeout.
func waitGone(c chatterClient, what string) { _ = c.WaitClosed() }

// stillOpen reports whether c's connection is still open.
func stillOpen(c chatterClient) bool { return c.IsOpen() }

// idleHandshake opens a polling session with the extra headers (nil:
// none) and goes no further, as a flood does. It returns the HTTP status,
// the body and, on success, the sid.
func idleHandshake(t *testing.T, base string, header http.Header) (int, string, string) {
	t.Helper()
	p, status, body := siotest.PollingHandshake(t, base, siotest.Options{Header: header, Timeout: eventTimeout})
	if p == nil {
		return status, body, ""
	}
	return status, body, p.Open().SID
}

// pollingPath is the path of a polling handshake.
const pollingPath = "/socket.io/?EIO=4&transport=polling"
