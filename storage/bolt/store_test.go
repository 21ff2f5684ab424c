package bolt

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestOpenCreatesLayout(t *testing.T) {
	for _, name := range []string{"missing file", "empty file", "bbolt file without buckets"} {
		t.Run(name, func(t *testing.T) {
			var path string
			switch name {
			case "missing file":
				path = testPath(t)
			case "empty file":
				path = writeFile(t, nil)
			case "bbolt file without buckets":
				path = rawBolt(t, func(*bbolt.Tx) error { return nil })
			}
			start := time.Now().UTC()
			s, err := Open(path, Options{Timeout: testTimeout})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			created := readCreated(t, path, storage.DefaultRoom)
			if created.Before(start) || created.After(time.Now()) || created.Location() != time.UTC {
				t.Errorf("the default room was created at %v, want a UTC time since %v", created, start)
			}
			want := []string{
				"bans",
				"meta", "meta app chatserver", "meta schema 2",
				"rooms", "rooms/general", "rooms/general created " + created.Format(time.RFC3339Nano),
				"rooms/general/chatters", "rooms/general/messages", "rooms/general topic ",
			}
			slices.Sort(want)
			if got := dumpFile(t, path); !slices.Equal(got, want) {
				t.Errorf("layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative history", Options{History: -1}, "history must be at least 1"},
		{"negative timeout", Options{Timeout: -time.Second}, "lock timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testPath(t)
			_, err := Open(path, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error = %v, want one containing %q", err, tt.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("file created despite bad options: %v", err)
			}
		})
	}
}

func TestOpenRefusesForeignFilesUntouched(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T) string
		want error
	}{
		{"random bytes, one page", func(t *testing.T) string { return writeFile(t, randomBytes(4096, 1)) }, storage.ErrNotChatserver},
		{"random bytes, 64 KiB", func(t *testing.T) string { return writeFile(t, randomBytes(64<<10, 2)) }, storage.ErrNotChatserver},
		{"random bytes, short", func(t *testing.T) string { return writeFile(t, randomBytes(100, 3)) }, storage.ErrNotChatserver},
		{"text file", func(t *testing.T) string {
			return writeFile(t, []byte(strings.Repeat("my notes, not a database\n", 500)))
		}, storage.ErrNotChatserver},
		{"another program's bbolt file", func(t *testing.T) string {
			return rawBolt(t, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket([]byte("widgets"))
				if err != nil {
					return err
				}
				return b.Put([]byte("w1"), []byte("blue"))
			})
		}, storage.ErrNotChatserver},
		{"bbolt file with another app's meta", func(t *testing.T) string {
			return rawMeta(t, "app", "other")
		}, storage.ErrNotChatserver},
		{"chatserver marker with unreadable schema", func(t *testing.T) string {
			return rawMeta(t, "app", "chatserver", "schema", "one")
		}, storage.ErrNotChatserver},
		{"newer schema", func(t *testing.T) string {
			return rawMeta(t, "app", "chatserver", "schema", "3")
		}, storage.ErrNewerSchema},
		{"newer schema, otherwise a sound file", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("3")) })
		}, storage.ErrNewerSchema},
		{"foreign top-level bucket", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
		}, storage.ErrNotChatserver},
		{"schema-1 bucket in a schema-2 file", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucketMessages); return err })
		}, storage.ErrNotChatserver},
		{"schema-2 bucket in a schema-1 file", func(t *testing.T) string {
			path := v1Copy(t)
			doctor(t, path, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucketRooms); return err })
			return path
		}, storage.ErrNotChatserver},
		{"room with a bad name", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error {
				_, err := createRoom(tx.Bucket(bucketRooms), "Games Night", "", storetest.BaseTime)
				return err
			})
		}, storage.ErrNotChatserver},
		{"a value among the rooms", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return tx.Bucket(bucketRooms).Put([]byte("music"), []byte("x")) })
		}, storage.ErrNotChatserver},
		{"foreign key in a room", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return games(tx).Put([]byte("colour"), []byte("blue")) })
		}, storage.ErrNotChatserver},
		{"foreign bucket in a room", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { _, err := games(tx).CreateBucket([]byte("photos")); return err })
		}, storage.ErrNotChatserver},
		{"a room's topic is a bucket", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error {
				if err := games(tx).Delete(keyTopic); err != nil {
					return err
				}
				_, err := games(tx).CreateBucket(keyTopic)
				return err
			})
		}, storage.ErrNotChatserver},
		{"a room's messages are a value", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error {
				if err := games(tx).DeleteBucket(bucketMessages); err != nil {
					return err
				}
				return games(tx).Put(bucketMessages, []byte("x"))
			})
		}, storage.ErrNotChatserver},
		{"a room's creation time unreadable", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return games(tx).Put(keyCreated, []byte("yesterday")) })
		}, storage.ErrNotChatserver},
		{"message key of 3 bytes in a room", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return games(tx).Bucket(bucketMessages).Put([]byte("abc"), []byte("{}")) })
		}, storage.ErrNotChatserver},
		{"message ID past its room's sequence", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return games(tx).Bucket(bucketMessages).Put(messageKey(99), []byte("{}")) })
		}, storage.ErrNotChatserver},
		{"bucket among a room's messages", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error {
				_, err := games(tx).Bucket(bucketMessages).CreateBucket(messageKey(0))
				return err
			})
		}, storage.ErrNotChatserver},
		{"bucket among a room's chatters", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error {
				_, err := games(tx).Bucket(bucketChatters).CreateBucket([]byte("bob"))
				return err
			})
		}, storage.ErrNotChatserver},
		{"bucket among the bans", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { _, err := tx.Bucket(bucketBans).CreateBucket([]byte("ann")); return err })
		}, storage.ErrNotChatserver},
		{"message key of 3 bytes in a schema-1 file", func(t *testing.T) string {
			path := v1Copy(t)
			doctor(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMessages).Put([]byte("abc"), []byte("{}")) })
			return path
		}, storage.ErrNotChatserver},
		{"chatserver file truncated", func(t *testing.T) string {
			_, data := chatserverFile(t, 200)
			return writeFile(t, data[:len(data)/2])
		}, storage.ErrNotChatserver},
		{"chatserver file with data pages overwritten", func(t *testing.T) string {
			_, data := chatserverFile(t, 200)
			pageSize := os.Getpagesize()
			copy(data[2*pageSize:], randomBytes(len(data)-2*pageSize, 4))
			return writeFile(t, data)
		}, storage.ErrNotChatserver},
		{"chatserver file with one leaf page zeroed", func(t *testing.T) string {
			_, data := chatserverFile(t, 200)
			pageSize := os.Getpagesize()
			clear(data[len(data)/2/pageSize*pageSize:][:pageSize])
			return writeFile(t, data)
		}, storage.ErrNotChatserver},
		{"chatserver file whose freelist claims a live page", func(t *testing.T) string {
			_, data := chatserverFile(t, 200)
			return writeFile(t, freeLivePage(t, data))
		}, storage.ErrNotChatserver},
	}
	for _, tt := range tests {
		for _, readOnly := range []bool{false, true} {
			mode := "read-write"
			if readOnly {
				mode = "read-only"
			}
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				path := tt.make(t)
				before := readFile(t, path)
				s, err := Open(path, Options{ReadOnly: readOnly, Timeout: testTimeout})
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded, want an error")
				}
				t.Logf("Open: %v", err)
				if !errors.Is(err, tt.want) {
					t.Errorf("Open error = %v, want errors.Is %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("Open error %q does not name the file", err)
				}
				assertUnchanged(t, path, before)
				// The refusal released the file: bbolt itself can lock it.
				db, err := bbolt.Open(path, 0, &bbolt.Options{ReadOnly: true, Timeout: testTimeout})
				if err == nil {
					db.Close()
				} else if errors.Is(err, berrors.ErrTimeout) {
					t.Errorf("file still locked after refused Open")
				}
			})
		}
	}
}

