package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/nick"
	"chatserver/storage"
)

// banKey is the bans bucket key of name: bans match the same nickname
// (nick.Key), whatever its case.
func banKey(name string) []byte { return []byte(nick.Key(name)) }

// Ban refuses name (and every name nick.Key equates with it) in every
// room until the given time, replacing any earlier ban of that nickname. The expiry is
// stored in UTC with nanoseconds. While the file is gone (Check), nothing
// is written and the error wraps ErrFileGone.
func (s *Store) Ban(ctx context.Context, name string, until time.Time) error {
	if err := s.durable(ctx, "ban"); err != nil {
		return err
	}
	return s.update(ctx, "ban", func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bucketBans)
		if err != nil {
			return err
		}
		return b.Put(banKey(name), []byte(until.UTC().Format(time.RFC3339Nano)))
	})
}

// Unban lifts the ban of name's nickname (nick.Key) and reports whether a
// ban entry existed, expired or not. When there was none it writes nothing.
// While the file is gone (Check), it refuses like Ban.
func (s *Store) Unban(ctx context.Context, name string) (bool, error) {
	if err := s.durable(ctx, "unban"); err != nil {
		return false, err
	}
	var found bool
	err := s.update(ctx, "unban", func(tx *bbolt.Tx) error {
		found = false
		b, err := bucket(tx, bucketBans)
		if err != nil {
			return err
		}
		if b.Get(banKey(name)) == nil {
			return errNoChange
		}
		found = true
		return b.Delete(banKey(name))
	})
	if err != nil {
		return false, err
	}
	return found, nil
}

// BanExpiry reports whether name's nickname (nick.Key) is banned at now
// and until when. Bans hold in every room. A ban whose expiry is not after now reports banned false and
// a zero time. It never writes (so it works on a read-only store): expired
// entries stay until Ban overwrites them or Unban removes them, and are
// invisible meanwhile.
func (s *Store) BanExpiry(ctx context.Context, name string, now time.Time) (until time.Time, banned bool, err error) {
	err = s.view(ctx, "ban expiry", func(tx *bbolt.Tx) error {
		until, banned = time.Time{}, false
		b, err := bucket(tx, bucketBans)
		if b == nil {
			return err
		}
		k := banKey(name)
		var v []byte
		if s.unkeyedBans {
			k, v = findBan(b, k)
		} else {
			v = b.Get(k)
		}
		if v == nil {
			return nil
		}
		t, err := decodeExpiry(k, v)
		if err != nil {
			return err
		}
		if t.After(now) {
			until, banned = t, true
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return until, banned, nil
}

// findBan looks through every ban for those of key, for a read-only store
// whose file still has bans under older keys (see rekeyBans): of the
// entries whose stored key has key as its nick.Key, it returns the one
// with the latest expiry (an unreadable one only when no other matches),
// or nils.
func findBan(b *bbolt.Bucket, key []byte) (k, v []byte) {
	var latest time.Time
	_ = b.ForEach(func(sk, sv []byte) error {
		if !bytes.Equal(banKey(string(sk)), key) {
			return nil
		}
		t, err := decodeExpiry(sk, sv)
		if v == nil || err == nil && t.After(latest) {
			k, v, latest = sk, sv, t
		}
		return nil
	})
	return k, v
}

// rekeyBans moves every ban stored under another key than its nick.Key
// (a file written when bans were keyed by strings.ToLower, or before
// nick.Key's definition grew stronger) to that key; a read-write Open runs
// it when inspection found such a key (staleBanKey). When two entries
// meet under one key, the later expiry is kept: no ban is lost, and a
// nickname banned twice stays banned for the longer time.
func rekeyBans(b *bbolt.Bucket) error {
	type move struct{ from, to, value []byte }
	var moves []move
	if err := b.ForEach(func(k, v []byte) error {
		if staleBanKey(k) {
			moves = append(moves, move{bytes.Clone(k), banKey(string(k)), bytes.Clone(v)})
		}
		return nil
	}); err != nil {
		return err
	}
	for _, m := range moves {
		if err := b.Delete(m.from); err != nil {
			return fmt.Errorf("re-key ban %q: %w", m.from, err)
		}
		if held := b.Get(m.to); held != nil && !laterExpiry(m.to, m.value, held) {
			continue
		}
		if err := b.Put(m.to, m.value); err != nil {
			return fmt.Errorf("re-key ban %q as %q: %w", m.from, m.to, err)
		}
	}
	return nil
}

// laterExpiry reports whether the stored expiry v expires after held (an
// unreadable one never does, so a readable ban wins).
func laterExpiry(k, v, held []byte) bool {
	t, err := decodeExpiry(k, v)
	if err != nil {
		return false
	}
	h, err := decodeExpiry(k, held)
	return err != nil || t.After(h)
}

// staleBanKey reports whether ban key k is not its own nick.Key.
func staleBanKey(k []byte) bool { return !bytes.Equal(banKey(string(k)), k) }

// decodeExpiry parses the stored expiry of ban key k.
func decodeExpiry(k, v []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("ban %q: bad expiry %q: %w", k, v, storage.ErrCorrupt)
	}
	return t, nil
}
