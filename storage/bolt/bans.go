package bolt

import (
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// banKey is the bans bucket key of name: bans match nicknames
// case-insensitively.
func banKey(name string) []byte { return []byte(strings.ToLower(name)) }

// Ban refuses name (case-insensitively) until the given time, replacing any
// earlier ban of that name. The expiry is stored in UTC with nanoseconds.
func (s *Store) Ban(name string, until time.Time) error {
	return s.update("ban", func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bucketBans)
		if err != nil {
			return err
		}
		return b.Put(banKey(name), []byte(until.UTC().Format(time.RFC3339Nano)))
	})
}

// Unban lifts the ban of name (case-insensitively) and reports whether a
// ban entry existed, expired or not. When there was none it writes nothing.
func (s *Store) Unban(name string) (bool, error) {
	var found bool
	err := s.update("unban", func(tx *bbolt.Tx) error {
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

// BanExpiry reports whether name (case-insensitively) is banned at now and
// until when. A ban whose expiry is not after now reports banned false and
// a zero time. It never writes (so it works on a read-only store): expired
// entries stay until Ban overwrites them or Unban removes them, and are
// invisible meanwhile.
func (s *Store) BanExpiry(name string, now time.Time) (until time.Time, banned bool, err error) {
	err = s.view("ban expiry", func(tx *bbolt.Tx) error {
		until, banned = time.Time{}, false
		b, err := bucket(tx, bucketBans)
		if b == nil {
			return err
		}
		k := banKey(name)
		v := b.Get(k)
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

// Bans returns the bans active at now, keyed by lower-cased name. The map
// is the caller's.
func (s *Store) Bans(now time.Time) (map[string]time.Time, error) {
	bans := make(map[string]time.Time)
	err := s.view("bans", func(tx *bbolt.Tx) error {
		clear(bans)
		b, err := bucket(tx, bucketBans)
		if b == nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			t, err := decodeExpiry(k, v)
			if err != nil {
				return err
			}
			if t.After(now) {
				bans[string(k)] = t
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return bans, nil
}

// decodeExpiry parses the stored expiry of ban key k.
func decodeExpiry(k, v []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("ban %q: bad expiry %q: %w", k, v, storage.ErrCorrupt)
	}
	return t, nil
}
