//go:build !linux

package bench

import "errors"

// wsPoller is Linux's; elsewhere every client reads its own connection.
type wsPoller struct{}

func newWSPoller() (*wsPoller, error)                               { return nil, errNoPoller }
func (p *wsPoller) add(t *wsTransport, fn func([]byte) error) error { return errNoPoller }
func (p *wsPoller) remove(t *wsTransport)                           {}
func (p *wsPoller) stop()                                           {}

// errNoPoller says why a run reads its WebSockets without pollers.
var errNoPoller = errors.New("no poller on this system")

func (p *wsPoller) fail(t *wsTransport, err error) {}
