package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"chatserver/internal/randid"
	"chatserver/storage"
)

// AppendMessages stores msgs in room in one atomic step (one script):
// each message gets the room's next ID (strictly increasing within the
// room, never reused by it) and the next position of the room's log; a
// time before the room's previous message's is raised to it, so that
// times never go backwards in a room whatever the nodes' clocks; the
// messages are appended to the room's history, which is trimmed to its
// newest History messages, and to its log, trimmed to LogSize entries;
// and the batch's entries are published, in order and as one message, on
// the room's channel (see Subscribe). It returns new copies of the
// messages with ID set and Time in UTC; msgs is not modified. Either all
// of msgs are stored or none is. A room that does not exist gives
// storage.ErrNoSuchRoom; the default room always exists, and is made again
// if Redis lost it. Times are kept to the nanosecond, from 1970 to 2262;
// earlier ones are stored as 1970-01-01.
//
// An empty msgs writes nothing. When the connection fails while the
// script runs, the error does not tell whether it ran.
func (s *Store) AppendMessages(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, error) {
	out, _, err := s.Append(ctx, room, msgs)
	return out, err
}

// Append is AppendMessages that also returns the log position of the
// last message's entry; the zero Position for an empty msgs.
func (s *Store) Append(ctx context.Context, room string, msgs []storage.Message) ([]storage.Message, storage.Position, error) {
	return s.appendBatch(ctx, room, msgs, randid.Hex(batchTokenBytes), false)
}

// appendBatch is Append with the batch's token given, and again set when
// the batch is sent again: then, if an append with the same token ran
// (among the room's newest 256), it is not appended twice and its answer
// is returned.
func (s *Store) appendBatch(ctx context.Context, room string, msgs []storage.Message, token string, again bool) ([]storage.Message, storage.Position, error) {
	op := roomOp("append messages to", room)
	if err := s.begin(ctx, op); err != nil {
		return nil, storage.Position{}, err
	}
	if !validRoom(room) {
		return nil, storage.Position{}, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if len(msgs) == 0 {
		if _, err := s.recent(ctx, room, 0); err != nil {
			return nil, storage.Position{}, s.fail(op, err)
		}
		return []storage.Message{}, storage.Position{}, nil
	}
	rk := s.roomKey(room)
	args := make([]string, 0, 9+2*len(msgs))
	args = append(args, room, strconv.Itoa(s.opts.History), strconv.Itoa(s.opts.LogSize), s.channel(room),
		isDefault(room), newEpoch(), time.Now().UTC().Format(time.RFC3339Nano), token, flag(again))
	for _, m := range msgs {
		body, err := json.Marshal(struct {
			Name string `json:"name"`
			Text string `json:"text"`
		}{m.Name, m.Text})
		if err != nil {
			return nil, storage.Position{}, fmt.Errorf("%s: encode: %w", op, err)
		}
		args = append(args, encodeTime(m.Time), string(body))
	}
	keys := []string{s.key("rooms"), rk, rk + ":history", rk + ":log"}
	res, err := s.run(ctx, scriptAppend, keys, args...).ToArray()
	if err != nil && lostConnection(err) && ctx.Err() == nil && !s.closed.Load() {
		// The connection failed (Redis restarted, say): whether the
		// script ran is unknown, but the batch's token makes a second
		// try safe; it gets the first one's answer if that one ran.
		args[8] = flag(true)
		res, err = s.run(ctx, scriptAppend, keys, args...).ToArray()
	}
	if err != nil {
		return nil, storage.Position{}, s.fail(op, err)
	}
	if len(res) != 4 {
		return nil, storage.Position{}, fmt.Errorf("%s: the script answered %d values, want 4", op, len(res))
	}
	first, err1 := res[0].AsInt64()
	firstSeq, err2 := res[1].AsInt64()
	epoch, err3 := res[2].ToString()
	floor, err4 := res[3].ToString()
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return nil, storage.Position{}, fmt.Errorf("%s: the script's answer: %w", op, err)
	}
	prev, err := decodeTime(floor)
	if err != nil {
		return nil, storage.Position{}, fmt.Errorf("%s: the room's last time: %w (%w)", op, storage.ErrCorrupt, err)
	}
	out := make([]storage.Message, len(msgs))
	for i, m := range msgs {
		// The times as the script stored them: to the stored precision,
		// never before the previous one.
		t := decodeNanos(encodeTime(m.Time))
		if prev.After(t) {
			t = prev
		}
		prev = t
		out[i] = storage.Message{ID: uint64(first) + uint64(i), Name: m.Name, Text: m.Text, Time: t}
	}
	return out, storage.Position{Epoch: epoch, Seq: uint64(firstSeq) + uint64(len(msgs)) - 1}, nil
}

// batchTokenBytes is the entropy of an append's batch token.
const batchTokenBytes = 12

