package bolt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"chatserver/storage"
	"chatserver/storage/storetest"
)

// backupTimeout bounds the waits of the backup tests.
const backupTimeout = 10 * time.Second

// backupTo writes a backup of s to a new file and returns its path and
// the size Backup announced.
func backupTo(t *testing.T, s *Store) (path string, announced int64) {
	t.Helper()
	path = testPath(t)
	var buf bytes.Buffer
	announced = -1
	n, err := s.Backup(func(size int64) io.Writer {
		announced = size
		return &buf
	})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if n != announced || int64(buf.Len()) != n {
		t.Fatalf("Backup announced %d bytes, returned %d, wrote %d", announced, n, buf.Len())
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, announced
}

func TestBackupIsACompleteDatabase(t *testing.T) {
	src := testPath(t)
	s := openStore(t, src, Options{History: 5})
	storetest.MustAppend(t, s, storetest.Msgs("one", "two", "three"))
	if err := s.Ban(t.Context(), "mallory", storetest.BaseTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChatters(t.Context(), storage.DefaultRoom, []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		store func(t *testing.T) *Store
	}{
		{"from a read-write store", func(*testing.T) *Store { return s }},
		{"from a read-only store", func(t *testing.T) *Store {
			// A read-only store cannot share the file with the writer:
			// take a backup of a closed copy, opened read-only.
			path, _ := backupTo(t, s)
			return openStore(t, path, Options{ReadOnly: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, size := backupTo(t, tc.store(t))
			if fi, err := os.Stat(src); err != nil || fi.Size() < size {
				t.Errorf("copy of %d bytes from a file of %v (%v)", size, fi.Size(), err)
			}
			c := openStore(t, path, Options{ReadOnly: true})
			if got := storetest.Texts(storetest.MustRecent(t, c)); !slices.Equal(got, []string{"one", "two", "three"}) {
				t.Errorf("messages in the copy: %q", got)
			}
			if _, banned, err := c.BanExpiry(t.Context(), "MALLORY", storetest.BaseTime); err != nil || !banned {
				t.Errorf("ban in the copy: %v, %v", banned, err)
			}
			if names, err := c.Chatters(t.Context(), storage.DefaultRoom); err != nil || !slices.Equal(names, []string{"alice", "bob"}) {
				t.Errorf("chatters in the copy: %q, %v", names, err)
			}
		})
	}
}

func TestBackupIsOneMoment(t *testing.T) {
	s := openStore(t, testPath(t), Options{History: 10})
	storetest.MustAppend(t, s, storetest.Msgs("before"))

	// A commit started while the copy is being written is not in it,
	// whether it goes through at once or (needing a larger map of the
	// file) waits for the copy to end; either way the copy is sound.
	committed := make(chan error, 1)
	var buf bytes.Buffer
	started := false
	_, err := s.Backup(func(int64) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			if !started {
				started = true
				go func() {
					_, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("during"))
					committed <- err
				}()
			}
			return buf.Write(p)
		})
	})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	select {
	case err := <-committed:
		if err != nil {
			t.Fatalf("append during the backup: %v", err)
		}
	case <-time.After(backupTimeout):
		t.Fatalf("the append started during the backup did not finish within %s of it", backupTimeout)
	}
	path := testPath(t)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Texts(storetest.MustRecent(t, openStore(t, path, Options{ReadOnly: true}))); !slices.Equal(got, []string{"before"}) {
		t.Errorf("copy holds %q, want only the message stored before it began", got)
	}
	if got := storetest.Texts(storetest.MustRecent(t, s)); !slices.Equal(got, []string{"before", "during"}) {
		t.Errorf("store holds %q after the backup", got)
	}
}

func TestBackupOfAFileDeletedUnderTheStore(t *testing.T) {
	src := testPath(t)
	s := openStore(t, src, Options{})
	storetest.MustAppend(t, s, storetest.Msgs("kept"))
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	path, _ := backupTo(t, s)
	if got := storetest.Texts(storetest.MustRecent(t, openStore(t, path, Options{ReadOnly: true}))); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("copy of the deleted file holds %q", got)
	}
}

func TestBackupFailures(t *testing.T) {
	t.Run("a closed store calls nothing", func(t *testing.T) {
		s := openStore(t, testPath(t), Options{})
		s.Close()
		called := false
		_, err := s.Backup(func(int64) io.Writer { called = true; return io.Discard })
		if !errors.Is(err, storage.ErrClosed) || called {
			t.Errorf("Backup after Close: %v (writer asked for: %v), want ErrClosed before any byte", err, called)
		}
	})
	t.Run("a failing writer ends it", func(t *testing.T) {
		s := openStore(t, testPath(t), Options{})
		storetest.MustAppend(t, s, storetest.Msgs("one"))
		broken := errors.New("disk full")
		var written int64
		n, err := s.Backup(func(int64) io.Writer {
			return writerFunc(func(p []byte) (int, error) {
				if written > 0 {
					return 0, broken
				}
				written += int64(len(p))
				return len(p), nil
			})
		})
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk full")) || n != written {
			t.Errorf("Backup with a failing writer: %d bytes, %v; want %d bytes and the writer's error", n, err, written)
		}
		// The store is unharmed.
		storetest.MustAppend(t, s, storetest.Msgs("two"))
	})
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
