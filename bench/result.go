package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is the outcome of one Run: counts, rates, latency and the join
// figures. Run fills it and hands it to the caller, who owns it. JSON field
// names are stable (the bench command's --json prints this struct); times
// are in seconds unless the name says otherwise.
type Result struct {
	// URL is the server's URL, or the servers' joined by commas; Targets
	// has each one's clients and figures.
	URL       string  `json:"url"`
	Transport string  `json:"transport"`
	RunID     string  `json:"run_id"` // nicknames were bench-<run_id>-<i>
	Clients   int     `json:"clients"`
	Senders   int     `json:"senders"`
	Rate      float64 `json:"rate"`    // messages/s per sender, as asked
	Payload   int     `json:"payload"` // bytes per message text
	Idle      bool    `json:"idle"`
	Duration  float64 `json:"duration_s"` // of the send phase or hold, as asked
	// SourceAddrs is how many local addresses the clients connected from;
	// 0 when the system chose.
	SourceAddrs int `json:"source_addrs,omitempty"`

	Connected     int64  `json:"connected"`      // clients whose Socket.IO connect succeeded
	ConnectErrors int64  `json:"connect_errors"` // clients that never connected
	Joined        int64  `json:"joined"`         // clients whose join was confirmed
	JoinRefused   int64  `json:"join_refused"`   // joins the server answered with an error
	Lost          int64  `json:"lost"`           // connections that ended before the run closed them
	Receivers     int64  `json:"receivers"`      // live joined clients when sending began
	FirstError    string `json:"first_error,omitempty"`

	ActiveSenders int     `json:"active_senders"` // senders that were alive to send
	SendSeconds   float64 `json:"send_s"`         // measured length of the send phase
	Sent          int64   `json:"sent"`
	SendErrors    int64   `json:"send_errors"`
	Acked         int64   `json:"acked"`   // messages acknowledged {ok: true}
	Refused       int64   `json:"refused"` // messages acknowledged with an error
	Echoed        int64   `json:"echoed"`  // messages delivered back to their own sender
	Delivered     int64   `json:"delivered"`
	// Expected is Sent × Receivers: every live joined client, the sender
	// included, should receive every message.
	Expected            int64   `json:"expected"`
	Loss                int64   `json:"loss"` // Expected - Delivered
	LossPercent         float64 `json:"loss_percent"`
	DeliveriesPerSecond float64 `json:"deliveries_per_s"` // Delivered / SendSeconds
	Latency             Latency `json:"latency_ms"`
	// AckLatency summarises the round trips from sending a message to the
	// server's answer (ack or refusal), in milliseconds; nil when the
	// server did not answer, and NoAcks then says why. AcksUntimed counts
	// answers to messages too old to still have their send time.
	AckLatency  *Latency `json:"ack_latency_ms,omitempty"`
	AcksUntimed int64    `json:"acks_untimed,omitempty"`
	NoAcks      string   `json:"no_acks,omitempty"`

	// Paste says how the paste (Config.Paste) reached the receivers; nil
	// without one.
	Paste *PasteStats `json:"paste,omitempty"`

	// Targets are the servers, in the order given, with the clients each
	// received (client i went to server i mod len(Targets)).
	Targets []TargetStats `json:"targets"`

	Join   JoinStats   `json:"join"`
	Events EventCounts `json:"events"`

	ToolCPUSeconds float64 `json:"tool_cpu_s"` // this process, user+system, during the run
	// ToolSendCores is the load tool's CPU seconds per second while
	// sending: near ToolProcs, the tool rather than the server set the pace.
	ToolSendCores float64 `json:"tool_send_cores"`
	ToolProcs     int     `json:"tool_procs"` // GOMAXPROCS of the load tool
	// Server has the server process's figures, or with several server
	// pids their sum (and Servers each one's).
	Server  *ServerStats  `json:"server,omitempty"`
	Servers []ServerStats `json:"servers,omitempty"`
	// Others are the other processes measured (a redis-server the servers
	// share), each on its own and never part of Server.
	Others      []ServerStats `json:"other_processes,omitempty"`
	WallSeconds float64       `json:"wall_s"`
	Interrupted bool          `json:"interrupted"`
}

// Latency summarises the delivery latencies, in milliseconds: from the
// timestamp a sender wrote into the text to the moment a receiver parsed it.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// latency summarises what h holds now.
func (h *Histogram) latency() Latency {
	var s HistogramSnapshot
	h.Snapshot(&s)
	return latencyOf(&s)
}

