package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"chatserver/storage"
)

// SetChatters replaces this node's part of room's presence with names
// (each exactly as given) in one step. Every node sharing the Redis has a
// part of its own (Options.Node), so that one node's writes leave the
// others' alone, and each part lives PresenceTTL: the store writes it again
// every third of that until Close, so a part whose node crashed expires
// by itself. No names remove the part at once. A room that does not exist
// gives storage.ErrNoSuchRoom.
func (s *Store) SetChatters(ctx context.Context, room string, names []string) error {
	op := roomOp("set chatters of", room)
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if !validRoom(room) {
		return fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if err := s.setPresence(ctx, room, names); err != nil {
		return s.fail(op, err)
	}
	s.mu.Lock()
	if len(names) == 0 {
		delete(s.presence, room)
	} else {
		s.presence[room] = slices.Clone(names)
	}
	s.mu.Unlock()
	return nil
}

// setPresence runs the set_presence script.
func (s *Store) setPresence(ctx context.Context, room string, names []string) error {
	if names == nil {
		names = []string{}
	}
	v, err := json.Marshal(names)
	if err != nil {
		return err
	}
	rk := s.roomKey(room)
	return s.run(ctx, scriptSetPresence, []string{s.key("rooms"), rk + ":presence", rk + ":presence:expiry"},
		room, isDefault(room), s.opts.Node, strconv.FormatInt(s.opts.PresenceTTL.Milliseconds(), 10), string(v)).Error()
}

// Chatters returns the names present in room on every node whose part has
// not expired, each once, in byte order (sort.Strings order); expired
// parts are deleted on the way. A room that does not exist gives
// storage.ErrNoSuchRoom. The slice is the caller's.
func (s *Store) Chatters(ctx context.Context, room string) ([]string, error) {
	op := roomOp("chatters of", room)
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validRoom(room) {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	rk := s.roomKey(room)
	parts, err := s.run(ctx, scriptPresence, []string{s.key("rooms"), rk + ":presence", rk + ":presence:expiry"},
		room, isDefault(room)).AsStrSlice()
	if err != nil {
		return nil, s.fail(op, err)
	}
	var names []string
	for _, p := range parts {
		var part []string
		if err := json.Unmarshal([]byte(p), &part); err != nil {
			return nil, fmt.Errorf("%s: a part %.80q: %w (%w)", op, p, storage.ErrCorrupt, err)
		}
		names = append(names, part...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// refresh writes this node's parts of the rooms' presence again every
// third of PresenceTTL, until Close. A part that expired meanwhile (the
// node stalled, or Redis restarted) is written anew. Failures are logged:
// the next round tries again.
func (s *Store) refresh() {
	defer s.done.Done()
	tick := time.NewTicker(s.opts.PresenceTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		rooms := make(map[string][]string, len(s.presence))
		for room, names := range s.presence {
			rooms[room] = names
		}
		s.mu.Unlock()
		for room, names := range rooms {
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.PresenceTTL/3)
			err := s.setPresence(ctx, room, names)
			cancel()
			if err != nil && !s.closed.Load() {
				s.opts.Logger.Warn("refreshing the presence in Redis failed; trying again", "room", room, "node", s.opts.Node, "err", scriptError(err))
			}
		}
	}
}
