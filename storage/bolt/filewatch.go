package bolt

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// FileCheckInterval is how often a read-write Store checks that its path
// still names the file it has open, and how old the last check may be
// when a write that must be durable starts: a file deleted or replaced
// under a running server is noticed within seconds, for two stat calls
// every few seconds.
const FileCheckInterval = 2 * time.Second

// ErrFileGone is wrapped by Check, AppendMessages, AddRoom, RemoveRoom,
// Ban and Unban while the store's path no longer names the file it has
// open: the file was deleted (or another file put in its place), so what
// is written to it would be lost with it.
var ErrFileGone = errors.New("deleted or replaced while open")

// fileWatch compares a read-write store's open file with its path, every
// FileCheckInterval and when asked (current). It owns one goroutine,
// stopped by close.
type fileWatch struct {
	path string
	file *os.File // bbolt's handle of the file; fstat works after an unlink
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex // guards the fields below
	checked time.Time  // when compare last ran
	err     error      // what it found: nil, or an error wrapping ErrFileGone
}

// startWatch watches file, just opened at path, until close.
func startWatch(path string, file *os.File, logger *slog.Logger) *fileWatch {
	w := &fileWatch{
		path:    path,
		file:    file,
		log:     logger,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		checked: time.Now(),
	}
	go w.run()
	return w
}

func (w *fileWatch) run() {
	defer close(w.done)
	t := time.NewTicker(FileCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.check()
		case <-w.stop:
			return
		}
	}
}

// close stops the goroutine and waits for it; call it once, before the
// file is closed.
func (w *fileWatch) close() {
	close(w.stop)
	<-w.done
}

// current returns the state of the file, checking it again if the last
// check is FileCheckInterval old or older.
func (w *fileWatch) current() error {
	w.mu.Lock()
	fresh, err := time.Since(w.checked) < FileCheckInterval, w.err
	w.mu.Unlock()
	if fresh {
		return err
	}
	return w.check()
}

// check compares the file with the path, records the result and logs a
// change: once when the file goes, once when it comes back.
func (w *fileWatch) check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	known, err := w.compare()
	if !known {
		err = w.err
	}
	switch {
	case err != nil && w.err == nil:
		w.log.Error("database file deleted or replaced; messages and bans are refused until it is back under its name",
			"file", w.path, "err", err,
			"hint", "put it back, for example from a hard link; a restart would begin a new, empty file")
	case err == nil && w.err != nil:
		w.log.Info("database file back; messages and bans are stored again", "file", w.path)
	}
	w.err, w.checked = err, time.Now()
	return err
}

// compare reports whether the path names the open file (nil) or not (an
// error wrapping ErrFileGone). known is false when it cannot tell: a stat
// failed for another reason than the name being gone, which says nothing
// about the file itself, and the last result stands.
func (w *fileWatch) compare() (known bool, err error) {
	open, err := w.file.Stat()
	if err != nil {
		return false, nil
	}
	named, err := os.Stat(w.path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return true, fmt.Errorf("database file %s was %w (no file has that name now)", w.path, ErrFileGone)
	case err != nil:
		return false, nil
	case !os.SameFile(open, named):
		return true, fmt.Errorf("database file %s was %w (that name is another file now)", w.path, ErrFileGone)
	}
	return true, nil
}
