package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"chatserver/chat"
	"chatserver/internal/logtest"
	"chatserver/storage/bolt"
)

func TestReadyz(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "chat.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := logtest.New(t)
	room, err := chat.NewHub(context.Background(), store, chat.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	var storeErr atomic.Pointer[error]
	srv := New(room, Config{Logger: logger, Ready: func() error {
		if p := storeErr.Load(); p != nil {
			return *p
		}
		return nil
	}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		room.Close()
		store.Close()
	})
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}

	for _, step := range []struct {
		name   string
		do     func()
		status int
		body   string
	}{
		{"ready", func() {}, 200, "ready\n"},
		{"the store objects", func() {
			err := errors.New("the database file is gone")
			storeErr.Store(&err)
		}, 503, "not ready: the database file is gone\n"},
		{"the store is fine again", func() { storeErr.Store(nil) }, 200, "ready\n"},
		{"shutting down", func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, 503, "not ready: shutting down\n"},
	} {
		step.do()
		if status, body := get("/readyz"); status != step.status || body != step.body {
			t.Errorf("%s: /readyz = %d %q, want %d %q", step.name, status, body, step.status, step.body)
		}
		for _, path := range []string{"/livez", "/healthz"} {
			if status, _ := get(path); status != 200 {
				t.Errorf("%s: %s = %d, want 200", step.name, path, status)
			}
		}
	}
}
