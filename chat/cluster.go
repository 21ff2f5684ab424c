package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"chatserver/nick"
	"chatserver/storage"
)

// A hub on a SharedStore (docs/REDIS.md) runs each of its rooms as this
// node's part of a room that spans every node. The store's log of the
// room is the one order of what happens in it: messages, nicknames
// arriving and leaving, kicks. A room changes its state only by applying
// that log's entries, in position order, whichever node appended them:
// its own writer's messages and its own clients' joins come back to it
// the same way, through the store's subscription (or a catch-up from
// the log), before their senders are answered. So every node shows the
// same history and chatters and sends every client the same events in
// the same order, with the same offsets: a client may recover on any
// node.
//
// The cluster goroutine, owned by the hub, is the only one that applies
// entries: it reads the subscription, catches a room up from the log
// when a batch shows a gap or a waiter asks, follows the changes of the
// rooms, and subscribes again (with a backoff) when the subscription is
// lost, catching every room up from where it was.

const (
	// catchUpAfter is how long an append or a claim of this node's may
	// wait for its entries to arrive before the room catches up from the
	// log (their batch was lost with a subscription).
	catchUpAfter = time.Second
	// deliveryTimeout bounds a join's or a recovery's wait for its entry.
	deliveryTimeout = 10 * time.Second
	// resubscribeMin and resubscribeMax bound the backoff between
	// attempts to subscribe again.
	resubscribeMin = 100 * time.Millisecond
	resubscribeMax = 5 * time.Second
	// clusterTimeout bounds each store call of the cluster goroutine, so
	// that a store that went away holds up the delivery of no room for
	// long: a later request tries again.
	clusterTimeout = 5 * time.Second
)

// cluster follows a shared store for a hub.
type cluster struct {
	hub     *Hub
	store   SharedStore
	catchUp chan *Room // rooms to catch up from the log; buffered
	// ctx ends when close is called (stop is its Done), so that the
	// store calls of the cluster goroutine end with it.
	ctx    context.Context
	cancel context.CancelFunc
	stop   <-chan struct{}
	done   chan struct{} // closed when run returns
}

func newCluster(h *Hub, store SharedStore) *cluster {
	ctx, cancel := context.WithCancel(context.Background())
	return &cluster{hub: h, store: store, catchUp: make(chan *Room, 64), ctx: ctx, cancel: cancel, stop: ctx.Done(), done: make(chan struct{})}
}

// close stops the cluster goroutine and waits for it.
func (cl *cluster) close() {
	cl.cancel()
	<-cl.done
}

// callContext is the context of one store call of the cluster goroutine.
func (cl *cluster) callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(cl.ctx, clusterTimeout)
}

// requestCatchUp asks the cluster goroutine to catch r up from the log.
// It never blocks: a full queue already holds enough requests.
func (cl *cluster) requestCatchUp(r *Room) {
	select {
	case cl.catchUp <- r:
	default:
	}
}

// run follows sub, and the subscriptions that replace it, until close.
// It starts by catching every room up once: what was appended between
// the subscription and a room's snapshot came through the subscription,
// but a batch that arrived before its room was open is caught up so.
func (cl *cluster) run(sub storage.Subscription) {
	defer close(cl.done)
	for _, r := range cl.hub.Rooms() {
		cl.catchUpRoom(r)
	}
	for {
		cl.follow(sub)
		err := sub.Err()
		sub.Close()
		select {
		case <-cl.stop:
			return
		default:
		}
		cl.hub.cfg.Logger.Warn("the subscription to the shared store ended; subscribing again, then catching up from the rooms' logs", "err", err)
		if sub = cl.resubscribe(); sub == nil {
			return
		}
		cl.hub.cfg.Metrics.Resubscribed()
		cl.syncRooms()
		for _, r := range cl.hub.Rooms() {
			cl.catchUpRoom(r)
		}
		cl.hub.cfg.Logger.Info("subscribed to the shared store again; the rooms caught up")
	}
}

