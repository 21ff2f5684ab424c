package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"chatserver/nick"
	"chatserver/storage"
)

// Bans live in one hash, nick.Key(nickname) → expiry (RFC 3339 with
// nanoseconds, UTC), shared by every node and holding in every room.

// Ban refuses name (and every name nick.Key equates with it) in every room
// until the given time, replacing any earlier ban of that nickname. The
// expiry is stored in UTC with nanoseconds.
func (s *Store) Ban(ctx context.Context, name string, until time.Time) error {
	if err := s.begin(ctx, "ban"); err != nil {
		return err
	}
	cmd := s.client.B().Hset().Key(s.key("bans")).FieldValue().FieldValue(nick.Key(name), until.UTC().Format(time.RFC3339Nano)).Build()
	if err := s.client.Do(ctx, cmd).Error(); err != nil {
		return s.fail("ban", err)
	}
	return nil
}

// Unban lifts the ban of name's nickname (nick.Key) and reports whether a
// ban entry existed, expired or not.
func (s *Store) Unban(ctx context.Context, name string) (bool, error) {
	if err := s.begin(ctx, "unban"); err != nil {
		return false, err
	}
	n, err := s.client.Do(ctx, s.client.B().Hdel().Key(s.key("bans")).Field(nick.Key(name)).Build()).AsInt64()
	if err != nil {
		return false, s.fail("unban", err)
	}
	return n > 0, nil
}

// BanExpiry reports whether name's nickname (nick.Key) is banned at now
// and until when. A ban whose expiry is not after now reports banned false
// and a zero time. It never writes: expired entries stay until Ban
// overwrites them or Unban removes them, and are invisible meanwhile.
func (s *Store) BanExpiry(ctx context.Context, name string, now time.Time) (time.Time, bool, error) {
	const op = "ban expiry"
	if err := s.begin(ctx, op); err != nil {
		return time.Time{}, false, err
	}
	key := nick.Key(name)
	v, err := s.client.Do(ctx, s.client.B().Hget().Key(s.key("bans")).Field(key).Build()).ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, s.fail(op, err)
	}
	until, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%s: ban %q: bad expiry %q: %w", op, key, v, storage.ErrCorrupt)
	}
	if !until.After(now) {
		return time.Time{}, false, nil
	}
	return until, true, nil
}
