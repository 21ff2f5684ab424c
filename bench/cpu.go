package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for the
// user-space ABI whatever its internal HZ).
const clockTicks = 100

// processCPU returns the user+system CPU seconds used so far by the process
// pid ("self" for this one), read from /proc/<pid>/stat (Linux only).
func processCPU(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after the last ')' start with field 3 (state).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read cpu time: malformed /proc/%s/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	const utime, stime = 14 - 3, 15 - 3 // field numbers in proc(5), from field 3
	if len(f) <= stime {
		return 0, fmt.Errorf("read cpu time: short /proc/%s/stat", pid)
	}
	u, err1 := strconv.ParseUint(string(f[utime]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[stime]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read cpu time: malformed /proc/%s/stat", pid)
	}
	return float64(u+s) / clockTicks, nil
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

// serverProbe reads the measured server's CPU time and memory at phase
// boundaries. A nil probe (no pid given) does nothing.
type serverProbe struct {
	pid  int
	name string
	cpu  []float64 // at start, then at each mark
	rss  []int64   // at each mark
	err  error
}

// newServerProbe starts measuring process pid; 0 means no server process.
func newServerProbe(pid int) *serverProbe {
	if pid == 0 {
		return nil
	}
	p := &serverProbe{pid: pid, name: strconv.Itoa(pid)}
	p.read(false)
	return p
}

// mark reads CPU and RSS at the end of a phase.
func (p *serverProbe) mark() {
	if p != nil {
		p.read(true)
	}
}

func (p *serverProbe) read(withRSS bool) {
	if p.err != nil {
		return
	}
	cpu, err := processCPU(p.name)
	if err != nil {
		p.err = err
		return
	}
	p.cpu = append(p.cpu, cpu)
	if withRSS {
		rss, err := processRSS(p.name)
		if err != nil {
			p.err = err
			return
		}
		p.rss = append(p.rss, rss)
	}
}

// result returns the server's figures: the join phase is start..first
// mark, the run phase first..second mark.
func (p *serverProbe) result(delivered int64) *ServerStats {
	if p == nil {
		return nil
	}
	s := &ServerStats{PID: p.pid}
	if p.err != nil || len(p.cpu) < 3 || len(p.rss) < 2 {
		s.Error = "no figures"
		if p.err != nil {
			s.Error = p.err.Error()
		}
		return s
	}
	s.JoinCPUSeconds = p.cpu[1] - p.cpu[0]
	s.RunCPUSeconds = p.cpu[2] - p.cpu[1]
	if delivered > 0 {
		s.CPUPerMillion = s.RunCPUSeconds / float64(delivered) * 1e6
	}
	s.RSSAfterJoinKB, s.RSSEndKB = p.rss[0], p.rss[1]
	return s
}
