package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"

	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/web/admin"
)

// keepAll is the history size passed when history and kick open the file
// themselves: a read-write open trims to Options.History, and a kick must
// never delete messages that the server keeps.
const keepAll = math.MaxInt

// openForServe opens the database for `serve`, turning the store's
// sentinel errors into plain sentences. Like every command, it waits
// bolt.DefaultTimeout for the file lock. logger receives the store's
// reports of the file deleted or replaced under it.
func openForServe(path string, history int, logger *slog.Logger) (*bolt.Store, error) {
	st, err := bolt.Open(path, bolt.Options{History: history, Logger: logger})
	if errors.Is(err, storage.ErrLocked) {
		return nil, plainf(err, "%s is in use by another chatserver (is one already running?)", path)
	}
	return st, openError(path, err)
}

// openOffline opens the database for `history`, `kick`, `room` or
// `backup` when no server answered on the admin socket. A missing file is not created.
func openOffline(path string, readOnly bool) (*bolt.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, plainf(err, "no database at %s (no chatserver has run with it yet; pass --db or set %s)", path, envName("db"))
	}
	st, err := bolt.Open(path, bolt.Options{History: keepAll, ReadOnly: readOnly})
	if errors.Is(err, storage.ErrLocked) {
		return nil, plainf(err, "%s is in use by a chatserver whose admin socket %s cannot be reached (is it still starting, or run by another user?)",
			path, admin.SocketPath(path))
	}
	return st, openError(path, err)
}

// noServer reports whether err from admin.Dial means that the file itself
// must be used: no server answers, or the socket path is too long to reach
// from here (then a running server holds the lock, and openOffline says
// it cannot be reached).
func noServer(err error) bool {
	return errors.Is(err, admin.ErrNoServer) || errors.Is(err, admin.ErrPathTooLong)
}

// openError explains the errors of bolt.Open other than ErrLocked; nil
// stays nil.
func openError(path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotChatserver):
		return plainf(err, "%s is not a chatserver database (another program's file, or damaged); it was left untouched", path)
	case errors.Is(err, storage.ErrNewerSchema):
		return plainf(err, "%s was written by a newer chatserver; upgrade chatserver or use another file", path)
	case errors.Is(err, storage.ErrCorrupt):
		return plainf(err, "%s is damaged; it was left untouched (restore a backup or use another file)", path)
	case errors.Is(err, fs.ErrPermission):
		return plainf(err, "no permission to open %s", path)
	default:
		return fmt.Errorf("open database: %w", err)
	}
}
