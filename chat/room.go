package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"chatserver/nick"
	"chatserver/storage"
)

// Event names of the chat contract (docs/ARCHITECTURE.md gives their
// arguments and acks).
const (
	EventJoin          = "join"
	EventMessages      = "messages"
	EventAddChatter    = "add chatter"
	EventRemoveChatter = "remove chatter"
	EventKicked        = "kicked"
	EventChatError     = "chat error"
)

// Defaults for Config fields left zero (History's is
// storage.DefaultHistory, which the store keeps too).
const (
	DefaultMaxMessageLen = 2000
	DefaultMaxNameLen    = 32
	// DefaultRate and DefaultBurst: a person typing never comes close to
	// five messages a second; a paste of a few lines fits in the burst.
	DefaultRate  = 5.0
	DefaultBurst = 10
	// DefaultJoinRate and DefaultJoinBurst limit joins and renames: a
	// page joins once per connection and a person looking for a free
	// nickname tries a few, while every join replays the history and the
	// chatter list to the joiner and a new nickname is announced to
	// everyone.
	DefaultJoinRate  = 0.5
	DefaultJoinBurst = 5
	// DefaultAddressFactor: the connections of one client address share
	// an allowance of this many connections, for messages and for joins.
	// A household or an office behind one NAT address chats freely; one
	// machine opening connection after connection gets no more than four
	// connections' worth.
	DefaultAddressFactor = 4
	// DefaultFloodLimit refusals in a row disconnect the client: one that
	// ignores rate_limited errors that long is a script, not a person.
	DefaultFloodLimit = 20
	// DefaultPresenceGrace is serve's --presence-grace: long enough for a
	// phone to come back from a Wi-Fi blip or a page to reconnect, short
	// enough that someone who is gone is soon shown gone.
	DefaultPresenceGrace = 5 * time.Second
	// DefaultPaceBacklog and DefaultPaceDelay bound pacing: a message over
	// the rate limits waits its turn, up to 50 of them per connection and
	// 10 s of them at Rate, whichever is fewer. A paste of a few dozen
	// lines arrives whole, at Rate after the burst; a script firing
	// hundreds at once fills the backlog at once and is then refused
	// until FloodLimit refusals disconnect it.
	DefaultPaceBacklog = 50
	DefaultPaceDelay   = 10 * time.Second
	// NoPacing as Config.PaceBacklog turns pacing off: every message over
	// the rate limits is refused with rate_limited at once.
	NoPacing = -1
	// DefaultQueue bounds the messages waiting for the writer; senders
	// block (each on its own connection) while it is full.
	DefaultQueue = 4096
	// DefaultBatch bounds the messages of one transaction, so one commit
	// stays short even under a flood.
	DefaultBatch = 512
)

// Store is what the hub and its rooms need from their storage
// (storage/bolt implements it). Every call names its room where it has
// one; bans are global. Implementations must be safe for concurrent use.
type Store interface {
	// Rooms lists the stored rooms, storage.DefaultRoom among them.
	Rooms(ctx context.Context) ([]storage.Room, error)
	// AddRoom stores a new room (storage.ErrRoomExists when it exists).
	AddRoom(ctx context.Context, r storage.Room) error
	// RemoveRoom deletes a room with its history and presence
	// (storage.ErrNoSuchRoom when there is none).
	RemoveRoom(ctx context.Context, name string) error
	// AppendMessages stores msgs durably in one transaction, trimming the
	// room's history, and returns them with IDs assigned.
	AppendMessages(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, error)
	// RecentMessages returns at most n newest messages of the room,
	// oldest first.
	RecentMessages(ctx context.Context, room string, n int) ([]storage.Message, error)
	// SetChatters replaces the room's stored presence set with names.
	SetChatters(ctx context.Context, room string, names []string) error
	// BanExpiry reports whether name is banned at now, and until when.
	BanExpiry(ctx context.Context, name string, now time.Time) (time.Time, bool, error)
	// Ban refuses name until the given time.
	Ban(ctx context.Context, name string, until time.Time) error
	// Unban lifts a ban and reports whether there was one.
	Unban(ctx context.Context, name string) (bool, error)
	// SaveRecovery keeps state until TakeRecovery.
	SaveRecovery(ctx context.Context, state storage.RecoveryState) error
	// TakeRecovery returns the state SaveRecovery kept, and forgets it.
	TakeRecovery(ctx context.Context) (storage.RecoveryState, bool, error)
}

