package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"chatserver/nick"
)

// RemoveChatter removes every present name that is the same nickname as
// name (nick.Key) from room, or from every room when room is "", and
// returns the rooms it was removed from: storage.DefaultRoom first, the
// others by name; none when no room had it, and then nothing is written.
// A room that does not exist gives storage.ErrNoSuchRoom.
func (s *Store) RemoveChatter(ctx context.Context, room, name string) ([]string, error) {
	op := roomOp("remove chatter from", room)
	if room == "" {
		op = "remove chatter from every room"
	}
	var removed []string
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		removed = nil
		names := []string{room}
		if room == "" {
			rooms, err := bucket(tx, bucketRooms)
			if err != nil {
				return err
			}
			if names, err = roomNames(rooms); err != nil {
				return err
			}
		}
		key := nick.Key(name)
		for _, rn := range names {
			r, err := s.room(tx, rn)
			if err != nil {
				return err
			}
			var match [][]byte
			if err := r.chatters.ForEach(func(k, _ []byte) error {
				if nick.Key(string(k)) == key {
					match = append(match, []byte(string(k)))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range match {
				if err := r.chatters.Delete(k); err != nil {
					return fmt.Errorf("room %s: delete %q: %w", rn, k, err)
				}
			}
			if len(match) > 0 {
				removed = append(removed, rn)
			}
		}
		if len(removed) == 0 {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// Chatters returns the names present in room in byte order (sort.Strings
// order). A room that does not exist gives storage.ErrNoSuchRoom. The
// slice is the caller's.
func (s *Store) Chatters(ctx context.Context, room string) ([]string, error) {
	var names []string
	err := s.view(ctx, roomOp("chatters of", room), func(tx *bbolt.Tx) error {
		names = nil
		r, err := s.room(tx, room)
		if r.chatters == nil {
			return err
		}
		return r.chatters.ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// SetChatters replaces the presence set of room with names (each exactly
// as given) in one transaction. A room that does not exist gives
// storage.ErrNoSuchRoom.
//
// Only the difference is written: the stored names and the new ones are
// walked side by side in byte order, so a join or a leave in a full room
// puts or deletes one name rather than rewriting them all (the room calls
// this after every burst of joins), and a set that has not changed
// writes nothing.
func (s *Store) SetChatters(ctx context.Context, room string, names []string) error {
	want := slices.Clone(names)
	slices.Sort(want)
	want = slices.Compact(want)
	return s.update(ctx, roomOp("set chatters of", room), func(tx *bbolt.Tx) error {
		r, err := s.room(tx, room)
		if err != nil {
			return err
		}
		var stale [][]byte // stored, not wanted
		var put []string   // wanted, not stored (or stored with a value)
		c := r.chatters.Cursor()
		k, v := c.First()
		for i := 0; k != nil || i < len(want); {
			switch {
			case k == nil || i < len(want) && want[i] < string(k):
				put = append(put, want[i])
				i++
			case i == len(want) || string(k) < want[i]:
				stale = append(stale, bytes.Clone(k))
				k, v = c.Next()
			default:
				if len(v) != 0 {
					put = append(put, want[i])
				}
				i++
				k, v = c.Next()
			}
		}
		if len(stale) == 0 && len(put) == 0 {
			return errNoChange
		}
		for _, k := range stale {
			if err := r.chatters.Delete(k); err != nil {
				return fmt.Errorf("delete %q: %w", k, err)
			}
		}
		for _, name := range put {
			if err := r.chatters.Put([]byte(name), []byte{}); err != nil {
				return fmt.Errorf("put %q: %w", name, err)
			}
		}
		return nil
	})
}
