package chat

import (
	"testing"
	"time"
)

func TestADroppedConnectionKeepsItsNicknameThroughTheGrace(t *testing.T) {
	const grace = 5 * time.Second
	tests := []struct {
		name string
		// back is what the nickname's owner does during the grace, and
		// what the watcher then sees.
		back func(t *testing.T, f *fixture, token string) (seen []string)
		// after is how long after the drop the watcher is looked at.
		after time.Duration
		want  []string
	}{
		{"back with its token in time: nothing seen", func(t *testing.T, f *fixture, token string) []string {
			if _, err := f.connect(&recConn{}, Peer{}).Join("ann", token); err != nil {
				t.Fatal(err)
			}
			return nil
		}, grace, nil},
		{"back without a token in time, as a classic client: nothing seen", func(t *testing.T, f *fixture, _ string) []string {
			if _, err := f.connect(&recConn{}, Peer{}).Join("ANN", ""); err != nil {
				t.Fatal(err)
			}
			return nil
		}, grace, nil},
		{"not back: remove chatter when the grace ends", nil, grace, []string{"remove chatter|ann"}},
		{"not back yet: still present", nil, grace - time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{PresenceGrace: grace})
			ann := f.connect(&recConn{}, Peer{})
			res, err := ann.Join("ann", "")
			if err != nil {
				t.Fatal(err)
			}
			_, watcher := f.join(t, "watcher")
			watcher.take()

			ann.Drop()
			f.clock.Advance(time.Second)
			if tt.back != nil {
				tt.back(t, f, res.Token)
			}
			f.clock.Advance(tt.after - time.Second)
			equal(t, "the watcher saw", watcher.take(), tt.want)
			present := tt.want == nil
			if got := len(f.room.Chatters()) == 2; got != present {
				t.Fatalf("chatters %q", f.room.Chatters())
			}
			f.clock.Advance(time.Hour) // a grace taken back never fires
			if later := watcher.take(); tt.back != nil && len(later) != 0 {
				t.Fatalf("a taken-back nickname was announced later: %q", later)
			}
		})
	}
}

func TestLeavingOnPurposeIsAnnouncedAtOnce(t *testing.T) {
	f := newFixture(t, Config{PresenceGrace: time.Minute})
	ann, _ := f.join(t, "ann")
	_, watcher := f.join(t, "watcher")
	watcher.take()
	ann.Leave()
	equal(t, "leave", watcher.take(), []string{"remove chatter|ann"})
}

func TestATokenlessTakeoverEndsTheOldToken(t *testing.T) {
	f := newFixture(t, Config{PresenceGrace: time.Minute})
	ann := f.connect(&recConn{}, Peer{})
	old, _ := ann.Join("ann", "")
	ann.Drop()
	taker := f.connect(&recConn{}, Peer{})
	res, err := taker.Join("ann", "")
	if err != nil || res.Token == old.Token {
		t.Fatalf("takeover: %+v, %v (old token %s)", res, err, old.Token)
	}
	_, err = f.connect(&recConn{}, Peer{}).Join("ann", old.Token)
	wantCode(t, err, CodeNameTaken)
}

func TestKickingANicknameInItsGraceDropsIt(t *testing.T) {
	f := newFixture(t, Config{PresenceGrace: time.Minute})
	ann, _ := f.join(t, "ann")
	_, watcher := f.join(t, "watcher")
	watcher.take()
	ann.Drop()
	n, err := f.kick("ann", "bye", 0)
	if err != nil || n != 0 {
		t.Fatalf("kick: %d, %v", n, err)
	}
	equal(t, "kick", watcher.take(), []string{"remove chatter|ann"})
	f.clock.Advance(time.Hour)
	if got := watcher.take(); len(got) != 0 {
		t.Fatalf("the grace fired after the kick: %q", got)
	}
}
