package bolt

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chatserver/internal/logtest"
	"chatserver/storage"
	"chatserver/storage/storetest"
)

// testLogger returns a logger to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	logger, _ := logtest.New(t)
	return logger
}

// gone asserts that err wraps ErrFileGone.
func gone(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrFileGone) {
		t.Errorf("%s: %v, want ErrFileGone", what, err)
	}
}

func TestFileWatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(t *testing.T, path string)
		detail string
	}{
		{"deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "no file has that name now"},
		{"replaced by another file", func(t *testing.T, path string) {
			other := path + ".new"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, "that name is another file now"},
		{"directory gone", func(t *testing.T, path string) {
			dir := filepath.Dir(path)
			if err := os.Rename(dir, dir+".moved"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Rename(dir+".moved", dir) })
		}, "no file has that name now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testPath(t)
			logger, logs := logtest.New(t)
			s := openStore(t, path, Options{Logger: logger})
			storetest.MustAddRoom(t, s, "games")
			if _, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("kept")); err != nil {
				t.Fatal(err)
			}
			if err := s.Ban(t.Context(), "mallory", storetest.BaseTime.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			keep := filepath.Join(t.TempDir(), "link.db")
			if err := os.Link(path, keep); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(); err != nil {
				t.Fatalf("Check before: %v", err)
			}

			tc.remove(t, path)
			gone(t, "check", s.watch.check())
			err := s.Check()
			gone(t, "Check", err)
			if err != nil && (!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.detail)) {
				t.Errorf("Check: %q, want the path and %q", err, tc.detail)
			}
			_, err = s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("lost"))
			gone(t, "AppendMessages", err)
			gone(t, "Ban", s.Ban(t.Context(), "eve", storetest.BaseTime.Add(time.Hour)))
			gone(t, "AddRoom", s.AddRoom(t.Context(), storage.Room{Name: "lost"}))
			gone(t, "RemoveRoom", s.RemoveRoom(t.Context(), "games"))
			_, err = s.Unban(t.Context(), "mallory")
			gone(t, "Unban", err)

			// Reads go on, from the open file.
			if got, err := s.RecentMessages(t.Context(), storage.DefaultRoom, 0); err != nil || strings.Join(storetest.Texts(got), ",") != "kept" {
				t.Errorf("RecentMessages with the file gone: %q, %v", storetest.Texts(got), err)
			}
			if _, banned, err := s.BanExpiry(t.Context(), "mallory", storetest.BaseTime); err != nil || !banned {
				t.Errorf("BanExpiry with the file gone: %v, %v", banned, err)
			}
			gone(t, "second check", s.watch.check())
			if lines := logs.Records(); len(lines) != 1 || lines[0].Attrs["file"] != path || lines[0].Level != slog.LevelError ||
				!strings.Contains(lines[0].Msg, "deleted or replaced") || !strings.Contains(lines[0].Attrs["err"], tc.detail) {
				t.Errorf("log %v, want one error naming the file and saying %q", lines, tc.detail)
			}
		})
	}
}

func TestFileWatchRecoversWhenTheFileIsBack(t *testing.T) {
	path := testPath(t)
	logger, logs := logtest.New(t)
	s := openStore(t, path, Options{Logger: logger})
	if _, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("one")); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(filepath.Dir(path), "backup.db")
	if err := os.Link(path, keep); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	gone(t, "check", s.watch.check())

	if err := os.Link(keep, path); err != nil {
		t.Fatal(err)
	}
	if err := s.watch.check(); err != nil {
		t.Fatalf("check with the file back: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("Check with the file back: %v", err)
	}
	if _, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("two")); err != nil {
		t.Fatalf("AppendMessages with the file back: %v", err)
	}
	lines := logs.Records()
	if len(lines) != 2 || lines[1].Msg != "database file back; messages and bans are stored again" || lines[1].Attrs["file"] != path {
		t.Errorf("log %v, want the loss and the recovery", lines)
	}
	s.Close()

	// What was acknowledged is in the file under its name.
	ro := openStore(t, path, Options{ReadOnly: true})
	if got, err := ro.RecentMessages(t.Context(), storage.DefaultRoom, 0); err != nil || strings.Join(storetest.Texts(got), ",") != "one,two" {
		t.Errorf("stored %q, %v; want one,two", storetest.Texts(got), err)
	}
}

func TestWriteChecksAStaleFileWatch(t *testing.T) {
	path := testPath(t)
	s := openStore(t, path, Options{Logger: testLogger(t)})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// As if the last check were one interval ago: the write checks first.
	s.watch.mu.Lock()
	s.watch.checked = time.Now().Add(-FileCheckInterval)
	s.watch.mu.Unlock()
	_, err := s.AppendMessages(t.Context(), storage.DefaultRoom, storetest.Msgs("lost"))
	gone(t, "AppendMessages", err)
}

func TestFileWatchNoticesWithoutBeingAsked(t *testing.T) {
	path := testPath(t)
	s := openStore(t, path, Options{Logger: testLogger(t)})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * FileCheckInterval)
	for {
		s.watch.mu.Lock()
		err := s.watch.err
		s.watch.mu.Unlock()
		if errors.Is(err, ErrFileGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watch did not notice the deleted file within %s", 5*FileCheckInterval)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadOnlyStoreHasNoFileWatch(t *testing.T) {
	path := testPath(t)
	openStore(t, path, Options{}).Close()
	ro := openStore(t, path, Options{ReadOnly: true})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := ro.Check(); err != nil {
		t.Errorf("Check of a read-only store: %v", err)
	}
}
