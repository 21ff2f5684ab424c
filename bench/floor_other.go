//go:build !unix

package bench

import "errors"

// selfCPU would be this process's CPU time so far; this system has no
// getrusage.
func selfCPU() (cpuTimes, error) {
	return cpuTimes{}, errors.New("this process's CPU time: not on this system")
}
