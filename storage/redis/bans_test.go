package redis

import (
	"maps"
	"testing"
	"time"

	"chatserver/nick"
)

func TestBans(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hour := now.Add(time.Hour)
	day := now.Add(24 * time.Hour)

	srv := startServer(t)
	s := openStore(t, srv, Options{})
	for name, until := range map[string]time.Time{
		"Ann":    hour,
		"bob":    day,
		"old":    now.Add(-time.Minute), // already expired
		"edge":   now,                   // expires exactly now
		"zoneMe": day.In(time.FixedZone("UTC-5", -5*60*60)),
		"ας":     day, // final sigma
	} {
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

	t.Run("bans are stored under nick.Key", func(t *testing.T) {
		want := map[string]string{}
		for name, until := range map[string]time.Time{"ann": hour, "bob": day, "old": now.Add(-time.Minute), "edge": now, "zoneme": day, "ασ": day} {
			want[nick.Key(name)] = until.UTC().Format(time.RFC3339Nano)
		}
		kv := strs(t, do(t, srv, "HGETALL", s.key("bans")))
		got := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			got[kv[i]] = kv[i+1]
		}
		if !maps.Equal(got, want) {
			t.Errorf("stored bans %v, want %v", got, want)
		}
	})

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

func TestBansAreSharedByTheNodes(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	until := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	a := openStore(t, srv, Options{Prefix: prefix, Node: "a"})
	b := openStore(t, srv, Options{Prefix: prefix, Node: "b"})
	if err := a.Ban(t.Context(), "Ann", until); err != nil {
		t.Fatal(err)
	}
	got, banned, err := b.BanExpiry(t.Context(), "ann", until.Add(-time.Second))
	if err != nil || !banned || !got.Equal(until) {
		t.Errorf("BanExpiry on the other node = %v, %v, %v; want %v, true, nil (nanoseconds kept)", got, banned, err, until)
	}
	if found, err := b.Unban(t.Context(), "ANN"); err != nil || !found {
		t.Errorf("Unban on the other node = %v, %v", found, err)
	}
	if _, banned, _ := a.BanExpiry(t.Context(), "ann", until.Add(-time.Second)); banned {
		t.Error("still banned on the first node after the other lifted it")
	}
}
