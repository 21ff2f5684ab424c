package bolt

import (
	"context"
	"io"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole database file, as it stands
// at one moment, to the writer that to returns, and returns how many bytes
// it wrote. to is called once, before the first byte, with the size of the
// copy in bytes; if Backup fails before that (say, the store is closed),
// to is not called. The copy is a complete chatserver database: Open
// accepts it as it is.
//
// The copy is taken in one read transaction (bbolt's Tx.WriteTo): what is
// committed meanwhile is not in it. Commits go on while it is written,
// except one that needs a larger memory map of the file (the file
// outgrows its map): that one waits until the copy is done. So a caller
// should hand Backup a writer that keeps up, and cut it off if it stalls.
// It reads the file the store has open, so it works on a read-only store,
// and even after the file was deleted under the store (see Check): the
// copy then holds what the store still has.
func (s *Store) Backup(to func(size int64) io.Writer) (int64, error) {
	var n int64
	err := s.view(context.Background(), "backup", func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(to(tx.Size()))
		return err
	})
	return n, err
}
