package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for the
// user-space ABI whatever its internal HZ).
const clockTicks = 100

// cpuTimes is a process's CPU time so far, split as the kernel accounts
// it: User is time running the program's own code, System time in the
// kernel on its behalf (system calls such as write(2), and on loopback TCP
// much of the receiving side too). Both are in seconds.
type cpuTimes struct {
	User   float64
	System float64
}

// Total is User + System.
func (c cpuTimes) Total() float64 { return c.User + c.System }

// sub returns the CPU time used between earlier and c.
func (c cpuTimes) sub(earlier cpuTimes) cpuTimes {
	return cpuTimes{User: c.User - earlier.User, System: c.System - earlier.System}
}

// toolCPU returns the user+system CPU seconds this process has used so
// far (selfCPU).
func toolCPU() (float64, error) {
	c, err := selfCPU()
	return c.Total(), err
}

// processCPUTimes returns the user and system CPU seconds used so far by
// the process pid ("self" for this one), read from /proc/<pid>/stat (Linux
// only).
func processCPUTimes(pid string) (cpuTimes, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu time: %w", err)
	}
	c, err := parseStatCPU(b)
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu time of /proc/%s/stat: %w", pid, err)
	}
	return c, nil
}

// errMalformedStat reports a /proc/<pid>/stat line parseStatCPU cannot read.
var errMalformedStat = errors.New("malformed stat line")

// parseStatCPU reads utime and stime (fields 14 and 15 of proc(5)) from the
// contents of a /proc/<pid>/stat file.
func parseStatCPU(b []byte) (cpuTimes, error) {
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses; the fields after the last ')' start with field 3 (state).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTimes{}, fmt.Errorf("%w: no command name", errMalformedStat)
	}
	f := bytes.Fields(b[i+1:])
	const utime, stime = 14 - 3, 15 - 3 // field numbers in proc(5), from field 3
	if len(f) <= stime {
		return cpuTimes{}, fmt.Errorf("%w: %d fields after the command name", errMalformedStat, len(f))
	}
	u, err := strconv.ParseUint(string(f[utime]), 10, 64)
	if err != nil {
		return cpuTimes{}, fmt.Errorf("%w: utime: %w", errMalformedStat, err)
	}
	s, err := strconv.ParseUint(string(f[stime]), 10, 64)
	if err != nil {
		return cpuTimes{}, fmt.Errorf("%w: stime: %w", errMalformedStat, err)
	}
	return cpuTimes{User: float64(u) / clockTicks, System: float64(s) / clockTicks}, nil
}

// processRSS returns the resident set size in KiB of process pid, read from
// /proc/<pid>/status (Linux only).
func processRSS(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				break
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("read rss: no VmRSS in /proc/%s/status", pid)
}

// processName returns the command name of process pid from
// /proc/<pid>/comm, or "" when it cannot be read.
func processName(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/comm")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// probeSet measures several processes at the same phase boundaries: the
// servers of a run, or the other processes they depend on.
type probeSet []*serverProbe

// newProbeSet starts measuring every process of pids (none: an empty set).
func newProbeSet(pids []int) probeSet {
	set := make(probeSet, len(pids))
	for i, pid := range pids {
		set[i] = newServerProbe(pid)
	}
	return set
}

// mark reads every process's CPU and RSS at the end of a phase.
func (set probeSet) mark() {
	for _, p := range set {
		p.mark()
	}
}

// each returns every process's figures, in the order of the pids; nil for
// an empty set.
func (set probeSet) each(delivered int64) []ServerStats {
	if len(set) == 0 {
		return nil
	}
	out := make([]ServerStats, len(set))
	for i, p := range set {
		out[i] = *p.result(delivered)
	}
	return out
}

// sumStats returns the figures of the processes of each added up, the
// per-million figures over the sum: for one process its own figures, for
// none nil. The sum of several has no PID but PIDs, and an Error naming
// the first process without figures (then no figures at all).
func sumStats(each []ServerStats, delivered int64) *ServerStats {
	switch len(each) {
	case 0:
		return nil
	case 1:
		s := each[0]
		return &s
	}
	sum := &ServerStats{}
	for _, s := range each {
		sum.PIDs = append(sum.PIDs, s.PID)
		if s.Error != "" && sum.Error == "" {
			sum.Error = fmt.Sprintf("pid %d: %s", s.PID, s.Error)
		}
	}
	if sum.Error != "" {
		return sum
	}
	var join, run cpuTimes
	for _, s := range each {
		join.User += s.JoinUserCPUSeconds
		join.System += s.JoinSystemCPUSeconds
		run.User += s.RunUserCPUSeconds
		run.System += s.RunSystemCPUSeconds
		sum.RSSStartKB += s.RSSStartKB
		sum.RSSAfterJoinKB += s.RSSAfterJoinKB
		sum.RSSEndKB += s.RSSEndKB
	}
	sum.setCPU(join, run, delivered)
	return sum
}

// setCPU fills s's CPU figures from the join and run phases' CPU times.
func (s *ServerStats) setCPU(join, run cpuTimes, delivered int64) {
	s.JoinCPUSeconds, s.JoinUserCPUSeconds, s.JoinSystemCPUSeconds = join.Total(), join.User, join.System
	s.RunCPUSeconds, s.RunUserCPUSeconds, s.RunSystemCPUSeconds = run.Total(), run.User, run.System
	if delivered > 0 {
		perMillion := 1e6 / float64(delivered)
		s.CPUPerMillion = run.Total() * perMillion
		s.UserCPUPerMillion = run.User * perMillion
		s.SystemCPUPerMillion = run.System * perMillion
	}
}

// serverProbe reads one measured process's CPU time and memory at phase
// boundaries. A nil probe (no pid given) does nothing.
type serverProbe struct {
	pid  int
	name string
	comm string     // the command name, as /proc says
	cpu  []cpuTimes // at start, then at each mark
	rss  []int64    // likewise
	err  error
}

// newServerProbe starts measuring process pid; 0 means no server process.
func newServerProbe(pid int) *serverProbe {
	if pid == 0 {
		return nil
	}
	p := &serverProbe{pid: pid, name: strconv.Itoa(pid)}
	p.comm = processName(p.name)
	p.read() // at rest, before any client
	return p
}

// mark reads CPU and RSS at the end of a phase.
func (p *serverProbe) mark() {
	if p != nil {
		p.read()
	}
}

// read appends the server's CPU times and RSS now; the first error
// stops the probe.
func (p *serverProbe) read() {
	if p.err != nil {
		return
	}
	cpu, err := processCPUTimes(p.name)
	if err != nil {
		p.err = err
		return
	}
	rss, err := processRSS(p.name)
	if err != nil {
		p.err = err
		return
	}
	p.cpu = append(p.cpu, cpu)
	p.rss = append(p.rss, rss)
}

// result returns the server's figures: the join phase is start..first
// mark, the run phase first..second mark.
func (p *serverProbe) result(delivered int64) *ServerStats {
	if p == nil {
		return nil
	}
	s := &ServerStats{PID: p.pid, Name: p.comm}
	if p.err != nil || len(p.cpu) < 3 || len(p.rss) < 3 {
		s.Error = "no figures"
		if p.err != nil {
			s.Error = p.err.Error()
		}
		return s
	}
	s.setCPU(p.cpu[1].sub(p.cpu[0]), p.cpu[2].sub(p.cpu[1]), delivered)
	s.RSSStartKB, s.RSSAfterJoinKB, s.RSSEndKB = p.rss[0], p.rss[1], p.rss[2]
	return s
}
