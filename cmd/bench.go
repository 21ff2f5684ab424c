package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/bench"
)

// benchOptions are the flags of `chatserver bench`; they become a
// bench.Config.
type benchOptions struct {
	cfg   bench.Config
	json  bool
	procs int
	// floor: measure this machine's loopback-write floor instead of a
	// server; floorReader is the address the floor's reading process
	// (this program, started by the floor) connects to.
	floor       bool
	floorReader string
}

// floorFrameOverhead is what a chat delivery's WebSocket frame holds
// besides the message text: the frame header, 42["messages","…"] and the
// sender's nickname; with the default --payload the floor writes 110-byte
// frames, the size of the load's deliveries.
const floorFrameOverhead = 46

// defaultBenchProcs is the load tool's GOMAXPROCS unless --procs says
// otherwise: one core leaves the rest of a small machine to the server being
// measured, and one busy scheduler spins less than two (measured cheaper per
// delivery on two cores). Raise it when the result warns that the tool was
// the limit.
const defaultBenchProcs = 1

func (o *benchOptions) addFlags(fs *pflag.FlagSet) {
	o.cfg = bench.DefaultConfig()
	c := &o.cfg
	fs.StringSliceVar(&c.URLs, "url", c.URLs, "server to load: its http:// or https:// address; a comma list spreads the clients over several servers sharing one chat, client i to the (i mod n)-th")
	fs.StringVar(&c.Path, "path", c.Path, "Socket.IO endpoint path on the server")
	fs.StringVar(&c.Room, "room", c.Room, "room to load: a chatserver room NAME is the Socket.IO namespace /NAME; default: the default room, namespace /")
	fs.IntVar(&c.Clients, "clients", c.Clients, "connections; every one joins as bench-<run>-<i>")
	fs.IntVar(&c.Senders, "senders", c.Senders, "how many of the clients send messages")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "messages per second per sender")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "length of the sending phase (or of the hold with --idle)")
	fs.IntVar(&c.Payload, "payload", c.Payload, "message text size in bytes (at least the ~30-byte timestamp header)")
	fs.IntVar(&c.Paste, "paste", c.Paste, "the first sender pastes this many lines back to back at the start of the sending phase (instead of sending at --rate); every receiver checks it got them all in order")
	fs.BoolVar(&c.Idle, "idle", c.Idle, "connect, join and hold for --duration without sending (memory, join storm)")
	fs.StringVar(&c.Transport, "transport", c.Transport, "websocket or polling")
	fs.Float64Var(&c.Ramp, "ramp", c.Ramp, "connections started per second; 0 starts them all at once")
	fs.DurationVar(&c.ConnectTimeout, "timeout", c.ConnectTimeout, "limit for one client's connect and join handshake")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "wait this long after the last send for late deliveries")
	fs.DurationVar(&c.Quiet, "quiet", c.Quiet, "join traffic must be silent this long before sending starts")
	fs.IntSliceVar(&c.ServerPIDs, "server-pid", nil, "pid of the server process on this machine: report its CPU (user and system) and memory from /proc; a comma list reports each server's and their sum")
	fs.IntSliceVar(&c.AuxPIDs, "aux-pid", nil, "pids of other processes the servers depend on (a redis-server), comma list: their CPU and memory are reported apart, never in the server's")
	fs.Var((*sourceAddrsValue)(&c.SourceAddrs), "source-addrs",
		"local IPv4 addresses to connect from, in turn: a range 127.0.0.1-127.0.0.8 or a comma list (each reaches one server port through about 28,000 connections); default: the system chooses")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON instead of a table")
	fs.IntVar(&o.procs, "procs", defaultBenchProcs, "CPU cores the load tool may use (GOMAXPROCS); 0 uses all")
	fs.BoolVar(&o.floor, "floor", false, "measure this machine's loopback-write floor instead of a server: what one write of a delivery to a loopback connection costs the writer, for --clients connections each sent --senders × --rate deliveries a second (--payload sized) for --duration; the flags about servers are not used")
	fs.StringVar(&o.floorReader, "floor-reader", "", "the reading process of --floor (started by it)")
	_ = fs.MarkHidden("floor-reader")
}

