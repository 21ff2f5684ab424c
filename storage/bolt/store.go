package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"chatserver/storage"
)

const (
	// DefaultTimeout is how long Open waits for the file lock when
	// Options.Timeout is zero: long enough to ride out a server that is just
	// shutting down, short enough that a second `chatserver serve` on the
	// file fails within about a second instead of hanging, and that
	// `chatserver history` answers promptly when a server is running.
	DefaultTimeout = time.Second

	// SchemaVersion is the layout version this package writes and the newest
	// it reads. Open refuses files with a larger version and migrates files
	// of version 1 (see doc.go).
	SchemaVersion = 2

	// appName is stored under meta/app; it tells a chatserver file apart
	// from another program's bbolt file.
	appName = "chatserver"

	// fileMode is the mode of a newly created database file: chat history
	// and presence are private to the user running the server.
	fileMode = 0o600
)

// errNoChange is returned by an update body that found nothing to change;
// the transaction is rolled back (no write, no fsync) and the caller sees nil.
var errNoChange = errors.New("no change")

// Options tunes Open. The zero value opens read-write with the defaults.
type Options struct {
	// History is how many messages are kept (the newest N); older ones are
	// deleted in the same transaction that appends new ones. Zero means
	// storage.DefaultHistory; negative values are refused.
	History int
	// Timeout is how long Open waits for the file lock before failing with
	// an error wrapping storage.ErrLocked. Zero means DefaultTimeout;
	// negative values are refused.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock and refuses every write
	// with storage.ErrReadOnly. Several read-only stores (in this or other
	// processes) may be open at once, but not alongside a read-write one.
	// Used by `chatserver history` while no server runs.
	ReadOnly bool
	// Logger receives the reports of a read-write store's file watch (the
	// file deleted or replaced under it, an error, and back, info; see
	// Check); nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	history, err := storage.HistorySize(o.History)
	if err != nil {
		return o, err
	}
	o.History = history
	switch {
	case o.Timeout < 0:
		return o, fmt.Errorf("lock timeout must not be negative, got %s", o.Timeout)
	case o.Timeout == 0:
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Store is chatserver's storage in one bbolt file. It is safe for
// concurrent use; bbolt serialises writers, and concurrent callers are not
// batched here (the chat package owns the group-commit writer). The caller
// that opened a Store owns it and must Close it; values returned by its
// methods are copies that stay valid after the call and after Close.
type Store struct {
	path     string
	history  int
	readOnly bool
	// legacy: a read-only store of a schema-1 file, which only a
	// read-write Open migrates; its top-level messages and chatters are
	// the default room's.
	legacy bool
	// unkeyedBans: a read-only store whose file holds bans under older
	// keys, which only a read-write Open re-keys; BanExpiry looks further.
	unkeyedBans bool

	// watch compares the open file with path (read-write stores only;
	// nil for read-only ones). Close stops it.
	watch *fileWatch

	// mu guards db against Close: every call holds it shared for the whole
	// transaction, Close holds it exclusively. db is nil once closed.
	mu sync.RWMutex
	db *bbolt.DB
}

// Open opens (or, read-write, creates) the chatserver database at path.
//
// A missing or empty file is created with the chatserver layout (read-only:
// a missing file is an error wrapping os.ErrNotExist). An existing file is
// first inspected through a read-only, shared-lock open that never writes;
// if it is not a bbolt file, is damaged, or is another program's bbolt file,
// Open returns an error wrapping storage.ErrNotChatserver and the file stays
// byte-for-byte as it was. A file written by a newer schema gives
// storage.ErrNewerSchema. If another process (or another Store in this
// process) holds the file, Open gives up after opts.Timeout with an error
// wrapping storage.ErrLocked.
//
// A read-write open migrates a file of schema version 1 to the current
// layout (doc.go), and trims the history of every room to opts.History if
// a previous run kept more, in one transaction. A read-only open never
// writes: it serves a schema-1 file as it is, its history and presence
// as the default room's.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, nil)
}

// open is Open with a hook that adjusts the bbolt options of the final
// (kept) open; tests use it to provoke write errors.
func open(path string, opts Options, tune func(*bbolt.Options)) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	deadline := time.Now().Add(opts.Timeout)

	st := fileState{fresh: true}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if opts.ReadOnly {
			return nil, fmt.Errorf("no database at %s: %w", path, fs.ErrNotExist)
		}
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	case info.IsDir():
		return nil, fmt.Errorf("open %s: is a directory", path)
	case info.Size() == 0:
		if opts.ReadOnly {
			return nil, fmt.Errorf("open %s: empty file: %w", path, storage.ErrNotChatserver)
		}
	default:
		db, inspected, err := inspect(path, info.Size(), opts.Timeout, opts.ReadOnly)
		if err != nil {
			return nil, err
		}
		if opts.ReadOnly {
			return &Store{
				path:        path,
				history:     opts.History,
				readOnly:    true,
				legacy:      inspected.schema == 1,
				unkeyedBans: inspected.staleBanKeys,
				db:          db,
			}, nil
		}
		if err := db.Close(); err != nil {
			return nil, fmt.Errorf("open %s: close after inspection: %w", path, err)
		}
		st = inspected
	}

	bopts := &bbolt.Options{Timeout: lockTimeout(deadline)}
	if tune != nil {
		tune(bopts)
	}
	db, file, err := guardedOpen(path, bopts)
	if err != nil {
		return nil, openError(path, opts.Timeout, err)
	}
	s := &Store{path: path, history: opts.History, db: db}
	if st.needsPrepare(opts.History) {
		if err := s.prepare(); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	s.watch = startWatch(path, file, opts.Logger)
	return s, nil
}

