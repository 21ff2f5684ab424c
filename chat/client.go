package chat

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"sync"
	"time"

	"chatserver/internal/randid"
	"chatserver/nick"
	"chatserver/storage"
)

// Client is one person's membership of one room. The transport calls its
// methods from the connection's goroutine, one at a time, in the order the
// client's events arrived.
type Client struct {
	room   *Room
	person *Person
	conn   Conn

	// pid is the private id of the client's recovery session ("" with
	// recovery off); from is the log position it has surely seen
	// everything up to (its join's, or its recovery's). room.mu.
	pid  string
	from uint64

	// name and presence are guarded by room.mu (a kick clears them).
	name     string
	presence *presence

	leaveOnce sync.Once
}

// JoinResult is the answer to a successful join.
type JoinResult struct {
	// Name is the nickname as held (trimmed).
	Name string `json:"name"`
	// Token lets a reconnecting client take the nickname back at once,
	// even while its old connection has not timed out yet.
	Token string `json:"token"`
}

// PID returns the private id of the client's recovery session, which the
// transport tells the client (and only it); "" with recovery off.
func (c *Client) PID() string { return c.pid }

// ForgoRecovery drops the client's recovery session id, for transports
// whose clients cannot recover (Socket.IO v2): it leaves no session when
// its connection is lost.
func (c *Client) ForgoRecovery() {
	c.room.mu.Lock()
	defer c.room.mu.Unlock()
	c.pid = ""
}

// Name returns the client's nickname, or "" before it joined.
func (c *Client) Name() string {
	c.room.mu.Lock()
	defer c.room.mu.Unlock()
	return c.name
}

// Join gives the client the nickname name (a second Join renames). token
// is the resume token of an earlier join, or "". On success the client is
// sent the recent history (messages events, oldest first) and then one add
// chatter per present chatter, itself included; everyone else is sent add
// chatter unless the nickname was already present with the same token.
// Every join with a valid nickname, accepted or not, counts against the
// join limits. A join refused as invalid takes no join token but counts,
// as one over the limits does, toward the refusals in a row that
// disconnect (Config.FloodLimit).
func (c *Client) Join(name, token string) (JoinResult, error) {
	r := c.room
	name, err := validateName(name, r.cfg.MaxNameLen)
	if err != nil {
		c.person.refused(&c.person.refusedJoins, c.Name(), "joins")
		return JoinResult{}, err
	}
	if err := c.takeJoin(); err != nil {
		return JoinResult{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	until, banned, err := r.store.BanExpiry(ctx, name, r.cfg.Now())
	cancel()
	if err != nil {
		r.cfg.Logger.Error("reading bans failed", "nick", name, "err", err)
		return JoinResult{}, errorf(CodeInternal, "the server could not check the nickname, try again")
	}
	if banned {
		return JoinResult{}, errorf(CodeBanned, "the nickname %q is banned until %s", name, until.UTC().Format("2006-01-02 15:04 MST"))
	}
	if r.shared != nil {
		return c.joinShared(name, token)
	}

	var dropped []*Paced
	defer func() { settleAll(dropped, errRenamedWhilePaced) }() // after the unlock below
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return JoinResult{}, r.closedError()
	}
	if _, connected := r.clients[c]; !connected {
		return JoinResult{}, errorf(CodeUnavailable, "the connection is closing")
	}
	key := nick.Key(name)
	if c.presence != nil && nick.Key(c.presence.name) == key {
		// Joining again under the same nickname changes nothing.
		return JoinResult{Name: c.presence.name, Token: c.presence.token}, nil
	}
	p, held := r.names[key]
	tokenOK := held && token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(p.token)) == 1
	switch {
	case held && len(p.clients) == 0:
		// Kept through the grace of a dropped connection: taken back
		// without anyone seeing it go. Without its token the taker may
		// be anyone, so the old token stops working.
		p.endGrace()
		if !tokenOK {
			p.token = randid.Hex(tokenBytes)
		}
	case held && !tokenOK:
		return JoinResult{}, errorf(CodeNameTaken, "the nickname %q is in use, pick another", p.name)
	}
	if c.presence != nil {
		// A rename: the messages still waiting their turn under the old
		// nickname are dropped (answered once r.mu is released).
		dropped = c.detachLocked(false)
	}
	if !held {
		p = &presence{name: name, token: randid.Hex(tokenBytes)}
		p.added = newEvent(EventAddChatter, p.name)
		p.addedAt = r.logLocked(p.added)
		r.addPresenceLocked(p, r.cfg.Now())
		r.broadcastLocked(p.added, p)
		r.markDirty()
	}
	c.attachLocked(p)
	return JoinResult{Name: p.name, Token: p.token}, nil
}

