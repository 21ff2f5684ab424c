package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"chatserver/internal/randid"
	"chatserver/nick"
	"chatserver/storage"
)

// A room's presence is its claims: the hash room:NAME:claims holds, per
// nickname (nick.Key), the name as held, its resume token, how many
// connections of each node hold it, and the deadline of its grace when
// none does. Every change is one script, so that a nickname is claimed
// once across the nodes and each arrival and departure is one entry of
// the room's log.

// tokenBytes is the entropy of a claim's resume token: 32 hex digits.
const tokenBytes = 16

// storedClaim is a claim as the claims hash keeps it.
type storedClaim struct {
	Name  string         `json:"name"`
	Token string         `json:"token"`
	Nodes map[string]int `json:"nodes"`
	// Grace is when the grace ends, Unix ms by the server's clock; 0
	// while connections hold the nickname.
	Grace int64 `json:"grace"`
}

// claimNames returns the names of the claims' JSON, sorted.
func claimNames(raw []string) ([]string, error) {
	names := make([]string, 0, len(raw))
	for _, v := range raw {
		var c storedClaim
		if err := json.Unmarshal([]byte(v), &c); err != nil || c.Name == "" {
			return nil, fmt.Errorf("a claim %.80q: %w (%v)", v, storage.ErrCorrupt, err)
		}
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names, nil
}

// SetChatters does nothing and returns nil for a room that exists: the
// presence in Redis is kept by the claims (Claim, Release, Kick and the
// reaping of stopped nodes), which every node sees at once. A room that
// does not exist gives storage.ErrNoSuchRoom.
func (s *Store) SetChatters(ctx context.Context, room string, names []string) error {
	op := roomOp("set chatters of", room)
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if !validRoom(room) {
		return fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if _, err := s.recent(ctx, room, 0); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// Chatters returns the names of room's claims, on every node and in their
// grace, each as held, in byte order (sort.Strings order). A room that
// does not exist gives storage.ErrNoSuchRoom. The slice is the caller's.
func (s *Store) Chatters(ctx context.Context, room string) ([]string, error) {
	op := roomOp("chatters of", room)
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validRoom(room) {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	raw, err := s.run(ctx, scriptChatters, nil, s.opts.Prefix, room, isDefault(room)).AsStrSlice()
	if err != nil {
		return nil, s.fail(op, err)
	}
	names, err := claimNames(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, nil
}

// errNoName refuses a claim, release or kick of an empty nickname.
var errNoName = errors.New("the nickname is empty")

// Claim counts one more connection of this node holding the nickname name
// (nick.Key(name), so that names it equates are one nickname) in room, in
// one step. Without resume: a nickname nobody holds is claimed with a new
// token (16 random bytes in hex) and an EntryAdd of name is appended to
// the room's log, whose position is Claimed.Added (and Claimed.Present,
// the position of the add entry that made the nickname present, whichever
// claim appended it); one held with token
// gains a connection; one held with another token is storage.ErrNameTaken,
// unless no connection holds it (it is in its grace), when it is taken
// back, its grace ended and its token renewed unless it matched. With
// resume, a nickname held or in its grace is claimed only with its token
// (storage.ErrNameTaken otherwise), and one nobody holds is claimed with
// the token given, which the resuming client releases with. Taking a nickname back appends
// nothing and keeps the name as held. A claim also counts as a heartbeat
// of this node (see StartNode). The default room is made again when Redis
// lost it; another room that does not exist gives storage.ErrNoSuchRoom.
func (s *Store) Claim(ctx context.Context, room, name, token string, resume bool) (storage.Claimed, error) {
	op := roomOp("claim a nickname in", room)
	if err := s.begin(ctx, op); err != nil {
		return storage.Claimed{}, err
	}
	if !validRoom(room) {
		return storage.Claimed{}, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	key := nick.Key(name)
	if key == "" {
		return storage.Claimed{}, fmt.Errorf("%s: %w", op, errNoName)
	}
	res, err := s.run(ctx, scriptClaim, nil, s.opts.Prefix, room, key, name, token, randid.Hex(tokenBytes),
		flag(resume), s.opts.Node, millis(s.opts.PresenceTTL), isDefault(room), newEpoch(),
		time.Now().UTC().Format(time.RFC3339Nano), strconv.Itoa(s.opts.LogSize)).ToArray()
	if err != nil {
		return storage.Claimed{}, s.fail(op, err)
	}
	if len(res) != 4 {
		return storage.Claimed{}, fmt.Errorf("%s: the script answered %d values, want 4", op, len(res))
	}
	var c storage.Claimed
	var epoch string
	var seq, present int64
	c.Token, err = res[0].ToString()
	if err == nil {
		epoch, err = res[1].ToString()
	}
	if err == nil {
		seq, err = res[2].AsInt64()
	}
	if err == nil {
		present, err = res[3].AsInt64()
	}
	if err != nil {
		return storage.Claimed{}, fmt.Errorf("%s: the script's answer: %w", op, err)
	}
	if seq > 0 {
		c.Added = storage.Position{Epoch: epoch, Seq: uint64(seq)}
	}
	if present > 0 {
		c.Present = storage.Position{Epoch: epoch, Seq: uint64(present)}
	}
	return c, nil
}

// Release counts one connection of this node fewer holding name in room,
// claimed with token; a claim with another token, or none of this node's,
// is left alone. When no connection of any node holds the nickname any
// more, it stays present for grace, within which a Claim takes it back;
// the reaper of a started node (StartNode) then deletes it and appends an
// EntryRemove. With a grace of 0 or less the claim is deleted and the
// EntryRemove appended at once. A room that does not exist has no claims:
// nothing happens.
func (s *Store) Release(ctx context.Context, room, name, token string, grace time.Duration) error {
	op := roomOp("release a nickname in", room)
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if !validRoom(room) {
		return fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	key := nick.Key(name)
	if key == "" {
		return fmt.Errorf("%s: %w", op, errNoName)
	}
	err := s.run(ctx, scriptRelease, nil, s.opts.Prefix, room, key, token, s.opts.Node,
		millis(grace), strconv.Itoa(s.opts.LogSize)).Error()
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// Kick ends the presence of name in room, however many connections of
// whichever nodes hold it and whether or not it is in its grace: the
// claim is deleted and an EntryKick of the name as held, with reason, is
// appended. Either way the time of the kick is recorded, and the
// nickname's sessions saved in the room before it are refused
// (TakeSession). It reports false, and appends nothing, when the nickname
// had no claim. The default room is made again when Redis lost it; another
// room that does not exist gives storage.ErrNoSuchRoom.
func (s *Store) Kick(ctx context.Context, room, name, reason string) (bool, error) {
	op := roomOp("kick a nickname from", room)
	if err := s.begin(ctx, op); err != nil {
		return false, err
	}
	if !validRoom(room) {
		return false, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	key := nick.Key(name)
	if key == "" {
		return false, fmt.Errorf("%s: %w", op, errNoName)
	}
	why, err := json.Marshal(reason)
	if err != nil {
		return false, fmt.Errorf("%s: encode: %w", op, err)
	}
	n, err := s.run(ctx, scriptKick, nil, s.opts.Prefix, room, key, string(why), isDefault(room), newEpoch(),
		time.Now().UTC().Format(time.RFC3339Nano), strconv.Itoa(s.opts.LogSize)).AsInt64()
	if err != nil {
		return false, s.fail(op, err)
	}
	return n == 1, nil
}

// flag is "1" for true and "0" for false, as the scripts take them.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// millis is d in whole milliseconds, rounded up, as the scripts take
// durations; 0 for d <= 0.
func millis(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Millisecond-1)/time.Millisecond), 10)
}
