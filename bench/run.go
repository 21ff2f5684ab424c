package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"chatserver/internal/randid"
)

// runIDBytes is the entropy of a run id: 3 random bytes, 6 hexadecimal
// characters in every nickname, enough to tell concurrent runs apart.
const runIDBytes = 3

// settlePoll is how often the run checks whether the joins have settled or
// the drain is complete: fine enough to add little to the measured times.
const settlePoll = 20 * time.Millisecond

// runner is the state of one Run: the clients, the shared counters and the
// phase times. Clients write the atomics; Run's own goroutine does the rest.
type runner struct {
	cfg    Config
	runID  string
	prefix []byte // "bench-<run>-": nicknames are prefix + index
	nsp    []byte // the room's namespace in packets (Config.namespace)
	start  time.Time

	dial       dialFunc // WebSocket's
	httpClient *http.Client
	// pollers read the joined clients' WebSockets (client i's is
	// pollers[i mod len]); none on systems without them, where every
	// client reads its own.
	pollers []*wsPoller
	targets []target // by Config.URLs; client i connects to targets[i mod len]

	clients []*client
	latency Histogram

	// The paste (Config.Paste): pasteSender is the index of the client
	// pasting, -1 before the sending phase chose it (or without a paste);
	// pasteLast holds, for every receiver that got the paste whole and in
	// order, the latency of its last line.
	pasteSender atomic.Int64
	pasteLast   Histogram

	// Acks of messages: ackLatency holds the round trips from a message's
	// sending to its ack, measured only once the server has shown that it
	// answers (ackState).
	ackLatency Histogram
	ackState   atomic.Int32 // ackUnknown until the first ack decides
	firstSend  atomic.Int64 // since start, ns, of the first message sent; 0 before
	firstAck   atomic.Int64 // since start, ns, of the first message ack; 0 before
	ackUntimed atomic.Int64 // acks whose send time was no longer kept

	// closing is set when the run closes the connections itself, so that a
	// connection ending afterwards does not count as lost.
	closing atomic.Bool

	handshakes    atomic.Int64 // connection attempts finished, either way
	connected     atomic.Int64
	connectErrors atomic.Int64
	joinRefused   atomic.Int64
	joinedCount   atomic.Int64
	joined        []atomic.Bool // by client index: join confirmed

	// Times since start, in nanoseconds.
	lastHandshake   atomic.Int64
	lastJoined      atomic.Int64
	lastJoinTraffic atomic.Int64

	errMu    sync.Mutex // guards firstErr
	firstErr error
}

// Run performs one bench run against cfg.URL: connect and join cfg.Clients
// clients (paced by cfg.Ramp), wait until the joins settle, then either hold
// them for cfg.Duration (cfg.Idle) or let cfg.Senders of them send at
// cfg.Rate for cfg.Duration, wait up to cfg.Drain for late deliveries, and
// close every connection. A progress line goes to progress once a second
// (nil for none; \r-updated when it is a terminal).
//
// Canceling ctx (Ctrl-C) ends the current phase early; Run still closes
// everything and returns the figures so far, with Interrupted set. Run
// returns only after every goroutine it started has ended. The error is
// non-nil when cfg is invalid (no Result), when this machine cannot carry
// it (no Result: the error wraps ErrMachineLimit for too few file
// descriptors or local ports, ErrSourceAddr for a source address it does
// not have), or when no client could connect (with the Result, whose
// FirstError says why).
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkMachine(&cfg); err != nil {
		return nil, err
	}
	if err := checkSourceAddrs(cfg.SourceAddrs); err != nil {
		return nil, err
	}
	r := newRunner(cfg)
	return r.run(ctx, progress)
}

// target is one of the servers a run loads.
type target struct {
	url     string // as given
	wsURL   string // the Engine.IO endpoints
	pollURL string
	// latency holds the deliveries to this server's clients; nil when the
	// run has one server (the run's own histogram says it all).
	latency *Histogram
}