// latencyOf summarises a snapshot.
func latencyOf(s *HistogramSnapshot) Latency {
	return Latency{
		Count: s.Count(),
		P50:   ms(s.Percentile(0.50)),
		P90:   ms(s.Percentile(0.90)),
		P99:   ms(s.Percentile(0.99)),
		P999:  ms(s.Percentile(0.999)),
		Max:   ms(s.Max()),
		Mean:  ms(s.Mean()),
	}
}

// PasteStats describe a paste: one sender's lines sent back to back, and
// how many receivers got them all in order. Whole + OutOfOrder + Short is
// the run's Receivers.
type PasteStats struct {
	Lines  int   `json:"lines"`  // lines in the paste, as asked
	Sender int   `json:"sender"` // the pasting client's index
	Sent   int64 `json:"sent"`   // lines it sent (fewer if its connection failed)
	// Whole counts the receivers that got every line, in order.
	Whole int64 `json:"whole_in_order"`
	// OutOfOrder counts the receivers that got a line before one sent
	// earlier, or one twice, or missed one and got a later one.
	OutOfOrder int64 `json:"out_of_order"`
	// Short counts the receivers whose lines came in order but stopped
	// before the last.
	Short int64 `json:"short"`
	// LastLine is the latency of the paste's last line, from its sending
	// to its arrival, at the receivers that got the paste whole; its max
	// is when the last of them had all of it.
	LastLine Latency `json:"last_line_latency_ms"`
}

// TargetStats are one server's share of a run: the clients that connected
// to it and what they received.
type TargetStats struct {
	URL       string `json:"url"`
	Clients   int64  `json:"clients"` // clients assigned to this server
	Connected int64  `json:"connected"`
	Joined    int64  `json:"joined"`
	Lost      int64  `json:"lost"`
	Senders   int64  `json:"senders"` // of the clients, those asked to send
	Sent      int64  `json:"sent"`    // messages its senders sent
	Delivered int64  `json:"delivered"`
	// Latency of the deliveries to its clients, whichever server the
	// sender was on; only when the run had several servers.
	Latency *Latency `json:"latency_ms,omitempty"`
}

// JoinStats describes the join phase; its times count from the first
// connection attempt.
type JoinStats struct {
	Settled       bool    `json:"settled"`  // false when interrupted first
	SettleSeconds float64 `json:"settle_s"` // when the run moved on to sending or holding
	JoinedSeconds float64 `json:"joined_s"` // when the last join was confirmed
	QuietSeconds  float64 `json:"quiet_s"`  // when the last join traffic (ack, add chatter) arrived
	AddChatter    int64   `json:"add_chatter"`
}

// EventCounts counts the chat events other than deliveries, over the run.
type EventCounts struct {
	AddChatter    int64 `json:"add_chatter"`
	RemoveChatter int64 `json:"remove_chatter"`
	ChatErrors    int64 `json:"chat_errors"`
	Kicked        int64 `json:"kicked"`
}

// ServerStats are the server process's figures read from /proc, when the
// run was given its pid. Each CPU figure is also split into user time (the
// server's own code) and system time (the kernel working for it: system
// calls, and on loopback TCP much of the receiving side too); the totals
// are user + system. The kernel counts CPU time in ticks of 10 ms, so a
// phase's figures are accurate to about 0.01 s each.
type ServerStats struct {
	PID int `json:"pid"`
	// PIDs are the processes summed, for the sum of several (PID is 0).
	PIDs []int `json:"pids,omitempty"`
	// Name is the process's command name (from /proc/<pid>/comm).
	Name                 string  `json:"name,omitempty"`
	JoinCPUSeconds       float64 `json:"join_cpu_s"`        // during the join phase
	JoinUserCPUSeconds   float64 `json:"join_user_cpu_s"`   // of which in user space
	JoinSystemCPUSeconds float64 `json:"join_system_cpu_s"` // of which in the kernel
	// RunCPUSeconds covers the send phase and its drain, or the hold.
	RunCPUSeconds       float64 `json:"run_cpu_s"`
	RunUserCPUSeconds   float64 `json:"run_user_cpu_s"`   // of which in user space
	RunSystemCPUSeconds float64 `json:"run_system_cpu_s"` // of which in the kernel
	// CPUPerMillion is RunCPUSeconds per million deliveries, and the next
	// two its user and system parts; absent when nothing was delivered.
	CPUPerMillion       float64 `json:"cpu_s_per_million_deliveries,omitempty"`
	UserCPUPerMillion   float64 `json:"user_cpu_s_per_million_deliveries,omitempty"`
	SystemCPUPerMillion float64 `json:"system_cpu_s_per_million_deliveries,omitempty"`
	RSSStartKB          int64   `json:"rss_start_kb"` // before any client connected
	RSSAfterJoinKB      int64   `json:"rss_after_join_kb"`
	RSSEndKB            int64   `json:"rss_end_kb"` // at the end of the send phase or hold
	Error               string  `json:"error,omitempty"`
}

