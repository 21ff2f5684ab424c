package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"chatserver/internal/throttle"
	"chatserver/storage"
)

// Hub owns the rooms of a server: it creates them from the store at start,
// adds and removes them for the operator, finds them for the transport,
// and closes them. What spans rooms lives here too: the rate limits of a
// person (a connection, a nickname, a client address: the same in every
// room), the bans, and the log of warnings about clients.
type Hub struct {
	cfg   Config
	store Store
	lim   *limiter
	warn  *throttle.Log // warnings about clients, per address
	// pacers counts the people's pacing timers armed and release loops
	// running (pace.go), which Close waits for.
	pacers sync.WaitGroup
	// cluster follows the store when it is shared by several nodes
	// (cluster.go); nil otherwise.
	cluster *cluster

	mu       sync.Mutex       // guards the fields below
	rooms    map[string]*Room // by name
	watchers []func()
	closed   bool
}

// RoomInfo describes a room for lists: the admin channel's and the page's.
type RoomInfo struct {
	Name  string `json:"name"`
	Topic string `json:"topic"`
	// Messages is how many messages the room keeps (at most
	// Config.History).
	Messages int `json:"messages"`
	// Chatters are the nicknames present, sorted.
	Chatters []string `json:"chatters"`
}

// NewHub opens every room the store has (the default room always among
// them): each loads its recent history, clears the presence a crash left
// behind and starts its writer. The caller must Close the hub.
//
// On a SharedStore, the rooms are this node's parts of rooms that span
// every node sharing the store (cluster.go): the hub subscribes to the
// store before it opens them, each starts from the store's snapshot of
// the room, and a goroutine of the hub's delivers every node's entries.
// The store must be reachable: NewHub fails otherwise.
func NewHub(ctx context.Context, store Store, cfg Config) (*Hub, error) {
	cfg.setDefaults()
	h := &Hub{
		cfg:   cfg,
		store: store,
		lim:   newLimiter(cfg),
		warn:  throttle.New(cfg.Logger, slog.LevelWarn, 1),
	}
	var sub storage.Subscription
	if shared, ok := store.(SharedStore); ok {
		// Subscribed first, so that nothing appended after a room's
		// snapshot is missed.
		var err error
		if sub, err = shared.Subscribe(ctx); err != nil {
			h.warn.Close()
			return nil, fmt.Errorf("subscribe to the shared store: %w", err)
		}
		h.cluster = newCluster(h, shared)
	}
	stored, err := store.Rooms(ctx)
	if err != nil {
		h.abortWith(sub)
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	h.rooms = make(map[string]*Room, len(stored))
	if !slices.ContainsFunc(stored, func(r storage.Room) bool { return r.Name == storage.DefaultRoom }) {
		h.abortWith(sub)
		return nil, fmt.Errorf("list rooms: the store has no default room %q", storage.DefaultRoom)
	}
	// What the last clean shutdown saved for recovery is taken back (and
	// out of the store) in any case: after this run it would be stale. A
	// shared store keeps the sessions itself, and its log is the rooms'.
	recs := make(map[string]*storage.RoomRecovery)
	if h.cluster == nil {
		saved, _, err := store.TakeRecovery(ctx)
		if err != nil {
			h.abort()
			return nil, fmt.Errorf("read the recovery state: %w", err)
		}
		for i := range saved.Rooms {
			recs[saved.Rooms[i].Room] = &saved.Rooms[i]
		}
	}
	for _, sr := range stored {
		r, err := newRoom(ctx, h, sr, recs[sr.Name])
		if err != nil {
			h.abortWith(sub)
			return nil, fmt.Errorf("open room %s: %w", sr.Name, err)
		}
		h.rooms[sr.Name] = r
	}
	if h.cluster != nil {
		go h.cluster.run(sub)
	}
	return h, nil
}

// abortWith is abort, also ending sub (nil: none) before the cluster
// goroutine that would have owned it started.
func (h *Hub) abortWith(sub storage.Subscription) {
	if sub != nil {
		sub.Close()
		h.cluster = nil
	}
	h.abort()
}

// Close closes every room (see Room.Close: paced messages are dropped),
// waits for the release loops of paced messages to return, saves what
// recovery needs across a restart (each room's event log and the sessions
// of the clients that lost their connection, see Room.Resume) in the
// store, and summarises the warnings still held back. Idempotent.
func (h *Hub) Close() { h.close(true) }

// abort closes what NewHub opened before it failed, saving nothing: a
// state saved now would stand in for the one the next start should take
// back.
func (h *Hub) abort() { h.close(false) }

// close is Close, saving the recovery state only when save is set (and
// recovery is on), and only the first time.
func (h *Hub) close(save bool) {
	h.mu.Lock()
	already := h.closed
	h.closed = true
	rooms := h.sortedLocked()
	h.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
	if h.cluster != nil {
		h.cluster.close()
	}
	h.pacers.Wait()
	if save && !already && h.cfg.RecoveryWindow > 0 && h.cluster == nil {
		h.saveRecovery(rooms)
	}
	h.warn.Close()
}

// saveRecovery saves the rooms' logs and sessions; a failure is logged,
// since clients then only reconnect as new ones.
func (h *Hub) saveRecovery(rooms []*Room) {
	state := storage.RecoveryState{Saved: h.cfg.Now().UTC()}
	for _, r := range rooms {
		r.mu.Lock()
		removed := r.removed
		rec, err := r.recoveryStateLocked()
		r.mu.Unlock()
		if err != nil {
			h.cfg.Logger.Error("saving the recovery state failed; clients will reconnect as new ones", "err", err)
			return
		}
		if !removed {
			state.Rooms = append(state.Rooms, rec)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := h.store.SaveRecovery(ctx, state); err != nil {
		h.cfg.Logger.Error("saving the recovery state failed; clients will reconnect as new ones", "err", err)
	}
}

// Room returns the room called name, or nil when there is none.
func (h *Hub) Room(name string) *Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[name]
}

// Default returns the default room (storage.DefaultRoom), which always
// exists.
func (h *Hub) Default() *Room { return h.Room(storage.DefaultRoom) }

// Rooms returns the rooms, the default room first, then by name.
func (h *Hub) Rooms() []*Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sortedLocked()
}

func (h *Hub) sortedLocked() []*Room {
	out := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Room) int { return compareRooms(a.name, b.name) })
	return out
}