// lostConnection reports whether err, from a command, is the connection's
// failure rather than Redis's answer (an error reply) or the context's.
func lostConnection(err error) bool {
	if _, reply := rueidis.IsRedisErr(err); reply {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// RecentMessages returns at most n of the newest messages stored in room,
// oldest first; n <= 0 returns all that are kept. A room that does not
// exist gives storage.ErrNoSuchRoom. The slice is the caller's.
func (s *Store) RecentMessages(ctx context.Context, room string, n int) ([]storage.Message, error) {
	op := roomOp("recent messages of", room)
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validRoom(room) {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if n <= 0 {
		n = -1
	}
	raw, err := s.recent(ctx, room, n)
	if err != nil {
		return nil, s.fail(op, err)
	}
	out, err := decodeMessages(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// decodeMessages decodes the messages of a history.
func decodeMessages(raw []string) ([]storage.Message, error) {
	out := make([]storage.Message, 0, len(raw))
	for _, v := range raw {
		m, err := decodeMessage([]byte(v))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// recent runs the recent script: n messages (0: none, only the check that
// the room exists; -1: all).
func (s *Store) recent(ctx context.Context, room string, n int) ([]string, error) {
	return s.run(ctx, scriptRecent, []string{s.key("rooms"), s.roomKey(room) + ":history"},
		room, strconv.Itoa(n), isDefault(room)).AsStrSlice()
}

// LogSince reads room's log after the position from, with the log's epoch
// and newest position, at one moment: what a node that lost its
// subscription (or its place) delivers to catch up. See Log for what it
// holds when the log no longer reaches back to from. A room that does not
// exist gives storage.ErrNoSuchRoom.
func (s *Store) LogSince(ctx context.Context, room string, from storage.Position) (storage.Log, error) {
	op := roomOp("read the log of", room)
	if err := s.begin(ctx, op); err != nil {
		return storage.Log{}, err
	}
	if !validRoom(room) {
		return storage.Log{}, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	rk := s.roomKey(room)
	after := from.Seq
	res, err := s.run(ctx, scriptLog, []string{rk, rk + ":log"}, strconv.FormatUint(after, 10)).ToArray()
	if err != nil {
		return storage.Log{}, s.fail(op, err)
	}
	if len(res) < 2 {
		return storage.Log{}, fmt.Errorf("%s: the script answered %d values, want at least 2", op, len(res))
	}
	var l storage.Log
	epoch, err1 := res[0].ToString()
	seq, err2 := res[1].AsInt64()
	if err := firstErr(err1, err2); err != nil {
		return storage.Log{}, fmt.Errorf("%s: the script's answer: %w", op, err)
	}
	l.Epoch, l.Seq = epoch, uint64(seq)
	if from == (storage.Position{}) {
		from.Epoch = epoch
	}
	if epoch != from.Epoch && after > 0 {
		// Positions of another epoch mean nothing here: the whole log.
		if l, err = s.LogSince(ctx, room, storage.Position{Epoch: epoch}); err != nil {
			return storage.Log{}, err
		}
		l.Complete = false
		return l, nil
	}
	for _, v := range res[2:] {
		raw, err := v.ToString()
		if err != nil {
			return storage.Log{}, fmt.Errorf("%s: %w (%w)", op, storage.ErrCorrupt, err)
		}
		e, err := decodeEntry([]byte(raw))
		if err != nil {
			return storage.Log{}, fmt.Errorf("%s: %w", op, err)
		}
		l.Entries = append(l.Entries, e)
	}
	switch {
	case epoch != from.Epoch, after > l.Seq:
		l.Complete = false
	case after == l.Seq:
		l.Complete = true
	default:
		l.Complete = len(l.Entries) > 0 && l.Entries[0].Seq == after+1
	}
	return l, nil
}

// storedMessage is a message as the history and the log keep it: the time
// in Unix nanoseconds, which the append script can compare.
type storedMessage struct {
	ID   uint64 `json:"id"`
	Time int64  `json:"time"`
	Name string `json:"name"`
	Text string `json:"text"`
}

// storedEntry is an entry as the log keeps it and the appends publish
// it: {"epoch","seq","kind","message"} for a message,
// {"epoch","seq","kind","name"} for an add or a remove, and
// {"epoch","seq","kind","name","reason"} for a kick.
type storedEntry struct {
	Epoch   string         `json:"epoch"`
	Seq     uint64         `json:"seq"`
	Kind    string         `json:"kind"`
	Message *storedMessage `json:"message"`
	Name    string         `json:"name"`
	Reason  string         `json:"reason"`
}

// entry checks e and returns it as the log's entry.
func (e storedEntry) entry() (storage.Entry, error) {
	out := storage.Entry{Epoch: e.Epoch, Seq: e.Seq, Kind: e.Kind, Name: e.Name, Reason: e.Reason}
	if e.Seq == 0 || e.Epoch == "" {
		return out, errors.New("no position")
	}
	switch e.Kind {
	case storage.EntryMessage:
		if e.Message == nil || e.Message.ID == 0 {
			return out, errors.New("a message entry without a message")
		}
		out.Message = e.Message.message()
	case storage.EntryAdd, storage.EntryRemove, storage.EntryKick:
		if e.Name == "" {
			return out, fmt.Errorf("a %s entry without a name", e.Kind)
		}
	default:
		return out, fmt.Errorf("an entry of the kind %q", e.Kind)
	}
	return out, nil
}

func (m storedMessage) message() storage.Message {
	return storage.Message{ID: m.ID, Name: m.Name, Text: m.Text, Time: time.Unix(0, m.Time).UTC()}
}

// decodeMessage decodes one message of a history.
func decodeMessage(v []byte) (storage.Message, error) {
	var m storedMessage
	if err := json.Unmarshal(v, &m); err != nil || m.ID == 0 {
		return storage.Message{}, fmt.Errorf("decode message %.80q: %w (%v)", v, storage.ErrCorrupt, err)
	}
	return m.message(), nil
}

// decodeEntry decodes one entry of a log.
func decodeEntry(v []byte) (storage.Entry, error) {
	var e storedEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return storage.Entry{}, fmt.Errorf("decode log entry %.80q: %w (%v)", v, storage.ErrCorrupt, err)
	}
	out, err := e.entry()
	if err != nil {
		return storage.Entry{}, fmt.Errorf("decode log entry %.80q: %w (%v)", v, storage.ErrCorrupt, err)
	}
	return out, nil
}

// decodeBatch decodes what an append published: its entries as a JSON
// array.
func decodeBatch(v []byte) ([]storage.Entry, error) {
	var raw []storedEntry
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errors.New("no entries")
	}
	out := make([]storage.Entry, len(raw))
	for i, e := range raw {
		var err error
		if out[i], err = e.entry(); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return out, nil
}

// Snapshot reads room's newest history (at most history messages, all
// that are kept for history <= 0), its chatters (the names of its claims,
// sorted) and its log's epoch and newest position, in one step: the
// entries after At are exactly what the snapshot does not hold. The
// default room is made again, with a new epoch, when Redis lost it; another
// room that does not exist gives storage.ErrNoSuchRoom.
func (s *Store) Snapshot(ctx context.Context, room string, history int) (storage.Snapshot, error) {
	op := roomOp("snapshot", room)
	if err := s.begin(ctx, op); err != nil {
		return storage.Snapshot{}, err
	}
	if !validRoom(room) {
		return storage.Snapshot{}, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if history <= 0 {
		history = -1
	}
	res, err := s.run(ctx, scriptSnapshot, nil, s.opts.Prefix, room, strconv.Itoa(history),
		isDefault(room), newEpoch(), time.Now().UTC().Format(time.RFC3339Nano)).ToArray()
	if err != nil {
		return storage.Snapshot{}, s.fail(op, err)
	}
	if len(res) != 4 {
		return storage.Snapshot{}, fmt.Errorf("%s: the script answered %d values, want 4", op, len(res))
	}
	epoch, err1 := res[0].ToString()
	seq, err2 := res[1].AsInt64()
	claims, err3 := res[2].AsStrSlice()
	raw, err4 := res[3].AsStrSlice()
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return storage.Snapshot{}, fmt.Errorf("%s: the script's answer: %w", op, err)
	}
	snap := storage.Snapshot{At: storage.Position{Epoch: epoch, Seq: uint64(seq)}}
	if snap.History, err = decodeMessages(raw); err != nil {
		return storage.Snapshot{}, fmt.Errorf("%s: %w", op, err)
	}
	if snap.Chatters, err = claimNames(claims); err != nil {
		return storage.Snapshot{}, fmt.Errorf("%s: %w", op, err)
	}
	return snap, nil
}

// encodeTime writes t as the append script compares times: Unix
// nanoseconds in 19 digits, zero-padded; before 1970, zero, and after
// the last nanosecond an int64 holds (in 2262), that one.
func encodeTime(t time.Time) string {
	var n int64
	switch {
	case t.Before(time.Unix(0, 0)):
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return fmt.Sprintf("%019d", n)
}

// decodeTime reads a time encodeTime wrote.
func decodeTime(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || len(v) != 19 {
		return time.Time{}, fmt.Errorf("bad time %q", v)
	}
	return time.Unix(0, n).UTC(), nil
}

// decodeNanos is decodeTime of what encodeTime just wrote.
func decodeNanos(v string) time.Time {
	t, _ := decodeTime(v)
	return t
}

// firstErr returns the first error that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
