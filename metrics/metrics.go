package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"chatserver/chat"
	"chatserver/web/socketio/engineio"
)

func init() {
	// Every family gets its # TYPE line (and a # HELP line, which
	// withHelp fills in), as scrapers and the naming rules expect. The
	// setting is the library's, process-wide; nothing else here uses the
	// library.
	vm.ExposeMetadata(true)
}

// ContentType is the media type of the exposition: the Prometheus text
// format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// CommitBuckets are the upper bounds, in seconds, of the store commit
// histogram's buckets: Prometheus's default buckets, with two below 5 ms
// for the disks on which a commit and its fsync take a millisecond or two.
var CommitBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Names of the families. Counters end in _total; values are in base
// units (seconds).
const (
	nameConnections    = "chatserver_connections"
	nameSessions       = "chatserver_engineio_sessions"
	namePending        = "chatserver_engineio_sessions_pending"
	nameOpened         = "chatserver_engineio_sessions_opened_total"
	nameClosed         = "chatserver_engineio_sessions_closed_total"
	nameChatters       = "chatserver_chatters"
	nameReceived       = "chatserver_messages_received_total"
	nameRefused        = "chatserver_messages_refused_total"
	namePaced          = "chatserver_messages_paced_total"
	nameStored         = "chatserver_messages_stored_total"
	nameDelivered      = "chatserver_messages_delivered_total"
	nameSlowClients    = "chatserver_slow_clients_dropped_total"
	nameQueueOverflows = "chatserver_send_queue_overflows_total"
	nameCommitSeconds  = "chatserver_store_commit_seconds"
	nameResubscribes   = "chatserver_redis_resubscribes_total"
	nameCatchUps       = "chatserver_redis_catchups_total"
)

// The reason labels of chatserver_engineio_sessions_closed_total: at most
// maxCloseReasons distinct ones, and otherCloseReason beyond.
const (
	maxCloseReasons  = 32
	otherCloseReason = "other"
)

// help is the # HELP text of each family of chatserver's own.
var help = map[string]string{
	nameConnections: "Open connections (Engine.IO sessions that have not begun to close) by their current transport.",
	nameSessions:    "Engine.IO sessions held, from the handshake until the connection is finished: what --max-connections caps.",
	namePending:     "Engine.IO sessions that have not joined yet: what --max-pending caps.",
	nameOpened:      "Engine.IO sessions opened by a handshake.",
	nameClosed:      "Engine.IO sessions ended, by the reason they closed.",
	nameChatters:    "Nicknames present in the room.",
	nameReceived:    "Chat messages received from clients, before any check.",
	nameRefused:     "Chat messages refused, by the error code their sender was given.",
	namePaced: "Chat messages over the rate limits that waited their turn instead of being refused " +
		"(then stored, or refused when dropped before it).",
	nameStored:      "Chat messages stored durably.",
	nameDelivered:   "Deliveries of stored chat messages: each message counts once per joined connection it was queued to.",
	nameSlowClients: "Connections closed for not keeping up with what they are sent: a full send queue or a write that timed out.",
	nameQueueOverflows: "Connections closed because their send queue was full (--send-queue); " +
		"also counted in " + nameSlowClients + ".",
	nameCommitSeconds: "Duration of the store transactions that commit chat messages, fsync included.",
	nameResubscribes:  "Subscriptions to Redis taken up again after one ended (a lost connection, a Redis restart).",
	nameCatchUps: "Rooms that read what they missed from their log in Redis, by result: complete, " +
		"or reset when the log no longer held it and the room's clients were made to reconnect.",
}

// refusalCodes are the codes a message can be refused with; their series
// exist from the start, at zero.
var refusalCodes = []chat.Code{
	chat.CodeInvalidMessage, chat.CodeNotJoined, chat.CodeRateLimited,
	chat.CodeStoreFailed, chat.CodeUnavailable, chat.CodeInternal,
}

// closeReasons are the Engine.IO close reasons whose series exist from
// the start, at zero.
var closeReasons = []string{
	engineio.ReasonTransportClose, engineio.ReasonTransportError, engineio.ReasonPingTimeout,
	engineio.ReasonParseError, engineio.ReasonServerShutdown, engineio.ReasonSendQueueFull,
	engineio.ReasonForcedClose, engineio.ReasonPendingTimeout, engineio.ReasonEvicted,
}

// Sources are what the gauges read at each scrape.
type Sources struct {
	// Sessions returns the transport's sessions (socketio.Server.Stats).
	Sessions func() engineio.Stats
	// Chatters returns the number of nicknames present in each room, by
	// room name: one series per room, labelled room.
	Chatters func() []RoomCount
}

// RoomCount is a gauge's value for one room.
type RoomCount struct {
	Room  string
	Count int
}

