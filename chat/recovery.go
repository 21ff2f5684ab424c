package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"chatserver/internal/randid"
	"chatserver/nick"
	"chatserver/storage"
)

// Connection state recovery (docs/ARCHITECTURE.md, "Recovery"): every
// event a room broadcasts (messages, add chatter, remove chatter) gets the
// next position of the room's event log, and its Offset names that
// position. A client that loses its connection leaves a session behind
// for Config.RecoveryWindow; when it comes back with the session's private
// id and the offset of the last event it saw, Room.Resume gives it its
// seat back and sends it, in order, every event of the log after that
// offset. The log keeps the newest Config.RecoveryEvents events; a clean
// shutdown saves it with the sessions in the store, and the next start
// takes them back, so that recovery survives a restart.

// Defaults of the recovery settings.
const (
	// DefaultRecoveryWindow is serve's --recovery-window: how long a
	// lost client may recover, as in the reference server.
	DefaultRecoveryWindow = 2 * time.Minute
	// DefaultRecoveryEvents is the events a room's log keeps: enough for
	// a busy room over a phone's lock screen, small enough to keep in
	// memory and to save at shutdown.
	DefaultRecoveryEvents = 1000
	// maxSessions bounds the sessions a room keeps; beyond it the oldest
	// goes first.
	maxSessions = 10_000
	// epochBytes is the entropy of a log's epoch.
	epochBytes = 6
	// pidBytes is the entropy of a private session id: as a resume token.
	pidBytes = tokenBytes
)

// session is a lost client that may recover.
type session struct {
	storage.Session
	gone bool // resumed or expired: only the queue still holds it
}

// offset names position seq of the log of epoch, as clients see it.
func offset(epoch string, seq uint64) string {
	return epoch + "-" + strconv.FormatUint(seq, 36)
}

// parseOffset reads an offset; ok is false for anything offset did not
// make.
func parseOffset(s string) (epoch string, seq uint64, ok bool) {
	epoch, num, found := strings.Cut(s, "-")
	if !found || epoch == "" || len(s) > 64 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(num, 36, 64)
	if err != nil {
		return "", 0, false
	}
	return epoch, seq, true
}

// recovering reports whether the room keeps a log and sessions.
func (r *Room) recovering() bool { return r.cfg.RecoveryWindow > 0 }

// logLocked gives ev the log's next position and keeps it among the
// newest events, and returns the position (0 with recovery off). It must
// run before ev is first sent. r.mu held.
func (r *Room) logLocked(ev *Event) uint64 {
	if !r.recovering() {
		return 0
	}
	r.seq++
	ev.Offset = offset(r.epoch, r.seq)
	r.log.push(logEntry{seq: r.seq, ev: ev}, r.cfg.RecoveryEvents)
	return r.seq
}

// logEntry is one event of the log at its position.
type logEntry struct {
	seq uint64
	ev  *Event
}

// eventLog is a room's newest events, oldest first: a ring, so that
// keeping one more when it is full costs one slot, not a copy of all.
type eventLog struct {
	ring  []logEntry
	start int // index of the oldest entry once the ring is full
}

// push keeps e, dropping the oldest entry when max are kept.
func (l *eventLog) push(e logEntry, max int) {
	if len(l.ring) < max {
		l.ring = append(l.ring, e)
		return
	}
	l.ring[l.start] = e
	l.start = (l.start + 1) % len(l.ring)
}

// oldest returns the oldest entry, if there is one.
func (l *eventLog) oldest() (logEntry, bool) {
	if len(l.ring) == 0 {
		return logEntry{}, false
	}
	return l.ring[l.start], true
}

// all yields the entries, oldest first.
func (l *eventLog) all(yield func(logEntry) bool) {
	for i := range l.ring {
		if !yield(l.ring[(l.start+i)%len(l.ring)]) {
			return
		}
	}
}

// positionEvent returns an add chatter event for name that is not in the
// log but carries the log's current position: the last event of a join's
// replay, so that the joiner's offset says it has seen everything so far.
// r.mu held.
func (r *Room) positionEvent(name string) *Event {
	ev := newEvent(EventAddChatter, name)
	if r.recovering() {
		ev.Offset = offset(r.epoch, r.seq)
	}
	return ev
}

