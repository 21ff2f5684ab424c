package bolt

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// Rooms returns every room, storage.DefaultRoom first and the others by
// name, each with the number of messages it keeps. A read-only store of a
// schema-1 file has just the default room, created at the zero time.
func (s *Store) Rooms(ctx context.Context) ([]storage.Room, error) {
	var out []storage.Room
	err := s.view(ctx, "rooms", func(tx *bbolt.Tx) error {
		out = nil
		def := storage.Room{Name: storage.DefaultRoom}
		if s.legacy {
			def.Messages = count(tx.Bucket(bucketMessages))
			out = []storage.Room{def}
			return nil
		}
		rooms, err := bucket(tx, bucketRooms)
		if rooms == nil {
			if err != nil {
				return err
			}
			out = []storage.Room{def}
			return nil
		}
		names, err := roomNames(rooms)
		if err != nil {
			return err
		}
		if len(names) == 0 || names[0] != storage.DefaultRoom {
			// A file opened read-only may lack the default room's bucket
			// (a read-write Open creates it): it is there, and empty.
			out = append(out, def)
		}
		for _, name := range names {
			r, err := readRoom(name, rooms.Bucket([]byte(name)))
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AddRoom adds the room r, without messages or chatters, in one
// transaction. r.Name must pass storage.CheckRoomName (the error wraps
// storage.ErrBadRoomName) and name no room that exists
// (storage.ErrRoomExists, which storage.DefaultRoom always does). The
// room's creation time is r.Created in UTC, or now if r.Created is zero;
// r.Messages is ignored. While the file is gone (Check), nothing is
// written and the error wraps ErrFileGone.
func (s *Store) AddRoom(ctx context.Context, r storage.Room) error {
	op := roomOp("add", r.Name)
	if err := begun(ctx, op); err != nil {
		return err
	}
	if err := storage.CheckRoomName(r.Name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if r.Name == storage.DefaultRoom {
		return fmt.Errorf("%s: %w", op, storage.ErrRoomExists)
	}
	if err := s.durable(ctx, op); err != nil {
		return err
	}
	created := r.Created
	if created.IsZero() {
		created = time.Now()
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		rooms, err := bucket(tx, bucketRooms)
		if err != nil {
			return err
		}
		if rooms.Get([]byte(r.Name)) != nil || rooms.Bucket([]byte(r.Name)) != nil {
			return storage.ErrRoomExists
		}
		_, err = createRoom(rooms, r.Name, r.Topic, created)
		return err
	})
}

// RemoveRoom deletes the room name with its history and presence set in
// one transaction. storage.DefaultRoom cannot be removed
// (storage.ErrDefaultRoom); a room that does not exist gives
// storage.ErrNoSuchRoom. Bans are global and stay. A room added later
// under the same name is a new room: its IDs begin at 1 again. While the
// file is gone (Check), nothing is written and the error wraps
// ErrFileGone.
func (s *Store) RemoveRoom(ctx context.Context, name string) error {
	op := roomOp("remove", name)
	if err := begun(ctx, op); err != nil {
		return err
	}
	if name == storage.DefaultRoom {
		return fmt.Errorf("%s: %w", op, storage.ErrDefaultRoom)
	}
	if err := s.durable(ctx, op); err != nil {
		return err
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		if _, err := s.room(tx, name); err != nil {
			return err
		}
		rooms := tx.Bucket(bucketRooms)
		if err := rooms.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("delete bucket rooms/%s: %w", name, err)
		}
		return nil
	})
}

// roomOp names a call on a room in errors: "append messages to room
// games". A name that is not a room name is quoted.
func roomOp(verb, room string) string {
	if room != storage.DefaultRoom && storage.CheckRoomName(room) != nil {
		room = strconv.Quote(room)
	}
	return verb + " room " + room
}

// roomData is one room's buckets within a transaction. messages and
// chatters are nil when a file opened read-only lacks them (read as empty).
type roomData struct {
	// b is the room's bucket, rooms/<name>; nil for the default room of
	// a schema-1 file, whose buckets are top-level.
	b                  *bbolt.Bucket
	messages, chatters *bbolt.Bucket
}

// room finds the buckets of room name: storage.ErrNoSuchRoom if there is no
// such room (or name cannot name one). A file opened read-only may lack the
// default room's buckets, which are then read as empty; in a write their
// absence is an error wrapping storage.ErrCorrupt, since a read-write Open
// creates them.
func (s *Store) room(tx *bbolt.Tx, name string) (roomData, error) {
	if name != storage.DefaultRoom && storage.CheckRoomName(name) != nil {
		return roomData{}, storage.ErrNoSuchRoom
	}
	if s.legacy {
		if name != storage.DefaultRoom {
			return roomData{}, storage.ErrNoSuchRoom
		}
		return roomData{messages: tx.Bucket(bucketMessages), chatters: tx.Bucket(bucketChatters)}, nil
	}
	var b *bbolt.Bucket
	if rooms := tx.Bucket(bucketRooms); rooms != nil {
		b = rooms.Bucket([]byte(name))
	}
	switch {
	case b == nil && name != storage.DefaultRoom:
		return roomData{}, storage.ErrNoSuchRoom
	case b == nil && tx.Writable():
		return roomData{}, fmt.Errorf("bucket rooms/%s missing: %w", name, storage.ErrCorrupt)
	case b == nil:
		return roomData{}, nil
	}
	r := roomData{b: b, messages: b.Bucket(bucketMessages), chatters: b.Bucket(bucketChatters)}
	if tx.Writable() && (r.messages == nil || r.chatters == nil) {
		return roomData{}, fmt.Errorf("a bucket of rooms/%s is missing: %w", name, storage.ErrCorrupt)
	}
	return r, nil
}

// roomNames returns the names of the rooms in rooms, storage.DefaultRoom
// first (if it is there) and the others in byte order, which is the order
// of names for room names.
func roomNames(rooms *bbolt.Bucket) ([]string, error) {
	var names []string
	hasDefault := false
	err := rooms.ForEach(func(k, v []byte) error {
		switch {
		case v != nil:
			return fmt.Errorf("rooms/%q is a value, not a room's bucket: %w", k, storage.ErrCorrupt)
		case string(k) == storage.DefaultRoom:
			hasDefault = true
		default:
			names = append(names, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if hasDefault {
		names = append([]string{storage.DefaultRoom}, names...)
	}
	return names, nil
}

// readRoom reads the room name from its bucket b.
func readRoom(name string, b *bbolt.Bucket) (storage.Room, error) {
	r := storage.Room{Name: name, Topic: string(b.Get(keyTopic)), Messages: count(b.Bucket(bucketMessages))}
	if v := b.Get(keyCreated); v != nil {
		t, err := decodeCreated(v)
		if err != nil {
			return storage.Room{}, fmt.Errorf("room %s: %w (%w)", name, storage.ErrCorrupt, err)
		}
		if !t.IsZero() {
			r.Created = t
		}
	}
	return r, nil
}

// count is the number of entries of b (nil: none).
func count(b *bbolt.Bucket) int {
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}
