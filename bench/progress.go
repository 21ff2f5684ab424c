package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is the progress line's period.
const progressEvery = time.Second

// progress writes the live progress line from its own goroutine until stop.
type progress struct {
	w    io.Writer
	tty  bool
	done chan struct{}
	wg   sync.WaitGroup
}

// startProgress starts the progress goroutine; with w nil it starts nothing
// and stop is a no-op. phase holds the current phase name and expected the
// expected deliveries once known (0 before).
func startProgress(w io.Writer, r *runner, phase *atomic.Value, expected *atomic.Int64) *progress {
	p := &progress{w: w, done: make(chan struct{})}
	if w == nil {
		return p
	}
	p.tty = isTerminal(w)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		var prev, cur, diff HistogramSnapshot
		var prevDelivered int64
		prevAt := time.Now()
		prevCPU, cpuErr := toolCPU()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			r.latency.Snapshot(&cur)
			diff.Sub(&cur, &prev)
			prev = cur
			t := r.totals()
			now := time.Now()
			elapsed := now.Sub(prevAt).Seconds()
			rate := float64(t.delivered-prevDelivered) / elapsed
			cores := -1.0
			if cpu, err := toolCPU(); err == nil && cpuErr == nil {
				cores = (cpu - prevCPU) / elapsed
				prevCPU = cpu
			}
			prevDelivered, prevAt = t.delivered, now
			line := fmt.Sprintf("[%4.0fs] %-5s conn %d/%d joined %d lost %d | sent %d deliv %d",
				time.Since(r.start).Seconds(), phase.Load(), r.connected.Load(), len(r.clients),
				r.joinedCount.Load(), t.lost, t.sent, t.delivered)
			if e := expected.Load(); e > 0 {
				line += fmt.Sprintf("/%d", e)
			}
			line += fmt.Sprintf(" (%.0f/s) p99 %s ms (last %s) | add chatter %d",
				rate, fms(ms(diff.Percentile(0.99))), progressEvery, t.addChatter)
			if cores >= 0 {
				line += fmt.Sprintf(" | tool %.2f cores", cores)
			}
			p.print(line)
		}
	}()
	return p
}

func (p *progress) print(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// stop ends the progress goroutine and, on a terminal, ends the line.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
