package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDamagedFileIsRefusedPlainlyAndUntouched damages a real chatserver
// database in the ways a bad disk or a stray program would: serve,
// history and kick each refuse it with one plain line and exit status 1,
// without a panic trace, and leave every byte as it was.
func TestDamagedFileIsRefusedPlainlyAndUntouched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	srv := startServer(t, good)
	c := joinWS(t, srv.url, "alice")
	for _, text := range []string{"one", "two", "three"} {
		say(t, c, text)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096 // bbolt's page size on the systems we run on
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}

	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"both meta pages overwritten", func(d []byte) []byte { copy(d, garbage(2*page)); return d }},
		{"data pages overwritten", func(d []byte) []byte { copy(d[2*page:], garbage(len(d)-2*page)); return d }},
		{"cut in half", func(d []byte) []byte { return d[:len(d)/2] }},
		{"zeroed after the meta pages", func(d []byte) []byte { clear(d[2*page:]); return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "chat.db")
			damaged := tc.damage(bytes.Clone(data))
			if err := os.WriteFile(db, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"serve", "--addr", "127.0.0.1:0", "--db", db},
				{"history", "--db", db},
				{"kick", "alice", "--db", db},
			} {
				r := runCLI(t, args...)
				// "... is not a chatserver database (...); it was left
				// untouched" or "... is damaged; it was left untouched".
				plainFailure(t, r, "it was left untouched")
				if !bytes.Contains([]byte(r.stderr), []byte(db)) {
					t.Errorf("%s: %q does not name the file", args[0], r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("%s printed %q on standard output", args[0], r.stdout)
				}
				if got, _ := os.ReadFile(db); !bytes.Equal(got, damaged) {
					t.Fatalf("%s changed the damaged file", args[0])
				}
			}
			if _, err := os.Stat(db + ".sock"); !os.IsNotExist(err) {
				t.Errorf("an admin socket was left behind: %v", err)
			}
		})
	}
}
