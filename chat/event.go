package chat

import (
	"sync"
	"sync/atomic"
)

// Event is one server-to-client event, shared by all of its recipients: a
// broadcast creates one Event and hands the same pointer to every Conn.
// Name and Args are plain data and must not be modified after creation;
// Encoded keeps what transports derive from them.
type Event struct {
	Name string
	Args []any

	mu  sync.Mutex                // serialises the making of encodings
	enc atomic.Pointer[[]encoded] // read without the lock; replaced whole
}

// encoded is one encoding of an event, under the key its transport chose.
type encoded struct {
	key string
	val any
	err error
}

func newEvent(name string, args ...any) *Event {
	return &Event{Name: name, Args: args}
}

// Encoded returns the encoding of ev that key names (a transport's
// namespace and protocol variant, say), made by encode on the first call
// for that key and shared by every later one: a broadcast is encoded once
// per key, not once per recipient. Every call with the same key must pass
// an encode function of the same result type T; a call with another T
// panics, since two transports would then be sharing a key by mistake.
func Encoded[T any](ev *Event, key string, encode func(name string, args []any) (T, error)) (T, error) {
	if e, ok := ev.lookup(key); ok {
		return e.val.(T), e.err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if e, ok := ev.lookup(key); ok {
		return e.val.(T), e.err
	}
	v, err := encode(ev.Name, ev.Args)
	var list []encoded
	if old := ev.enc.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, encoded{key: key, val: v, err: err})
	ev.enc.Store(&list)
	return v, err
}

// lookup finds the encoding under key. A broadcast's events carry one or
// two, so a scan beats a map.
func (ev *Event) lookup(key string) (encoded, bool) {
	if list := ev.enc.Load(); list != nil {
		for _, e := range *list {
			if e.key == key {
				return e, true
			}
		}
	}
	return encoded{}, false
}