// Conn is one client's membership of one room as the transport carries
// it; the web package adapts a Socket.IO namespace socket to it.
type Conn interface {
	// Send queues ev for the client. It must never block; false means the
	// connection is gone.
	Send(ev *Event) bool
	// Close takes the client out of the room after the events already
	// queued (and ends its connection when that was its only room).
	Close()
	// ID is the transport's id of the client's socket, which a client
	// that recovers keeps (Room.Resume).
	ID() string
}

// Config tunes a Hub and its rooms: every room has the same limits.
// Zero fields take the Default values.
type Config struct {
	History       int     // messages replayed to a joining client
	MaxMessageLen int     // characters per message, after trimming
	MaxNameLen    int     // characters per nickname, after trimming
	Rate          float64 // messages per second per connection and per nickname (token bucket)
	Burst         int     // message token bucket size
	JoinRate      float64 // joins and renames per second per connection (token bucket)
	JoinBurst     int     // join token bucket size
	// AddressFactor is the allowance of one client address, shared by its
	// connections, in connections: its buckets are AddressFactor times
	// Rate and Burst, and JoinRate and JoinBurst.
	AddressFactor int
	FloodLimit    int // rate-limited messages, or rate-limited or invalid joins, in a row before disconnect
	// PresenceGrace is how long a nickname stays present after its last
	// connection was lost (Client.Drop) rather than ended: a reconnecting
	// page that joins with it within that time is not seen to leave and
	// return. Zero means no grace (every departure is announced at once);
	// serve's default is DefaultPresenceGrace.
	PresenceGrace time.Duration
	// RecoveryWindow is how long a client that lost its connection may
	// recover it (Room.Resume): its session, and the room's event log.
	// Zero turns recovery off: no log, no sessions, no offsets; serve's
	// default is DefaultRecoveryWindow.
	RecoveryWindow time.Duration
	// RecoveryEvents is how many events a room's log keeps; zero means
	// DefaultRecoveryEvents.
	RecoveryEvents int
	// PaceBacklog is how many messages over the rate limits one
	// connection may have waiting their turn (paced: sent at the rate
	// limit, in order) before more are refused with rate_limited; the
	// per-address buckets lend AddressFactor times as many over all the
	// address's connections. NoPacing (any negative value) turns pacing
	// off.
	PaceBacklog int
	// PaceDelay bounds how long a paced message waits: with a slow Rate,
	// fewer than PaceBacklog messages are paced, PaceDelay's worth.
	PaceDelay time.Duration
	Queue     int // messages waiting for the writer
	Batch     int // messages per transaction at most
	// Metrics, when set, is told of the messages received, refused,
	// stored and delivered, and of each store transaction's duration.
	Metrics Metrics
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// AfterFunc calls f in its own goroutine once d has passed on the
	// clock of Now, unless the Timer is stopped first: it wakes paced
	// messages and ends presence graces. nil means time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) Timer
	// Logger receives internal errors and the warnings about clients (a
	// flood disconnect, throttled per address); nil means slog.Default().
	Logger *slog.Logger
	// LogMessages logs every stored message, its id, nickname and text, at
	// info level. Off, the log carries no message text.
	LogMessages bool
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.History, storage.DefaultHistory)
	def(&c.MaxMessageLen, DefaultMaxMessageLen)
	def(&c.MaxNameLen, DefaultMaxNameLen)
	def(&c.Burst, DefaultBurst)
	def(&c.JoinBurst, DefaultJoinBurst)
	def(&c.AddressFactor, DefaultAddressFactor)
	def(&c.FloodLimit, DefaultFloodLimit)
	def(&c.Queue, DefaultQueue)
	def(&c.Batch, DefaultBatch)
	def(&c.RecoveryEvents, DefaultRecoveryEvents)
	if !(c.Rate > 0) {
		c.Rate = DefaultRate
	}
	if !(c.JoinRate > 0) {
		c.JoinRate = DefaultJoinRate
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.PaceBacklog == 0 {
		c.PaceBacklog = DefaultPaceBacklog
	}
	if c.PaceDelay <= 0 {
		c.PaceDelay = DefaultPaceDelay
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.AfterFunc == nil {
		c.AfterFunc = afterFunc
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// paceBacklog is how many paced messages one connection may have
// waiting: PaceBacklog, at most PaceDelay's worth at Rate, 0 without
// pacing. Defaults set.
func (c *Config) paceBacklog() int {
	if c.PaceBacklog < 0 {
		return 0
	}
	return int(min(float64(c.PaceBacklog), math.Floor(c.PaceDelay.Seconds()*c.Rate)))
}

// Room is one chat room: its connections, the presence of nicknames, the
// recent history and the writer goroutine that commits its messages. The
// Hub makes, finds and closes rooms.
type Room struct {
	hub     *Hub
	name    string
	topic   string
	created time.Time // when the room was added; a new room of the same name has another
	cfg     *Config   // the hub's
	store   Store
	shared  SharedStore // the store when it is shared by several nodes (cluster.go), or nil

	queue   chan *pending // messages for the writer
	dirty   chan struct{} // presence changed; capacity 1
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the writer has exited
	once    sync.Once

	mu       sync.Mutex           // guards the fields below
	clients  map[*Client]struct{} // every connected client, joined or not
	names    map[string]*presence // nick.Key(name) → presence
	order    []*presence          // the values of names, sorted by name
	recent   []*delivered         // newest cfg.History messages, oldest first
	lastTime time.Time            // time of the newest message, to keep times monotonic
	closed   bool
	removed  bool // closed because the room was removed: nothing more is stored

	// The event log and the sessions of recovery (recovery.go).
	epoch        string
	seq          uint64
	log          eventLog // the newest cfg.RecoveryEvents events
	sessions     map[string]*session
	sessionQueue []*session // the sessions in the order they expire

	// On a shared store (cluster.go): what waits for the log to be
	// applied up to a position, and the store calls queued for the writer.
	waiters []waiter
	waitID  uint64      // the last waiter's id
	nudge   *time.Timer // the catch-up timer while waiters wait (cluster.go), or nil
	ops     []sharedOp
}

// Peer is where a connection comes from, as the transport tells the room.
type Peer struct {
	// Addr is the client's address as the log shows it ("192.0.2.7").
	Addr string
	// Key groups the connections that share the per-address limits: the
	// address, or the network a client may pick addresses from (an IPv6
	// /64). Empty exempts the connection from them (loopback, like the
	// per-address connection cap).
	Key string
}

// logKey is what warnings about the peer are throttled by.
func (p Peer) logKey() string {
	switch {
	case p.Key != "":
		return p.Key
	case p.Addr != "":
		return p.Addr
	}
	return "an unknown address"
}

// addr is the peer's address for a log line.
func (p Peer) addr() string {
	if p.Addr == "" {
		return "an unknown address"
	}
	return p.Addr
}

// presence is one nickname held by one or more connections (a person with
// two tabs, or a page that reconnected before its old connection ended).
type presence struct {
	name    string
	token   string
	clients []*Client   // its connections: one, as a rule, so a slice and not a map
	added   *Event      // "add chatter" name: built once, sent to every later joiner
	addedAt uint64      // added's position in the room's log (0: none)
	msgs    *nickBucket // the nickname's message bucket, shared by its connections and rooms
	// grace is the timer of the grace that keeps the nickname
	// while it has no connection (nil: none runs); graceGen tells a timer
	// that fires late whether it is still the current one. r.mu.
	grace    Timer
	graceGen uint64
}

// endGrace stops the grace timer, if one runs. r.mu held.
func (p *presence) endGrace() {
	if p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
	p.graceGen++
}

// graceOver announces the departure of p, whose grace (number gen) ran
// out with no connection taking it back.
func (r *Room) graceOver(p *presence, gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.graceGen != gen || len(p.clients) > 0 || r.names[nick.Key(p.name)] != p || r.closed {
		return
	}
	p.grace = nil
	r.dropPresenceLocked(p)
}

// delivered is a stored message with the event that carries it, built once
// and sent to every recipient and every later joiner.
type delivered struct {
	msg storage.Message
	ev  *Event
}

// pending is a message waiting for the writer.
type pending struct {
	msg  storage.Message
	done chan result // capacity 1; the writer sends exactly once
}

type result struct {
	msg storage.Message
	err error
}

// write hands p to the writer and waits for its answer; a room closing
// first answers errClosed.
func (r *Room) write(p *pending) (storage.Message, error) {
	select {
	case r.queue <- p:
	case <-r.stop:
		return storage.Message{}, errClosed
	}
	select {
	case res := <-p.done:
		return res.msg, res.err
	case <-r.stopped:
		// The writer answers every message it took before it exits.
		select {
		case res := <-p.done:
			return res.msg, res.err
		default:
			return storage.Message{}, errClosed
		}
	}
}

// storeTimeout bounds one store call of a room's own (loading, the
// writer's commits, presence), so that a stuck store is reported rather
// than waited on for ever, where the store can notice.
const storeTimeout = time.Minute

// newRoom loads the room's recent history, clears presence left behind by
// a crash, takes back rec (the log and sessions a clean shutdown saved;
// nil for none) and starts its writer.
func newRoom(ctx context.Context, h *Hub, sr storage.Room, rec *storage.RoomRecovery) (*Room, error) {
	if h.cluster != nil {
		return newSharedRoom(ctx, h, sr)
	}
	msgs, err := h.store.RecentMessages(ctx, sr.Name, h.cfg.History)
	if err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	if err := h.store.SetChatters(ctx, sr.Name, nil); err != nil {
		return nil, fmt.Errorf("clear presence left from an earlier run: %w", err)
	}
	r := h.makeRoom(sr)
	for _, m := range msgs {
		r.remember(m)
	}
	// A saved state of a room removed and added again since (offline) is
	// not this room's.
	if rec != nil && r.recovering() && rec.Created.Equal(sr.Created) {
		r.restoreLocked(*rec)
		if len(r.names) > 0 {
			r.markDirty()
		}
	}
	go r.writer()
	return r, nil
}

// newSharedRoom opens this node's part of a room of a shared store, from
// the store's snapshot of it, and starts its writer.
func newSharedRoom(ctx context.Context, h *Hub, sr storage.Room) (*Room, error) {
	snap, err := h.cluster.store.Snapshot(ctx, sr.Name, h.cfg.History)
	if err != nil {
		return nil, fmt.Errorf("load the room's state: %w", err)
	}
	r := h.makeRoom(sr)
	r.shared = h.cluster.store
	r.loadLocked(snap)
	go r.writer()
	return r, nil
}

// makeRoom makes the room sr, empty, its writer not started.
func (h *Hub) makeRoom(sr storage.Room) *Room {
	return &Room{
		hub:      h,
		name:     sr.Name,
		topic:    sr.Topic,
		created:  sr.Created,
		cfg:      &h.cfg,
		store:    h.store,
		queue:    make(chan *pending, h.cfg.Queue),
		dirty:    make(chan struct{}, 1),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		clients:  make(map[*Client]struct{}),
		names:    make(map[string]*presence),
		epoch:    newEpoch(),
		sessions: make(map[string]*session),
	}
}

// Name returns the room's name (storage.DefaultRoom for the default room).
func (r *Room) Name() string { return r.name }

// Topic returns the line the operator gave the room, or "".
func (r *Room) Topic() string { return r.topic }

// Info describes the room.
func (r *Room) Info() RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RoomInfo{Name: r.name, Topic: r.topic, Messages: len(r.recent), Chatters: r.chattersLocked()}
}

// Close stops the room: new messages are refused, paced ones still
// waiting their turn are dropped and answered with errClosed, those
// already queued are written and answered, the stored presence is
// brought up to date, and the writer exits. Connections are not closed
// here: the transport closes them (each then calls Leave). Idempotent.
func (r *Room) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		// A nickname held only by its grace has no connection: it is not
		// stored as present (its session, if any, is kept for recovery).
		// On a shared store, the presence is the store's.
		for key, p := range r.names {
			p.endGrace()
			if len(p.clients) == 0 && r.shared == nil {
				r.forgetPresenceLocked(key, p)
			}
		}
		r.wakeLocked(true)
		dropped := r.dropPacedLocked(nil)
		r.mu.Unlock()
		settleAll(dropped, errClosed)
		close(r.stop)
	})
	<-r.stopped
	if r.shared != nil {
		// What was queued while the writer made its last round (a
		// connection dropped as the server shut down) is sent now.
		r.runOps()
	}
}

