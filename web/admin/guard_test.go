package admin

import (
	"chatserver/internal/logtest"
	"chatserver/internal/throttle"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestGuardNamesARefusedUserOnlyInALoggedLine: naming a user may read the
// user database, so a refusal that is not logged (within
// refusalLogInterval of the last line) does not name its peer.
func TestGuardNamesARefusedUserOnlyInALoggedLine(t *testing.T) {
	stranger := uint32(os.Geteuid() + 4242) // neither this process's user nor root
	described := 0
	logger, logs := logtest.New(t)
	g := &guard{
		next:     http.NotFoundHandler(),
		path:     "chat.db.sock",
		warn:     throttle.New(logger, slog.LevelWarn, 1),
		describe: func(uint32) string { described++; return "a stranger" },
	}
	for range 5 {
		r := httptest.NewRequest(http.MethodGet, "/history", nil)
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, peer{uid: stranger}))
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Fatalf("a request of uid %d: %d, want 403", stranger, w.Code)
		}
	}
	logged := len(logs.Matching("refused an admin request: only the server's user and root may use the socket", "from", "a process of a stranger"))
	if logged != 1 || described != 1 {
		t.Errorf("5 refusals within a minute: %d lines logged, the user named %d times; want 1 and 1", logged, described)
	}
}
