package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/storage/bolt"
)

// panickyStore is a real store whose ban check panics for one nickname,
// standing in for any bug in code a connection's handler runs.
type panickyStore struct {
	*bolt.Store
	trigger string
}

func (s panickyStore) BanExpiry(ctx context.Context, name string, now time.Time) (time.Time, bool, error) {
	if name == s.trigger {
		panic("bug triggered by " + name)
	}
	return s.Store.BanExpiry(ctx, name, now)
}

func TestHandlerPanicClosesOnlyThatConnection(t *testing.T) {
	logger, logs := logtest.New(t)
	ts := newTestServerWith(t, func(store *bolt.Store) chat.Store {
		return panickyStore{Store: store, trigger: "boom"}
	}, logger)

	alice := dial(t, ts)
	alice.SendText(`420["join","alice"]`)
	alice.Expect(`42["add chatter","alice"]`)
	alice.NextText() // the join ack

	boom := dial(t, ts)
	boom.SendText(`420["join","boom"]`)
	boom.WaitClosed()
	if f, err := boom.NextFrame(0); err == nil {
		t.Fatalf("the panicking connection got %q instead of being closed", f.Data)
	}
	logs.Wait(t, "handler panic", "panic", "bug triggered by boom")

	// Everyone else goes on.
	bob := dial(t, ts)
	bob.SendText(`420["join","bob"]`)
	alice.Expect(`42["add chatter","bob"]`)
	alice.SendText(`421["messages","still here"]`)
	for {
		// NextText fails the test if nothing comes within its timeout.
		if strings.Contains(bob.NextText(), "alice: still here") {
			break
		}
	}
}
