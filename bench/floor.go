package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"text/tabwriter"
	"time"
)

// FloorConfig shapes a floor measurement (Floor): Conns loopback TCP
// connections, each written Frame bytes every Interval, for Duration.
type FloorConfig struct {
	Conns    int
	Interval time.Duration
	Duration time.Duration
	Frame    int
}

// Validate reports the first setting Floor cannot use.
func (c FloorConfig) Validate() error {
	switch {
	case c.Conns < 1:
		return fmt.Errorf("the floor needs at least one connection, not %d", c.Conns)
	case c.Interval <= 0:
		return fmt.Errorf("the floor's interval between two writes to a connection must be positive, not %v", c.Interval)
	case c.Duration < c.Interval:
		return fmt.Errorf("the floor's duration (%v) must hold at least one interval (%v)", c.Duration, c.Interval)
	case c.Frame < 1 || c.Frame > 64<<10:
		return fmt.Errorf("the floor's frame must be 1 byte to 64 KB, not %d", c.Frame)
	}
	return nil
}

// FloorResult is what the writes cost the writing process. Times are in
// seconds, the per-write figures in microseconds.
type FloorResult struct {
	Conns      int     `json:"connections"`
	FrameBytes int     `json:"frame_bytes"`
	IntervalMS float64 `json:"interval_ms"` // between two writes to one connection
	Seconds    float64 `json:"seconds"`     // measured
	Writes     int64   `json:"writes"`
	// LateRounds counts the rounds that began more than an interval
	// late: the writer could not keep the pace, and the figures are
	// those of a busier load than asked.
	LateRounds     int64   `json:"late_rounds"`
	UserCPU        float64 `json:"user_cpu_s"`
	SystemCPU      float64 `json:"system_cpu_s"`
	UserPerWrite   float64 `json:"user_us_per_write"`
	SystemPerWrite float64 `json:"system_us_per_write"`
	PerWrite       float64 `json:"us_per_write"` // user + system
}

// StartFloorReader starts the process that reads the floor's connections
// (FloorReader, in a process of its own so that its CPU is not counted):
// it must dial conns connections to addr. ended yields how the process
// ended (it ends once the connections are closed); kill ends it at once.
type StartFloorReader func(addr string, conns int) (ended <-chan error, kill func(), err error)

// floorReaderGrace is how long the reader may take to end once its
// connections are closed, before it is killed.
const floorReaderGrace = 5 * time.Second

// Floor measures what one write(2) to a loopback TCP connection costs the
// process that writes: the price of a delivery written on its own, below
// which no server that writes each delivery at once can go. It listens on
// 127.0.0.1, has start's process connect cfg.Conns times, then writes one
// cfg.Frame-byte frame to every connection every cfg.Interval for
// cfg.Duration, and reads its own CPU time (user and system) around the
// writing. Run it on the machine and load the server is measured on:
// the ratio of the server's CPU per delivery to this is how close the
// server comes to the machine's limit.
func Floor(ctx context.Context, cfg FloorConfig, start StartFloorReader) (*FloorResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkFloorFiles(cfg.Conns); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	ended, kill, err := start(ln.Addr().String(), cfg.Conns)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("floor: starting the reader: %w", err)
	}
	// A reader that ends early, or the end of ctx, stops the accepting;
	// this goroutine alone takes the reader's end.
	var readerEnd error
	readerDone := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		select {
		case readerEnd = <-ended:
			close(readerDone)
			_ = ln.Close()
			return
		case <-ctx.Done():
			_ = ln.Close()
		case <-quit:
		}
		readerEnd = <-ended
		close(readerDone)
	}()
	conns := make([]net.Conn, 0, cfg.Conns)
	defer func() {
		close(quit)
		_ = ln.Close() // first: a dial still on its way is refused, not left unread
		for _, c := range conns {
			_ = c.Close() // the reader sees EOF on each and ends
		}
		select {
		case <-readerDone:
		case <-time.After(floorReaderGrace):
			kill()
			<-readerDone
		}
	}()
	for len(conns) < cfg.Conns {
		if tl, ok := ln.(*net.TCPListener); ok {
			_ = tl.SetDeadline(time.Now().Add(DefaultConnectTimeout))
		}
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-readerDone:
				if readerEnd == nil {
					readerEnd = errors.New("it exited")
				}
				return nil, fmt.Errorf("floor: the reading process ended after %d of %d connections: %w", len(conns), cfg.Conns, readerEnd)
			default:
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("floor: %d of %d connections from the reading process: %w", len(conns), cfg.Conns, err)
		}
		conns = append(conns, c)
	}

	frame := make([]byte, cfg.Frame)
	for i := range frame {
		frame[i] = 'x'
	}
	writeAll := func() error {
		for _, c := range conns {
			if _, err := c.Write(frame); err != nil {
				return fmt.Errorf("floor: write: %w", err)
			}
		}
		return nil
	}
	if err := writeAll(); err != nil { // a round to warm up, not counted
		return nil, err
	}
	res := &FloorResult{Conns: cfg.Conns, FrameBytes: cfg.Frame, IntervalMS: float64(cfg.Interval) / float64(time.Millisecond)}
	cpu0, err := selfCPU()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	began := time.Now()
	next := began
	tick := time.NewTimer(0)
	defer tick.Stop()
	for time.Since(began) < cfg.Duration {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		if time.Since(next) > cfg.Interval {
			res.LateRounds++
		}
		next = next.Add(cfg.Interval)
		if err := writeAll(); err != nil {
			return nil, err
		}
		res.Writes += int64(len(conns))
		tick.Reset(time.Until(next))
	}
	res.Seconds = seconds(time.Since(began))
	cpu1, err := selfCPU()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	used := cpu1.sub(cpu0)
	res.UserCPU, res.SystemCPU = used.User, used.System
	per := 1e6 / float64(res.Writes)
	res.UserPerWrite, res.SystemPerWrite = used.User*per, used.System*per
	res.PerWrite = res.UserPerWrite + res.SystemPerWrite
	return res, nil
}

