package cmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"chatserver/internal/owner"
	"chatserver/web/admin"
)

// worldReadable is the permission bit that lets every user read a file.
const worldReadable fs.FileMode = 0o004

// warnExposed writes a one-line warning to w for each way in which the
// database file at path is open to others: owned by another user, or
// readable by every user. A missing file gives no warning; the commands
// report it themselves.
func warnExposed(w io.Writer, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	if uid, ok := owner.Of(fi); ok && int64(uid) != int64(os.Geteuid()) {
		fmt.Fprintf(w, "chatserver: warning: %s is owned by %s, not by you; that user can read and change the chat history and bans\n",
			path, owner.Describe(uid))
	}
	if perm := fi.Mode().Perm(); perm&worldReadable != 0 {
		fmt.Fprintf(w, "chatserver: warning: %s is readable by every user (mode %04o); chmod o-r %s keeps the chat history private\n",
			path, perm, path)
	}
}

// reachError words a failure to reach the running server. A socket
// served by another user is refused in its own words: it names that user.
func reachError(err error) error {
	var untrusted *admin.UntrustedError
	if errors.As(err, &untrusted) {
		return plainf(err, "%s", untrusted)
	}
	return fmt.Errorf("reach the running chatserver: %w", err)
}