func newRunner(cfg Config) *runner {
	runID := randid.Hex(runIDBytes)
	r := &runner{
		cfg:    cfg,
		runID:  runID,
		prefix: []byte("bench-" + runID + "-"),
		nsp:    cfg.namespace(),
		joined: make([]atomic.Bool, cfg.Clients),
	}
	r.pasteSender.Store(-1)
	for _, u := range cfg.URLs {
		t := target{url: u, wsURL: cfg.endpoint(u, TransportWebSocket), pollURL: cfg.endpoint(u, TransportPolling)}
		if len(cfg.URLs) > 1 {
			t.latency = new(Histogram)
		}
		r.targets = append(r.targets, t)
	}
	src := newSourcePicker(cfg.SourceAddrs)
	if cfg.Transport == TransportPolling {
		r.httpClient = newHTTPClient(cfg.Clients, cfg.ConnectTimeout, src)
	} else {
		r.dial = newDial(src)
	}
	r.clients = make([]*client, cfg.Clients)
	for i := range r.clients {
		r.clients[i] = &client{idx: i, tgt: &r.targets[i%len(r.targets)], r: r, nick: strconv.AppendInt(append([]byte(nil), r.prefix...), int64(i), 10)}
	}
	return r
}

// maxPollers caps the WebSocket pollers of a run.
const maxPollers = 8

// startPollers starts one WebSocket poller per processor of the tool (at
// most maxPollers). Where the system has none, or one cannot be made, the
// clients without a poller read their own connections, as over TLS.
func (r *runner) startPollers() {
	for range min(runtime.GOMAXPROCS(0), maxPollers) {
		p, err := newWSPoller()
		if err != nil {
			break
		}
		r.pollers = append(r.pollers, p)
	}
}

// stopPollers ends the pollers; every client has ended by then.
func (r *runner) stopPollers() {
	for _, p := range r.pollers {
		p.stop()
	}
}

// poller returns the poller that reads client i's WebSocket, or nil.
func (r *runner) poller(i int) *wsPoller {
	if len(r.pollers) == 0 {
		return nil
	}
	return r.pollers[i%len(r.pollers)]
}

// since returns the time since the run started, in nanoseconds.
func (r *runner) since() int64 { return int64(time.Since(r.start)) }

