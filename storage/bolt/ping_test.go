package bolt

import (
	"errors"
	"testing"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

func TestPing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		spoil  func(t *testing.T, s *Store)
		wantIs error // nil: Ping succeeds
	}{
		{"an open store answers", func(*testing.T, *Store) {}, nil},
		{"a read-only store answers", nil, nil},
		{"a closed store does not", func(t *testing.T, s *Store) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrClosed},
		{"a store without its marker does not", func(t *testing.T, s *Store) {
			err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyApp, []byte("another program")) })
			if err != nil {
				t.Fatal(err)
			}
		}, storage.ErrCorrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := testPath(t)
			s := openStore(t, path, Options{})
			if tt.spoil == nil {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openStore(t, path, Options{ReadOnly: true})
			} else {
				tt.spoil(t, s)
			}
			err := s.Ping()
			if tt.wantIs == nil && err != nil || tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Ping() = %v, want %v", err, tt.wantIs)
			}
		})
	}
}