// dropPacedLocked takes the paced messages of the room's clients out of
// their people's backlogs, and appends them to out. r.mu held.
func (r *Room) dropPacedLocked(out []*Paced) []*Paced {
	l := r.hub.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range r.clients {
		out = c.person.dropLocked(c, out)
	}
	return out
}

// remove closes the room for good, once the store has deleted it: every
// connection is sent kicked with reason and closed, and the writer
// answers what is still queued with an error. It returns how many
// connections were closed.
func (r *Room) remove(reason string) int {
	kicked := newEvent(EventKicked, kickedArg{Reason: reason})
	r.mu.Lock()
	r.closed, r.removed = true, true
	conns := make([]Conn, 0, len(r.clients))
	for c := range r.clients {
		if c.presence != nil {
			c.conn.Send(kicked)
		}
		c.name, c.presence = "", nil
		conns = append(conns, c.conn)
	}
	now := r.cfg.Now()
	for key, p := range r.names {
		p.endGrace()
		r.hub.lim.releaseNick(key, p.msgs, now)
	}
	clear(r.names)
	r.order = nil
	dropped := r.dropPacedLocked(nil)
	refusal := r.closedError()
	r.mu.Unlock()
	settleAll(dropped, refusal)
	for _, conn := range conns {
		conn.Close()
	}
	r.Close()
	return len(conns)
}