// noteError keeps the first error the run met, for the result.
func (r *runner) noteError(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// handshakeDone records the outcome of one client's connection attempt.
func (r *runner) handshakeDone(c *client, err error) {
	if err != nil {
		r.connectErrors.Add(1)
		if !r.closing.Load() {
			r.noteError(fmt.Errorf("client %d: %w", c.idx, err))
		}
	} else {
		r.connected.Add(1)
	}
	r.lastHandshake.Store(r.since())
	r.handshakes.Add(1)
}

// joinAcked records the server's answer to a client's join.
func (r *runner) joinAcked(c *client, ok bool) {
	r.joinTraffic()
	if ok {
		r.markJoined(c.idx)
		return
	}
	if !c.joinRefused.Swap(true) {
		r.joinRefused.Add(1)
		r.noteError(fmt.Errorf("client %d: join refused", c.idx))
	}
}

// markJoined records that client i's join took effect: its join was acked,
// another client was told it arrived, or its message was delivered.
func (r *runner) markJoined(i int) {
	if i < 0 || i >= len(r.joined) || r.joined[i].Load() || !r.joined[i].CompareAndSwap(false, true) {
		return
	}
	r.joinedCount.Add(1)
	r.lastJoined.Store(r.since())
}

// joinTraffic records that join traffic (an ack or "add chatter") arrived.
func (r *runner) joinTraffic() { r.lastJoinTraffic.Store(r.since()) }

// alive is the number of clients that connected, were not refused and have
// not lost their connection.
func (r *runner) alive() int64 {
	var n int64
	for _, c := range r.clients {
		if c.connected.Load() && !c.joinRefused.Load() && !c.lost.Load() {
			n++
		}
	}
	return n
}

// unconfirmed is the number of live clients (as alive counts them) whose
// join has not been confirmed yet. A client lost after its join was
// confirmed does not stand in for a live one still waiting.
func (r *runner) unconfirmed() int64 {
	var n int64
	for i, c := range r.clients {
		if c.connected.Load() && !c.joinRefused.Load() && !c.lost.Load() && !r.joined[i].Load() {
			n++
		}
	}
	return n
}

// totals sums the clients' counters.
func (r *runner) totals() (t clientTotals) {
	for _, c := range r.clients {
		t.sent += c.st.sent.Load()
		t.sendErrors += c.st.sendErrors.Load()
		t.acked += c.st.acked.Load()
		t.refused += c.st.refused.Load()
		t.delivered += c.st.delivered.Load()
		t.echoed += c.st.echoed.Load()
		t.addChatter += c.st.addChatter.Load()
		t.removeChatter += c.st.removeChatter.Load()
		t.chatErrors += c.st.chatErrors.Load()
		t.kicked += c.st.kicked.Load()
		if c.lost.Load() {
			t.lost++
		}
	}
	return t
}

// clientTotals is the sum of every client's counters at one moment.
type clientTotals struct {
	sent, sendErrors, acked, refused, delivered, echoed int64
	addChatter, removeChatter, chatErrors, kicked, lost int64
}

// phase names shown on the progress line.
const (
	phaseJoin  = "join"
	phaseSend  = "send"
	phaseHold  = "hold"
	phaseDrain = "drain"
	phaseClose = "close"
)

func (r *runner) run(ctx context.Context, progress io.Writer) (*Result, error) {
	r.start = time.Now()
	cpu0, cpuErr := toolCPU()
	srv := newProbeSet(r.cfg.ServerPIDs)
	aux := newProbeSet(r.cfg.AuxPIDs)

	var phase atomic.Value
	phase.Store(phaseJoin)
	var expected atomic.Int64 // updated once the sending phase ends
	prog := startProgress(progress, r, &phase, &expected)

	res := &Result{
		URL:       strings.Join(r.cfg.URLs, ","),
		Transport: r.cfg.Transport,
		RunID:     r.runID,
		Clients:   r.cfg.Clients,
		Senders:   r.cfg.Senders,
		Rate:      r.cfg.Rate,
		Payload:   r.cfg.Payload,
		Idle:      r.cfg.Idle,
		Duration:  seconds(r.cfg.Duration),
		ToolProcs: runtime.GOMAXPROCS(0),

		SourceAddrs: len(r.cfg.SourceAddrs),
	}

	if r.cfg.Transport == TransportWebSocket {
		r.startPollers()
		defer r.stopPollers()
	}

	// Phase 1: connect and join, paced by Ramp, then wait for the joins to
	// settle (every join confirmed and the "add chatter" traffic quiet).
	var wg sync.WaitGroup
	r.connectAll(ctx, &wg)
	settled := r.settle(ctx)
	res.Join = r.joinStats(settled)
	srv.mark()
	aux.mark()
	res.Receivers = r.alive()

	// Phase 2: send (or hold), then drain.
	var sendTotals clientTotals
	if r.cfg.Idle || r.cfg.Senders == 0 {
		phase.Store(phaseHold)
		sleepCtx(ctx, r.cfg.Duration)
	} else {
		phase.Store(phaseSend)
		sendStart := time.Now()
		sendCPU0, err0 := toolCPU()
		active := r.sendAll(ctx)
		res.SendSeconds = seconds(time.Since(sendStart))
		if sendCPU1, err1 := toolCPU(); err0 == nil && err1 == nil && res.SendSeconds > 0 {
			res.ToolSendCores = (sendCPU1 - sendCPU0) / res.SendSeconds
		}
		res.ActiveSenders = active
		sendTotals = r.totals()
		expected.Store(sendTotals.sent * res.Receivers)
		phase.Store(phaseDrain)
		r.drain(expected.Load())
	}
	srv.mark()
	aux.mark()

	// Phase 3: close every connection and wait for every goroutine.
	phase.Store(phaseClose)
	r.closing.Store(true)
	for _, c := range r.clients {
		c.stop()
	}
	wg.Wait()
	if r.httpClient != nil {
		r.httpClient.CloseIdleConnections()
	}
	prog.stop()

	r.fill(res, expected.Load())
	if cpuErr == nil {
		if cpu1, err := toolCPU(); err == nil {
			res.ToolCPUSeconds = cpu1 - cpu0
		}
	}
	servers := srv.each(res.Delivered)
	res.Server = sumStats(servers, res.Delivered)
	if len(servers) > 1 {
		res.Servers = servers
	}
	res.Others = aux.each(res.Delivered)
	res.WallSeconds = seconds(time.Since(r.start))
	res.Interrupted = ctx.Err() != nil
	if res.Connected == 0 {
		return res, fmt.Errorf("no client connected: %s", res.FirstError)
	}
	return res, nil
}

// connectAll starts one goroutine per client, paced by Ramp; it returns
// when all are started or ctx ends (the rest then count as not connected).
func (r *runner) connectAll(ctx context.Context, wg *sync.WaitGroup) {
	for i, c := range r.clients {
		if r.cfg.Ramp > 0 {
			at := r.start.Add(time.Duration(float64(i) / r.cfg.Ramp * float64(time.Second)))
			if !sleepUntil(ctx, at) {
				r.handshakes.Add(int64(len(r.clients) - i))
				return
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx)
		}()
	}
}

// settle waits until every connection attempt has finished and the join
// traffic has been quiet for cfg.Quiet, with every live client's join
// confirmed (or, failing confirmation, quiet for cfg.ConnectTimeout: a
// server that neither acks joins nor announces them). It reports whether
// the joins settled before ctx ended.
func (r *runner) settle(ctx context.Context) bool {
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		if r.handshakes.Load() < int64(len(r.clients)) {
			continue
		}
		last := max(r.lastHandshake.Load(), r.lastJoined.Load(), r.lastJoinTraffic.Load())
		quiet := time.Duration(r.since() - last)
		if quiet < r.cfg.Quiet {
			continue
		}
		if r.unconfirmed() == 0 || quiet >= r.cfg.ConnectTimeout {
			return true
		}
	}
}

