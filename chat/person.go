package chat

// Person is one transport connection as the hub sees it: where it comes
// from, its own rate limits and its backlog of paced messages, shared by
// the rooms it is in (one Client in each). The transport makes one with Hub.Connect and enters rooms
// with Room.Connect.
type Person struct {
	hub      *Hub
	peer     Peer
	closeAll func()

	// The connection's buckets and its paced messages, guarded by
	// hub.lim.mu (pace.go).
	msgs, joins bucket
	waiting     []*Paced // oldest first, due times in order
	releasing   bool     // the release loop is running
	timer       Timer    // armed for the release loop, which has not started yet
	releaseFn   func()   // p.release, made once
	// Refused requests in a row, of each kind, over all rooms; touched
	// only from the connection's goroutine (the transport calls Say and
	// Join of one connection one at a time), so not guarded.
	refusedMsgs, refusedJoins int
}

// Peer returns where the connection comes from.
func (p *Person) Peer() Peer { return p.peer }

// refused counts a refused request of the kind what ("messages",
// "joins"; rate-limited, or a join with an invalid nickname) in *inARow,
// and ends the whole connection once that reaches the flood limit,
// logging it (throttled per address) once; its paced messages are dropped
// then. name is the nickname it was sent under, or "".
func (p *Person) refused(inARow *int, name, what string) {
	h := p.hub
	*inARow++
	if *inARow < h.cfg.FloodLimit {
		return
	}
	if *inARow == h.cfg.FloodLimit { // once, not for stragglers
		if name == "" {
			name = "(not joined)"
		}
		h.warn.Print(p.peer.logKey(), "disconnected a flooding client",
			"nick", name, "addr", p.peer.addr(), "requests", what, "refused_in_a_row", *inARow)
	}
	settleAll(p.drop(nil, nil), errLeftWhilePaced)
	p.closeAll()
}