// Registry is one server's metrics: it counts what the chat room
// (chat.Metrics) and the Engine.IO transport (engineio.Metrics) tell it,
// reads the gauges from its Sources when scraped, and serves them all,
// with the Go runtime's and the process's series, as an http.Handler.
// Its metric set is its own, not the library's process-wide one, so that
// servers can run side by side. Its methods are safe for concurrent use.
// Those called for every message are an atomic addition each, without
// allocation; Committed (once per transaction) and SessionClosed (once per
// connection) take a lock.
type Registry struct {
	set *vm.Set

	received, paced, stored, delivered *vm.Counter
	refused                            map[chat.Code]*vm.Counter // fixed after New
	opened, slow, overflows            *vm.Counter
	commit                             *vm.PrometheusHistogram
	resubscribes, caughtUp, resets     *vm.Counter

	closedMu sync.Mutex
	closed   map[string]*vm.Counter // by Engine.IO close reason

	sources atomic.Pointer[Sources]
}

var (
	_ chat.Metrics     = (*Registry)(nil)
	_ engineio.Metrics = (*Registry)(nil)
	_ http.Handler     = (*Registry)(nil)
)

// New returns a Registry with every counter at zero and no Sources yet:
// the gauges appear once Observe has been called.
func New() *Registry {
	s := vm.NewSet()
	r := &Registry{
		set:       s,
		received:  s.NewCounter(nameReceived),
		paced:     s.NewCounter(namePaced),
		stored:    s.NewCounter(nameStored),
		delivered: s.NewCounter(nameDelivered),
		refused:   make(map[chat.Code]*vm.Counter, len(refusalCodes)),
		opened:    s.NewCounter(nameOpened),
		slow:      s.NewCounter(nameSlowClients),
		overflows: s.NewCounter(nameQueueOverflows),
		commit:    s.NewPrometheusHistogramExt(nameCommitSeconds, CommitBuckets),
		closed:    make(map[string]*vm.Counter, len(closeReasons)),

		resubscribes: s.NewCounter(nameResubscribes),
		caughtUp:     s.NewCounter(nameCatchUps + `{result="complete"}`),
		resets:       s.NewCounter(nameCatchUps + `{result="reset"}`),
	}
	for _, code := range refusalCodes {
		r.refused[code] = s.NewCounter(fmt.Sprintf(nameRefused+`{reason=%q}`, code))
	}
	for _, reason := range closeReasons {
		r.closedCounter(reason)
	}
	s.RegisterMetricsWriter(r.writeGauges)
	return r
}

// Observe sets what the gauges read: the transport's sessions and the
// room's chatters. A later call replaces the Sources; nil fields write no
// series.
func (r *Registry) Observe(src Sources) {
	r.sources.Store(&src)
}

// MessageReceived counts a message received (chat.Metrics).
func (r *Registry) MessageReceived() { r.received.Inc() }

// MessagePaced counts a message that waits its turn (chat.Metrics).
func (r *Registry) MessagePaced() { r.paced.Inc() }

// MessageRefused counts a message refused with code (chat.Metrics).
func (r *Registry) MessageRefused(code chat.Code) {
	c := r.refused[code]
	if c == nil {
		// A code a message is not normally refused with; the codes are
		// constants, so the series stay few.
		c = r.set.GetOrCreateCounter(fmt.Sprintf(nameRefused+`{reason=%q}`, code))
	}
	c.Inc()
}

// Committed times a store transaction and counts the messages stored by
// it (chat.Metrics).
func (r *Registry) Committed(messages int, took time.Duration, err error) {
	r.commit.Update(took.Seconds())
	if err == nil {
		r.stored.Add(messages)
	}
}

// Delivered counts deliveries of stored messages (chat.Metrics).
func (r *Registry) Delivered(n int) { r.delivered.Add(n) }

// Resubscribed counts a subscription to the shared store taken up again
// (chat.Metrics).
func (r *Registry) Resubscribed() { r.resubscribes.Inc() }

// CaughtUp counts a room that caught up from the shared store's log, or
// was reset (chat.Metrics).
func (r *Registry) CaughtUp(reset bool) {
	if reset {
		r.resets.Inc()
		return
	}
	r.caughtUp.Inc()
}

// SessionOpened counts an Engine.IO session opened (engineio.Metrics).
func (r *Registry) SessionOpened() { r.opened.Inc() }

// SessionClosed counts an Engine.IO session ended, by reason, and a full
// send queue as a slow client dropped (engineio.Metrics).
func (r *Registry) SessionClosed(reason string) {
	r.closedCounter(reason).Inc()
	if reason == engineio.ReasonSendQueueFull {
		r.overflows.Inc()
		r.slow.Inc()
	}
}

