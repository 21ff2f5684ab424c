//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// selfCPU is this process's CPU time so far, to the microsecond
// (getrusage), so that a short floor is measured as well as a long one.
func selfCPU() (cpuTimes, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}, fmt.Errorf("getrusage: %w", err)
	}
	return cpuTimes{User: float64(ru.Utime.Nano()) / 1e9, System: float64(ru.Stime.Nano()) / 1e9}, nil
}
