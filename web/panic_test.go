package web

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/storage/bolt"
)

// panickyStore is a real store whose ban check panics for one nickname,
// standing in for any bug in code a connection's handler runs.
type panickyStore struct {
	*bolt.Store
	trigger string
}

func (s panickyStore) BanExpiry(name string, now time.Time) (time.Time, bool, error) {
	if name == s.trigger {
		panic("bug triggered by " + name)
	}
	return s.Store.BanExpiry(name, now)
}

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHandlerPanicClosesOnlyThatConnection(t *testing.T) {
	logs := &logBuffer{}
	ts := newTestServerWith(t, func(store *bolt.Store) chat.Store {
		return panickyStore{Store: store, trigger: "boom"}
	}, logs.Logf)

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
	if !strings.Contains(logs.String(), "panic") || !strings.Contains(logs.String(), "bug triggered by boom") {
		t.Errorf("the panic was not logged:\n%s", logs)
	}

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