func TestOpenReadOnlyNeedsExistingDatabase(t *testing.T) {
	t.Run("missing file is not created", func(t *testing.T) {
		path := testPath(t)
		_, err := Open(path, Options{ReadOnly: true, Timeout: testTimeout})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open error = %v, want errors.Is fs.ErrNotExist", err)
		}
		if want := "no database at " + path; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Open error = %v, want it to start with %q", err, want)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("read-only Open created the file: %v", err)
		}
	})
	t.Run("empty file is not a chatserver database", func(t *testing.T) {
		path := writeFile(t, nil)
		_, err := Open(path, Options{ReadOnly: true, Timeout: testTimeout})
		if !errors.Is(err, storage.ErrNotChatserver) {
			t.Errorf("Open error = %v, want errors.Is ErrNotChatserver", err)
		}
		assertUnchanged(t, path, nil)
	})
}

func TestOpenWhileOpen(t *testing.T) {
	tests := []struct {
		name          string
		first, second bool // ReadOnly of each Open
		wantLocked    bool
	}{
		{"read-write then read-write is locked", false, false, true},
		{"read-write then read-only is locked", false, true, true},
		{"read-only then read-write is locked", true, false, true},
		{"read-only then read-only shares", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := chatserverFile(t, 3)
			first := openStore(t, path, Options{ReadOnly: tt.first})

			type result struct {
				s   *Store
				err error
			}
			done := make(chan result, 1)
			go func() {
				s, err := Open(path, Options{ReadOnly: tt.second, Timeout: testTimeout})
				done <- result{s, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("second Open still waiting 10s after a %s lock timeout", testTimeout)
			}
			if r.s != nil {
				t.Cleanup(func() { r.s.Close() })
			}
			if !tt.wantLocked {
				if r.err != nil {
					t.Fatalf("second Open: %v", r.err)
				}
				if got := storetest.MustRecent(t, r.s); len(got) != 3 {
					t.Errorf("second store reads %d messages, want 3", len(got))
				}
				return
			}
			if !errors.Is(r.err, storage.ErrLocked) {
				t.Fatalf("second Open error = %v, want errors.Is ErrLocked", r.err)
			}
			if !strings.Contains(r.err.Error(), path) {
				t.Errorf("ErrLocked error %q does not name the file", r.err)
			}

			// Once the holder closes, the file opens again.
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			openStore(t, path, Options{ReadOnly: tt.second})
		})
	}
}