// Connect registers person's membership of the room, carried by conn. The
// client receives nothing until it joins. A room that is closing or was
// removed refuses with CodeUnavailable.
func (r *Room) Connect(conn Conn, person *Person) (*Client, error) {
	c := &Client{room: r, person: person, conn: conn}
	if r.recovering() {
		c.pid = newPID()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, r.closedError()
	}
	r.clients[c] = struct{}{}
	return c, nil
}

// closedError is the refusal of a closed room. r.mu held.
func (r *Room) closedError() error {
	if r.removed {
		return errorf(CodeUnavailable, "the room %q was removed", r.name)
	}
	return errClosed
}

// History returns up to n recent messages, oldest first, from memory
// (n <= 0: all that are kept).
func (r *Room) History(n int) []storage.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recent
	if n > 0 && n < len(rec) {
		rec = rec[len(rec)-n:]
	}
	out := make([]storage.Message, len(rec))
	for i, d := range rec {
		out[i] = d.msg
	}
	return out
}

// Chatters returns the nicknames present, sorted.
func (r *Room) Chatters() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chattersLocked()
}

// ChatterCount returns how many nicknames are present.
func (r *Room) ChatterCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

func (r *Room) chattersLocked() []string {
	names := make([]string, len(r.order))
	for i, p := range r.order {
		names[i] = p.name
	}
	return names
}

