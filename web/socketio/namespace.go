package socketio

import "sync"

// Namespace is a registered namespace. It is created by Server.Of and lives
// as long as the server.
type Namespace struct {
	name string

	mu        sync.RWMutex // guards onConnect
	onConnect func(s *Socket) error
}

// Name returns the namespace name, e.g. "/".
func (n *Namespace) Name() string { return n.name }

// ConnectError refuses a namespace CONNECT; it is sent to the client as
// CONNECT_ERROR {"message":Message,"data":Data} (data omitted when nil).
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// OnConnect sets the function run for each CONNECT to this namespace, in
// the connection's goroutine, before the CONNECT reply is sent. A non-nil
// error refuses the connection (a *ConnectError keeps its message and
// data; any other error is sent as its Error() text). On success the reply
// {"sid":...} is sent before anything the function emitted on s. Without
// an OnConnect function every CONNECT is accepted.
//
// While f runs, s is not yet connected: Emit and Send queue (up to 1024
// packets; more closes the connection once f returns), and Disconnect takes
// effect right after the reply. A refused socket's queue is dropped and its
// OnDisconnect never runs; if f panics, the OnDisconnect it set runs with
// ReasonHandlerPanic.
func (n *Namespace) OnConnect(f func(s *Socket) error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onConnect = f
}

func (n *Namespace) connectFunc() func(s *Socket) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onConnect
}