// sourceAddrsValue is the --source-addrs flag: a list of IPv4 addresses and
// ranges, read by bench.ParseSourceAddrs.
type sourceAddrsValue []netip.Addr

// Set replaces the list with the one in s.
func (v *sourceAddrsValue) Set(s string) error {
	addrs, err := bench.ParseSourceAddrs(s)
	if err != nil {
		return err
	}
	*v = addrs
	return nil
}

// String prints the list as Set reads it: addresses joined by commas.
func (v *sourceAddrsValue) String() string {
	b := make([]byte, 0, 16*len(*v))
	for i, a := range *v {
		if i > 0 {
			b = append(b, ',')
		}
		b = a.AppendTo(b)
	}
	return string(b)
}

// Type names the flag's value in the help.
func (v *sourceAddrsValue) Type() string { return "addrs" }

func newBenchCommand() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a chat server (this one or any Socket.IO chat on the same events)",
		Long: `Run a load test against a chat server speaking the chat contract over
Socket.IO v4: clients emit "join" and "messages" on namespace "/", and the server
broadcasts "messages" ("nick: text" first) and "add chatter"/"remove chatter".
It drives chatserver and the original Node.js chat alike. With --room NAME the
clients do all of it in chatserver's room NAME (namespace "/NAME") instead,
which must exist.

--clients connections join one after another (--ramp per second), each with its
own nickname; when the joins have settled, --senders of them send --rate
messages per second each for --duration. Every message carries its send time,
so each receiver measures the delivery latency. Every message asks for an ack:
when the server answers the first one within --timeout, the result has the ack
round trips too; the Node original acks nothing, and the result says "no acks".
With --idle the clients only join and hold, to measure memory and the cost of
a join storm. With --paste N the first sender sends N lines back to back when
sending begins and nothing after: the result says how many receivers got all N
in order and how late the last line reached them (a server that paces messages
over its rate limit delivers a long paste whole but spread out).

--floor loads no server: it measures what the kernel of this machine charges
for one write of a delivery to a loopback connection, read by another process
(this program again), at the load the same --clients, --senders, --rate,
--payload and --duration describe. No server that writes each delivery at once
can spend less per delivery; a server's CPU per delivery (from --server-pid)
over this floor, measured in the same sitting, is how close it comes to the
machine's limit.

Several servers sharing one chat (chatserver nodes on one Redis) are loaded
together with --url a,b: the clients go to them in turn, every receiver measures
the latency from the send time wherever the sender was, and the result says
how many clients each server had and what they received. --server-pid takes
every server's pid (their CPU is summed, and reported each); --aux-pid takes
processes such as redis-server, whose CPU is reported on its own.

One local address reaches one server port through at most the ephemeral port
range (about 28,000 ports on Linux): beyond that, --source-addrs spreads the
connections over several (on Linux every address of 127.0.0.0/8 is loopback).
Every client needs a file descriptor (two with polling); a run that needs more
than the process may open, or more local ports than there are, stops at once
and says which limit to raise.

A progress line goes to standard error once a second; the result (a table, or
JSON with --json) goes to standard output. Ctrl-C stops early and still prints
the figures so far. The load tool's own CPU time is part of the result: on a
small machine it competes with the server it measures, so by default it uses
one core (--procs) and warns when it was busy enough to be the limit.`,
		Example: `  chatserver bench --url http://127.0.0.1:8080 --clients 200 --senders 10 --rate 20 --duration 20s
  chatserver bench --clients 2000 --ramp 0 --idle --duration 30s --server-pid 1234
  chatserver bench --room games --clients 100 --senders 1 --rate 20 --duration 20s
  chatserver bench --url http://127.0.0.1:8080,http://127.0.0.1:8081 --server-pid 1234,1235 --aux-pid 1200
  chatserver bench --clients 10000 --ramp 1000 --idle --timeout 120s --source-addrs 127.0.0.1-127.0.0.8
  chatserver bench --transport polling --clients 50 --json
  chatserver bench --clients 1000 --senders 1 --paste 30 --duration 1s --drain 30s
  chatserver bench --floor --clients 1000 --senders 5 --rate 10 --duration 10s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.procs < 0 {
				return usageError{fmt.Errorf("--procs must be 0 (all cores) or positive, not %d", o.procs)}
			}
			if o.floorReader != "" {
				return bench.FloorReader(cmd.Context(), o.floorReader, o.cfg.Clients)
			}
			if o.floor {
				fc, err := o.floorConfig()
				if err != nil {
					return usageError{err}
				}
				return o.runFloor(cmd.Context(), fc, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			if err := o.cfg.Validate(); err != nil {
				return usageError{err}
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// floorConfig is the floor measurement the flags describe.
func (o *benchOptions) floorConfig() (bench.FloorConfig, error) {
	c := &o.cfg
	const maxFrame = 64 << 10
	switch {
	case c.Clients < 1:
		return bench.FloorConfig{}, fmt.Errorf("--floor needs --clients of at least 1, not %d", c.Clients)
	case c.Senders < 1 || c.Rate <= 0:
		return bench.FloorConfig{}, fmt.Errorf("--floor needs --senders and --rate above 0 (every connection is written --senders × --rate times a second), not %d and %g", c.Senders, c.Rate)
	case c.Payload < 1 || c.Payload+floorFrameOverhead > maxFrame:
		return bench.FloorConfig{}, fmt.Errorf("--payload must be 1 to %d bytes with --floor, not %d", maxFrame-floorFrameOverhead, c.Payload)
	}
	fc := bench.FloorConfig{
		Conns:    c.Clients,
		Interval: time.Duration(float64(time.Second) / (float64(c.Senders) * c.Rate)),
		Duration: c.Duration,
		Frame:    c.Payload + floorFrameOverhead,
	}
	if fc.Duration < fc.Interval {
		return bench.FloorConfig{}, fmt.Errorf("--duration (%v) must hold at least one interval between two writes to a connection (1 / (--senders × --rate) = %v)", fc.Duration, fc.Interval)
	}
	return fc, fc.Validate()
}

// runFloor measures the loopback-write floor; its reading process is this
// program, started with --floor-reader. The first SIGINT or SIGTERM ends
// it early, and the reader with it.
func (o *benchOptions) runFloor(ctx context.Context, fc bench.FloorConfig, out, progress io.Writer) error {
	ctx, done := o.begin(ctx)
	defer done()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("floor: finding this program to start its reader: %w", err)
	}
	start := func(addr string, conns int) (<-chan error, func(), error) {
		c := exec.Command(exe, "bench", "--floor-reader", addr, "--clients", strconv.Itoa(conns))
		c.Stdout, c.Stderr = progress, progress
		if err := c.Start(); err != nil {
			return nil, nil, err
		}
		ended := make(chan error, 1)
		go func() { ended <- c.Wait() }()
		return ended, func() { _ = c.Process.Kill() }, nil
	}
	fmt.Fprintf(progress, "floor: %d connections, %d-byte writes every %v each, for %v\n", fc.Conns, fc.Frame, fc.Interval, fc.Duration)
	res, err := bench.Floor(ctx, fc, start)
	if err != nil {
		return err
	}
	return o.write(out, res)
}

// run performs the bench run; the first SIGINT or SIGTERM ends it early
// (a second one then ends the process as usual).
func (o *benchOptions) run(ctx context.Context, out, progress io.Writer) error {
	ctx, done := o.begin(ctx)
	defer done()
	res, runErr := bench.Run(ctx, o.cfg, progress)
	if res == nil {
		return runErr
	}
	if err := o.write(out, res); err != nil {
		return err
	}
	return runErr
}

// begin sets the tool's processors (--procs) and returns a context that
// the first SIGINT or SIGTERM ends (a second one then ends the process
// as usual); done undoes both.
func (o *benchOptions) begin(ctx context.Context) (_ context.Context, done func()) {
	restore := func() {}
	if o.procs > 0 {
		prev := runtime.GOMAXPROCS(o.procs)
		restore = func() { runtime.GOMAXPROCS(prev) }
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore the default action for the next signal
	}()
	return ctx, func() { stop(); restore() }
}

// write prints a result as JSON (--json) or as its table.
func (o *benchOptions) write(out io.Writer, res interface{ WriteTable(io.Writer) error }) error {
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		return nil
	}
	if err := res.WriteTable(out); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
