package redis

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"chatserver/storage"
)

// Rooms returns every room, storage.DefaultRoom first and the others by
// name, each with the number of messages it keeps, read at one moment. The
// default room is listed even when Redis lost it (ErrDataGone): it always
// exists, and the next append makes it again.
func (s *Store) Rooms(ctx context.Context) ([]storage.Room, error) {
	const op = "rooms"
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	flat, err := s.run(ctx, scriptRooms, []string{s.key("rooms")}, s.opts.Prefix).ToArray()
	if err != nil {
		return nil, s.fail(op, err)
	}
	if len(flat)%4 != 0 {
		return nil, fmt.Errorf("%s: %d values, not rooms of 4: %w", op, len(flat), storage.ErrCorrupt)
	}
	out := make([]storage.Room, 0, len(flat)/4+1)
	for i := 0; i < len(flat); i += 4 {
		var r storage.Room
		var created string
		var n int64
		if r.Name, err = flat[i].ToString(); err == nil {
			if r.Topic, err = flat[i+1].ToString(); err == nil {
				if created, err = flat[i+2].ToString(); err == nil {
					n, err = flat[i+3].AsInt64()
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w (%w)", op, storage.ErrCorrupt, err)
		}
		if !validRoom(r.Name) {
			return nil, fmt.Errorf("%s: the rooms set holds %q: %w", op, r.Name, storage.ErrCorrupt)
		}
		if r.Created, err = decodeCreated(created); err != nil {
			return nil, fmt.Errorf("%s: room %s: %w (%w)", op, r.Name, storage.ErrCorrupt, err)
		}
		r.Messages = int(n)
		out = append(out, r)
	}
	if !slices.ContainsFunc(out, func(r storage.Room) bool { return r.Name == storage.DefaultRoom }) {
		out = append(out, storage.Room{Name: storage.DefaultRoom})
	}
	slices.SortFunc(out, func(a, b storage.Room) int {
		switch {
		case a.Name == b.Name:
			return 0
		case a.Name == storage.DefaultRoom:
			return -1
		case b.Name == storage.DefaultRoom:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// AddRoom adds the room r, without messages or chatters and with a new
// log, in one step, and says so on the control channel (a Batch with
// RoomsChanged for every subscription). r.Name must pass storage.CheckRoomName (the error
// wraps storage.ErrBadRoomName) and name no room that exists
// (storage.ErrRoomExists, which storage.DefaultRoom always does). The
// room's creation time is r.Created in UTC, or now if r.Created is zero;
// r.Messages is ignored.
func (s *Store) AddRoom(ctx context.Context, r storage.Room) error {
	op := roomOp("add", r.Name)
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if err := storage.CheckRoomName(r.Name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if r.Name == storage.DefaultRoom {
		return fmt.Errorf("%s: %w", op, storage.ErrRoomExists)
	}
	created := r.Created
	if created.IsZero() {
		created = time.Now()
	}
	err := s.run(ctx, scriptAddRoom, []string{s.key("rooms"), s.roomKey(r.Name)},
		r.Name, r.Topic, created.UTC().Format(time.RFC3339Nano), newEpoch(), s.control()).Error()
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// RemoveRoom deletes the room name with its history, log, claims and
// kicks in one step, and says so on the control channel (a Batch with
// RoomsChanged for every subscription). Its saved sessions are left to
// expire: a room added again under the name has a new epoch, so their
// positions mean nothing there. storage.DefaultRoom cannot be removed (storage.ErrDefaultRoom);
// a room that does not exist gives storage.ErrNoSuchRoom. Bans are global
// and stay. A room added later under the same name is a new room: its IDs
// begin at 1 again, its log has a new epoch.
func (s *Store) RemoveRoom(ctx context.Context, name string) error {
	op := roomOp("remove", name)
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if name == storage.DefaultRoom {
		return fmt.Errorf("%s: %w", op, storage.ErrDefaultRoom)
	}
	if !validRoom(name) {
		return fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if err := s.run(ctx, scriptRemoveRoom, []string{s.key("rooms"), s.roomKey(name)}, name, s.control(), s.opts.Prefix).Error(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// decodeCreated parses a room's stored creation time; "" and the zero
// time are the zero time (the default room of data imported from a file
// written before rooms existed).
func decodeCreated(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad creation time %q", v)
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}
