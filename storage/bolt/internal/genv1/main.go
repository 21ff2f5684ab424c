// Command genv1 writes the chatserver database of schema version 1 that
// storage/bolt's tests open as testdata/v1.db, to prove that files written
// before a change of layout keep working:
//
//	go run ./storage/bolt/internal/genv1 storage/bolt/testdata/v1.db
//
// The file holds fourteen messages from a few nicknames (some not ASCII)
// of which the newest twelve are kept, so that the kept IDs begin at 3;
// two chatters left behind as by a server that stopped without clearing
// them; and three bans: one expired, one far in the future, and one under
// a key that is not its own nick.Key, as bans were keyed by strings.ToLower
// once. Every time in it is fixed, so that its contents (not its page
// layout) are the same on every run. It refuses to overwrite a file.
package main

import (
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/storage"
	"chatserver/storage/bolt"
)

// history is the history of the store that writes the file.
const history = 12

// start is the time of the first message.
var start = time.Date(2025, 6, 1, 9, 30, 0, 123456789, time.UTC)

// batches are the messages, by sender and text, one AppendMessages call
// per batch.
var batches = [][][2]string{
	{
		{"ann", "good morning"},
		{"bob", "morning ann"},
		{"Zoë", "bonjour à tous"},
	},
	{
		{"ann", "who is up for lunch?"},
		{"Мария", "я буду через десять минут"},
		{"bob", "me, at noon"},
		{"李雷", "我也去 🍜"},
		{"Zoë", "« oui » for me"},
	},
	{
		{"ann", "great, see you at noon"},
		{"bob", "booked a table for five"},
		{"Мария", "спасибо!"},
		{"李雷", "好的"},
		{"Zoë", "à tout à l'heure"},
		{"ann", "bye for now"},
	},
}

// chatters are the names present when the server stopped.
var chatters = []string{"Zoë", "bob"}

// bans are the bans stored through the Store, by name.
var bans = map[string]time.Time{
	"spammer": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),              // expired
	"mallory": time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC), // far in the future
}

// staleBans are stored past the Store under the key strings.ToLower gave
// them ("Ας" → "ας", whose nick.Key is "ασ").
var staleBans = map[string]time.Time{
	"ας": time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genv1 FILE")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genv1:", err)
		os.Exit(1)
	}
}

// write creates the file at path.
func write(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists; remove it first to write it anew", path)
	}
	s, err := bolt.Open(path, bolt.Options{History: history})
	if err != nil {
		return err
	}
	at := start
	for _, batch := range batches {
		ms := make([]storage.Message, len(batch))
		for i, m := range batch {
			ms[i] = storage.Message{Name: m[0], Text: m[1], Time: at}
			at = at.Add(37 * time.Second)
		}
		if _, err := s.AppendMessages(ms); err != nil {
			s.Close()
			return err
		}
	}
	if err := s.SetChatters(chatters); err != nil {
		s.Close()
		return err
	}
	for name, until := range bans {
		if err := s.Ban(name, until); err != nil {
			s.Close()
			return err
		}
	}
	if err := s.Close(); err != nil {
		return err
	}

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("bans"))
		for key, until := range staleBans {
			if err := b.Put([]byte(key), []byte(until.UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
