package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// keyRecovery is the meta key of the recovery state a clean shutdown
// saved: one JSON document (storage.RecoveryState), removed when the next
// start takes it, so that a file whose server crashed holds none.
var keyRecovery = []byte("recovery")

// SaveRecovery keeps state in the file until TakeRecovery, replacing any
// kept before, in one transaction.
func (s *Store) SaveRecovery(ctx context.Context, state storage.RecoveryState) error {
	if err := s.durable(ctx, "save recovery state"); err != nil {
		return err
	}
	v, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("save recovery state: encode: %w", err)
	}
	return s.update(ctx, "save recovery state", func(tx *bbolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put(keyRecovery, v)
	})
}

// TakeRecovery returns the state SaveRecovery kept and removes it from the
// file, in one transaction; the zero state and false when there is none.
// A read-only store returns it without removing it. A state that cannot
// be read is removed and reported as none: recovery is a convenience, and
// clients then reconnect as new ones.
func (s *Store) TakeRecovery(ctx context.Context) (storage.RecoveryState, bool, error) {
	var state storage.RecoveryState
	found := false
	read := func(tx *bbolt.Tx) error {
		state, found = storage.RecoveryState{}, false
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		v := meta.Get(keyRecovery)
		if v == nil {
			return nil
		}
		if json.Unmarshal(v, &state) == nil {
			found = true
		} else {
			state = storage.RecoveryState{}
		}
		if !tx.Writable() {
			return nil
		}
		return meta.Delete(keyRecovery)
	}
	var err error
	if s.readOnly {
		err = s.view(ctx, "take recovery state", read)
	} else {
		err = s.update(ctx, "take recovery state", read)
	}
	if err != nil {
		return storage.RecoveryState{}, false, err
	}
	return state, found, nil
}
