package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"chatserver/internal/siotest"
)

// This file holds the chat's requests over siotest's raw client, for the
// hardening tests: the client is fast to start, runs without Node, and
// can misbehave on purpose (stop reading, send malformed frames).

// wire is the options of a plain raw client: each wait bounded by
// eventTimeout.
var wire = siotest.Options{Timeout: eventTimeout}

// connectWS connects a raw client to namespace "/" over WebSocket,
// failing the test if that does not work. The connection is closed at
// the end of the test.
func connectWS(t testing.TB, base string, opts siotest.Options) *siotest.Client {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = eventTimeout
	}
	c := siotest.Dial(t, base, opts)
	c.Connect("/", "")
	return c
}

// joinWS connects and joins as name, failing the test unless the join is
// accepted.
func joinWS(t testing.TB, base, name string) *siotest.Client {
	t.Helper()
	c := connectWS(t, base, wire)
	if reply := call(t, c, "join", name); reply["ok"] != true {
		t.Fatalf("join as %q refused: %v", name, reply)
	}
	return c
}

// ackReply decodes the chat's answer to a request, the object its ack
// carries, passing on the error of a request that got no ack.
func ackReply(args siotest.Args, err error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	reply := args.Object(0)
	if reply == nil {
		return nil, fmt.Errorf("ack is not an object: %s", args)
	}
	return reply, nil
}

// call sends a chat request on c and returns its answer, failing the test
// if none comes.
func call(t testing.TB, c *siotest.Client, event string, args ...any) map[string]any {
	t.Helper()
	reply, err := ackReply(c.Request(event, args...))
	if err != nil {
		t.Fatalf("%s: %v", event, err)
	}
	return reply
}

// say sends a message on c and fails the test unless it is accepted; it
// returns the stored id.
func say(t testing.TB, c *siotest.Client, text string) uint64 {
	t.Helper()
	reply := call(t, c, "messages", text)
	id, ok := reply["id"].(float64)
	if reply["ok"] != true || !ok {
		t.Fatalf("message %.40q refused: %v", text, reply)
	}
	return uint64(id)
}

// named matches an event by name and first argument.
func named(name, arg string) func(siotest.Event) bool {
	return func(ev siotest.Event) bool { return ev.Name == name && ev.Args.String(0) == arg }
}

// messageLine matches a messages event carrying "nick: text".
func messageLine(nick, text string) func(siotest.Event) bool {
	return named("messages", nick+": "+text)
}

// pollConnect opens a polling session and connects it to namespace "/".
func pollConnect(t testing.TB, base string) *siotest.Polling {
	t.Helper()
	p := siotest.OpenPolling(t, base, wire)
	if code := p.Post("40"); code != http.StatusOK {
		t.Fatalf("polling connect: status %d", code)
	}
	if code, body := p.Get(); code != http.StatusOK || !strings.HasPrefix(body, "40{") {
		t.Fatalf("polling connect reply: %d %q", code, body)
	}
	return p
}
