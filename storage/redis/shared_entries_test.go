package redis

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

func TestEntriesOfEveryKindRoundTrip(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	sub := mustSubscribe(t, s)
	// Names and reasons the scripts write into JSON themselves.
	const name, reason = `Zoë "z" a/b \ ✓`, `spam "and" </script> \ ✓`
	stored, at, err := s.Append(t.Context(), storage.DefaultRoom, storetest.Msgs("hello"))
	if err != nil {
		t.Fatal(err)
	}
	zoe := mustClaim(t, s, storage.DefaultRoom, name, "")
	bob := mustClaim(t, s, storage.DefaultRoom, "bob", "")
	if err := s.Release(t.Context(), storage.DefaultRoom, "bob", bob.Token, 0); err != nil {
		t.Fatal(err)
	}
	if kicked, err := s.Kick(t.Context(), storage.DefaultRoom, name, reason); err != nil || !kicked {
		t.Fatalf("Kick = %v, %v", kicked, err)
	}
	epoch := at.Epoch
	want := []storage.Entry{
		{Epoch: epoch, Seq: 1, Kind: storage.EntryMessage, Message: stored[0]},
		{Epoch: epoch, Seq: 2, Kind: storage.EntryAdd, Name: name},
		{Epoch: epoch, Seq: 3, Kind: storage.EntryAdd, Name: "bob"},
		{Epoch: epoch, Seq: 4, Kind: storage.EntryRemove, Name: "bob"},
		{Epoch: epoch, Seq: 5, Kind: storage.EntryKick, Name: name, Reason: reason},
	}
	if at != (storage.Position{Epoch: epoch, Seq: 1}) || zoe.Added != (storage.Position{Epoch: epoch, Seq: 2}) {
		t.Errorf("Append at %+v, the claim added at %+v; want positions 1 and 2", at, zoe.Added)
	}
	l := mustLog(t, s, storage.DefaultRoom)
	if !slices.Equal(l.Entries, want) || l.Seq != 5 || !l.Complete {
		t.Errorf("LogSince = %+v\nwant the entries %+v", l, want)
	}
	var published []storage.Entry
	for len(published) < len(want) {
		b := receive(t, sub)
		if b.Room != storage.DefaultRoom || b.RoomsChanged {
			t.Errorf("a batch %+v, want one of the default room", b)
		}
		published = append(published, b.Entries...)
	}
	if !slices.Equal(published, want) {
		t.Errorf("published %+v\nwant %+v", published, want)
	}
}

func TestAppendReturnsTheLastPosition(t *testing.T) {
	s := openStore(t, startServer(t), Options{})
	tests := []struct {
		texts []string
		want  uint64 // 0: the zero position
	}{
		{[]string{"a", "b", "c"}, 3},
		{nil, 0},
		{[]string{"d"}, 4},
	}
	epoch := mustLog(t, s, storage.DefaultRoom).Epoch
	for _, tt := range tests {
		_, at, err := s.Append(t.Context(), storage.DefaultRoom, storetest.Msgs(tt.texts...))
		if err != nil {
			t.Fatal(err)
		}
		want := storage.Position{Epoch: epoch, Seq: tt.want}
		if tt.want == 0 {
			want = storage.Position{}
		}
		if at != want {
			t.Errorf("Append(%q) at %+v, want %+v", tt.texts, at, want)
		}
	}
}

func TestRoomChangesArePublishedOnTheControlChannel(t *testing.T) {
	srv := startServer(t)
	prefix := testPrefix()
	a := openStore(t, srv, Options{Prefix: prefix, Node: "a"})
	b := openStore(t, srv, Options{Prefix: prefix, Node: "b"})
	sub := mustSubscribe(t, b)
	steps := []struct {
		name string
		do   func() error
		want bool // a RoomsChanged batch
	}{
		{"a room added", func() error { return a.AddRoom(t.Context(), storage.Room{Name: "games"}) }, true},
		{"a room that exists", func() error { return a.AddRoom(t.Context(), storage.Room{Name: "games"}) }, false},
		{"a room removed", func() error { return a.RemoveRoom(t.Context(), "games") }, true},
		{"a room that does not exist", func() error { return a.RemoveRoom(t.Context(), "games") }, false},
	}
	for _, st := range steps {
		if err := st.do(); (err == nil) != st.want {
			t.Errorf("%s: %v", st.name, err)
		}
		// A message after it: what the step published comes first.
		storetest.MustAppend(t, a, storetest.Msgs(st.name))
		var got []storage.Batch
		for {
			batch := receive(t, sub)
			if len(batch.Entries) > 0 && batch.Entries[0].Message.Text == st.name {
				break
			}
			got = append(got, batch)
		}
		want := []storage.Batch(nil)
		if st.want {
			want = []storage.Batch{{RoomsChanged: true}}
		}
		if !slices.EqualFunc(got, want, func(x, y storage.Batch) bool {
			return x.Room == y.Room && x.RoomsChanged == y.RoomsChanged && len(x.Entries) == len(y.Entries)
		}) {
			t.Errorf("%s: received %+v before the message, want %+v", st.name, got, want)
		}
	}
}