// addPresenceLocked makes p present: it enters names and its place in
// order (a binary search and one copy, rather than a sort per join), and
// takes the nickname's message bucket from the hub. r.mu held.
func (r *Room) addPresenceLocked(p *presence, now time.Time) {
	key := nick.Key(p.name)
	r.names[key] = p
	p.msgs = r.hub.lim.acquireNick(key, now)
	i, _ := slices.BinarySearchFunc(r.order, p.name, func(q *presence, name string) int {
		return strings.Compare(q.name, name)
	})
	r.order = slices.Insert(r.order, i, p)
}

// kick removes the chatter called name: each of its connections gets a
// kicked event with reason and is closed, everyone else gets remove
// chatter. It returns how many connections were closed, and whether the
// nickname was present (perhaps held through a grace, with none).
func (r *Room) kick(name, reason string) (int, bool) {
	r.mu.Lock()
	key := nick.Key(name)
	r.forgetSessionsOfLocked(key) // nor does it come back by recovering
	p, ok := r.names[key]
	if !ok {
		r.mu.Unlock()
		return 0, false
	}
	p.endGrace()
	kicked := newEvent(EventKicked, kickedArg{Reason: reason})
	conns := make([]Conn, 0, len(p.clients))
	var dropped []*Paced
	for _, c := range p.clients {
		c.name = ""
		c.presence = nil
		c.conn.Send(kicked)
		conns = append(conns, c.conn)
		dropped = c.person.drop(c, dropped)
	}
	r.dropPresenceLocked(p)
	r.mu.Unlock()
	settleAll(dropped, errLeftWhilePaced)
	for _, conn := range conns {
		conn.Close()
	}
	return len(conns), true
}

type kickedArg struct {
	Reason string `json:"reason"`
}

