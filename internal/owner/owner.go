// Package owner tells who owns a file or runs the other end of a Unix
// socket, and whether that is someone this process may trust: itself or
// root. The admin socket and the commands use it to refuse a socket
// planted by another user and to warn about a database file that another
// user owns.
package owner

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// Of returns the user id that owns the file described by fi, and false on
// systems whose file information carries none.
func Of(fi fs.FileInfo) (uint32, bool) { return fileUID(fi) }

// Trusted reports whether uid is this process's effective user or root,
// the only users whose socket or file this process relies on.
func Trusted(uid uint32) bool {
	return uid == 0 || int64(uid) == int64(os.Geteuid())
}

// Describe names uid for a message: "uid 1000 (alice)", or "uid 1000"
// when the system knows no such user.
func Describe(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return fmt.Sprintf("uid %s (%s)", id, u.Username)
	}
	return "uid " + id
}