// lockTimeout is what is left of the lock budget for the second (read-write)
// open. bbolt treats 0 as "wait forever", so it never returns 0.
func lockTimeout(deadline time.Time) time.Duration {
	const floor = time.Millisecond
	return max(time.Until(deadline), floor)
}

// inspect opens an existing, non-empty file read-only (shared lock, no
// writes), checks that it is a sound chatserver database and returns the
// open handle with what it found. On error the handle is closed.
func inspect(path string, size int64, timeout time.Duration, readOnly bool) (*bbolt.DB, fileState, error) {
	db, _, err := guardedOpen(path, &bbolt.Options{ReadOnly: true, Timeout: timeout, PreLoadFreelist: true})
	if err != nil {
		return nil, fileState{}, openError(path, timeout, err)
	}
	var st fileState
	err = guard(func() error {
		return db.View(func(tx *bbolt.Tx) error {
			var err error
			st, err = checkLayout(tx, size)
			return err
		})
	})
	if err == nil {
		err = consistencyCheck(db)
	}
	if err != nil {
		_ = db.Close()
		if errors.Is(err, storage.ErrNewerSchema) || errors.Is(err, storage.ErrNotChatserver) {
			return nil, fileState{}, fmt.Errorf("open %s: %w", path, err)
		}
		return nil, fileState{}, fmt.Errorf("open %s: %w (%w)", path, storage.ErrNotChatserver, err)
	}
	return db, st, nil
}

// guardedOpen is bbolt.Open turned safe for files with damaged pages: a panic
// (or memory fault on the mapped file) becomes an error, and the file handle
// bbolt opened is closed so its lock is released. The mapping of a file that
// panicked mid-open cannot be released from outside bbolt and is leaked.
// It also returns bbolt's handle of the file (which bbolt does not expose),
// for the file watch; it stays bbolt's to close.
func guardedOpen(path string, opts *bbolt.Options) (db *bbolt.DB, file *os.File, err error) {
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				_ = file.Close()
			}
			db, file, err = nil, nil, fmt.Errorf("bbolt panicked: %v: %w", r, storage.ErrNotChatserver)
		}
	}()
	db, err = bbolt.Open(path, fileMode, opts)
	if err != nil {
		return nil, nil, err
	}
	return db, file, nil
}

