package epoll

// WakeToken is the token of the events Wake causes.
const WakeToken int32 = -1

// Table maps the tokens an instance reports events under to what they
// stand for. A token is never handed out again while it is in the table,
// so an event still on its way for a removed entry finds nothing rather
// than its successor; 0 and WakeToken are never handed out. A Table is
// not safe for concurrent use: its owner locks around it.
type Table[T comparable] struct {
	m    map[int32]T
	last int32
}

// Add stores v under a fresh token and returns the token.
func (t *Table[T]) Add(v T) int32 {
	if t.m == nil {
		t.m = make(map[int32]T)
	}
	for {
		t.last++
		if t.last <= 0 {
			t.last = 1
		}
		if _, taken := t.m[t.last]; !taken {
			t.m[t.last] = v
			return t.last
		}
	}
}

// Get returns what token stands for, or the zero T.
func (t *Table[T]) Get(token int32) T { return t.m[token] }

// Remove forgets token if it stands for v, and reports whether it did.
func (t *Table[T]) Remove(token int32, v T) bool {
	if token == 0 || t.m[token] != v {
		return false
	}
	delete(t.m, token)
	return true
}

// Values returns what the table holds, in no order.
func (t *Table[T]) Values() []T {
	vs := make([]T, 0, len(t.m))
	for _, v := range t.m {
		vs = append(vs, v)
	}
	return vs
}

// Len is how many entries the table holds.
func (t *Table[T]) Len() int { return len(t.m) }