// toolBusyShare is the share of its cores above which the load tool counts
// as saturated: on a shared machine, 80% busy already delays its reads.
const toolBusyShare = 0.8

// ms converts d to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteTable writes the result as an aligned two-column table for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	if r.SourceAddrs > 0 {
		row("target:", "%s (%s) from %d source addresses, run %s", r.URL, r.Transport, r.SourceAddrs, r.RunID)
	} else {
		row("target:", "%s (%s), run %s", r.URL, r.Transport, r.RunID)
	}
	if r.Idle {
		row("load:", "%d clients, idle hold %s", r.Clients, fsec(r.Duration))
	} else {
		row("load:", "%d clients, %d senders × %g msg/s, %d-byte texts, %s",
			r.Clients, r.Senders, r.Rate, r.Payload, fsec(r.Duration))
	}
	row("connected:", "%d (%d failed)", r.Connected, r.ConnectErrors)
	row("joined:", "%d (%d refused), %d lost during the run", r.Joined, r.JoinRefused, r.Lost)
	row("join settled:", "%s; last join confirmed %s, join traffic quiet %s",
		fsec(r.Join.SettleSeconds), fsec(r.Join.JoinedSeconds), fsec(r.Join.QuietSeconds))
	row("add chatter:", "%d during joins, %d in all; remove chatter %d",
		r.Join.AddChatter, r.Events.AddChatter, r.Events.RemoveChatter)
	if !r.Idle {
		row("sent:", "%d by %d senders in %s (%d send errors)", r.Sent, r.ActiveSenders, fsec(r.SendSeconds), r.SendErrors)
		row("acked:", "%d ok, %d refused; %d echoed to the sender", r.Acked, r.Refused, r.Echoed)
		row("delivered:", "%d of %d expected (%d receivers)", r.Delivered, r.Expected, r.Receivers)
		if r.Refused > 0 {
			row("loss:", "%d (%.3f%%), of which %d from the %d messages the server refused (rate limit?)",
				r.Loss, r.LossPercent, r.Refused*r.Receivers, r.Refused)
		} else {
			row("loss:", "%d (%.3f%%)", r.Loss, r.LossPercent)
		}
		row("deliveries/s:", "%.0f", r.DeliveriesPerSecond)
		l := r.Latency
		row("latency ms:", "%s", latencyLine(&l))
		if p := r.Paste; p != nil {
			row("paste:", "%d lines from client %d (%d sent): %d of %d receivers got all in order, %d out of order, %d short",
				p.Lines, p.Sender, p.Sent, p.Whole, r.Receivers, p.OutOfOrder, p.Short)
			if p.LastLine.Count > 0 {
				row("paste last line ms:", "%s", latencyLine(&p.LastLine))
			}
		}
		switch {
		case r.AckLatency != nil && r.AcksUntimed > 0:
			row("ack ms:", "%s (%d answers to messages too old to time)", latencyLine(r.AckLatency), r.AcksUntimed)
		case r.AckLatency != nil:
			row("ack ms:", "%s", latencyLine(r.AckLatency))
		case r.NoAcks != "":
			row("ack ms:", "no acks: %s", r.NoAcks)
		}
	}
	if len(r.Targets) > 1 {
		for i, t := range r.Targets {
			line := fmt.Sprintf("%s: %d clients (%d connected, %d joined, %d lost)", t.URL, t.Clients, t.Connected, t.Joined, t.Lost)
			if !r.Idle {
				line += fmt.Sprintf("; %d senders sent %d; %d delivered", t.Senders, t.Sent, t.Delivered)
				if t.Latency != nil && t.Latency.Count > 0 {
					line += fmt.Sprintf(", latency ms p50 %s p99 %s max %s", fms(t.Latency.P50), fms(t.Latency.P99), fms(t.Latency.Max))
				}
			}
			row("url "+strconv.Itoa(i+1)+":", "%s", line)
		}
	}
	if r.Events.ChatErrors > 0 || r.Events.Kicked > 0 {
		row("chat errors:", "%d; kicked %d", r.Events.ChatErrors, r.Events.Kicked)
	}
	if s := r.Server; s != nil {
		r.serverRows(row, s)
	}
	for _, s := range r.Servers {
		row("server pid "+strconv.Itoa(s.PID)+":", "%s", r.processLine(&s))
	}
	for _, s := range r.Others {
		label := "pid " + strconv.Itoa(s.PID)
		if s.Name != "" {
			label += " (" + s.Name + ")"
		}
		row("other process:", "%s: %s", label, r.processLine(&s))
	}
	if r.Idle {
		row("load tool CPU:", "%.2f s (GOMAXPROCS %d)", r.ToolCPUSeconds, r.ToolProcs)
	} else {
		row("load tool CPU:", "%.2f s (%.2f cores busy while sending, GOMAXPROCS %d)", r.ToolCPUSeconds, r.ToolSendCores, r.ToolProcs)
	}
	if r.ToolProcs > 0 && r.ToolSendCores > toolBusyShare*float64(r.ToolProcs) {
		row("warning:", "the load tool was near its CPU limit: the figures may show the tool's limit, not the server's")
	}
	row("wall time:", "%s", fsec(r.WallSeconds))
	if r.Interrupted {
		row("interrupted:", "yes (figures so far)")
	}
	if r.FirstError != "" {
		row("first error:", "%s", r.FirstError)
	}
	return tw.Flush()
}