// follow applies what sub delivers until it ends or the cluster stops.
func (cl *cluster) follow(sub storage.Subscription) {
	for {
		select {
		case <-cl.stop:
			return
		case r := <-cl.catchUp:
			cl.catchUpRoom(r)
		case b, ok := <-sub.Batches():
			if !ok {
				return
			}
			if b.RoomsChanged {
				cl.syncRooms()
				continue
			}
			if r := cl.hub.Room(b.Room); r != nil && !r.apply(b.Entries) {
				cl.catchUpRoom(r)
			}
		}
	}
}

// resubscribe subscribes again, backing off while the store is away; nil
// when the cluster stopped first.
func (cl *cluster) resubscribe() storage.Subscription {
	wait := resubscribeMin
	for {
		ctx, cancel := cl.callContext()
		sub, err := cl.store.Subscribe(ctx)
		cancel()
		if err == nil {
			return sub
		}
		cl.hub.cfg.Logger.Warn("subscribing to the shared store failed; trying again", "in", wait.String(), "err", err)
		select {
		case <-cl.stop:
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, resubscribeMax)
	}
}

// catchUpRoom applies what the room's log holds after the room's
// position; a log that no longer reaches back resets the room.
func (cl *cluster) catchUpRoom(r *Room) {
	ctx, cancel := cl.callContext()
	defer cancel()
	l, err := cl.store.LogSince(ctx, r.name, r.position())
	switch {
	case errors.Is(err, storage.ErrNoSuchRoom):
		cl.syncRooms()
		return
	case err != nil:
		// A waiter asks again while it waits; a new subscription
		// catches up every room. Nothing to say when the hub is closing.
		if cl.ctx.Err() == nil {
			cl.hub.cfg.Logger.Warn("catching up from a room's log failed", "room", r.name, "err", err)
		}
		return
	case !l.Complete:
		cl.reset(ctx, r)
		return
	}
	if !r.apply(l.Entries) {
		cl.reset(ctx, r)
		return
	}
	if len(l.Entries) > 0 {
		cl.hub.cfg.Metrics.CaughtUp(false)
	}
}

// reset starts r again from the store's snapshot of the room, when its
// log no longer holds what r missed (more than the log keeps, or a log
// of another epoch: the store lost the room's data and made it again).
// Nobody can tell its clients exactly what they missed: their
// connections are closed, so that they reconnect and join again.
func (cl *cluster) reset(ctx context.Context, r *Room) {
	snap, err := cl.store.Snapshot(ctx, r.name, r.cfg.History)
	if err != nil {
		if cl.ctx.Err() == nil {
			cl.hub.cfg.Logger.Warn("reading a room's state failed; trying again later", "room", r.name, "err", err)
		}
		return
	}
	cl.hub.cfg.Logger.Warn("a room's log no longer holds what this node missed; its clients reconnect", "room", r.name)
	r.resetTo(snap)
	cl.hub.cfg.Metrics.CaughtUp(true)
}

