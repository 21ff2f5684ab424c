package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"chatserver/storage"
)

// Entry is one entry of a room's log, as the log keeps it and as the
// appends publish it: a message at its position.
type Entry struct {
	// Epoch names the log's lifetime: positions of another epoch are not
	// this log's.
	Epoch string
	// Seq is the entry's position in the log: the room's positions
	// count up by one from 1, without gaps, in the order the entries were
	// appended.
	Seq uint64
	// Message is the message appended, as stored.
	Message storage.Message
}

// Position names a place in a room's log: after the entry Seq of the log
// of Epoch (Seq 0: before the first). The zero Position is the start of
// whichever log the room has.
type Position struct {
	Epoch string
	Seq   uint64
}

// Log is what LogSince read of a room's log.
type Log struct {
	// Epoch and Seq are the log's epoch and its newest position.
	Epoch string
	Seq   uint64
	// Entries are the entries after the position asked, oldest first, as
	// far as the log still holds them; of another epoch, every entry the
	// log holds.
	Entries []Entry
	// Complete reports whether Entries are every entry after the position
	// asked: false when the position is of another epoch or ahead of the
	// log, or the log no longer holds the entry right after it.
	Complete bool
}

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
	op := roomOp("append messages to", room)
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validRoom(room) {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	if len(msgs) == 0 {
		if _, err := s.recent(ctx, room, 0); err != nil {
			return nil, s.fail(op, err)
		}
		return []storage.Message{}, nil
	}
	rk := s.roomKey(room)
	args := make([]string, 0, 7+2*len(msgs))
	args = append(args, room, strconv.Itoa(s.opts.History), strconv.Itoa(s.opts.LogSize), s.channel(room),
		isDefault(room), newEpoch(), time.Now().UTC().Format(time.RFC3339Nano))
	for _, m := range msgs {
		body, err := json.Marshal(struct {
			Name string `json:"name"`
			Text string `json:"text"`
		}{m.Name, m.Text})
		if err != nil {
			return nil, fmt.Errorf("%s: encode: %w", op, err)
		}
		args = append(args, encodeTime(m.Time), string(body))
	}
	res, err := s.run(ctx, scriptAppend, []string{s.key("rooms"), rk, rk + ":history", rk + ":log"}, args...).ToArray()
	if err != nil {
		return nil, s.fail(op, err)
	}
	if len(res) != 4 {
		return nil, fmt.Errorf("%s: the script answered %d values, want 4", op, len(res))
	}
	first, err1 := res[0].AsInt64()
	floor, err2 := res[3].ToString()
	if err := firstErr(err1, err2); err != nil {
		return nil, fmt.Errorf("%s: the script's answer: %w", op, err)
	}
	prev, err := decodeTime(floor)
	if err != nil {
		return nil, fmt.Errorf("%s: the room's last time: %w (%w)", op, storage.ErrCorrupt, err)
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
	return out, nil
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
	out := make([]storage.Message, 0, len(raw))
	for _, v := range raw {
		m, err := decodeMessage([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
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
func (s *Store) LogSince(ctx context.Context, room string, from Position) (Log, error) {
	op := roomOp("read the log of", room)
	if err := s.begin(ctx, op); err != nil {
		return Log{}, err
	}
	if !validRoom(room) {
		return Log{}, fmt.Errorf("%s: %w", op, storage.ErrNoSuchRoom)
	}
	rk := s.roomKey(room)
	after := from.Seq
	res, err := s.run(ctx, scriptLog, []string{rk, rk + ":log"}, strconv.FormatUint(after, 10)).ToArray()
	if err != nil {
		return Log{}, s.fail(op, err)
	}
	if len(res) < 2 {
		return Log{}, fmt.Errorf("%s: the script answered %d values, want at least 2", op, len(res))
	}
	var l Log
	epoch, err1 := res[0].ToString()
	seq, err2 := res[1].AsInt64()
	if err := firstErr(err1, err2); err != nil {
		return Log{}, fmt.Errorf("%s: the script's answer: %w", op, err)
	}
	l.Epoch, l.Seq = epoch, uint64(seq)
	if from == (Position{}) {
		from.Epoch = epoch
	}
	if epoch != from.Epoch && after > 0 {
		// Positions of another epoch mean nothing here: the whole log.
		if l, err = s.LogSince(ctx, room, Position{Epoch: epoch}); err != nil {
			return Log{}, err
		}
		l.Complete = false
		return l, nil
	}
	for _, v := range res[2:] {
		raw, err := v.ToString()
		if err != nil {
			return Log{}, fmt.Errorf("%s: %w (%w)", op, storage.ErrCorrupt, err)
		}
		e, err := decodeEntry([]byte(raw))
		if err != nil {
			return Log{}, fmt.Errorf("%s: %w", op, err)
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

// storedEntry is an entry as the log keeps it and the appends publish it.
type storedEntry struct {
	Epoch   string        `json:"epoch"`
	Seq     uint64        `json:"seq"`
	Message storedMessage `json:"message"`
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
func decodeEntry(v []byte) (Entry, error) {
	var e storedEntry
	if err := json.Unmarshal(v, &e); err != nil || e.Seq == 0 || e.Message.ID == 0 {
		return Entry{}, fmt.Errorf("decode log entry %.80q: %w (%v)", v, storage.ErrCorrupt, err)
	}
	return Entry{Epoch: e.Epoch, Seq: e.Seq, Message: e.Message.message()}, nil
}

// decodeBatch decodes what an append published: its entries as a JSON
// array.
func decodeBatch(v []byte) ([]Entry, error) {
	var raw []storedEntry
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, err
	}
	out := make([]Entry, len(raw))
	for i, e := range raw {
		if e.Seq == 0 || e.Message.ID == 0 {
			return nil, fmt.Errorf("entry %d has no position or no ID", i)
		}
		out[i] = Entry{Epoch: e.Epoch, Seq: e.Seq, Message: e.Message.message()}
	}
	return out, nil
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
