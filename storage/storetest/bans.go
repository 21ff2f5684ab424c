package storetest

import (
	"testing"
	"time"
)

// Bans checks Ban, BanExpiry and Unban: bans match a name however it is
// cased or disguised (nick.Key), end at their expiry, come back in UTC,
// are replaced by a new ban and are lifted by Unban, expired or not.
func Bans(t *testing.T, open Open) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hour := now.Add(time.Hour)
	day := now.Add(24 * time.Hour)

	s := open(t, Options{})
	for name, until := range BannedNames(now) {
		if err := s.Ban(t.Context(), name, until); err != nil {
			t.Fatalf("Ban(%q): %v", name, err)
		}
	}

	expiry := []struct {
		name   string
		at     time.Time
		banned bool
		until  time.Time
	}{
		{"ann", now, true, hour},
		{"ANN", now, true, hour},
		{"Ann", hour.Add(-time.Nanosecond), true, hour},
		{"Ann", hour, false, time.Time{}},
		{"bob", hour, true, day},
		{"old", now, false, time.Time{}},
		{"edge", now, false, time.Time{}},
		{"zoneme", now, true, day},
		{"ΑΣ", now, true, day},
		{"ασ", now, true, day},
		{"ѕрammer", now, false, time.Time{}},
		{"nobody", now, false, time.Time{}},
	}
	for _, tt := range expiry {
		t.Run("BanExpiry "+tt.name+" at "+tt.at.Format(time.TimeOnly), func(t *testing.T) {
			until, banned, err := s.BanExpiry(t.Context(), tt.name, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if banned != tt.banned || !until.Equal(tt.until) {
				t.Errorf("BanExpiry(%q, %v) = %v, %v; want %v, %v", tt.name, tt.at, until, banned, tt.until, tt.banned)
			}
			if banned && until.Location() != time.UTC {
				t.Errorf("expiry %v is not in UTC", until)
			}
		})
	}

	t.Run("a look-alike is banned too", func(t *testing.T) {
		if err := s.Ban(t.Context(), "spammer", day); err != nil {
			t.Fatal(err)
		}
		if _, banned, err := s.BanExpiry(t.Context(), "ѕрammer", now); err != nil || !banned { // CYRILLIC DZE and ER
			t.Errorf("BanExpiry(ѕрammer) = %v, %v; want banned as spammer", banned, err)
		}
	})

	t.Run("ban again replaces the expiry", func(t *testing.T) {
		if err := s.Ban(t.Context(), "BOB", hour); err != nil {
			t.Fatal(err)
		}
		if until, banned, err := s.BanExpiry(t.Context(), "bob", now); err != nil || !banned || !until.Equal(hour) {
			t.Errorf("BanExpiry(bob) = %v, %v, %v; want %v, true", until, banned, err, hour)
		}
	})

	unban := []struct {
		name  string
		found bool
	}{
		{"ANN", true},
		{"ann", false},
		{"old", true}, // an expired entry is still removed and reported
		{"nobody", false},
	}
	for _, tt := range unban {
		t.Run("Unban "+tt.name, func(t *testing.T) {
			found, err := s.Unban(t.Context(), tt.name)
			if err != nil || found != tt.found {
				t.Errorf("Unban(%q) = %v, %v; want %v, nil", tt.name, found, err, tt.found)
			}
		})
	}
	if _, banned, _ := s.BanExpiry(t.Context(), "ann", now); banned {
		t.Error("ann still banned after Unban")
	}
}

// BannedNames is the bans Bans begins with, by name as given to Ban
// (expiries relative to now), for a store's own test of how it keeps
// them: "Ann" for an hour, "bob" for a day, "old" expired a minute ago,
// "edge" expiring exactly now, "zoneMe" for a day given in another zone
// and "ας" (a final sigma) for a day.
func BannedNames(now time.Time) map[string]time.Time {
	day := now.Add(24 * time.Hour)
	return map[string]time.Time{
		"Ann":    now.Add(time.Hour),
		"bob":    day,
		"old":    now.Add(-time.Minute), // already expired
		"edge":   now,                   // expires exactly now
		"zoneMe": day.In(time.FixedZone("UTC-5", -5*60*60)),
		"ας":     day, // final sigma
	}
}