// keepSessionLocked leaves a session behind for c, which was joined and
// lost its connection. r.mu held.
func (r *Room) keepSessionLocked(c *Client, p *presence) {
	if !r.recovering() || c.pid == "" {
		return
	}
	now := r.cfg.Now()
	if r.shared != nil {
		// Kept in the store, for whichever node the client comes back
		// to.
		ss := storage.Session{
			PID: c.pid, SocketID: c.conn.ID(), Name: p.name, Token: p.token, From: c.from,
			Expires: now.Add(r.cfg.RecoveryWindow).UTC(),
		}
		r.queueLocked("a session to recover", func(ctx context.Context) error {
			return r.shared.SaveSession(ctx, r.name, ss)
		})
		return
	}
	r.expireSessionsLocked(now)
	if len(r.sessions) >= maxSessions {
		r.dropOldestSessionLocked()
	}
	s := &session{Session: storage.Session{
		PID: c.pid, SocketID: c.conn.ID(), Name: p.name, Token: p.token, From: c.from,
		Expires: now.Add(r.cfg.RecoveryWindow).UTC(),
	}}
	r.sessions[s.PID] = s
	r.sessionQueue = append(r.sessionQueue, s)
	if len(r.sessionQueue) > 2*len(r.sessions)+64 {
		// Sessions resumed or ended early stay in the queue until their
		// window passes: drop them now and then, so that a client
		// dropping and recovering over and over cannot grow it.
		r.sessionQueue = slices.DeleteFunc(r.sessionQueue, func(s *session) bool { return s.gone })
	}
}

// forgetSessionLocked ends s: it can no longer be resumed. r.mu held.
func (r *Room) forgetSessionLocked(s *session) {
	if r.sessions[s.PID] == s {
		delete(r.sessions, s.PID)
	}
	s.gone = true
}

// forgetSessionsOfLocked ends the sessions of the nickname key: it was
// kicked. r.mu held.
func (r *Room) forgetSessionsOfLocked(key string) {
	for _, s := range r.sessions {
		if nick.Key(s.Name) == key {
			r.forgetSessionLocked(s)
		}
	}
}

// banned reports whether name is banned now; a ban that cannot be read
// counts as one, since recovery is a convenience.
func (r *Room) banned(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_, banned, err := r.store.BanExpiry(ctx, name, r.cfg.Now())
	if err != nil {
		r.cfg.Logger.Error("reading bans failed; the client reconnects as a new one", "nick", name, "err", err)
		return true
	}
	return banned
}

// expireSessionsLocked forgets the sessions whose window has passed; they
// are in the queue in the order they expire. r.mu held.
func (r *Room) expireSessionsLocked(now time.Time) {
	for len(r.sessionQueue) > 0 {
		s := r.sessionQueue[0]
		if !s.gone && now.Before(s.Expires) {
			return
		}
		r.dropOldestSessionLocked()
	}
}

// dropOldestSessionLocked forgets the session at the head of the queue.
// r.mu held.
func (r *Room) dropOldestSessionLocked() {
	s := r.sessionQueue[0]
	r.sessionQueue[0] = nil
	r.sessionQueue = r.sessionQueue[1:]
	if !s.gone && r.sessions[s.PID] == s {
		delete(r.sessions, s.PID)
	}
	s.gone = true
}

// Recovered is what Resume gives back to the transport.
type Recovered struct {
	// SocketID is the id the client's socket had: a recovered socket
	// keeps it.
	SocketID string
	// Name is the nickname it holds again.
	Name string
	// Missed is how many events were sent to it again.
	Missed int
}

