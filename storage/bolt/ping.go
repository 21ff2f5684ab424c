package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// Ping reports whether the store answers: a read transaction that finds
// the chatserver marker, as cheap as a read gets (no write, no fsync). It
// returns nil, or an error wrapping storage.ErrClosed after Close, or
// storage.ErrCorrupt when the pages cannot be read. Whether the file is
// still in place is Check's question.
func (s *Store) Ping() error {
	return s.view(context.Background(), "ping", func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || !bytes.Equal(meta.Get(keyApp), []byte(appName)) {
			return fmt.Errorf("the chatserver marker is missing: %w", storage.ErrCorrupt)
		}
		return nil
	})
}
