package bolt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/storage"
)

// testTimeout is the lock timeout of stores opened by tests: short, so that
// the ErrLocked cases finish quickly.
const testTimeout = 100 * time.Millisecond

// testPath returns a database path in a fresh temporary directory.
func testPath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "chat.db")
}

// openStore opens path with opts, failing the test on error, and closes the
// store when the test ends.
func openStore(tb testing.TB, path string, opts Options) *Store {
	tb.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s, %+v): %v", path, opts, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// baseTime is the send time of the first message made by msgs.
var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// msgs returns one message per text, from "ann", one second apart.
func msgs(texts ...string) []storage.Message {
	out := make([]storage.Message, len(texts))
	for i, text := range texts {
		out[i] = storage.Message{Name: "ann", Text: text, Time: baseTime.Add(time.Duration(i) * time.Second)}
	}
	return out
}

// texts returns the Text of each message.
func texts(ms []storage.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// mustAppend appends and fails the test on error.
func mustAppend(tb testing.TB, s *Store, ms []storage.Message) []storage.Message {
	tb.Helper()
	got, err := s.AppendMessages(ms)
	if err != nil {
		tb.Fatalf("AppendMessages(%d messages): %v", len(ms), err)
	}
	return got
}

// mustRecent reads all kept messages and fails the test on error.
func mustRecent(tb testing.TB, s *Store) []storage.Message {
	tb.Helper()
	got, err := s.RecentMessages(0)
	if err != nil {
		tb.Fatalf("RecentMessages(0): %v", err)
	}
	return got
}

// readFile returns the bytes of path, failing the test on error.
func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// writeFile writes data to a new file in a temporary directory and returns
// its path.
func writeFile(tb testing.TB, data []byte) string {
	tb.Helper()
	path := testPath(tb)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// assertUnchanged fails the test if path no longer holds want.
func assertUnchanged(tb testing.TB, path string, want []byte) {
	tb.Helper()
	if got := readFile(tb, path); !bytes.Equal(got, want) {
		tb.Errorf("%s changed: %d bytes before, %d after, contents differ", path, len(want), len(got))
	}
}

// rawBolt creates a bbolt file with bbolt directly, lets fill shape it, and
// returns its path: a file of "another program" or a doctored chatserver
// file.
func rawBolt(tb testing.TB, fill func(tx *bbolt.Tx) error) string {
	tb.Helper()
	path := testPath(tb)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// rawMeta creates a bbolt file whose only bucket is "meta", holding the
// given key/value pairs, and returns its path.
func rawMeta(tb testing.TB, pairs ...string) string {
	tb.Helper()
	return rawBolt(tb, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			if err := b.Put([]byte(pairs[i]), []byte(pairs[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
}

// chatserverFile creates a chatserver database holding n messages, closes
// it and returns its bytes and path.
func chatserverFile(tb testing.TB, n int) (string, []byte) {
	tb.Helper()
	path := testPath(tb)
	s, err := Open(path, Options{History: n + 1, Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	batch := make([]string, n)
	for i := range batch {
		batch[i] = fmt.Sprintf("message %d %s", i, strings.Repeat("x", 200))
	}
	if _, err := s.AppendMessages(msgs(batch...)); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, readFile(tb, path)
}
