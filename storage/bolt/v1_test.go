package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"chatserver/nick"
	"chatserver/storage"
	"chatserver/storage/bolt/internal/v1file"
	"chatserver/storage/storetest"
)

// testdata/v1.db was written by the Store of schema 1, before rooms (see
// internal/v1file). These tests prove that such files keep working.

// v1Kept is the history of testdata/v1.db: twelve messages, IDs 3 to 14.
var v1Kept = []struct {
	id         uint64
	name, text string
}{
	{3, "Zoë", "bonjour à tous"},
	{4, "ann", "who is up for lunch?"},
	{5, "Мария", "я буду через десять минут"},
	{6, "bob", "me, at noon"},
	{7, "李雷", "我也去 🍜"},
	{8, "Zoë", "« oui » for me"},
	{9, "ann", "great, see you at noon"},
	{10, "bob", "booked a table for five"},
	{11, "Мария", "спасибо!"},
	{12, "李雷", "好的"},
	{13, "Zoë", "à tout à l'heure"},
	{14, "ann", "bye for now"},
}

// v1Chatters are the chatters testdata/v1.db was left with.
var v1Chatters = []string{"Zoë", "bob"}

// checkV1History fails the test unless got is the history of
// testdata/v1.db from the message with ID from on.
func checkV1History(t *testing.T, got []storage.Message, from uint64) {
	t.Helper()
	first := time.Date(2025, 6, 1, 9, 30, 0, 123456789, time.UTC)
	var want []storage.Message
	for _, m := range v1Kept {
		if m.id >= from {
			want = append(want, storage.Message{ID: m.id, Name: m.name, Text: m.text, Time: first.Add(time.Duration(m.id-1) * 37 * time.Second)})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Name != want[i].Name || got[i].Text != want[i].Text || !got[i].Time.Equal(want[i].Time) {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// checkV1Bans fails the test unless the bans of testdata/v1.db apply.
func checkV1Bans(t *testing.T, s *Store) {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		banned bool
		until  time.Time
	}{
		{"Mallory", true, time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"ΑΣ", true, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}, // stored under the old key "ας"
		{"ας", true, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"spammer", false, time.Time{}}, // expired in 2024
		{"ann", false, time.Time{}},
	} {
		until, banned, err := s.BanExpiry(t.Context(), tt.name, now)
		if err != nil || banned != tt.banned || !until.Equal(tt.until) {
			t.Errorf("BanExpiry(%q) = %v, %v, %v; want %v, %v", tt.name, until, banned, err, tt.until, tt.banned)
		}
	}
}

func TestV1FileGeneratorMatchesTestdata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	if err := v1file.Write(path); err != nil {
		t.Fatal(err)
	}
	got, want := dumpFile(t, path), dumpFile(t, filepath.Join("testdata", "v1.db"))
	if !slices.Equal(got, want) {
		t.Errorf("the generator writes\n%s\ntestdata/v1.db holds\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	before := readFile(t, path)
	if err := v1file.Write(path); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("writing over a file: %v, want a refusal", err)
	}
	assertUnchanged(t, path, before)
}

func TestV1FileReadOnly(t *testing.T) {
	path := v1Copy(t)
	before := readFile(t, path)
	s := openStore(t, path, Options{ReadOnly: true})

	rooms, err := s.Rooms(t.Context())
	if want := []storage.Room{{Name: storage.DefaultRoom, Messages: len(v1Kept)}}; err != nil || !slices.Equal(rooms, want) {
		t.Errorf("Rooms = %+v, %v; want %+v", rooms, err, want)
	}
	checkV1History(t, storetest.MustRecent(t, s), 3)
	if got, err := s.RecentMessages(t.Context(), storage.DefaultRoom, 2); err != nil || len(got) != 2 || got[1].ID != 14 {
		t.Errorf("RecentMessages(2) = %+v, %v; want the newest two", got, err)
	}
	if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, v1Chatters) {
		t.Errorf("Chatters = %q, want %q", got, v1Chatters)
	}
	checkV1Bans(t, s)
	for _, room := range []string{"games", "Bad Name"} {
		if _, err := s.RecentMessages(t.Context(), room, 0); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("RecentMessages(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if _, err := s.Chatters(t.Context(), room); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("Chatters(%q) = %v, want ErrNoSuchRoom", room, err)
		}
	}
	if err := s.AddRoom(t.Context(), storage.Room{Name: "games"}); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("AddRoom = %v, want ErrReadOnly", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertUnchanged(t, path, before)
}

func TestV1FileMigrates(t *testing.T) {
	path := v1Copy(t)
	v1 := dumpFile(t, path)
	s := openStore(t, path, Options{History: len(v1Kept)})

	checkV1History(t, storetest.MustRecent(t, s), 3)
	if got := mustChatters(t, s, storage.DefaultRoom); !slices.Equal(got, v1Chatters) {
		t.Errorf("Chatters = %q, want %q", got, v1Chatters)
	}
	checkV1Bans(t, s)
	rooms := storetest.MustRooms(t, s)
	if want := []storage.Room{{Name: storage.DefaultRoom, Messages: len(v1Kept)}}; !slices.Equal(rooms, want) {
		t.Errorf("Rooms = %+v, want %+v (created at the zero time)", rooms, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("the layout is schema 2 and nothing is lost", func(t *testing.T) {
		got := dumpFile(t, path)
		var want []string
		for _, line := range v1 {
			switch {
			case line == "meta schema 1":
				want = append(want, "meta schema 2")
			case strings.HasPrefix(line, "messages"), strings.HasPrefix(line, "chatters"):
				// Same keys, same values, same sequence.
				want = append(want, "rooms/general/"+line)
			case strings.HasPrefix(line, "bans ας "):
				want = append(want, "bans "+nick.Key("ας")+strings.TrimPrefix(line, "bans ας"))
			default:
				want = append(want, line)
			}
		}
		want = append(want, "rooms", "rooms/general", "rooms/general created 0001-01-01T00:00:00Z", "rooms/general topic ")
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("migrated file holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("reopening is a no-op", func(t *testing.T) {
		before := readFile(t, path)
		s := openStore(t, path, Options{History: len(v1Kept)})
		checkV1History(t, storetest.MustRecent(t, s), 3)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		assertUnchanged(t, path, before)
	})

	t.Run("IDs continue", func(t *testing.T) {
		s := openStore(t, path, Options{History: len(v1Kept)})
		if got := storetest.MustAppend(t, s, storetest.Msgs("hello again")); got[0].ID != 15 {
			t.Errorf("the first message after the migration has ID %d, want 15", got[0].ID)
		}
		storetest.MustAddRoom(t, s, "games")
		if got := storetest.MustAppendTo(t, s, "games", storetest.Msgs("first")); got[0].ID != 1 {
			t.Errorf("a new room's first message has ID %d, want 1", got[0].ID)
		}
		if got := storetest.MustRecent(t, s); len(got) != len(v1Kept) || got[0].ID != 4 || got[len(got)-1].Text != "hello again" {
			t.Errorf("after one more message the default room keeps %+v", got)
		}
	})
}

func TestV1FileMigratesWithTrimming(t *testing.T) {
	path := v1Copy(t)
	s := openStore(t, path, Options{}) // storage.DefaultHistory, 10
	checkV1History(t, storetest.MustRecent(t, s), 5)
	if got := storetest.MustAppend(t, s, storetest.Msgs("next")); got[0].ID != 15 {
		t.Errorf("next ID %d, want 15", got[0].ID)
	}
}

func TestV1FileMigrationFailsWhole(t *testing.T) {
	// bbolt refuses to grow the file past MaxSize, as a full disk would
	// refuse the write: the migration's one transaction fails, and the file
	// is still the schema-1 file it was.
	path := v1Copy(t)
	before := readFile(t, path)
	_, err := open(path, Options{Timeout: testTimeout}, func(o *bbolt.Options) { o.MaxSize = len(before) })
	if err == nil {
		t.Fatal("Open migrated within a file that cannot grow; the test needs a smaller MaxSize")
	}
	t.Logf("Open: %v", err)
	if !errors.Is(err, berrors.ErrMaxSizeReached) || errors.Is(err, storage.ErrNotChatserver) {
		t.Errorf("Open error = %v, want the failed commit (ErrMaxSizeReached)", err)
	}
	assertUnchanged(t, path, before)
	s := openStore(t, path, Options{ReadOnly: true})
	checkV1History(t, storetest.MustRecent(t, s), 3)
}

func TestV1FileWithNewerSchemaIsRefused(t *testing.T) {
	path := v1Copy(t)
	doctor(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("3")) })
	before := readFile(t, path)
	for _, readOnly := range []bool{false, true} {
		if _, err := Open(path, Options{ReadOnly: readOnly, Timeout: testTimeout}); !errors.Is(err, storage.ErrNewerSchema) {
			t.Errorf("Open(ReadOnly: %v) = %v, want ErrNewerSchema", readOnly, err)
		}
	}
	assertUnchanged(t, path, before)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