// Resume gives a client that lost its connection its seat back, if it
// may: pid is the private id of its session and off the offset of the last
// event it saw (every joined client has one). On success the
// client holds its nickname again, without anyone seeing it leave or
// return unless its grace had ended, and conn has been sent every event of
// the log after off, in order, and nothing else; it may send at once. A
// pid that names no live session, a missing offset or one that is not
// this log's, lies ahead of it or behind what it still holds, a nickname
// banned or taken by another since, gives ok false and changes nothing but
// forgetting the session: the transport then connects the client as a new
// one. A kick ends the kicked nickname's sessions in the room.
func (r *Room) Resume(conn Conn, person *Person, pid, off string) (c *Client, rec Recovered, ok bool) {
	if !r.recovering() || pid == "" {
		return nil, Recovered{}, false
	}
	if r.shared != nil {
		return r.resumeShared(conn, person, pid, off)
	}
	// A banned nickname does not come back this way either. The ban is
	// read without the room's lock, then the session taken under it.
	r.mu.Lock()
	peek := r.sessions[pid]
	r.mu.Unlock()
	if peek == nil {
		return nil, Recovered{}, false
	}
	if r.banned(peek.Name) {
		r.mu.Lock()
		r.forgetSessionLocked(peek)
		r.mu.Unlock()
		return nil, Recovered{}, false
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, Recovered{}, false
	}
	now := r.cfg.Now()
	r.expireSessionsLocked(now)
	s := r.sessions[pid]
	if s != peek || !now.Before(s.Expires) {
		return nil, Recovered{}, false // gone meanwhile (a kick, say)
	}
	// One try: a session is its client's once, right or wrong.
	r.forgetSessionLocked(s)

	// A joined client always holds an offset: its join's replay ends with
	// one. Without, the replay never reached it, and it has neither the
	// history nor the chatters: it must join anew.
	epoch, from, valid := parseOffset(off)
	if !valid || epoch != r.epoch || from < s.From || from > r.seq {
		return nil, Recovered{}, false
	}
	// The log must still hold every event after from.
	if first, ok := r.log.oldest(); from < r.seq && (!ok || first.seq > from+1) {
		return nil, Recovered{}, false
	}

	key := nick.Key(s.Name)
	p := r.names[key]
	switch {
	case p == nil:
		p = &presence{name: s.Name, token: s.Token}
		p.added = newEvent(EventAddChatter, p.name)
		p.addedAt = r.logLocked(p.added)
		r.addPresenceLocked(p, now)
		r.broadcastLocked(p.added, p)
		r.markDirty()
	case p.token != s.Token:
		// Someone else holds the nickname now, even if only through its
		// own grace.
		return nil, Recovered{}, false
	case len(p.clients) == 0:
		p.endGrace() // taken back within its grace: nobody saw it go
	}
	// The client keeps its private id, as with the reference server.
	c = &Client{room: r, person: person, conn: conn, pid: pid, from: from}
	r.clients[c] = struct{}{}
	p.clients = append(p.clients, c)
	c.presence, c.name = p, p.name
	missed := 0
	for e := range r.log.all {
		if e.seq > from {
			conn.Send(e.ev)
			missed++
		}
	}
	return c, Recovered{SocketID: s.SocketID, Name: p.name, Missed: missed}, true
}

// recoveryStateLocked is what the room saves at a clean shutdown. r.mu
// held.
func (r *Room) recoveryStateLocked() (storage.RoomRecovery, error) {
	rec := storage.RoomRecovery{Room: r.name, Created: r.created, Epoch: r.epoch, Seq: r.seq}
	for e := range r.log.all {
		le := storage.LoggedEvent{Seq: e.seq, Name: e.ev.Name, Args: make([]json.RawMessage, len(e.ev.Args))}
		for i, a := range e.ev.Args {
			b, err := json.Marshal(a)
			if err != nil {
				return storage.RoomRecovery{}, fmt.Errorf("encode event %d of room %s: %w", e.seq, r.name, err)
			}
			le.Args[i] = b
		}
		rec.Events = append(rec.Events, le)
	}
	now := r.cfg.Now()
	for _, s := range r.sessionQueue {
		if !s.gone && now.Before(s.Expires) {
			rec.Sessions = append(rec.Sessions, s.Session)
		}
	}
	return rec, nil
}

// restoreLocked takes back what the room saved at the last clean
// shutdown: the log and its position, and the sessions, each of whose
// nicknames is held present through a grace from now, so that the clients
// that come back at once are not seen to leave and return. r.mu held, or
// r not yet shared.
func (r *Room) restoreLocked(rec storage.RoomRecovery) {
	r.epoch, r.seq = rec.Epoch, rec.Seq
	events := rec.Events
	if len(events) > r.cfg.RecoveryEvents {
		events = events[len(events)-r.cfg.RecoveryEvents:]
	}
	for _, le := range events {
		args := make([]any, len(le.Args))
		for i, a := range le.Args {
			args[i] = a
		}
		ev := newEvent(le.Name, args...)
		ev.Offset = offset(r.epoch, le.Seq)
		r.log.push(logEntry{seq: le.Seq, ev: ev}, r.cfg.RecoveryEvents)
	}
	now := r.cfg.Now()
	for _, ss := range rec.Sessions {
		if !now.Before(ss.Expires) || ss.PID == "" || r.sessions[ss.PID] != nil {
			continue
		}
		s := &session{Session: ss}
		r.sessions[s.PID] = s
		r.sessionQueue = append(r.sessionQueue, s)
		key := nick.Key(ss.Name)
		if r.names[key] != nil || r.cfg.PresenceGrace <= 0 {
			continue
		}
		p := &presence{name: ss.Name, token: ss.Token}
		p.added = r.positionEvent(p.name)
		r.addPresenceLocked(p, now)
		p.graceGen++
		gen := p.graceGen
		p.grace = r.cfg.AfterFunc(r.cfg.PresenceGrace, func() { r.graceOver(p, gen) })
	}
	// The queue expires in order.
	slices.SortFunc(r.sessionQueue, func(a, b *session) int { return a.Expires.Compare(b.Expires) })
}

