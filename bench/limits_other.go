//go:build !unix

package bench

// fileLimit reports no limit where there is no RLIMIT_NOFILE (Windows).
func fileLimit() (soft, hard uint64, ok bool) { return 0, 0, false }