// attachLocked makes c a connection of p and sends it the room as a
// joiner sees it: the recent history, then one add chatter per chatter,
// its own last. room.mu held.
func (c *Client) attachLocked(p *presence) {
	r := c.room
	p.clients = append(p.clients, c)
	c.presence = p
	c.name = p.name
	c.from = r.seq

	for _, d := range r.recent {
		c.conn.Send(d.ev)
	}
	// Each presence's add chatter event is shared by every joiner, so a
	// join storm encodes each nickname once, not once per joiner. The
	// joiner's own comes last, carrying the log's position: a client
	// that recovers then has nothing of this replay sent again.
	for _, q := range r.order {
		if q != p {
			c.conn.Send(q.added)
		}
	}
	if !r.recovering() || p.addedAt == r.seq {
		c.conn.Send(p.added)
	} else {
		c.conn.Send(r.positionEvent(p.name))
	}
}

// joinShared is the rest of Join on a shared store: the nickname is
// claimed in the store (unique across nodes), and the client attached
// once the room has applied the claim's add entry, if it made one.
func (c *Client) joinShared(name, token string) (JoinResult, error) {
	r := c.room
	key := nick.Key(name)
	r.mu.Lock()
	if r.closed {
		err := r.closedError()
		r.mu.Unlock()
		return JoinResult{}, err
	}
	if p := c.presence; p != nil && nick.Key(p.name) == key {
		r.mu.Unlock()
		return JoinResult{Name: p.name, Token: p.token}, nil
	}
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	claimed, err := r.shared.Claim(ctx, r.name, name, token, false)
	cancel()
	switch {
	case errors.Is(err, storage.ErrNameTaken):
		return JoinResult{}, errorf(CodeNameTaken, "the nickname %q is in use, pick another", name)
	case err != nil && r.gone(err):
		return JoinResult{}, errorf(CodeUnavailable, "the room %q was removed", r.name)
	case err != nil:
		r.cfg.Logger.Error("claiming a nickname failed", "room", r.name, "nick", name, "err", err)
		return JoinResult{}, errorf(CodeInternal, "the server could not check the nickname, try again")
	}
	// Present through this claim's add entry or an earlier one, perhaps
	// another node's that has not reached this one yet: wait for it.
	if claimed.Present.Seq > 0 && !r.await(claimed.Present) {
		r.mu.Lock()
		r.releaseLocked(name, claimed.Token, 0)
		r.mu.Unlock()
		return JoinResult{}, errorf(CodeUnavailable, "the server could not complete the join, try again")
	}

	var dropped []*Paced
	defer func() { settleAll(dropped, errRenamedWhilePaced) }() // after the unlock below
	r.mu.Lock()
	defer r.mu.Unlock()
	_, connected := r.clients[c]
	p := r.names[key]
	switch {
	case r.closed || !connected || p == nil:
		// Closing, or the nickname kicked or taken for gone meanwhile.
		r.releaseLocked(name, claimed.Token, 0)
		if r.closed {
			return JoinResult{}, r.closedError()
		}
		return JoinResult{}, errorf(CodeUnavailable, "the join did not complete, try again")
	case c.presence != nil:
		dropped = c.detachLocked(false) // a rename
	}
	p.token = claimed.Token
	c.attachLocked(p)
	return JoinResult{Name: p.name, Token: p.token}, nil
}

// detachLocked removes c from its presence and returns c's paced
// messages, taken out of its person's backlog, for the caller to answer
// once the lock is released. If c was the presence's last connection, the
// nickname's departure is announced, or, with grace and a
// Config.PresenceGrace, held back for that long. room.mu held.
func (c *Client) detachLocked(grace bool) []*Paced {
	p := c.presence
	c.presence, c.name = nil, ""
	if i := slices.Index(p.clients, c); i >= 0 {
		p.clients = slices.Delete(p.clients, i, i+1)
	}
	dropped := c.person.drop(c, nil)
	r := c.room
	if r.shared != nil {
		// Every connection holds its own claim in the store, which
		// announces the departure once the last one, on any node, has
		// gone (after the grace).
		g := time.Duration(0)
		if grace {
			g = r.cfg.PresenceGrace
		}
		r.releaseLocked(p.name, p.token, g)
		return dropped
	}
	if len(p.clients) > 0 {
		return dropped
	}
	if !grace || r.cfg.PresenceGrace <= 0 {
		r.dropPresenceLocked(p)
		return dropped
	}
	p.graceGen++
	gen := p.graceGen
	p.grace = r.cfg.AfterFunc(r.cfg.PresenceGrace, func() { r.graceOver(p, gen) })
	return dropped
}

