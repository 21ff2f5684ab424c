package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
)

// transportKind is one way a socket.io-client can be configured to reach
// the server.
type transportKind struct {
	name       string   // also used in client names and nicknames
	transports []string // the client's transports option; nil = its default
	// want is the Engine.IO transport the client must be on once
	// connected: the default client starts on polling and upgrades.
	want     string
	upgrades bool
}

// transportKinds are the three configurations the server must serve.
var transportKinds = []transportKind{
	{name: "polling", transports: []string{"polling"}, want: "polling"},
	{name: "websocket", transports: []string{"websocket"}, want: "websocket"},
	{name: "default", want: "websocket", upgrades: true},
}

// connectOn connects client with kind's transports and returns once it is
// on the transport kind wants: for the default client, after the engine
// reported its upgrade to WebSocket.
func (d *driver) connectOn(client, url string, kind transportKind) {
	d.t.Helper()
	d.connect(client, url, kind.transports...)
	if kind.upgrades {
		up := d.wait(client+" upgrade", func(m msg) bool {
			if m.Client == client && m.Type == "upgrade_error" {
				d.t.Fatalf("%s could not upgrade: %s", client, m.Message)
			}
			return m.Client == client && m.Type == "upgrade"
		})
		if got := up.str(d.t, 0); got != kind.want {
			d.t.Fatalf("%s upgraded to %q, want %q", client, got, kind.want)
		}
	}
	if got := d.transportOf(client); got != kind.want {
		d.t.Fatalf("%s (%s) is on transport %q, want %q", client, kind.name, got, kind.want)
	}
}

// in makes the driver report failures to t, a subtest of the test that
// started it, until the returned restore is called (deferred by the
// subtest). Subtests using it must not run in parallel.
func (d *driver) in(t testing.TB) (restore func()) {
	parent := d.t
	d.t = t
	return func() { d.t = parent }
}

// transportOf asks the driver which Engine.IO transport client uses now.
func (d *driver) transportOf(client string) string {
	d.t.Helper()
	d.mu.Lock()
	d.nextRef++
	ref := d.nextRef
	d.mu.Unlock()
	d.send(map[string]any{"op": "transport", "client": client, "ref": ref})
	m := d.wait(client+" transport", func(m msg) bool { return m.Type == "transport" && m.Ref == ref })
	return m.str(d.t, 0)
}

// connectError opens a client that must be refused and returns the
// connect_error message.
func (d *driver) connectError(client, url string, transports ...string) string {
	d.t.Helper()
	opts := map[string]any{}
	if len(transports) > 0 {
		opts["transports"] = transports
	}
	d.send(d.connectCommand(client, url, opts))
	return d.wait(client+" connect_error", func(m msg) bool {
		if m.Client == client && m.Type == "connect" {
			d.t.Fatalf("%s connected to %s, want a connect_error", client, url)
		}
		return m.Client == client && m.Type == "connect_error"
	}).Message
}

// nothingUnread fails the test if the driver reported an event or an
// upgrade at one of clients that no wait has consumed: a duplicate or an
// unexpected delivery.
func (d *driver) nothingUnread(t testing.TB, clients ...string) {
	t.Helper()
	watched := make(map[string]bool, len(clients))
	for _, c := range clients {
		watched[c] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, m := range d.log {
		if d.used[i] || !watched[m.Client] || (m.Type != "event" && m.Type != "upgrade") {
			continue
		}
		b, _ := json.Marshal(m.Args)
		t.Errorf("%s got an unexpected %s %q %s", m.Client, m.Type, m.Event, b)
	}
}

// ackOK checks a messages ack: {ok: true, id} with a positive id, which it
// returns.
func ackOK(t testing.TB, who string, ack map[string]any) float64 {
	t.Helper()
	id, _ := ack["id"].(float64)
	if ack["ok"] != true || id <= 0 {
		t.Fatalf("%s: messages ack %v, want {ok: true, id}", who, ack)
	}
	return id
}

// clientName names the i-th client of a kind.
func clientName(kind transportKind, i int) string { return fmt.Sprintf("%s-%d", kind.name, i) }
