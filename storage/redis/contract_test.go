package redis

import (
	"testing"

	"chatserver/storage/storetest"
)

// TestContract runs the contract every store keeps against a Store under
// a key prefix of its own on one redis-server.
func TestContract(t *testing.T) {
	srv := startServer(t)
	open := func(t *testing.T, opts storetest.Options) storetest.Store {
		t.Helper()
		return openStore(t, srv, Options{History: opts.History})
	}
	t.Run("Bans", func(t *testing.T) { storetest.Bans(t, open) })
}
