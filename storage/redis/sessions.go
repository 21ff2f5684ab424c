package redis

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/rueidis"

	"chatserver/nick"
	"chatserver/storage"
)

// A lost client's session is the hash P room:NAME:session:PID: its JSON
// (session), nick.Key of its name (key) and when it was saved (saved,
// Unix µs by the server's clock), expiring at the session's Expires.

// maxPID bounds the pid a session is kept and looked up under.
const maxPID = 128

// SaveSession keeps s in room until s.Expires, for whichever node the
// client comes back to, replacing one kept under the same PID; one that
// has expired already is not kept, nor one whose nickname is no longer
// claimed in the room with its token (kicked before the save, say: it
// could only be refused). A kick of its nickname after it was saved ends
// it (TakeSession). A room that does not exist gives
// storage.ErrNoSuchRoom.
func (s *Store) SaveSession(ctx context.Context, room string, sess storage.Session) error {
	op := roomOp("save a session in", room)
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if !validRoom(room) {
		return fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if sess.PID == "" || len(sess.PID) > maxPID {
		return fmt.Errorf("%s: the session's pid must be 1 to %d bytes, got %d", op, maxPID, len(sess.PID))
	}
	v, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	err = s.run(ctx, scriptSaveSession, nil, s.opts.Prefix, room, isDefault(room), sess.PID, nick.Key(sess.Name),
		string(v), fmt.Sprint(sess.Expires.UnixMilli()), sess.Token).Error()
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// TakeSession returns the session pid of room and forgets it, in one step
// (one try); false when there is none, it expired, or its nickname was
// kicked from the room after it was saved. A session that cannot be read
// is forgotten and reported as none: the client then joins as a new one.
// A room that does not exist gives storage.ErrNoSuchRoom.
func (s *Store) TakeSession(ctx context.Context, room, pid string) (storage.Session, bool, error) {
	op := roomOp("take a session of", room)
	if err := s.begin(ctx, op); err != nil {
		return storage.Session{}, false, err
	}
	if !validRoom(room) {
		return storage.Session{}, false, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if pid == "" || len(pid) > maxPID {
		return storage.Session{}, false, nil
	}
	v, err := s.run(ctx, scriptTakeSession, nil, s.opts.Prefix, room, isDefault(room), pid).AsBytes()
	switch {
	case rueidis.IsRedisNil(err):
		return storage.Session{}, false, nil
	case err != nil:
		return storage.Session{}, false, s.fail(op, err)
	}
	var sess storage.Session
	if json.Unmarshal(v, &sess) != nil {
		return storage.Session{}, false, nil
	}
	return sess, true, nil
}