// openError classifies an error from bbolt.Open: a lock timeout, an error
// of the operating system (permissions, missing directory), or a file that
// is not a usable bbolt file.
func openError(path string, timeout time.Duration, err error) error {
	var pathErr *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("open %s: %w (waited %s for the lock)", path, storage.ErrLocked, timeout)
	case errors.Is(err, storage.ErrNotChatserver):
		return fmt.Errorf("open %s: %w", path, err)
	case errors.As(err, &pathErr), errors.As(err, &errno):
		return fmt.Errorf("open %s: %w", path, err)
	default:
		return fmt.Errorf("open %s: %w (%w)", path, storage.ErrNotChatserver, err)
	}
}

// guard runs fn, turning a bbolt panic or a memory fault on the mapped file
// (both mean damaged pages) into an error wrapping storage.ErrCorrupt.
// bbolt's managed transactions roll back in a deferred call, so the
// database's locks are released before guard recovers.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked: %v", storage.ErrCorrupt, r)
		}
	}()
	return fn()
}

// Close releases the file and its lock, waiting for calls in progress.
// It is idempotent: later calls return nil. Every other method returns
// storage.ErrClosed after Close.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	if s.watch != nil {
		s.watch.close()
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}

// Check reports whether the store's path still names the file it has
// open: nil, or an error wrapping ErrFileGone once the file was deleted or
// another file was put in its place. Then AppendMessages, AddRoom,
// RemoveRoom, Ban and Unban refuse with that error, since what they wrote would be lost with the
// file; reads go on. When the same file is back under the path (say,
// linked back from a hard link), Check and the writes succeed again. The
// answer is at most FileCheckInterval old. A read-only store answers nil.
func (s *Store) Check() error {
	if s.watch == nil {
		return nil
	}
	return s.watch.current()
}

// begun returns the error a call named op gives when ctx is already done,
// or nil. The context is looked at only when a call begins: bbolt's
// transactions cannot be interrupted, so one that has begun runs to its
// end.
func begun(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// durable refuses a write that would be acknowledged as durable while the
// file is gone (Check), and one whose ctx is done. op names the call in
// errors.
func (s *Store) durable(ctx context.Context, op string) error {
	if err := begun(ctx, op); err != nil {
		return err
	}
	if err := s.Check(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// view runs fn in a read-only transaction unless ctx is done. op names
// the call in errors.
func (s *Store) view(ctx context.Context, op string, fn func(tx *bbolt.Tx) error) error {
	if err := begun(ctx, op); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return fmt.Errorf("%s: %w", op, storage.ErrClosed)
	}
	if err := guard(func() error { return s.db.View(fn) }); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// update runs fn in a read-write transaction unless ctx is done,
// committed (one fsync) if fn returns nil. If fn returns errNoChange the
// transaction is rolled back without writing and update returns nil. op
// names the call in errors.
func (s *Store) update(ctx context.Context, op string, fn func(tx *bbolt.Tx) error) error {
	if err := begun(ctx, op); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.writable(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err := guard(func() error { return s.db.Update(fn) })
	switch {
	case err == nil, errors.Is(err, errNoChange):
		return nil
	case errors.Is(err, berrors.ErrDatabaseReadOnly):
		return fmt.Errorf("%s: %w", op, storage.ErrReadOnly)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// writable reports why a write cannot start; s.mu must be held.
func (s *Store) writable() error {
	switch {
	case s.db == nil:
		return storage.ErrClosed
	case s.readOnly:
		return storage.ErrReadOnly
	}
	return nil
}

// bucket returns the named top-level bucket. A file opened read-only may
// lack it (nil, nil: read as empty); in a write it is an error, since a
// read-write Open creates every bucket of the layout.
func bucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	if b := tx.Bucket(name); b != nil {
		return b, nil
	}
	if tx.Writable() {
		return nil, fmt.Errorf("bucket %s missing: %w", name, storage.ErrCorrupt)
	}
	return nil, nil
}

// messageKey is the bucket key of message id: 8 bytes big-endian, so that
// byte order is numeric order.
func messageKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}