// WriteTimedOut counts a slow client dropped for a write that timed out
// (engineio.Metrics).
func (r *Registry) WriteTimedOut() { r.slow.Inc() }

// closedCounter returns the counter of sessions closed with reason,
// creating it on first use; past maxCloseReasons reasons, the counter of
// "other" ones (the reasons are the transport's constants and the few an
// application passes to Session.Close, so that is a safety net).
func (r *Registry) closedCounter(reason string) *vm.Counter {
	label := reasonLabel(reason)
	r.closedMu.Lock()
	defer r.closedMu.Unlock()
	if c := r.closed[label]; c != nil {
		return c
	}
	if len(r.closed) >= maxCloseReasons {
		label = otherCloseReason
		if c := r.closed[label]; c != nil {
			return c
		}
	}
	c := r.set.NewCounter(fmt.Sprintf(nameClosed+`{reason=%q}`, label))
	r.closed[label] = c
	return c
}

// reasonLabel is the label value of a close reason: lower case words
// joined by underscores ("ping timeout" is ping_timeout).
func reasonLabel(reason string) string {
	label := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			return c
		case c >= 'A' && c <= 'Z':
			return c + ('a' - 'A')
		}
		return '_'
	}, strings.TrimSpace(reason))
	if label == "" {
		return otherCloseReason
	}
	return label
}

// writeGauges writes the gauges read from the Sources at scrape time.
func (r *Registry) writeGauges(w io.Writer) {
	src := r.sources.Load()
	if src == nil {
		return
	}
	if src.Sessions != nil {
		st := src.Sessions()
		vm.WriteMetadataIfNeeded(w, nameConnections, "gauge")
		fmt.Fprintf(w, "%s{transport=%q} %d\n", nameConnections, engineio.TransportPolling, st.Polling)
		fmt.Fprintf(w, "%s{transport=%q} %d\n", nameConnections, engineio.TransportWebSocket, st.WebSocket)
		vm.WriteGaugeUint64(w, nameSessions, uint64(max(st.Sessions, 0)))
		vm.WriteGaugeUint64(w, namePending, uint64(max(st.Pending, 0)))
	}
	if src.Chatters != nil {
		vm.WriteMetadataIfNeeded(w, nameChatters, "gauge")
		for _, rc := range src.Chatters() {
			fmt.Fprintf(w, "%s{room=%q} %d\n", nameChatters, rc.Room, max(rc.Count, 0))
		}
	}
}

// WritePrometheus writes every series in the Prometheus text format:
// chatserver's own, then the Go runtime's (go_*) and the process's
// (process_*, where the operating system tells them).
func (r *Registry) WritePrometheus(w io.Writer) error {
	var buf bytes.Buffer
	r.set.WritePrometheus(&buf)
	vm.WriteProcessMetrics(&buf)
	vm.WriteFDMetrics(&buf)
	_, err := w.Write(tidy(buf.Bytes()))
	return err
}

// ServeHTTP answers a scrape with WritePrometheus.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	_ = r.WritePrometheus(&buf)
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// tidy mends the library's exposition: it fills in the # HELP lines,
// which the library writes without text (help, runtimeHelp), renames the
// families whose names break the Prometheus rules (renamed), and types as
// counters the families the library calls gauges although they are
// cumulative totals (process_io_*_total): a name ending in _total is a
// counter's.
func tidy(b []byte) []byte {
	helpPrefix, typePrefix := []byte("# HELP "), []byte("# TYPE ")
	out := make([]byte, 0, len(b)+len(help)*80+len(runtimeHelp)*60)
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		b = rest
		switch {
		case bytes.HasPrefix(line, helpPrefix):
			name, _, _ := bytes.Cut(line[len(helpPrefix):], []byte{' '})
			served := servedName(string(name))
			out = append(append(out, helpPrefix...), served...)
			text, known := help[served]
			if !known {
				text, known = runtimeHelp[served]
			}
			if known {
				out = append(append(out, ' '), text...)
			}
		case bytes.HasPrefix(line, typePrefix):
			name, typ, _ := bytes.Cut(line[len(typePrefix):], []byte{' '})
			served := servedName(string(name))
			if strings.HasSuffix(served, "_total") && string(typ) == "gauge" {
				typ = []byte("counter")
			}
			out = append(append(append(append(out, typePrefix...), served...), ' '), typ...)
		case len(line) > 0 && line[0] != '#':
			end := bytes.IndexAny(line, "{ ")
			if end < 0 {
				end = len(line)
			}
			out = append(append(out, servedName(string(line[:end]))...), line[end:]...)
		default:
			out = append(out, line...)
		}
		out = append(out, '\n')
	}
	return out
}

// servedName is the name under which the library's family called name is
// served.
func servedName(name string) string {
	if to, ok := renamed[name]; ok {
		return to
	}
	return name
}