// Say stores text as a message from the client and broadcasts it to every
// joined client, the sender included. It returns once the message is
// durable and has been queued to everyone, or with a refusal (*Error). A
// message over the rate limits is paced (see Post): Say waits for its
// turn, and a Leave, kick or Close meanwhile ends the wait with a
// refusal, the message unsent. Every call counts as a message received,
// and each refusal as a message refused (Config.Metrics).
func (c *Client) Say(text string) (storage.Message, error) {
	msg, w, err := c.Post(text)
	if w != nil {
		return w.wait()
	}
	return msg, err
}

// Post is Say for a transport that must keep handling the connection
// while a message waits its turn. A message that is stored at once, or
// refused, is answered as Say answers it, before Post returns. One over
// the rate limits that the person's backlog has room for is paced: Post
// then returns at once with a zero Message, a nil error and the *Paced,
// whose Then gives the answer once the message is stored or dropped.
// The person's later messages, to this room or another, wait behind it.
func (c *Client) Post(text string) (storage.Message, *Paced, error) {
	m := c.room.cfg.Metrics
	m.MessageReceived()
	msg, w, err := c.post(text)
	switch {
	case err != nil:
		m.MessageRefused(ErrorCode(err))
	case w != nil:
		m.MessagePaced()
	}
	return msg, w, err
}

// SayNonString answers a message whose text is not a string, for
// transports that see the argument's type before chat does: it is refused
// with invalid_message (InvalidMessage), and counted like every message
// the room receives and refuses.
func (c *Client) SayNonString() error {
	m := c.room.cfg.Metrics
	m.MessageReceived()
	m.MessageRefused(CodeInvalidMessage)
	return InvalidMessage()
}

// post is Post without the counting.
func (c *Client) post(text string) (storage.Message, *Paced, error) {
	r := c.room
	text, err := validateText(text, r.cfg.MaxMessageLen)
	if err != nil {
		return storage.Message{}, nil, err
	}
	// The decision is made under r.mu, so that a Leave or kick, which
	// drops the client's paced messages under it, cannot miss one.
	r.mu.Lock()
	if r.closed {
		err := r.closedError()
		r.mu.Unlock()
		return storage.Message{}, nil, err
	}
	pres := c.presence
	if pres == nil {
		r.mu.Unlock()
		return storage.Message{}, nil, errorf(CodeNotJoined, "join with a nickname before sending messages")
	}
	w, ok := r.hub.lim.takeMessage(c, pres, text, r.cfg.Now())
	r.mu.Unlock()
	if !ok {
		c.person.refused(&c.person.refusedMsgs, pres.name, "messages")
		return storage.Message{}, nil, errorf(CodeRateLimited, "you are sending too fast, slow down")
	}
	c.person.refusedMsgs = 0
	if w != nil {
		return storage.Message{}, w, nil
	}
	// Writers stop taking messages once closed is set under r.mu (see
	// Room.Close): write answers errClosed then.
	msg, err := r.write(&pending{msg: storage.Message{Name: pres.name, Text: text}, done: make(chan result, 1)})
	return msg, nil, err
}

// takeJoin takes a join token from the connection's bucket and its
// address's, or refuses with rate_limited.
func (c *Client) takeJoin() error {
	r := c.room
	r.mu.Lock()
	closed, name := r.closed, c.name
	if closed {
		err := r.closedError()
		r.mu.Unlock()
		return err
	}
	r.mu.Unlock()
	if !r.hub.lim.takeJoin(c.person, r.cfg.Now()) {
		c.person.refused(&c.person.refusedJoins, name, "joins")
		return errorf(CodeRateLimited, "too many joins or nickname changes in a short time; wait a few seconds and try again")
	}
	c.person.refusedJoins = 0
	return nil
}

// Leave removes the connection from the room (the transport calls it when
// the connection ends on purpose: the client left, or was made to). If it
// was the last connection of its nickname, everyone is sent remove
// chatter at once. Its paced messages still waiting are dropped, unsent,
// and answered. Leave and Drop are idempotent, together: only the first
// call counts.
func (c *Client) Leave() { c.leave(false) }

// Drop is Leave for a connection that was lost rather than ended (a
// network drop, a missed heartbeat, a server restart): if it was the last
// connection of its nickname, the nickname stays present for
// Config.PresenceGrace, and a connection that joins with it within that
// time (a reconnecting page) takes it back without anyone seeing it leave
// and return; only when the grace runs out is remove chatter sent. With
// recovery on, a joined client also leaves a session to recover with
// (Room.Resume). Its paced messages are dropped, as with Leave.
func (c *Client) Drop() { c.leave(true) }

func (c *Client) leave(grace bool) {
	c.leaveOnce.Do(func() {
		r := c.room
		r.mu.Lock()
		delete(r.clients, c)
		var dropped []*Paced
		if c.presence != nil {
			if grace {
				r.keepSessionLocked(c, c.presence)
			}
			dropped = c.detachLocked(grace)
		}
		r.mu.Unlock()
		settleAll(dropped, errLeftWhilePaced)
	})
}
