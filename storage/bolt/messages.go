package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// AppendMessages stores msgs in room in one read-write transaction (one
// fsync), assigning each the next ID of the sequence of the room's
// messages bucket (strictly increasing within the room, never reused,
// continuing across restarts) and trimming the room to its newest History
// messages in the same transaction. It returns new copies of the messages
// with ID set and Time converted to UTC; msgs is not modified. Either all
// of msgs are stored or none is. A room that does not exist gives
// storage.ErrNoSuchRoom. While the file is gone (Check), nothing is
// written and the error wraps ErrFileGone.
//
// Concurrent callers are not batched here: the chat package owns the
// group-commit writer and hands it a whole batch. An empty msgs writes
// nothing. A write error (disk full, read-only file system) is returned.
func (s *Store) AppendMessages(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, error) {
	op := roomOp("append messages to", room)
	if err := s.durable(ctx, op); err != nil {
		return nil, err
	}
	out := make([]storage.Message, len(msgs))
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		r, err := s.room(tx, room)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return errNoChange
		}
		b := r.messages
		for i, m := range msgs {
			id, err := b.NextSequence()
			if err != nil {
				return fmt.Errorf("next id: %w", err)
			}
			m.ID = id
			m.Time = m.Time.UTC()
			v, err := json.Marshal(m)
			if err != nil {
				return fmt.Errorf("encode message %d: %w", id, err)
			}
			if err := b.Put(messageKey(id), v); err != nil {
				return fmt.Errorf("put message %d: %w", id, err)
			}
			out[i] = m
		}
		return trim(b, s.history)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecentMessages returns at most n of the newest messages stored in room,
// oldest first; n <= 0 returns all that are kept. A room that does not
// exist gives storage.ErrNoSuchRoom. The slice is the caller's.
func (s *Store) RecentMessages(ctx context.Context, room string, n int) ([]storage.Message, error) {
	var out []storage.Message
	err := s.view(ctx, roomOp("recent messages of", room), func(tx *bbolt.Tx) error {
		out = nil
		r, err := s.room(tx, room)
		if r.messages == nil {
			return err
		}
		c := r.messages.Cursor()
		for k, v := c.Last(); k != nil && (n <= 0 || len(out) < n); k, v = c.Prev() {
			m, err := decodeMessage(k, v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		slices.Reverse(out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeMessage decodes one entry of the messages bucket. The key is the
// authority for the ID. json.Unmarshal copies strings, so the result stays
// valid after the transaction.
func decodeMessage(k, v []byte) (storage.Message, error) {
	if len(k) != 8 {
		return storage.Message{}, fmt.Errorf("message key %x is not 8 bytes: %w", k, storage.ErrCorrupt)
	}
	id := binary.BigEndian.Uint64(k)
	var m storage.Message
	if err := json.Unmarshal(v, &m); err != nil {
		return storage.Message{}, fmt.Errorf("decode message %d: %w (%w)", id, storage.ErrCorrupt, err)
	}
	m.ID = id
	return m, nil
}

// trim deletes all but the newest keep messages of b.
//
// Keys are assigned from b's sequence without gaps (a failed transaction
// rolls the sequence back too) and removed oldest first, so the kept keys
// are exactly the IDs in (Sequence-keep, Sequence]: trim walks only the keys
// it deletes, however long the history is.
func trim(b *bbolt.Bucket, keep int) error {
	seq := b.Sequence()
	if seq <= uint64(keep) {
		return nil
	}
	cutoff := seq - uint64(keep)
	var stale []uint64
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("message key %x is not 8 bytes: %w", k, storage.ErrCorrupt)
		}
		id := binary.BigEndian.Uint64(k)
		if id > cutoff {
			break
		}
		stale = append(stale, id)
	}
	// Deleting while a cursor walks forward can skip keys in bbolt, so the
	// keys are collected first.
	for _, id := range stale {
		if err := b.Delete(messageKey(id)); err != nil {
			return fmt.Errorf("trim message %d: %w", id, err)
		}
	}
	return nil
}