func TestReadOnlyStoreRefusesWrites(t *testing.T) {
	path, _ := chatserverFile(t, 3)
	s := openStore(t, path, Options{ReadOnly: true})
	before := readFile(t, path)
	until := time.Now().Add(time.Hour)

	writes := []struct {
		name string
		call func() error
	}{
		{"AppendMessages", func() error {
			_, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("hi"))
			return err
		}},
		{"AppendMessages empty", func() error { _, err := s.AppendMessages(t.Context(), storage.DefaultRoom, nil); return err }},
		{"RemoveChatter", func() error { _, err := s.RemoveChatter(t.Context(), storage.DefaultRoom, "ann"); return err }},
		{"RemoveChatter everywhere", func() error { _, err := s.RemoveChatter(t.Context(), "", "ann"); return err }},
		{"SetChatters", func() error { return s.SetChatters(t.Context(), storage.DefaultRoom, []string{"ann"}) }},
		{"AddRoom", func() error { return s.AddRoom(t.Context(), storage.Room{Name: "games"}) }},
		{"RemoveRoom", func() error { return s.RemoveRoom(t.Context(), "games") }},
		{"Ban", func() error { return s.Ban(t.Context(), "bob", until) }},
		{"Unban", func() error { _, err := s.Unban(t.Context(), "bob"); return err }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := w.call(); !errors.Is(err, storage.ErrReadOnly) {
				t.Errorf("%s error = %v, want errors.Is ErrReadOnly", w.name, err)
			}
		})
	}
	if got := storetest.MustRecent(t, s); len(got) != 3 {
		t.Errorf("read-only store reads %d messages, want 3", len(got))
	}
	assertUnchanged(t, path, before)
}

func TestClosedStoreRefusesCalls(t *testing.T) {
	path := testPath(t)
	s, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	now := time.Now()
	calls := []struct {
		name string
		call func() error
	}{
		{"AppendMessages", func() error {
			_, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("hi"))
			return err
		}},
		{"RecentMessages", func() error { _, err := s.RecentMessages(t.Context(), storage.DefaultRoom, 0); return err }},
		{"RemoveChatter", func() error { _, err := s.RemoveChatter(t.Context(), storage.DefaultRoom, "ann"); return err }},
		{"Rooms", func() error { _, err := s.Rooms(t.Context()); return err }},
		{"AddRoom", func() error { return s.AddRoom(t.Context(), storage.Room{Name: "games"}) }},
		{"RemoveRoom", func() error { return s.RemoveRoom(t.Context(), "games") }},
		{"Chatters", func() error { _, err := s.Chatters(t.Context(), storage.DefaultRoom); return err }},
		{"SetChatters", func() error { return s.SetChatters(t.Context(), storage.DefaultRoom, nil) }},
		{"Ban", func() error { return s.Ban(t.Context(), "bob", now) }},
		{"Unban", func() error { _, err := s.Unban(t.Context(), "bob"); return err }},
		{"BanExpiry", func() error { _, _, err := s.BanExpiry(t.Context(), "bob", now); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, storage.ErrClosed) {
				t.Errorf("%s error = %v, want errors.Is ErrClosed", c.name, err)
			}
		})
	}
}

