//go:build !unix

package bench

// selfCPU is this process's CPU time so far, where the system says it.
func selfCPU() (cpuTimes, error) { return processCPUTimes("self") }
