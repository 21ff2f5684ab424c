package chat

import "sync"

// Event is one server-to-client event, shared by all of its recipients: a
// broadcast creates one Event and hands the same pointer to every Conn.
// Its fields must not be modified after creation.
type Event struct {
	Name string
	Args []any

	once sync.Once
	enc  any
	err  error
}

func newEvent(name string, args ...any) *Event {
	return &Event{Name: name, Args: args}
}

// Encoded returns encode(e.Name, e.Args), computed by the first caller
// and shared with every later one, so that a transport encodes a
// broadcast once rather than once per recipient. All callers must pass
// equivalent encode functions.
func (e *Event) Encoded(encode func(name string, args []any) (any, error)) (any, error) {
	e.once.Do(func() { e.enc, e.err = encode(e.Name, e.Args) })
	return e.enc, e.err
}