// forgetPresenceLocked forgets p, present under key, without telling
// anyone: the room is closing. r.mu held.
func (r *Room) forgetPresenceLocked(key string, p *presence) {
	delete(r.names, key)
	r.hub.lim.releaseNick(key, p.msgs, r.cfg.Now())
	if i := slices.Index(r.order, p); i >= 0 {
		r.order = slices.Delete(r.order, i, i+1)
	}
}

// dropPresenceLocked forgets p and announces its departure. Its message
// bucket goes back to the hub, which keeps it until it has refilled, for
// the nickname's return. r.mu held.
func (r *Room) dropPresenceLocked(p *presence) {
	key := nick.Key(p.name)
	delete(r.names, key)
	r.hub.lim.releaseNick(key, p.msgs, r.cfg.Now())
	i, _ := slices.BinarySearchFunc(r.order, p.name, func(q *presence, name string) int {
		return strings.Compare(q.name, name)
	})
	if i < len(r.order) && r.order[i] == p {
		r.order = slices.Delete(r.order, i, i+1)
	}
	ev := newEvent(EventRemoveChatter, p.name)
	r.logLocked(ev)
	r.broadcastLocked(ev, nil)
	r.markDirty()
}

// broadcastLocked sends ev to every joined client except those of skip,
// and returns how many connections took it. r.mu held.
//
// It walks the room's connections once rather than each nickname's own
// set of them: a broadcast to a thousand touches a thousand Clients and
// one map, not also a thousand presences and their maps.
func (r *Room) broadcastLocked(ev *Event, skip *presence) int {
	n := 0
	for c := range r.clients {
		if c.presence == nil || c.presence == skip {
			continue // not joined, or the one not to tell
		}
		if c.conn.Send(ev) {
			n++
		}
	}
	return n
}

func (r *Room) markDirty() {
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// remember appends m to the recent history. r.mu held or not yet shared.
func (r *Room) remember(m storage.Message) *delivered {
	d := &delivered{msg: m, ev: newEvent(EventMessages, m.Name+": "+m.Text, wireMessage(m))}
	r.recent = append(r.recent, d)
	if over := len(r.recent) - r.cfg.History; over > 0 {
		copy(r.recent, r.recent[over:])
		for i := len(r.recent) - over; i < len(r.recent); i++ {
			r.recent[i] = nil
		}
		r.recent = r.recent[:len(r.recent)-over]
	}
	if m.Time.After(r.lastTime) {
		r.lastTime = m.Time
	}
	return d
}

// WireMessage is the object form of a message on the wire: the second
// argument of a messages event.
type WireMessage struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	Text string `json:"text"`
	Time string `json:"time"`
}

// TimeFormat is RFC 3339 in UTC with milliseconds, as JavaScript's
// Date.prototype.toISOString writes it.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func wireMessage(m storage.Message) WireMessage {
	return WireMessage{ID: m.ID, Name: m.Name, Text: m.Text, Time: m.Time.UTC().Format(TimeFormat)}
}

// writer is the room's one writer goroutine: it commits queued messages in
// batches, broadcasts them in order, answers their senders, and mirrors
// presence changes into the store.
func (r *Room) writer() {
	defer close(r.stopped)
	batch := make([]*pending, 0, r.cfg.Batch)
	for {
		select {
		case p := <-r.queue:
			batch = append(batch[:0], p)
			batch = r.fill(batch)
			r.commit(batch)
		case <-r.dirty:
			r.sync()
		case <-r.stop:
			// Senders stopped enqueueing when closed was set under r.mu
			// (see Client.post); drain what is left.
			for {
				batch = r.fill(batch[:0])
				if len(batch) == 0 {
					break
				}
				r.commit(batch)
			}
			r.sync()
			return
		}
	}
}