func TestCloseDuringCallsEndsThemCleanly(t *testing.T) {
	s := openStore(t, testPath(t), Options{History: 1000})
	const writers = 4
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for range 20 {
				if _, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("from writer", string(rune('a'+w)))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	closed := false
	for range writers {
		err := <-errs
		if !closed {
			// Close while the other writers are still running.
			if cerr := s.Close(); cerr != nil {
				t.Fatal(cerr)
			}
			closed = true
		}
		if err != nil && !errors.Is(err, storage.ErrClosed) {
			t.Errorf("writer error = %v, want nil or ErrClosed", err)
		}
	}
}

func TestWriteErrorIsReturned(t *testing.T) {
	// bbolt refuses to grow the file past MaxSize the way a full disk
	// refuses the write: the commit fails and must come back as an error.
	const maxSize = 1 << 20
	path := testPath(t)
	s, err := open(path, Options{History: 10000, Timeout: testTimeout}, func(o *bbolt.Options) { o.MaxSize = maxSize })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	big := strings.Repeat("x", 64<<10)
	var stored int
	var werr error
	for range 2 * maxSize / len(big) {
		var got []storage.Message
		if got, werr = s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs(big)); werr != nil {
			break
		}
		stored += len(got)
	}
	if werr == nil {
		t.Fatalf("stored %d messages of %d bytes in a file limited to %d bytes without an error", stored, len(big), maxSize)
	}
	if !errors.Is(werr, berrors.ErrMaxSizeReached) {
		t.Errorf("write error = %v, want the cause (ErrMaxSizeReached) wrapped", werr)
	}
	if got := storetest.MustRecent(t, s); len(got) != stored {
		t.Errorf("after the failed write %d messages are kept, want the %d stored before", len(got), stored)
	}
	// The failed transaction left nothing behind: small writes still work.
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, []string{"ann"}); err != nil {
		t.Errorf("SetChatters after failed append: %v", err)
	}
}

// freeLivePage doctors a bbolt file so that its freelist lists the root
// page of the root bucket, a page in use. The meta pages (the only
// checksummed ones) stay valid, so only bbolt's consistency check can tell;
// a writer trusting that freelist would overwrite live data. It reads the
// page layout of bbolt 1.x in the machine's byte order (little-endian on
// the platforms chatserver is built for).
func freeLivePage(tb testing.TB, data []byte) []byte {
	tb.Helper()
	le := binary.LittleEndian
	const (
		pageHeader  = 16 // id u64, flags u16, count u16, overflow u32
		metaRoot    = pageHeader + 16
		metaFree    = metaRoot + 16
		metaTxid    = metaFree + 16
		freeCount   = 10
		freeFlag    = 0x10
		flagsOffset = 8
	)
	pageSize := int(le.Uint32(data[pageHeader+8:]))
	meta := data[:pageSize] // the newer of the two meta pages counts
	if le.Uint64(data[pageSize+metaTxid:]) > le.Uint64(meta[metaTxid:]) {
		meta = data[pageSize : 2*pageSize]
	}
	root := le.Uint64(meta[metaRoot:])
	free := data[int(le.Uint64(meta[metaFree:]))*pageSize:]
	if le.Uint16(free[flagsOffset:]) != freeFlag {
		tb.Fatalf("freelist page has flags %#x, want %#x: layout not understood", le.Uint16(free[flagsOffset:]), freeFlag)
	}
	le.PutUint16(free[freeCount:], 1)
	le.PutUint64(free[pageHeader:], root)
	return data
}

func TestOpenCompletesASchema2File(t *testing.T) {
	// A file with the marker of schema 2 but not all of its buckets (only
	// a hand-made file is like that) reads as empty and gets them from a
	// read-write Open.
	for _, tc := range []struct {
		name string
		make func(t *testing.T) string
	}{
		{"only the marker", func(t *testing.T) string { return rawMeta(t, "app", "chatserver", "schema", "2") }},
		{"no default room", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return tx.Bucket(bucketRooms).DeleteBucket([]byte(storage.DefaultRoom)) })
		}},
		{"a room without its chatters", func(t *testing.T) string {
			return doctored(t, func(tx *bbolt.Tx) error { return games(tx).DeleteBucket(bucketChatters) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.make(t)
			before := readFile(t, path)
			ro := openStore(t, path, Options{ReadOnly: true})
			rooms := storetest.MustRooms(t, ro)
			if len(rooms) == 0 || rooms[0].Name != storage.DefaultRoom {
				t.Errorf("read-only Rooms = %+v, want the default room first", rooms)
			}
			if got := storetest.MustRecent(t, ro); len(got) != 0 {
				t.Errorf("read-only default room holds %+v", got)
			}
			if err := ro.Close(); err != nil {
				t.Fatal(err)
			}
			assertUnchanged(t, path, before)

			rw := openStore(t, path, Options{})
			for _, r := range storetest.MustRooms(t, rw) {
				storetest.MustAppendTo(t, rw, r.Name, storetest.Msgs("hello"))
				if err := rw.SetChatters(t.Context(), r.Name, []string{"ann"}); err != nil {
					t.Errorf("SetChatters(%s): %v", r.Name, err)
				}
			}
			if got := storetest.Texts(storetest.MustRecent(t, rw)); !slices.Equal(got, []string{"hello"}) {
				t.Errorf("default room holds %q", got)
			}
		})
	}
}
