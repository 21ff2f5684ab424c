// Package v1file writes a chatserver database of schema version 1, the
// layout before rooms, with bbolt directly: the file testdata/v1.db of
// storage/bolt holds, and was first written through the Store of that
// schema. storage/bolt's tests check that Write still gives a file with
// the same buckets, keys, values and sequences as testdata/v1.db.
//
// The file holds fourteen messages from a few nicknames (some not ASCII)
// of which the newest twelve are kept, so that the kept IDs begin at 3 and
// the messages bucket's sequence is 14; two chatters left behind, as by a
// server that stopped without clearing them; and three bans: one expired,
// one far in the future, and one under a key that is not its own nick.Key,
// as bans were keyed by strings.ToLower once. Every time in it is fixed,
// so that its contents (not its page layout) are the same on every run.
package v1file

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"
)

// history is the history of the store that wrote the file: of the
// fourteen messages, the oldest two were trimmed.
const history = 12

// start is the time of the first message; each next one is 37s later.
var start = time.Date(2025, 6, 1, 9, 30, 0, 123456789, time.UTC)

// messages are the messages by sender and text, oldest first, with IDs
// from 1.
var messages = [][2]string{
	{"ann", "good morning"},
	{"bob", "morning ann"},
	{"Zoë", "bonjour à tous"},
	{"ann", "who is up for lunch?"},
	{"Мария", "я буду через десять минут"},
	{"bob", "me, at noon"},
	{"李雷", "我也去 🍜"},
	{"Zoë", "« oui » for me"},
	{"ann", "great, see you at noon"},
	{"bob", "booked a table for five"},
	{"Мария", "спасибо!"},
	{"李雷", "好的"},
	{"Zoë", "à tout à l'heure"},
	{"ann", "bye for now"},
}

// chatters are the names present when the server stopped.
var chatters = []string{"Zoë", "bob"}

// bans are the stored bans by key: the nick.Key of "mallory" and of
// "spammer" when the file was written, and "ας", the strings.ToLower of
// "Ας", whose nick.Key is "ασ".
var bans = map[string]time.Time{
	"rnallory":  time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC), // far in the future
	"sparnrner": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),              // expired
	"ας":        time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),              // under an old key
}

// message is a stored message as schema 1 encodes it in JSON.
type message struct {
	ID   uint64    `json:"id"`
	Name string    `json:"name"`
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Write creates the file at path; it refuses to overwrite one.
func Write(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists; remove it first to write it anew", path)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(fill)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// fill writes the schema-1 layout and its contents.
func fill(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucket([]byte("meta"))
	if err != nil {
		return err
	}
	if err := meta.Put([]byte("app"), []byte("chatserver")); err != nil {
		return err
	}
	if err := meta.Put([]byte("schema"), []byte("1")); err != nil {
		return err
	}

	msgs, err := tx.CreateBucket([]byte("messages"))
	if err != nil {
		return err
	}
	for i, m := range messages {
		id := uint64(i + 1)
		if id <= uint64(len(messages)-history) {
			continue
		}
		v, err := json.Marshal(message{ID: id, Name: m[0], Text: m[1], Time: start.Add(time.Duration(i) * 37 * time.Second)})
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], id)
		if err := msgs.Put(k[:], v); err != nil {
			return err
		}
	}
	if err := msgs.SetSequence(uint64(len(messages))); err != nil {
		return err
	}

	present, err := tx.CreateBucket([]byte("chatters"))
	if err != nil {
		return err
	}
	for _, name := range chatters {
		if err := present.Put([]byte(name), []byte{}); err != nil {
			return err
		}
	}

	banned, err := tx.CreateBucket([]byte("bans"))
	if err != nil {
		return err
	}
	for key, until := range bans {
		if err := banned.Put([]byte(key), []byte(until.Format(time.RFC3339Nano))); err != nil {
			return err
		}
	}
	return nil
}