// syncRooms opens the rooms the store has and the hub does not, and
// removes from the hub those the store no longer has (or has anew,
// removed and added again while this node was not listening).
func (cl *cluster) syncRooms() {
	h := cl.hub
	ctx, cancel := cl.callContext()
	defer cancel()
	stored, err := cl.store.Rooms(ctx)
	if err != nil {
		if cl.ctx.Err() == nil {
			h.cfg.Logger.Warn("reading the rooms of the shared store failed", "err", err)
		}
		return
	}
	byName := make(map[string]storage.Room, len(stored))
	for _, sr := range stored {
		byName[sr.Name] = sr
	}
	var gone []*Room
	var absent []storage.Room
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	for name, r := range h.rooms {
		sr, ok := byName[name]
		if name != storage.DefaultRoom && (!ok || !sr.Created.Equal(r.created)) {
			delete(h.rooms, name)
			gone = append(gone, r)
		}
	}
	for _, sr := range stored {
		if h.rooms[sr.Name] == nil {
			absent = append(absent, sr)
		}
	}
	h.mu.Unlock()
	changed := len(gone) > 0
	for _, r := range gone {
		r.remove(fmt.Sprintf("the room %q was removed", r.name))
	}
	// Opened without the hub's lock, which every lookup of a room takes:
	// a snapshot is a call across the network.
	for _, sr := range absent {
		r, err := newRoom(ctx, h, sr, nil)
		if err != nil {
			h.cfg.Logger.Warn("opening a room added on another node failed", "room", sr.Name, "err", err)
			continue
		}
		h.mu.Lock()
		closed, taken := h.closed, h.rooms[sr.Name] != nil
		if !closed && !taken {
			h.rooms[sr.Name] = r
			changed = true
		}
		h.mu.Unlock()
		if closed || taken {
			r.Close() // the hub closed, or opened the room itself meanwhile
		}
	}
	if changed {
		h.notify()
	}
}

// position is where the room is in its log.
func (r *Room) position() storage.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return storage.Position{Epoch: r.epoch, Seq: r.seq}
}

// waiter is something waiting for the room to have applied its log up to
// at: fn runs, under r.mu, once it has, once the room was reset, or once
// it closed. since is when it began to wait.
type waiter struct {
	id    uint64 // Room.waitID's, for unwaitLocked
	at    storage.Position
	fn    func()
	since time.Time
}

// waitLocked has fn run once the room has applied its log up to at (at
// once if it has), and has the room catch up while it waits; it returns
// the waiter's id for unwaitLocked (0 when fn ran at once). r.mu held.
func (r *Room) waitLocked(at storage.Position, fn func()) uint64 {
	if r.closed || at.Epoch == r.epoch && at.Seq <= r.seq {
		fn()
		return 0
	}
	r.waitID++
	r.waiters = append(r.waiters, waiter{id: r.waitID, at: at, fn: fn, since: time.Now()})
	if r.nudge == nil {
		r.nudge = time.AfterFunc(catchUpAfter, r.nudged)
	}
	return r.waitID
}

// unwaitLocked forgets the waiter id, which gave up: its fn will not run,
// and it no longer keeps the catch-up timer going. r.mu held.
func (r *Room) unwaitLocked(id uint64) {
	r.waiters = slices.DeleteFunc(r.waiters, func(w waiter) bool { return w.id == id })
}

// nudged is the room's one catch-up timer, armed while something waits:
// a waiter that has waited catchUpAfter makes the room catch up from the
// log (its entries were lost on the way), and the timer is armed again
// for as long as anything waits.
func (r *Room) nudged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.waiters) == 0 {
		r.nudge = nil
		return
	}
	// The waiters are in the order they began to wait.
	late := time.Since(r.waiters[0].since)
	if late >= catchUpAfter {
		r.hub.cluster.requestCatchUp(r)
		late = 0
	}
	r.nudge.Reset(catchUpAfter - late)
}

// wakeLocked runs the waiters the room has reached; all with all set.
// r.mu held.
func (r *Room) wakeLocked(all bool) {
	keep := r.waiters[:0]
	for _, w := range r.waiters {
		if all || w.at.Epoch == r.epoch && w.at.Seq <= r.seq {
			w.fn()
		} else {
			keep = append(keep, w)
		}
	}
	clear(r.waiters[len(keep):])
	r.waiters = keep
}

// await waits until the room has applied its log up to at; false when
// the room closed first or it took longer than deliveryTimeout.
func (r *Room) await(at storage.Position) bool { return r.awaitWithin(at, deliveryTimeout) }

// awaitWithin is await with a timeout of d; a wait that times out leaves
// no waiter behind.
func (r *Room) awaitWithin(at storage.Position, d time.Duration) bool {
	done := make(chan struct{})
	r.mu.Lock()
	id := r.waitLocked(at, func() { close(done) })
	r.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.mu.Lock()
		r.unwaitLocked(id)
		r.mu.Unlock()
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.closed && at.Epoch == r.epoch && at.Seq <= r.seq
}