// checkFloorFiles refuses, in plain words, a floor whose connections
// this process and its reader cannot hold: a descriptor for each in both,
// and a local port for each of the reader's.
func checkFloorFiles(conns int) error {
	if soft, _, ok := fileLimit(); ok && uint64(conns)+fdReserve > soft {
		return fmt.Errorf("%w: a floor of %d connections needs about %d open files in this process and in its reader, but a process may open %d (RLIMIT_NOFILE): use fewer --clients or raise the limit (ulimit -n)",
			ErrMachineLimit, conns, conns+fdReserve, soft)
	}
	if b, err := os.ReadFile(portRangeFile); err == nil {
		if lo, hi, err := parsePortRange(b); err == nil && conns > hi-lo+1 {
			return fmt.Errorf("%w: a floor of %d connections needs as many local ports, but %s allows %d: use fewer --clients",
				ErrMachineLimit, conns, portRangeFile, hi-lo+1)
		}
	}
	return nil
}

// FloorReader is the reading side of Floor, run in a process of its own:
// it dials conns connections to addr and reads each until it is closed.
func FloorReader(ctx context.Context, addr string, conns int) error {
	if conns < 1 {
		return fmt.Errorf("the floor reader needs at least one connection, not %d", conns)
	}
	var d net.Dialer
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range conns {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			wg.Wait()
			return fmt.Errorf("floor reader: %w", err)
		}
		wg.Go(func() {
			defer c.Close()
			if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, net.ErrClosed) {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("floor reader: %w", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// WriteTable prints the result for people.
func (r *FloorResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "loopback-write floor\tone frame per write(2), read by another process\n")
	fmt.Fprintf(tw, "connections\t%d, each written %d bytes every %.3g ms\n", r.Conns, r.FrameBytes, r.IntervalMS)
	fmt.Fprintf(tw, "writes\t%d in %.1f s (rounds late: %d)\n", r.Writes, r.Seconds, r.LateRounds)
	fmt.Fprintf(tw, "writer CPU\t%.2f s system, %.2f s user\n", r.SystemCPU, r.UserCPU)
	fmt.Fprintf(tw, "per write\t%.2f µs system + %.2f µs user = %.2f µs\n", r.SystemPerWrite, r.UserPerWrite, r.PerWrite)
	if r.LateRounds > 0 {
		fmt.Fprintf(tw, "warning\tthe writer fell behind the pace in %d rounds: fewer connections or a longer interval measure the load asked for\n", r.LateRounds)
	}
	return tw.Flush()
}
