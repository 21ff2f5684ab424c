//go:build !linux

package engineio

// poller is Linux-only; elsewhere every WebSocket is read by a goroutine
// of its own (wsConn.readLoop).
type poller struct{}

func newPoller() (*poller, error)   { return nil, errNoPoller }
func (*poller) add(*wsConn) error   { return errNoPoller }
func (*poller) rearm(*wsConn) error { return errNoPoller }
func (*poller) remove(*wsConn)      {}
func (*poller) close()              {}