func TestSnapshot(t *testing.T) {
	s := openStore(t, startServer(t), Options{History: 5})
	stored := storetest.MustAppend(t, s, storetest.Msgs("1", "2", "3", "4"))
	mustClaim(t, s, storage.DefaultRoom, "zoe", "")
	ann := mustClaim(t, s, storage.DefaultRoom, "Ann", "")
	if err := s.Release(t.Context(), storage.DefaultRoom, "Ann", ann.Token, time.Hour); err != nil { // in its grace: present
		t.Fatal(err)
	}
	epoch := mustLog(t, s, storage.DefaultRoom).Epoch
	tests := []struct {
		history int
		want    []storage.Message
	}{
		{0, stored},
		{-1, stored},
		{2, stored[2:]},
		{100, stored},
	}
	for _, tt := range tests {
		snap, err := s.Snapshot(t.Context(), storage.DefaultRoom, tt.history)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(snap.History, tt.want) {
			t.Errorf("Snapshot(%d).History = %q, want %q", tt.history, storetest.Texts(snap.History), storetest.Texts(tt.want))
		}
		if !slices.Equal(snap.Chatters, []string{"Ann", "zoe"}) || snap.At != (storage.Position{Epoch: epoch, Seq: 6}) {
			t.Errorf("Snapshot(%d) = chatters %q at %+v, want [Ann zoe] at %s-6", tt.history, snap.Chatters, snap.At, epoch)
		}
	}
}

// TestASnapshotIsOfOneMoment takes snapshots while another node appends,
// claims and releases, and checks each against the log read up to its
// position.
func TestASnapshotIsOfOneMoment(t *testing.T) {
	const rounds = 60
	srv := startServer(t)
	prefix := testPrefix()
	writer := openStore(t, srv, Options{Prefix: prefix, Node: "w"})
	reader := openStore(t, srv, Options{Prefix: prefix, Node: "r"})
	names := []string{"ann", "bob", "cy"}
	var wg sync.WaitGroup
	wg.Go(func() {
		tokens := map[string]string{}
		for i := range rounds {
			name := names[i%len(names)]
			if tok, ok := tokens[name]; ok {
				if err := writer.Release(t.Context(), storage.DefaultRoom, name, tok, 0); err != nil {
					t.Error(err)
					return
				}
				delete(tokens, name)
			} else {
				c, err := writer.Claim(t.Context(), storage.DefaultRoom, name, "", false)
				if err != nil {
					t.Error(err)
					return
				}
				tokens[name] = c.Token
			}
			if _, err := writer.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs(name)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var snaps []storage.Snapshot
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		snap, err := reader.Snapshot(t.Context(), storage.DefaultRoom, 3)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snap)
	}
	l := mustLog(t, reader, storage.DefaultRoom)
	for _, snap := range snaps {
		// Replay the log up to the snapshot's position.
		var history []storage.Message
		present := map[string]bool{}
		for _, e := range l.Entries[:snap.At.Seq] {
			switch e.Kind {
			case storage.EntryMessage:
				history = append(history, e.Message)
			case storage.EntryAdd:
				present[e.Name] = true
			case storage.EntryRemove:
				delete(present, e.Name)
			}
		}
		history = history[max(0, len(history)-3):]
		var chatters []string
		for name := range present {
			chatters = append(chatters, name)
		}
		slices.Sort(chatters)
		if !slices.Equal(snap.History, history) || !slices.Equal(snap.Chatters, chatters) {
			t.Fatalf("the snapshot at %d holds %q and %q; the log up to it %q and %q",
				snap.At.Seq, storetest.Texts(snap.History), snap.Chatters, storetest.Texts(history), chatters)
		}
	}
	t.Logf("%d snapshots checked", len(snaps))
}

func TestSnapshotAfterRedisLostTheRooms(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{})
	storetest.MustAddRoom(t, s, "games")
	storetest.MustAppend(t, s, storetest.Msgs("a"))
	before := mustLog(t, s, storage.DefaultRoom)
	do(t, srv, "FLUSHDB")
	if _, err := s.Snapshot(t.Context(), "games", 0); !errors.Is(err, storage.ErrNoSuchRoom) {
		t.Errorf("Snapshot(games) after FLUSHDB = %v, want ErrNoSuchRoom", err)
	}
	if _, err := s.Snapshot(t.Context(), "nowhere", 0); !errors.Is(err, storage.ErrNoSuchRoom) {
		t.Errorf("Snapshot(nowhere) = %v, want ErrNoSuchRoom", err)
	}
	snap, err := s.Snapshot(t.Context(), storage.DefaultRoom, 0)
	if err != nil {
		t.Fatal(err)
	}
	if snap.At.Epoch == before.Epoch || snap.At.Seq != 0 || len(snap.History) != 0 || len(snap.Chatters) != 0 {
		t.Errorf("Snapshot(%s) after FLUSHDB = %+v, want an empty room with a new epoch", storage.DefaultRoom, snap)
	}
	// The claims go on in the room made again, from its new epoch.
	if c := mustClaim(t, s, storage.DefaultRoom, "ann", ""); c.Added != (storage.Position{Epoch: snap.At.Epoch, Seq: 1}) {
		t.Errorf("a claim after FLUSHDB added at %+v, want %s-1", c.Added, snap.At.Epoch)
	}
}