// newEpoch returns the epoch of a new log.
func newEpoch() string { return randid.Hex(epochBytes) }

// newPID returns a fresh private session id.
func newPID() string { return randid.Hex(pidBytes) }

// resumeShared is Resume on a shared store: the session is taken from the
// store, whichever node kept it; the events the room's own log no longer
// holds come from the store's log; and the nickname is claimed again with
// the session's token.
func (r *Room) resumeShared(conn Conn, person *Person, pid, off string) (*Client, Recovered, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	s, ok, err := r.shared.TakeSession(ctx, r.name, pid)
	if err != nil {
		r.cfg.Logger.Error("reading a session failed; the client reconnects as a new one", "room", r.name, "err", err)
	}
	if !ok || r.banned(s.Name) || !r.cfg.Now().Before(s.Expires) {
		return nil, Recovered{}, false
	}
	epoch, from, valid := parseOffset(off)
	at := r.position()
	if !valid || epoch != at.Epoch || from < s.From {
		return nil, Recovered{}, false
	}
	if from > at.Seq {
		// Seen on another node, not yet here: waited for only if the
		// store's log reached it, or the room would wait (and catch up
		// every second) for a position that may never come.
		l, err := r.shared.LogSince(ctx, r.name, at)
		if err != nil || l.Epoch != epoch || from > l.Seq {
			return nil, Recovered{}, false
		}
		if !r.await(storage.Position{Epoch: epoch, Seq: from}) {
			return nil, Recovered{}, false
		}
	}
	// What the room's own log does not reach back to comes from the
	// store's: older, up to and including olderTo.
	var older []logEntry
	olderTo := from
	r.mu.Lock()
	first, has := r.log.oldest()
	needed := from < r.seq && (!has || first.seq > from+1)
	r.mu.Unlock()
	if needed {
		l, err := r.shared.LogSince(ctx, r.name, storage.Position{Epoch: epoch, Seq: from})
		if err != nil || !l.Complete || l.Epoch != epoch {
			return nil, Recovered{}, false
		}
		for _, e := range l.Entries {
			if ev := eventOf(e); ev != nil {
				older = append(older, logEntry{seq: e.Seq, ev: ev})
			}
			olderTo = e.Seq
		}
	}
	claimed, err := r.shared.Claim(ctx, r.name, s.Name, s.Token, true)
	if err != nil {
		return nil, Recovered{}, false
	}
	if claimed.Present.Seq > 0 && !r.await(claimed.Present) {
		r.mu.Lock()
		r.releaseLocked(s.Name, claimed.Token, r.cfg.PresenceGrace)
		r.mu.Unlock()
		return nil, Recovered{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.names[nick.Key(s.Name)]
	if r.closed || p == nil || r.epoch != epoch {
		r.releaseLocked(s.Name, claimed.Token, r.cfg.PresenceGrace)
		return nil, Recovered{}, false
	}
	// The store's entries fill in up to the room's own log, which may
	// have moved on meanwhile; nothing between them may be missing.
	first, has = r.log.oldest()
	if has && from < r.seq && first.seq > olderTo+1 {
		r.releaseLocked(s.Name, claimed.Token, r.cfg.PresenceGrace)
		return nil, Recovered{}, false
	}
	p.token = claimed.Token // the session's, as the claim keeps it
	c := &Client{room: r, person: person, conn: conn, pid: pid, from: from}
	r.clients[c] = struct{}{}
	p.clients = append(p.clients, c)
	c.presence, c.name = p, p.name
	missed := 0
	for _, e := range older {
		if has && e.seq >= first.seq || e.seq > r.seq {
			break
		}
		conn.Send(e.ev)
		missed++
	}
	for e := range r.log.all {
		if e.seq > from {
			conn.Send(e.ev)
			missed++
		}
	}
	return c, Recovered{SocketID: s.SocketID, Name: p.name, Missed: missed}, true
}