// compareRooms orders room names: the default room first, then by name.
func compareRooms(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == storage.DefaultRoom:
		return -1
	case b == storage.DefaultRoom:
		return 1
	}
	return strings.Compare(a, b)
}

// Infos describes every room, in the order of Rooms.
func (h *Hub) Infos() []RoomInfo {
	rooms := h.Rooms()
	out := make([]RoomInfo, len(rooms))
	for i, r := range rooms {
		out[i] = r.Info()
	}
	return out
}

// Watch has f called, on its own, after every room added or removed (not
// under any lock of the hub, in the goroutine that changed the rooms). f
// must return quickly.
func (h *Hub) Watch(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchers = append(h.watchers, f)
}

func (h *Hub) notify() {
	h.mu.Lock()
	watchers := slices.Clone(h.watchers)
	h.mu.Unlock()
	for _, f := range watchers {
		f()
	}
}

// AddRoom adds the room name with topic, stored at once and open to
// clients when AddRoom returns. A bad name (CodeInvalidRoom), a topic
// that is too long or not one line (CodeInvalidRoom), or a room that
// exists already (CodeRoomExists) changes nothing.
func (h *Hub) AddRoom(ctx context.Context, name, topic string) (*Room, error) {
	if err := storage.CheckRoomName(name); err != nil {
		return nil, errorf(CodeInvalidRoom, "%s", err)
	}
	topic, err := CheckTopic(topic)
	if err != nil {
		return nil, err
	}
	r, err := h.addRoom(ctx, name, topic)
	if err != nil {
		return nil, err
	}
	h.notify()
	return r, nil
}

// addRoom is AddRoom under h.mu, without telling the watchers.
func (h *Hub) addRoom(ctx context.Context, name, topic string) (*Room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, errClosed
	case h.rooms[name] != nil:
		return nil, errorf(CodeRoomExists, "the room %q exists already", name)
	}
	sr := storage.Room{Name: name, Topic: topic, Created: h.cfg.Now().UTC()}
	if err := h.store.AddRoom(ctx, sr); err != nil {
		if errors.Is(err, storage.ErrRoomExists) {
			return nil, errorf(CodeRoomExists, "the room %q exists already", name)
		}
		return nil, errorf(CodeStoreFailed, "the room could not be saved: %v", err)
	}
	// Stored: the room must open now even if the caller gives up (an
	// admin client that hangs up), or it would be neither served nor
	// addable nor removable until a restart.
	openCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	r, err := newRoom(openCtx, h, sr, nil)
	if err != nil {
		// The room is stored; it opens at the next start. Say so.
		return nil, errorf(CodeStoreFailed, "the room was saved but could not be opened: %v", err)
	}
	h.rooms[name] = r
	return r, nil
}