// joinStats describes the join phase that just ended.
func (r *runner) joinStats(settled bool) JoinStats {
	t := r.totals()
	return JoinStats{
		Settled:       settled,
		SettleSeconds: seconds(time.Since(r.start)),
		JoinedSeconds: seconds(time.Duration(r.lastJoined.Load())),
		QuietSeconds:  seconds(time.Duration(max(r.lastJoined.Load(), r.lastJoinTraffic.Load()))),
		AddChatter:    t.addChatter,
	}
}

// sendAll runs the senders for cfg.Duration (or until ctx ends) and returns
// how many there were. The first Senders clients send, skipping any that
// are not alive; their first messages are spread over one interval so that
// they do not arrive in bursts.
func (r *runner) sendAll(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	var senders []*client
	for _, c := range r.clients[:r.cfg.Senders] {
		if c.connected.Load() && !c.joinRefused.Load() && !c.lost.Load() {
			senders = append(senders, c)
		}
	}
	if r.cfg.Paste > 0 && len(senders) > 0 {
		// Stored before any line is sent, so every receiver knows whose
		// lines to check.
		r.pasteSender.Store(int64(senders[0].idx))
	}
	now := time.Now()
	var wg sync.WaitGroup
	for k, c := range senders {
		c.sending.Store(true)
		first := now.Add(interval * time.Duration(k) / time.Duration(len(senders)))
		paste := 0
		if k == 0 {
			paste = r.cfg.Paste
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.sendLoop(ctx, first, interval, paste)
		}()
	}
	wg.Wait()
	return len(senders)
}

// drain waits up to cfg.Drain for the deliveries and the answers (acks
// or refusals) still on their way: a server may send a sender's answer
// after the deliveries (a flush interval holds them, say). It waits for
// answers only from a server that has been answering (acksAnswered); the
// Node original acks nothing.
func (r *runner) drain(expected int64) {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) {
		t := r.totals()
		if t.delivered >= expected && (!r.acksAnswered() || t.acked+t.refused >= t.sent) {
			return
		}
		time.Sleep(settlePoll)
	}
}

// The states of a run's message acks (runner.ackState).
const (
	ackUnknown   int32 = iota // no message answered yet
	ackAnswering              // the first answer came within the timeout: acks are timed
	ackNone                   // no answer within the timeout of the first message
)

// messageSent records that a message went out at (since start, ns): the
// first one starts the ack timeout.
func (r *runner) messageSent(at int64) {
	r.firstSend.CompareAndSwap(0, at)
}

// messageAnswered records the server's answer (ack or refusal) to a
// message a client sent at sentAt (since start, ns; ok false when the
// client no longer knew). The first answer decides whether acks are
// timed: only if it came within cfg.ConnectTimeout of the first message.
func (r *runner) messageAnswered(sentAt int64, ok bool) {
	now := r.since()
	if r.ackState.Load() == ackUnknown {
		r.firstAck.CompareAndSwap(0, now)
		state := ackAnswering
		if first := r.firstSend.Load(); first == 0 || time.Duration(now-first) > r.cfg.ConnectTimeout {
			state = ackNone
		}
		r.ackState.CompareAndSwap(ackUnknown, state)
	}
	if r.ackState.Load() != ackAnswering {
		return
	}
	if !ok {
		r.ackUntimed.Add(1)
		return
	}
	r.ackLatency.Record(time.Duration(now - sentAt))
}