// latencyLine formats a latency summary for the table.
func latencyLine(l *Latency) string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s",
		fms(l.P50), fms(l.P90), fms(l.P99), fms(l.P999), fms(l.Max), fms(l.Mean))
}

// serverRows writes the server rows of the table: the server's CPU, its
// user/system split and its memory, or with several servers their sum.
func (r *Result) serverRows(row func(label, format string, args ...any), s *ServerStats) {
	who := "pid " + strconv.Itoa(s.PID)
	if len(s.PIDs) > 0 {
		parts := make([]string, len(s.PIDs))
		for i, pid := range s.PIDs {
			parts[i] = strconv.Itoa(pid)
		}
		who = "pids " + strings.Join(parts, " + ")
	}
	if s.Error != "" {
		row("server:", "%s: %s", who, s.Error)
		return
	}
	after := phaseWord(r.Idle)
	if !r.Idle && s.CPUPerMillion > 0 {
		after += ", " + strconv.FormatFloat(s.CPUPerMillion, 'f', 2, 64) + " s per million deliveries"
	}
	row("server CPU:", "%s: %.2f s joining, %.2f s %s", who, s.JoinCPUSeconds, s.RunCPUSeconds, after)
	split := fmt.Sprintf("joining %.2f s user + %.2f s system; %s %.2f s user + %.2f s system",
		s.JoinUserCPUSeconds, s.JoinSystemCPUSeconds, phaseWord(r.Idle), s.RunUserCPUSeconds, s.RunSystemCPUSeconds)
	if !r.Idle && s.CPUPerMillion > 0 {
		split += fmt.Sprintf(" (%.2f user + %.2f system s per million deliveries)", s.UserCPUPerMillion, s.SystemCPUPerMillion)
	}
	row("server CPU split:", "%s", split)
	rss := fmt.Sprintf("%.1f MB at rest, %.1f MB after joins", float64(s.RSSStartKB)/1024, float64(s.RSSAfterJoinKB)/1024)
	if r.Joined > 0 {
		rss += fmt.Sprintf(" (%+.1f KB per joined client)", float64(s.RSSAfterJoinKB-s.RSSStartKB)/float64(r.Joined))
	}
	row("server RSS:", "%s, %.1f MB at the end", rss, float64(s.RSSEndKB)/1024)
}

// processLine is one process's figures on one line of the table: a
// server among several, or another process.
func (r *Result) processLine(s *ServerStats) string {
	if s.Error != "" {
		return s.Error
	}
	line := fmt.Sprintf("%.2f s joining, %.2f s %s (%.2f user + %.2f system)",
		s.JoinCPUSeconds, s.RunCPUSeconds, phaseWord(r.Idle), s.RunUserCPUSeconds, s.RunSystemCPUSeconds)
	if !r.Idle && s.CPUPerMillion > 0 {
		line += fmt.Sprintf(", %.2f s per million deliveries", s.CPUPerMillion)
	}
	line += fmt.Sprintf("; RSS %.1f MB at rest, %.1f MB after joins, %.1f MB at the end",
		float64(s.RSSStartKB)/1024, float64(s.RSSAfterJoinKB)/1024, float64(s.RSSEndKB)/1024)
	return line
}

// phaseWord names the second phase in the table: sending, or holding when
// the run was idle.
func phaseWord(idle bool) string {
	if idle {
		return "holding"
	}
	return "sending"
}

// fsec formats seconds for the table.
func fsec(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) + " s" }

// fms formats milliseconds for the table.
func fms(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
