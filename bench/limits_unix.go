//go:build unix

package bench

import "syscall"

// fileLimit returns the process's RLIMIT_NOFILE, soft and hard.
func fileLimit() (soft, hard uint64, ok bool) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, false
	}
	return uint64(l.Cur), uint64(l.Max), true
}