// acksAnswered reports whether the server has been answering messages
// (its first answer came within the timeout).
func (r *runner) acksAnswered() bool { return r.ackState.Load() == ackAnswering }

// ackResult fills res's ack figures from sent messages: their latency
// when the server answered, or why there is none.
func (r *runner) ackResult(res *Result, t clientTotals) {
	if t.sent == 0 {
		return
	}
	switch {
	case r.acksAnswered():
		l := r.ackLatency.latency()
		res.AckLatency = &l
		res.AcksUntimed = r.ackUntimed.Load()
	case t.acked+t.refused == 0:
		res.NoAcks = fmt.Sprintf("the server answered none of the %d messages", t.sent)
	default:
		res.NoAcks = fmt.Sprintf("the first answer came %s after the first message, beyond the %s timeout",
			time.Duration(r.firstAck.Load()-r.firstSend.Load()).Round(time.Millisecond), r.cfg.ConnectTimeout)
	}
}

// fill copies the final counters into res.
func (r *runner) fill(res *Result, expected int64) {
	t := r.totals()
	res.Connected = r.connected.Load()
	res.ConnectErrors = r.connectErrors.Load()
	res.Joined = r.joinedCount.Load()
	res.JoinRefused = r.joinRefused.Load()
	res.Lost = t.lost
	res.Sent = t.sent
	res.SendErrors = t.sendErrors
	res.Acked = t.acked
	res.Refused = t.refused
	res.Echoed = t.echoed
	res.Delivered = t.delivered
	res.Expected = expected
	res.Loss = expected - t.delivered
	if expected > 0 {
		res.LossPercent = 100 * float64(res.Loss) / float64(expected)
	}
	if res.SendSeconds > 0 {
		res.DeliveriesPerSecond = float64(t.delivered) / res.SendSeconds
	}
	res.Events = EventCounts{
		AddChatter:    t.addChatter,
		RemoveChatter: t.removeChatter,
		ChatErrors:    t.chatErrors,
		Kicked:        t.kicked,
	}
	res.Latency = r.latency.latency()
	r.ackResult(res, t)
	res.Targets = r.targetStats()
	res.Paste = r.pasteStats(res.Receivers)
	r.errMu.Lock()
	if r.firstErr != nil {
		res.FirstError = r.firstErr.Error()
	}
	r.errMu.Unlock()
}

// pasteStats sums up how the paste reached the receivers (of which there
// were receivers when sending began); nil without a paste. It reads the
// clients' paste state, so it runs after every client has ended.
func (r *runner) pasteStats(receivers int64) *PasteStats {
	sender := r.pasteSender.Load()
	if r.cfg.Paste == 0 || sender < 0 {
		return nil
	}
	p := &PasteStats{Lines: r.cfg.Paste, Sender: int(sender), Sent: r.clients[sender].st.sent.Load()}
	for _, c := range r.clients {
		switch {
		case c.pasteBroken:
			p.OutOfOrder++
		case c.pasteNext == r.cfg.Paste:
			p.Whole++
		}
	}
	p.Short = max(0, receivers-p.Whole-p.OutOfOrder)
	p.LastLine = r.pasteLast.latency()
	return p
}

// targetStats sums the clients' figures by the server they connected to.
func (r *runner) targetStats() []TargetStats {
	stats := make([]TargetStats, len(r.targets))
	for k := range r.targets {
		stats[k].URL = r.targets[k].url
	}
	for i, c := range r.clients {
		ts := &stats[i%len(stats)]
		ts.Clients++
		if c.connected.Load() {
			ts.Connected++
		}
		if r.joined[i].Load() {
			ts.Joined++
		}
		if c.lost.Load() {
			ts.Lost++
		}
		if c.sending.Load() {
			ts.Senders++
		}
		ts.Sent += c.st.sent.Load()
		ts.Delivered += c.st.delivered.Load()
	}
	for k := range r.targets {
		if h := r.targets[k].latency; h != nil {
			l := h.latency()
			stats[k].Latency = &l
		}
	}
	return stats
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	sleepUntil(ctx, time.Now().Add(d))
}

// sleepUntil waits until t; it reports false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// seconds converts d to float seconds for the result.
func seconds(d time.Duration) float64 { return d.Seconds() }
