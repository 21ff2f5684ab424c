package redis

import (
	"slices"
	"testing"

	"chatserver/storage"
)

// entryMessages returns the message of each entry.
func entryMessages(es []Entry) []storage.Message {
	out := make([]storage.Message, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func TestTheLogIsBounded(t *testing.T) {
	srv := startServer(t)
	s := openStore(t, srv, Options{LogSize: 5, History: 3})
	for _, batch := range [][]string{{"1", "2"}, {"3", "4", "5", "6"}, {"7"}, {"8", "9", "10", "11", "12"}} {
		mustAppend(t, s, msgs(batch...))
		if n := do(t, srv, "XLEN", s.roomKey(storage.DefaultRoom)+":log").(int64); n > 5 {
			t.Fatalf("the log holds %d entries, want at most 5", n)
		}
	}
	head, err := s.LogSince(t.Context(), storage.DefaultRoom, Position{})
	if err != nil {
		t.Fatal(err)
	}
	epoch := head.Epoch
	tests := []struct {
		name     string
		from     Position
		want     []string // the texts of the entries
		complete bool
	}{
		{"from the start, trimmed", Position{Epoch: epoch}, []string{"8", "9", "10", "11", "12"}, false},
		{"from the zero position, trimmed", Position{}, []string{"8", "9", "10", "11", "12"}, false},
		{"from the first entry's predecessor", Position{Epoch: epoch, Seq: 7}, []string{"8", "9", "10", "11", "12"}, true},
		{"from within", Position{Epoch: epoch, Seq: 10}, []string{"11", "12"}, true},
		{"from the newest", Position{Epoch: epoch, Seq: 12}, nil, true},
		{"from past the newest", Position{Epoch: epoch, Seq: 13}, nil, false},
		{"from before what is kept", Position{Epoch: epoch, Seq: 3}, []string{"8", "9", "10", "11", "12"}, false},
		{"from another epoch", Position{Epoch: "0123456789ab", Seq: 10}, []string{"8", "9", "10", "11", "12"}, false},
		{"from another epoch's start", Position{Epoch: "0123456789ab"}, []string{"8", "9", "10", "11", "12"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := s.LogSince(t.Context(), storage.DefaultRoom, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(entryMessages(l.Entries)); !slices.Equal(got, tt.want) {
				t.Errorf("entries %q, want %q", got, tt.want)
			}
			if l.Complete != tt.complete || l.Epoch != epoch || l.Seq != 12 {
				t.Errorf("LogSince(%+v) = epoch %s, position %d, complete %v; want %s, 12, %v", tt.from, l.Epoch, l.Seq, l.Complete, epoch, tt.complete)
			}
		})
	}
}