// queueLocked has the room's writer run op against the shared store, in
// the order queued: releases of nicknames and sessions to keep, which
// need not hold up the client that caused them. r.mu held.
func (r *Room) queueLocked(what string, op func(ctx context.Context) error) {
	r.ops = append(r.ops, sharedOp{what: what, run: op})
	r.markDirty()
}

// sharedOp is a store call queued for the writer.
type sharedOp struct {
	what string
	run  func(ctx context.Context) error
}

// runOps runs the queued store calls (the writer's, on a dirty room).
func (r *Room) runOps() {
	r.mu.Lock()
	ops := r.ops
	r.ops = nil
	r.mu.Unlock()
	for _, op := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		err := op.run(ctx)
		cancel()
		if err != nil && !r.gone(err) {
			r.cfg.Logger.Error("the shared store refused "+op.what, "room", r.name, "err", err)
		}
	}
}

// releaseLocked queues the release of one of this node's holds on the
// nickname of p, with a grace before it counts as gone. r.mu held.
func (r *Room) releaseLocked(name, token string, grace time.Duration) {
	r.queueLocked("a nickname's release", func(ctx context.Context) error {
		return r.shared.Release(ctx, r.name, name, token, grace)
	})
}

// apply applies entries of the room's log, in order, skipping those it
// has applied already; it reports false, having applied what came
// before, at a gap or an entry of another epoch: the room must catch up
// from the log.
func (r *Room) apply(entries []storage.Entry) bool {
	var closing []Conn
	var dropped []*Paced
	n := 0
	ok := true
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return true
	}
	for _, e := range entries {
		if e.Epoch != r.epoch {
			ok = false
			break
		}
		if e.Seq <= r.seq {
			continue
		}
		if e.Seq != r.seq+1 {
			ok = false
			break
		}
		r.seq = e.Seq
		n += r.applyLocked(e, &closing, &dropped)
	}
	r.wakeLocked(false)
	r.mu.Unlock()
	settleAll(dropped, errLeftWhilePaced)
	for _, conn := range closing {
		conn.Close()
	}
	r.cfg.Metrics.Delivered(n)
	return ok
}

// applyLocked applies one entry at the room's position and returns the
// deliveries made. Connections to close once the lock is released are
// added to closing, paced messages to answer to dropped. r.mu held.
func (r *Room) applyLocked(e storage.Entry, closing *[]Conn, dropped *[]*Paced) int {
	switch e.Kind {
	case storage.EntryMessage:
		ev := r.remember(e.Message).ev
		r.logAt(ev, e.Seq)
		if r.cfg.LogMessages {
			r.cfg.Logger.Info("message", "room", r.name, "id", e.Message.ID, "nick", e.Message.Name, "text", e.Message.Text)
		}
		return r.broadcastLocked(ev, nil)
	case storage.EntryAdd:
		key := nick.Key(e.Name)
		if r.names[key] != nil {
			return 0 // present already: the entry says nothing new
		}
		p := &presence{name: e.Name, added: newEvent(EventAddChatter, e.Name), addedAt: e.Seq}
		r.logAt(p.added, e.Seq)
		r.addPresenceLocked(p, r.cfg.Now())
		return r.broadcastLocked(p.added, nil)
	case storage.EntryRemove, storage.EntryKick:
		p := r.names[nick.Key(e.Name)]
		if p == nil {
			return 0
		}
		var kicked *Event
		if e.Kind == storage.EntryKick {
			kicked = newEvent(EventKicked, kickedArg{Reason: e.Reason})
		}
		// This node's connections that still hold the nickname: kicked,
		// or (its claim gone behind their back, the node taken for dead)
		// made to reconnect and join again.
		for _, c := range p.clients {
			if kicked != nil {
				c.conn.Send(kicked)
			}
			c.name, c.presence = "", nil
			*dropped = c.person.drop(c, *dropped)
			*closing = append(*closing, c.conn)
		}
		p.clients = nil
		r.forgetPresenceLocked(nick.Key(p.name), p)
		ev := newEvent(EventRemoveChatter, p.name)
		r.logAt(ev, e.Seq)
		return r.broadcastLocked(ev, nil)
	}
	r.cfg.Logger.Warn("skipping a log entry of an unknown kind", "room", r.name, "kind", e.Kind, "seq", e.Seq)
	return 0
}

