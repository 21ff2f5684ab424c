package redis

import (
	"errors"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestSessions(t *testing.T) {
	srv := startServer(t)
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	session := storage.Session{PID: "pid-1", SocketID: "sock", Name: "Ann", From: 7, Expires: later}
	// Each case does something between saving session in the default
	// room, where its nickname is claimed, and taking it back.
	tests := []struct {
		name   string
		room   string // taken from ("" the default room)
		pid    string // taken ("" session's)
		expire time.Time
		before func(t *testing.T, s *Store, token string) // token: the claim's
		after  func(t *testing.T, s *Store)
		want   bool
	}{
		{name: "a session is taken back", want: true},
		{name: "a session of another pid is none", pid: "pid-2"},
		{name: "a session of another room is none", room: "games"},
		{name: "a session already expired is not kept", expire: time.Now().Add(-time.Second)},
		{name: "a kick of the nickname after it ends it", after: func(t *testing.T, s *Store) {
			if _, err := s.Kick(t.Context(), storage.DefaultRoom, "ann", "spam"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a kick of the nickname in another room leaves it", want: true, after: func(t *testing.T, s *Store) {
			if _, err := s.Kick(t.Context(), "games", "Ann", "spam"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a kick of another nickname leaves it", want: true, after: func(t *testing.T, s *Store) {
			if _, err := s.Kick(t.Context(), storage.DefaultRoom, "bob", "spam"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a kick before it was saved leaves none", before: func(t *testing.T, s *Store, _ string) {
			if _, err := s.Kick(t.Context(), storage.DefaultRoom, "Ann", "spam"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a claim ended before it was saved leaves none", before: func(t *testing.T, s *Store, token string) {
			if err := s.Release(t.Context(), storage.DefaultRoom, "Ann", token, 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, srv, Options{})
			storetest.MustAddRoom(t, s, "games")
			saved := session
			saved.Token = mustClaim(t, s, storage.DefaultRoom, saved.Name, "").Token
			if tt.before != nil {
				tt.before(t, s, saved.Token)
			}
			if !tt.expire.IsZero() {
				saved.Expires = tt.expire
			}
			if err := s.SaveSession(t.Context(), storage.DefaultRoom, saved); err != nil {
				t.Fatal(err)
			}
			if tt.after != nil {
				tt.after(t, s)
			}
			room, pid := tt.room, tt.pid
			if room == "" {
				room = storage.DefaultRoom
			}
			if pid == "" {
				pid = session.PID
			}
			got, found, err := s.TakeSession(t.Context(), room, pid)
			if err != nil || found != tt.want {
				t.Fatalf("TakeSession = %+v, %v, %v; want found %v", got, found, err, tt.want)
			}
			if found && got != saved {
				t.Errorf("TakeSession = %+v, want %+v", got, saved)
			}
			// One try: whatever the first take gave, the second gives none.
			if _, again, err := s.TakeSession(t.Context(), room, pid); err != nil || again {
				t.Errorf("TakeSession a second time = %v, %v; want none", again, err)
			}
		})
	}
}

func TestASessionExpires(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	expires := serverTime(t, srv).Add(100 * time.Millisecond)
	token := mustClaim(t, s, storage.DefaultRoom, "ann", "").Token
	if err := s.SaveSession(t.Context(), storage.DefaultRoom, storage.Session{PID: "p", Name: "ann", Token: token, Expires: expires}); err != nil {
		t.Fatal(err)
	}
	if ttl := do(t, srv, "PTTL", s.roomKey(storage.DefaultRoom)+":session:p").(int64); ttl <= 0 || ttl > 100 {
		t.Errorf("the session's PTTL is %d ms, want its expiry, at most 100 ms away", ttl)
	}
	waitFor(t, "the session's expiry to pass", func() bool { return serverTime(t, srv).After(expires) })
	if _, found, err := s.TakeSession(t.Context(), storage.DefaultRoom, "p"); err != nil || found {
		t.Errorf("TakeSession after its expiry = %v, %v; want none", found, err)
	}
}

func TestSessionCallsRefuse(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	later := time.Now().Add(time.Hour)
	for _, room := range []string{"nowhere", "Bad Name", ""} {
		if err := s.SaveSession(t.Context(), room, storage.Session{PID: "p", Name: "ann", Expires: later}); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("SaveSession(%q) = %v, want ErrNoSuchRoom", room, err)
		}
		if _, _, err := s.TakeSession(t.Context(), room, "p"); !errors.Is(err, storage.ErrNoSuchRoom) {
			t.Errorf("TakeSession(%q) = %v, want ErrNoSuchRoom", room, err)
		}
	}
	if err := s.SaveSession(t.Context(), storage.DefaultRoom, storage.Session{Name: "ann", Expires: later}); err == nil {
		t.Error("SaveSession without a pid = nil, want it refused")
	}
	if _, found, err := s.TakeSession(t.Context(), storage.DefaultRoom, ""); err != nil || found {
		t.Errorf("TakeSession without a pid = %v, %v; want none", found, err)
	}
}