// RemoveRoom deletes the room name with its history and presence: each
// of its connections is sent kicked with a reason and closed, and the
// room is gone for new ones. It returns how many connections were closed.
// The default room cannot be removed (CodeInvalidRoom); a room that does
// not exist is CodeNoSuchRoom.
func (h *Hub) RemoveRoom(ctx context.Context, name string) (int, error) {
	if name == storage.DefaultRoom {
		return 0, errorf(CodeInvalidRoom, "the default room %q cannot be removed", name)
	}
	h.mu.Lock()
	r := h.rooms[name]
	if r == nil {
		h.mu.Unlock()
		return 0, errorf(CodeNoSuchRoom, "there is no room called %q", name)
	}
	if err := h.store.RemoveRoom(ctx, name); err != nil {
		h.mu.Unlock()
		if errors.Is(err, storage.ErrNoSuchRoom) {
			return 0, errorf(CodeNoSuchRoom, "there is no room called %q", name)
		}
		return 0, errorf(CodeStoreFailed, "the room could not be removed, nothing changed: %v", err)
	}
	delete(h.rooms, name)
	h.mu.Unlock()
	closed := r.remove(fmt.Sprintf("the room %q was removed", name))
	h.notify()
	return closed, nil
}

// Kick removes the chatter called name from room, or from every room it
// is in when room is "": each of its connections there gets a kicked
// event with reason and is closed, everyone else there gets remove
// chatter. With ban > 0 the nickname is also refused everywhere for that
// long (even when it is not present). It returns how many connections
// were closed in which rooms (sorted as Rooms), and a CodeNoSuchChatter
// error when the name was present nowhere asked and no ban was asked.
func (h *Hub) Kick(ctx context.Context, room, name, reason string, ban time.Duration) (KickResult, error) {
	rooms := h.Rooms()
	if room != "" {
		r := h.Room(room)
		if r == nil {
			return KickResult{}, errorf(CodeNoSuchRoom, "there is no room called %q", room)
		}
		rooms = []*Room{r}
	}
	if ban > 0 {
		if err := h.store.Ban(ctx, name, h.cfg.Now().Add(ban)); err != nil {
			// The operator asked: say why, in plain words, and kick nobody.
			return KickResult{}, errorf(CodeStoreFailed, "the ban could not be saved, nobody was kicked: %v", err)
		}
	}
	var res KickResult
	for _, r := range rooms {
		n, found := 0, false
		if r.shared != nil {
			var err error
			if n, found, err = r.kickShared(ctx, name, reason); err != nil {
				return res, errorf(CodeStoreFailed, "the kick could not be saved in the room %q: %v", r.name, err)
			}
		} else {
			n, found = r.kick(name, reason)
		}
		if found {
			res.Closed += n
			res.Rooms = append(res.Rooms, r.name)
		}
	}
	if len(res.Rooms) == 0 && ban <= 0 {
		if room != "" {
			return res, errorf(CodeNoSuchChatter, "no chatter called %q is present in the room %q", name, room)
		}
		return res, errorf(CodeNoSuchChatter, "no chatter called %q is present", name)
	}
	return res, nil
}

// KickResult is what a kick did.
type KickResult struct {
	// Closed is how many connections were closed (on a shared store,
	// those of this node: other nodes close theirs).
	Closed int `json:"closed"`
	// Rooms are the rooms the chatter was kicked from.
	Rooms []string `json:"rooms"`
}

// Unban lifts the ban on name and reports whether there was one.
func (h *Hub) Unban(ctx context.Context, name string) (bool, error) {
	had, err := h.store.Unban(ctx, name)
	if err != nil {
		return false, errorf(CodeStoreFailed, "the ban could not be lifted: %v", err)
	}
	return had, nil
}

// Connect registers a new transport connection from peer: one person,
// who may then enter rooms (Room.Connect) and shares its rate limits
// among them. closeAll ends the whole connection (a flood disconnect);
// it must not block.
func (h *Hub) Connect(peer Peer, closeAll func()) *Person {
	now := h.cfg.Now()
	return &Person{hub: h, peer: peer, closeAll: closeAll, msgs: h.lim.msg.full(now), joins: h.lim.join.full(now)}
}

// MaxTopicLen is the longest room topic, in characters.
const MaxTopicLen = 200
