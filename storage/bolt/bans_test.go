package bolt

import (
	"maps"
	"testing"
	"time"
)

func TestBans(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hour := now.Add(time.Hour)
	day := now.Add(24 * time.Hour)

	s := openStore(t, testPath(t), Options{})
	for name, until := range map[string]time.Time{
		"Ann":    hour,
		"bob":    day,
		"old":    now.Add(-time.Minute), // already expired
		"edge":   now,                   // expires exactly now
		"zoneMe": day.In(time.FixedZone("UTC-5", -5*60*60)),
	} {
		if err := s.Ban(name, until); err != nil {
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
		{"nobody", now, false, time.Time{}},
	}
	for _, tt := range expiry {
		t.Run("BanExpiry "+tt.name+" at "+tt.at.Format(time.TimeOnly), func(t *testing.T) {
			until, banned, err := s.BanExpiry(tt.name, tt.at)
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

	t.Run("Bans lists the active ones", func(t *testing.T) {
		got, err := s.Bans(now)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Time{"ann": hour, "bob": day, "zoneme": day}
		if !maps.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("Bans(now) = %v, want %v", got, want)
		}
		if got, _ := s.Bans(day); len(got) != 0 {
			t.Errorf("Bans(day) = %v, want none", got)
		}
	})

	t.Run("ban again replaces the expiry", func(t *testing.T) {
		if err := s.Ban("BOB", hour); err != nil {
			t.Fatal(err)
		}
		if until, banned, err := s.BanExpiry("bob", now); err != nil || !banned || !until.Equal(hour) {
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
			found, err := s.Unban(tt.name)
			if err != nil || found != tt.found {
				t.Errorf("Unban(%q) = %v, %v; want %v, nil", tt.name, found, err, tt.found)
			}
		})
	}
	if _, banned, _ := s.BanExpiry("ann", now); banned {
		t.Error("ann still banned after Unban")
	}
}

func TestBansSurviveReopen(t *testing.T) {
	path := testPath(t)
	until := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	s, err := Open(path, Options{Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ban("Ann", until); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro := openStore(t, path, Options{ReadOnly: true})
	got, banned, err := ro.BanExpiry("ann", until.Add(-time.Second))
	if err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry after reopen = %v, %v, %v; want %v, true, nil (nanoseconds kept)", got, banned, err, until)
	}
}