// logAt keeps ev in the room's log at position seq, which it names as
// its offset. r.mu held.
func (r *Room) logAt(ev *Event, seq uint64) {
	if !r.recovering() {
		return
	}
	ev.Offset = offset(r.epoch, seq)
	r.log.push(logEntry{seq: seq, ev: ev}, r.cfg.RecoveryEvents)
}

// loadLocked takes the room's state from snap. r.mu held, or r not yet
// shared.
func (r *Room) loadLocked(snap storage.Snapshot) {
	clear(r.recent)
	r.recent = r.recent[:0]
	for _, m := range snap.History {
		r.remember(m)
	}
	now := r.cfg.Now()
	for key, p := range r.names {
		r.hub.lim.releaseNick(key, p.msgs, now)
	}
	clear(r.names)
	r.order = nil
	for _, name := range snap.Chatters {
		if r.names[nick.Key(name)] != nil {
			continue
		}
		p := &presence{name: name, added: newEvent(EventAddChatter, name)}
		r.addPresenceLocked(p, now)
	}
	r.epoch, r.seq = snap.At.Epoch, snap.At.Seq
	r.log = eventLog{}
}

// resetTo starts the room again from snap: every connection of this node
// is closed (its nickname released, with the grace of a lost connection,
// for its reconnection to take back), and whatever waited is answered.
func (r *Room) resetTo(snap storage.Snapshot) {
	var dropped []*Paced
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	conns := make([]Conn, 0, len(r.clients))
	for c := range r.clients {
		if p := c.presence; p != nil {
			r.releaseLocked(p.name, p.token, r.cfg.PresenceGrace)
			c.name, c.presence = "", nil
			dropped = c.person.drop(c, dropped)
		}
		conns = append(conns, c.conn)
	}
	r.loadLocked(snap)
	r.wakeLocked(true)
	r.mu.Unlock()
	settleAll(dropped, errLeftWhilePaced)
	for _, conn := range conns {
		conn.Close()
	}
}

// eventOf is the event a log entry is sent to clients as, for a
// recovering client whose missed events the room no longer keeps itself;
// nil for an entry that is not sent.
func eventOf(e storage.Entry) *Event {
	var ev *Event
	switch e.Kind {
	case storage.EntryMessage:
		m := e.Message
		ev = newEvent(EventMessages, m.Name+": "+m.Text, wireMessage(m))
	case storage.EntryAdd:
		ev = newEvent(EventAddChatter, e.Name)
	case storage.EntryRemove, storage.EntryKick:
		ev = newEvent(EventRemoveChatter, e.Name)
	default:
		return nil
	}
	ev.Offset = offset(e.Epoch, e.Seq)
	return ev
}

// kickShared kicks name from the room through the store: the node that
// holds each of its connections (this one, or another) closes them when
// the kick's entry reaches it. It returns how many connections of this
// node held the nickname, and whether it was present.
func (r *Room) kickShared(ctx context.Context, name, reason string) (int, bool, error) {
	r.mu.Lock()
	n := 0
	if p := r.names[nick.Key(name)]; p != nil {
		n = len(p.clients)
	}
	r.mu.Unlock()
	found, err := r.shared.Kick(ctx, r.name, name, reason)
	if err != nil {
		return 0, false, err
	}
	return n, found, nil
}
