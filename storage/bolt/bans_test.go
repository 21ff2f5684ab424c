package bolt

import (
	"maps"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"chatserver/nick"
	"chatserver/storage/storetest"
)

// TestBansAreStoredUnderNickKey bans the names storetest.Bans begins
// with and finds each under its nick.Key in the bans bucket, the expiry in
// UTC.
func TestBansAreStoredUnderNickKey(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := openStore(t, testPath(t), Options{})
	want := map[string]time.Time{}
	for name, until := range storetest.BannedNames(now) {
		if err := s.Ban(t.Context(), name, until); err != nil {
			t.Fatalf("Ban(%q): %v", name, err)
		}
		want[nick.Key(name)] = until
	}
	if got := storedBans(t, s); !maps.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("stored bans %v, want %v", got, want)
	}
}

func TestBansSurviveReopen(t *testing.T) {
	path := testPath(t)
	until := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	s, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ban(t.Context(), "Ann", until); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro := openStore(t, path, Options{ReadOnly: true})
	got, banned, err := ro.BanExpiry(t.Context(), "ann", until.Add(-time.Second))
	if err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry after reopen = %v, %v, %v; want %v, true, nil (nanoseconds kept)", got, banned, err, until)
	}
}

// TestBansUnderOlderKeysStillMatch opens a file whose bans were keyed as
// an older chatserver keyed them (strings.ToLower, which keeps ς and ſ
// apart from σ and s): every ban still applies, read-only as well as
// read-write, and a read-write open moves them under their current keys.
func TestBansUnderOlderKeysStillMatch(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hour := now.Add(time.Hour)
	day := now.Add(24 * time.Hour)
	stored := map[string]time.Time{
		"ας":      day,  // now under ασ, where it meets a shorter ban
		"ασ":      hour, //
		"ſam":     hour, // now under sam, where it meets a longer ban
		"sam":     day,  //
		"ılık":    day,  // now under ilik
		"alice":   hour, // a key that stays
		"spammer": hour, // now under its skeleton, which its look-alikes share
	}
	expiry := []struct {
		name   string
		banned bool
		until  time.Time
	}{
		{"ΑΣ", true, day},
		{"ας", true, day},
		{"Sam", true, day},
		{"ſam", true, day},
		{"ILIK", true, day},
		{"Alice", true, hour},
		{"ѕрammer", true, hour}, // CYRILLIC SMALL LETTER DZE and ER
		{"bob", false, time.Time{}},
	}
	for _, readOnly := range []bool{true, false} {
		t.Run(map[bool]string{true: "read-only", false: "read-write"}[readOnly], func(t *testing.T) {
			path := fileWithBans(t, stored)
			before := readFile(t, path)
			s := openStore(t, path, Options{ReadOnly: readOnly})
			for _, tt := range expiry {
				until, banned, err := s.BanExpiry(t.Context(), tt.name, now)
				if err != nil || banned != tt.banned || !until.Equal(tt.until) {
					t.Errorf("BanExpiry(%q) = %v, %v, %v; want %v, %v", tt.name, until, banned, err, tt.until, tt.banned)
				}
			}
			if readOnly {
				assertUnchanged(t, path, before)
				return
			}
			want := map[string]time.Time{nick.Key("alice"): hour, nick.Key("ilik"): day, nick.Key("sam"): day, nick.Key("ασ"): day, nick.Key("spammer"): hour}
			if got := storedBans(t, s); !maps.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("stored bans %v, want %v", got, want)
			}
		})
	}
}

// fileWithBans creates a chatserver file whose bans bucket holds exactly
// bans (stored key → expiry), written past the Store as an older
// chatserver wrote them, and returns its path.
func fileWithBans(t *testing.T, bans map[string]time.Time) string {
	t.Helper()
	path := testPath(t)
	s, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBans)
		for k, until := range bans {
			if err := b.Put([]byte(k), []byte(until.UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// storedBans returns every entry of the bans bucket, by stored key.
func storedBans(t *testing.T, s *Store) map[string]time.Time {
	t.Helper()
	got := make(map[string]time.Time)
	err := s.view(t.Context(), "test", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBans).ForEach(func(k, v []byte) error {
			until, err := decodeExpiry(k, v)
			got[string(k)] = until
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
