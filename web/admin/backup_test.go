package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/web/admin"
)

var _ admin.Store = (*bolt.Store)(nil)

// backupTimeout bounds the waits of the backup tests.
const backupTimeout = 10 * time.Second

// dialBackup serves store (and an empty room) on a new admin socket and
// returns a client for it, both closed at cleanup; logf receives the
// server's log.
func dialBackup(t *testing.T, store admin.Store, logger *slog.Logger) *admin.Client {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db.sock")
	srv, err := admin.Listen(path, admin.NewHandler(newRoom(t, dir), store, logger), logger)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestBackupThroughTheSocketIsTheDatabase(t *testing.T) {
	dir := t.TempDir()
	store, err := bolt.Open(filepath.Join(dir, "chat.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logger, _ := logtest.New(t)
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Close)
	alice := enter(room, "", newRecConn())
	t.Cleanup(alice.Leave)
	if _, err := alice.Join("alice", ""); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "two"} {
		if _, err := alice.Say(text); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "chat.db.sock")
	srv, err := admin.Listen(path, admin.NewHandler(room, store, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := admin.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	// Twice on one client: the connection is reused after a whole copy.
	for round := range 2 {
		var buf bytes.Buffer
		n, err := c.Backup(context.Background(), &buf)
		if err != nil || n != int64(buf.Len()) || n == 0 {
			t.Fatalf("round %d: Backup = %d, %v; wrote %d bytes", round, n, err, buf.Len())
		}
		copyPath := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(copyPath, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		cp, err := bolt.Open(copyPath, bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("round %d: the copy does not open: %v", round, err)
		}
		msgs, err := cp.RecentMessages(context.Background(), storage.DefaultRoom, 0)
		cp.Close()
		var texts []string
		for _, m := range msgs {
			texts = append(texts, m.Text)
		}
		if err != nil || !slices.Equal(texts, []string{"one", "two"}) {
			t.Errorf("round %d: messages in the copy %q, %v", round, texts, err)
		}
	}
}

// fakeStore announces size, writes body and returns err.
type fakeStore struct {
	size  int64
	body  []byte
	err   error
	block chan struct{} // if not nil, wait for it to close after writing body
}

func (f *fakeStore) Backup(to func(int64) io.Writer) (int64, error) {
	if f.size < 0 {
		return 0, f.err
	}
	n, err := to(f.size).Write(f.body)
	if err != nil {
		return int64(n), err
	}
	if f.block != nil {
		<-f.block
	}
	return int64(n), f.err
}

func TestBackupRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		store  admin.Store
		status int
		code   chat.Code
		log    string
	}{
		{"no store", nil, http.StatusNotFound, admin.CodeNotFound, ""},
		{"store closed", &fakeStore{size: -1, err: fmt.Errorf("backup: %w", storage.ErrClosed)},
			http.StatusServiceUnavailable, chat.CodeUnavailable, ""},
		{"store fails at once", &fakeStore{size: -1, err: errors.New("input/output error")},
			http.StatusInternalServerError, chat.CodeStoreFailed, "input/output error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := logtest.New(t)
			c := dialBackup(t, tc.store, logger)
			var buf bytes.Buffer
			n, err := c.Backup(context.Background(), &buf)
			var aerr *admin.Error
			if !errors.As(err, &aerr) || aerr.Status != tc.status || aerr.Code != tc.code || aerr.Message == "" {
				t.Fatalf("Backup: %v, want a %d %s refusal", err, tc.status, tc.code)
			}
			if n != 0 || buf.Len() != 0 {
				t.Errorf("a refusal wrote %d bytes (%d said)", buf.Len(), n)
			}
			if tc.log != "" && len(logs.Matching("backup failed", "err", tc.log)) != 1 {
				t.Errorf("server log %s, want one backup failure with %q", logs, tc.log)
			}
		})
	}
}

func TestBackupCutOffIsNoCopy(t *testing.T) {
	t.Run("the store fails part way", func(t *testing.T) {
		logger, logs := logtest.New(t)
		c := dialBackup(t, &fakeStore{size: 1 << 20, body: bytes.Repeat([]byte("x"), 1000), err: errors.New("read error")}, logger)
		var buf bytes.Buffer
		n, err := c.Backup(context.Background(), &buf)
		if !errors.Is(err, admin.ErrBackupCut) || !strings.Contains(err.Error(), fmt.Sprintf("after %d of %d bytes", n, 1<<20)) {
			t.Fatalf("Backup: %d bytes, %v; want ErrBackupCut saying how much came", n, err)
		}
		if recs := logs.Matching("backup cut off", "bytes", "1000", "err", "read error"); len(recs) != 1 {
			t.Errorf("server log %s, want the cut-off logged once", logs)
		}
	})
	t.Run("the server stops sending", func(t *testing.T) {
		defer admin.SetBackupIdle(200 * time.Millisecond)()
		block := make(chan struct{})
		c := dialBackup(t, &fakeStore{size: 1 << 20, body: []byte("partial"), block: block}, nil)
		t.Cleanup(func() { close(block) })
		done := make(chan error, 1)
		go func() {
			_, err := c.Backup(context.Background(), io.Discard)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, admin.ErrBackupCut) || !strings.Contains(err.Error(), "the server sent nothing for 200ms") {
				t.Fatalf("Backup from a stalled server: %v, want ErrBackupCut saying it stalled", err)
			}
		case <-time.After(backupTimeout):
			t.Fatalf("Backup from a stalled server did not give up within %s", backupTimeout)
		}
	})
	t.Run("the caller gives up", func(t *testing.T) {
		block := make(chan struct{})
		c := dialBackup(t, &fakeStore{size: 1 << 20, body: []byte("partial"), block: block}, nil)
		t.Cleanup(func() { close(block) })
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		w := writerFunc(func(p []byte) (int, error) {
			once.Do(cancel)
			return len(p), nil
		})
		if _, err := c.Backup(ctx, w); !errors.Is(err, context.Canceled) {
			t.Fatalf("Backup after the caller cancelled: %v, want context.Canceled", err)
		}
	})
}

// TestBackupWaitsOutASlowDisk: only the server's silence counts against
// the idle limit, not the time the local writes take.
func TestBackupWaitsOutASlowDisk(t *testing.T) {
	const idle = 100 * time.Millisecond
	defer admin.SetBackupIdle(idle)()
	body := bytes.Repeat([]byte("x"), 1<<20)
	c := dialBackup(t, &fakeStore{size: int64(len(body)), body: body}, nil)
	var buf bytes.Buffer
	var once sync.Once
	w := writerFunc(func(p []byte) (int, error) {
		// A disk that takes several idle limits over one write.
		once.Do(func() { <-time.After(5 * idle) })
		return buf.Write(p)
	})
	n, err := c.Backup(context.Background(), w)
	if err != nil || n != int64(len(body)) || !bytes.Equal(buf.Bytes(), body) {
		t.Fatalf("Backup to a slow disk: %d bytes, %v; want the whole %d-byte copy", n, err, len(body))
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
