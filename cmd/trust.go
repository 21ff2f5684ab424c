package cmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"chatserver/internal/owner"
	"chatserver/web/admin"
)

// worldReadable is the permission bit that lets every user read a file.
const worldReadable fs.FileMode = 0o004

// exposure is one way in which the database file is open to others.
type exposure struct {
	line string // the warning, one sentence naming the file, for a command's standard error
	msg  string // what is wrong, for serve's log, whose line names the file
	args []any  // the log line's other attributes
}

// exposures returns the ways in which the database file at path is open
// to others: owned by another user, or readable by every user. A missing
// file has none; the commands report it themselves.
func exposures(path string) []exposure {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	var found []exposure
	if uid, ok := owner.Of(fi); ok && int64(uid) != int64(os.Geteuid()) {
		const risk = "that user can read and change the chat history and bans"
		found = append(found, exposure{
			line: fmt.Sprintf("%s is owned by %s, not by you; %s", path, owner.Describe(uid), risk),
			msg:  "database file owned by another user; " + risk,
			args: []any{"owner", owner.Describe(uid)},
		})
	}
	if perm := fi.Mode().Perm(); perm&worldReadable != 0 {
		found = append(found, exposure{
			line: fmt.Sprintf("%s is readable by every user (mode %04o); chmod o-r %s keeps the chat history private", path, perm, path),
			msg:  "database file readable by every user; chmod o-r keeps the chat history private",
			args: []any{"mode", fmt.Sprintf("%04o", perm)},
		})
	}
	return found
}

// warnExposed writes a one-line warning to w for each of the database
// file's exposures.
func warnExposed(w io.Writer, path string) {
	for _, e := range exposures(path) {
		fmt.Fprintf(w, "chatserver: warning: %s\n", e.line)
	}
}

// logExposed logs a warning for each of the database file's exposures.
func logExposed(logger *slog.Logger, path string) {
	for _, e := range exposures(path) {
		logger.Warn(e.msg, append([]any{"file", path}, e.args...)...)
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
