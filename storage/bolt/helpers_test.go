package bolt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"chatserver/storage"
	"chatserver/storage/storetest"
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

// mustChatters reads the names present in room and fails the test on
// error.
func mustChatters(tb testing.TB, s *Store, room string) []string {
	tb.Helper()
	got, err := s.Chatters(tb.Context(), room)
	if err != nil {
		tb.Fatalf("Chatters(%s): %v", room, err)
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
	if _, err := s.AppendMessages(tb.Context(), storage.DefaultRoom, storetest.Msgs(batch...)); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, readFile(tb, path)
}

// doctor changes the bbolt file at path with fill, past the Store.
func doctor(tb testing.TB, path string, fill func(tx *bbolt.Tx) error) {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fill); err != nil {
		tb.Fatal(err)
	}
}

// doctored creates a sound chatserver file with a room "games" holding
// two messages and a chatter, and a ban, lets fill change it past the
// Store, and returns its path.
func doctored(tb testing.TB, fill func(tx *bbolt.Tx) error) string {
	tb.Helper()
	path := testPath(tb)
	s, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	storetest.MustAddRoom(tb, s, "games")
	storetest.MustAppendTo(tb, s, "games", storetest.Msgs("one", "two"))
	if err := s.SetChatters(tb.Context(), "games", []string{"ann"}); err != nil {
		tb.Fatal(err)
	}
	if err := s.Ban(tb.Context(), "mallory", storetest.BaseTime.Add(time.Hour)); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	doctor(tb, path, fill)
	return path
}

// games returns the bucket of the room "games" of a doctored file.
func games(tx *bbolt.Tx) *bbolt.Bucket {
	return tx.Bucket(bucketRooms).Bucket([]byte("games"))
}

// dumpFile lists everything the bbolt file at path holds, sorted, one
// line per bucket ("rooms/general", with " sequence N" when that is not
// zero) and per value ("meta schema 2"). Keys that are not printable text
// are shown in hex ("0x0000000000000003"). Two files with the same lines
// hold the same data, however bbolt laid out their pages.
func dumpFile(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := bbolt.Open(path, 0, &bbolt.Options{ReadOnly: true, Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var lines []string
	var walk func(path string, b *bbolt.Bucket) error
	walk = func(path string, b *bbolt.Bucket) error {
		line := path
		if seq := b.Sequence(); seq != 0 {
			line += fmt.Sprintf(" sequence %d", seq)
		}
		lines = append(lines, line)
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(path+"/"+printable(k), b.Bucket(k))
			}
			lines = append(lines, path+" "+printable(k)+" "+string(v))
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walk(printable(name), b) })
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// printable is k as text if it is printable, else in hex.
func printable(k []byte) string {
	if utf8.Valid(k) && !strings.ContainsFunc(string(k), func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' || r == '/' }) {
		return string(k)
	}
	return fmt.Sprintf("%#x", k)
}

// readCreated returns the stored creation time of room in the file at
// path.
func readCreated(tb testing.TB, path, room string) time.Time {
	tb.Helper()
	var created time.Time
	db, err := bbolt.Open(path, 0, &bbolt.Options{ReadOnly: true, Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		var err error
		created, err = decodeCreated(tx.Bucket(bucketRooms).Bucket([]byte(room)).Get(keyCreated))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return created
}

// v1Copy copies testdata/v1.db, a file of schema 1, to a temporary
// directory and returns the copy's path.
func v1Copy(tb testing.TB) string {
	tb.Helper()
	return writeFile(tb, readFile(tb, filepath.Join("testdata", "v1.db")))
}
