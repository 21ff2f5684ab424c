package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// The flood, host-name and CORS tests reach the raw Socket.IO client only
// through the helpers below, and make their plain HTTP requests with
// rawHTTP.

// rawHTTP is the HTTP client of the flood, host-name and CORS tests:
// requests never hang.
var rawHTTP = &http.Client{Timeout: 2 * eventTimeout}

// chatterClient is a raw Socket.IO connection to namespace "/".
type chatterClient = *sioClient

// connectAs connects a raw client over WebSocket with the extra request
// headers (nil: none), failing the test if that does not work.
func connectAs(t *testing.T, base string, header http.Header) chatterClient {
	t.Helper()
	return connectWS(t, base, dialOptions{header: header})
}

// joinAs connects as connectAs does and joins as name, failing the test
// unless the join is accepted.
func joinAs(t *testing.T, base string, header http.Header, name string) chatterClient {
	t.Helper()
	c := connectAs(t, base, header)
	if reply := c.call("join", name); reply["ok"] != true {
		t.Fatalf("join as %q refused: %v", name, reply)
	}
	return c
}

// sayAs sends a message on c, failing the test unless it is accepted.
func sayAs(c chatterClient, text string) { c.say(text) }

// waitMessage waits until c has received nick's message text.
func waitMessage(c chatterClient, nick, text string) {
	c.waitEvent(nick+"'s message", messageLine(nick, text))
}

// sawChatter reports, without waiting, whether c was told that name joined.
func sawChatter(c chatterClient, name string) bool { return c.seen(named("add chatter", name)) }

// waitGone waits until the server has closed c, failing the test if it
// does not within eventTimeout.
func waitGone(c chatterClient, what string) { _ = c.waitClosed(what) }

// stillOpen reports whether c's connection is still open.
func stillOpen(c chatterClient) bool { return c.isOpen() }

// idleHandshake opens a polling session with the extra headers (nil:
// none) and goes no further, as a flood does. It returns the HTTP status,
// the body and, on success, the sid.
func idleHandshake(t *testing.T, base string, header http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+pollingPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatalf("polling handshake: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(body), ""
	}
	var open struct {
		SID string `json:"sid"`
	}
	if !bytes.HasPrefix(body, []byte("0")) || json.Unmarshal(body[1:], &open) != nil || open.SID == "" {
		t.Fatalf("polling handshake answered %q", body)
	}
	return resp.StatusCode, string(body), open.SID
}

// pollingPath is the path of a polling handshake.
const pollingPath = "/socket.io/?EIO=4&transport=polling"
