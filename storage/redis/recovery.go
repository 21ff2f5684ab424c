package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"chatserver/storage"
)

// recoveryTTL is how long a saved recovery state is kept at most: the
// longest recovery window chatserver allows, since no client can recover
// after it.
const recoveryTTL = 24 * time.Hour

// SaveRecovery keeps state until TakeRecovery, under this node's name
// (Options.Node), replacing any kept before; a node that starts again
// under the same name takes it back. It is kept for a day at most. (A
// chat hub on this store does not call it: as a shared store, the store
// keeps the sessions and the log itself, see SaveSession and LogSince.)
func (s *Store) SaveRecovery(ctx context.Context, state storage.RecoveryState) error {
	const op = "save recovery state"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	v, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	cmd := s.client.B().Set().Key(s.recoveryKey()).Value(string(v)).Px(recoveryTTL).Build()
	if err := s.client.Do(ctx, cmd).Error(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// TakeRecovery returns the state SaveRecovery kept under this node's name
// and removes it, in one step (GETDEL); the zero state and false when
// there is none. A state that cannot be read is removed and reported as
// none: recovery is a convenience, and clients then reconnect as new ones.
func (s *Store) TakeRecovery(ctx context.Context) (storage.RecoveryState, bool, error) {
	const op = "take recovery state"
	if err := s.begin(ctx, op); err != nil {
		return storage.RecoveryState{}, false, err
	}
	v, err := s.client.Do(ctx, s.client.B().Getdel().Key(s.recoveryKey()).Build()).AsBytes()
	switch {
	case rueidis.IsRedisNil(err):
		return storage.RecoveryState{}, false, nil
	case err != nil:
		return storage.RecoveryState{}, false, s.fail(op, err)
	}
	var state storage.RecoveryState
	if json.Unmarshal(v, &state) != nil {
		return storage.RecoveryState{}, false, nil
	}
	return state, true, nil
}

// recoveryKey is the key of this node's saved recovery state.
func (s *Store) recoveryKey() string { return s.key("recovery:" + s.opts.Node) }