// fill adds queued messages to batch without waiting, up to the limit.
func (r *Room) fill(batch []*pending) []*pending {
	for len(batch) < r.cfg.Batch {
		select {
		case p := <-r.queue:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// commit stores batch in one transaction, then broadcasts and answers.
func (r *Room) commit(batch []*pending) {
	msgs := make([]storage.Message, len(batch))
	r.mu.Lock()
	now := r.cfg.Now().UTC()
	if !now.After(r.lastTime) {
		// Keep times in history order even if the clock steps back.
		now = r.lastTime.Add(time.Millisecond)
	}
	r.mu.Unlock()
	for i, p := range batch {
		msgs[i] = p.msg
		msgs[i].Time = now
	}
	start := time.Now()
	timeout := storeTimeout
	if r.shared != nil {
		timeout = clusterTimeout // a store across the network: fail fast, the sender may try again
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	var stored []storage.Message
	var at storage.Position
	var err error
	if r.shared != nil {
		stored, at, err = r.shared.Append(ctx, r.name, msgs)
	} else {
		stored, err = r.store.AppendMessages(ctx, r.name, msgs)
	}
	cancel()
	took := time.Since(start)
	if err == nil && len(stored) != len(msgs) {
		err = fmt.Errorf("store returned %d of %d messages", len(stored), len(msgs))
	}
	r.cfg.Metrics.Committed(len(msgs), took, err)

	if err != nil {
		refusal := errorf(CodeStoreFailed, "the server could not save your message; it was not sent")
		if r.shared != nil {
			// The shared store is unreachable: the node waits for it
			// to come back, and so should the sender. (Should its
			// connection have failed only after the append ran, the
			// message reaches everyone from the log all the same.)
			refusal = errorf(CodeUnavailable, "the server cannot reach its store just now; your message was not sent, try again in a moment")
		}
		if r.gone(err) {
			refusal = errorf(CodeUnavailable, "the room %q was removed; your message was not sent", r.name)
		} else {
			r.cfg.Logger.Error("storing messages failed; their senders were told", "room", r.name, "count", len(batch), "err", err)
		}
		for _, p := range batch {
			p.done <- result{err: refusal}
		}
		return
	}
	if r.shared != nil {
		// Delivered, and logged, when the store's log reaches the
		// cluster goroutine (cluster.go); answered then, after the
		// senders' own echoes.
		waiting := slices.Clone(batch)
		r.mu.Lock()
		r.waitLocked(at, func() {
			for i, p := range waiting {
				p.done <- result{msg: stored[i]}
			}
		})
		r.mu.Unlock()
		return
	}
	r.deliver(stored)
	if r.cfg.LogMessages {
		for _, m := range stored {
			r.cfg.Logger.Info("message", "room", r.name, "id", m.ID, "nick", m.Name, "text", m.Text)
		}
	}
	for i, p := range batch {
		p.done <- result{msg: stored[i]}
	}
}

// deliver hands committed messages, in ID order, to the room's clients:
// each is remembered in the recent history and queued to every joined
// connection, the sender included. It is the one way in for messages:
// the writer's own, and those another node committed when a bus carries
// them. It returns the deliveries made.
func (r *Room) deliver(msgs []storage.Message) int {
	r.mu.Lock()
	n := 0
	for _, m := range msgs {
		ev := r.remember(m).ev
		r.logLocked(ev)
		n += r.broadcastLocked(ev, nil)
	}
	r.mu.Unlock()
	r.cfg.Metrics.Delivered(n)
	return n
}

// sync brings the store up to date with the room: on a shared store it
// runs the queued calls, on another it writes the presence.
func (r *Room) sync() {
	if r.shared != nil {
		r.runOps()
		return
	}
	r.syncPresence()
}

// syncPresence writes the current set of nicknames to the store. Changes
// that arrive while it writes mark the room dirty again, so bursts of
// joins and leaves coalesce into few transactions.
func (r *Room) syncPresence() {
	r.mu.Lock()
	names, removed := r.chattersLocked(), r.removed
	r.mu.Unlock()
	if removed {
		return // the store has deleted the room with its presence
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := r.store.SetChatters(ctx, r.name, names); err != nil && !r.gone(err) {
		r.cfg.Logger.Error("saving the chatter list failed", "room", r.name, "err", err)
	}
}

// gone reports whether err, from a store call of the room's, means that
// the room was removed meanwhile. Hub.RemoveRoom deletes the room from
// the store and from the hub under the hub's lock before it tells the
// room (remove), so a call can fail for the removal before r.removed is
// set; once the hub's lock is free, the hub no longer has the room.
func (r *Room) gone(err error) bool {
	r.mu.Lock()
	removed := r.removed
	r.mu.Unlock()
	return removed || errors.Is(err, storage.ErrNoSuchRoom) && r.hub.Room(r.name) != r
}

// tokenBytes is the entropy of a resume token: 16 random bytes, written
// as 32 hexadecimal characters.
const tokenBytes = 16

// errClosed is returned to senders once the room is closing.
var errClosed = errorf(CodeUnavailable, "the server is shutting down")
