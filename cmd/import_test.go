package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chatserver/internal/redistest"
	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/storage/redis"
)

// fillAsNode stores each message as the Node original does: LPUSH of
// the JSON {"name","data"} at the head of messages, then LTRIM 0 9.
func fillAsNode(t testing.TB, srv *redistest.Server, name string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		msg, _ := json.Marshal(map[string]string{"name": name, "data": text})
		if _, err := srv.Do("LPUSH", "messages", string(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Do("LTRIM", "messages", "0", "9"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestImportFromTheNodeOriginal(t *testing.T) {
	node := redistest.Start(t, redistest.Options{})
	var texts, want []string
	for i := 1; i <= 12; i++ {
		texts = append(texts, fmt.Sprintf("message %d", i))
	}
	for _, text := range texts[2:] { // the Node original kept the newest 10
		want = append(want, "alice: "+text)
	}
	fillAsNode(t, node, "alice", texts...)
	target := redistest.Start(t, redistest.Options{})
	db := filepath.Join(t.TempDir(), "chat.db")

	for _, tc := range []struct {
		name, into string
		args       []string
		read       func() ([]storage.Message, error)
	}{
		{"into a file", db, []string{"--db", db}, func() ([]storage.Message, error) {
			st, err := bolt.Open(db, bolt.Options{History: keepAll, ReadOnly: true})
			if err != nil {
				return nil, err
			}
			defer st.Close()
			return st.RecentMessages(context.Background(), storage.DefaultRoom, 0)
		}},
		{"into Redis", "Redis at " + target.Addr(), []string{"--redis", target.URL()}, func() ([]storage.Message, error) {
			st, err := redis.Open(context.Background(), target.URL(), redis.Options{})
			if err != nil {
				return nil, err
			}
			defer st.Close()
			return st.RecentMessages(context.Background(), storage.DefaultRoom, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			r := run(t, append([]string{"import", "--from-redis", node.URL()}, tc.args...)...)
			wantOut := "imported 10 messages from the list messages of Redis at " + node.Addr() + " into the room general of " + tc.into + "\n"
			if r.code != 0 || r.stdout != wantOut {
				t.Fatalf("import: exit %d, %q %q; want %q", r.code, r.stdout, r.report, wantOut)
			}
			msgs, err := tc.read()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, m := range msgs {
				got = append(got, m.Name+": "+m.Text)
				if m.ID != uint64(i+1) || m.Time.Before(before.Add(-time.Second)) || i > 0 && !m.Time.After(msgs[i-1].Time) {
					t.Errorf("message %d: ID %d, time %s (previous %s); want IDs from 1, times of the import, increasing", i, m.ID, m.Time, msgs[max(i-1, 0)].Time)
				}
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("imported %q, want %q", got, want)
			}
		})
	}
	// The Node original's Redis is left as it was.
	if n, err := node.Do("LLEN", "messages"); err != nil || n != int64(10) {
		t.Errorf("the source list holds %v, %v; want 10", n, err)
	}
}

func TestImportRefusalsChangeNothing(t *testing.T) {
	node := redistest.Start(t, redistest.Options{})
	where := "Redis at " + node.Addr()
	dir := t.TempDir()
	db := filepath.Join(dir, "chat.db")
	seed(t, db, 10, "bob", "already here")
	locked := filepath.Join(dir, "locked.db")
	seed(t, locked, 10, "bob", "already here")

	tests := []struct {
		name  string
		setup func()
		args  []string
		want  string
	}{
		{"a missing key", func() {}, []string{"--db", db}, where + ` has no key "messages": nothing to import`},
		{"a key that is not a list", func() { node.Do("SET", "other", "x") }, []string{"--db", db, "--key", "other"},
			`the key "other" of ` + where + ` is a string, not a list of messages; nothing was imported`},
		{"an entry that is not JSON", func() {
			fillAsNode(t, node, "alice", "one", "two")
			node.Do("RPUSH", "messages", "not json")         // index 2, the oldest
			node.Do("LPUSH", "messages", `{"name":"alice"}`) // index 0: no data
		}, []string{"--db", db}, `the list "messages" of ` + where + `: entry 0 is not a JSON object {"name", "data"} of two strings; nothing was imported`},
		{"an entry of another shape", func() { node.Do("LSET", "messages", "0", `{"name":"alice","data":3}`) },
			[]string{"--db", db}, `entry 0 is not a JSON object`},
		{"an entry further down", func() { node.Do("LSET", "messages", "0", `{"name":"alice","data":"ok"}`) },
			[]string{"--db", db}, `entry 3 is not a JSON object`},
		{"a file a running server holds", func() { node.Do("LREM", "messages", "0", "not json"); holdLock(t, locked) },
			[]string{"--db", locked}, locked + " is in use by a running chatserver: stop it, import, then start it again"},
		{"no source", func() {}, []string{"--db", db}, "--from-redis is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			beforeDB, _ := os.ReadFile(db)
			args := []string{"import"}
			if tt.name != "no source" {
				args = append(args, "--from-redis", node.URL())
			}
			r := run(t, append(args, tt.args...)...)
			if r.code == 0 || !strings.Contains(r.report, tt.want) || strings.Count(r.report, "\n") > 2 {
				t.Errorf("exit %d, %q; want a refusal saying %q", r.code, r.report, tt.want)
			}
			if after, _ := os.ReadFile(db); !bytes.Equal(beforeDB, after) {
				t.Errorf("%s changed", db)
			}
		})
	}
	if r := run(t, "history", "--db", db); fmt.Sprint(historyTexts(r.stdout)) != "[bob: already here]" {
		t.Errorf("history after the refusals: %q %q", r.stdout, r.report)
	}
}
