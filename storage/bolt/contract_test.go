package bolt

import (
	"testing"

	"chatserver/storage/storetest"
)

// TestContract runs the contract every store keeps against a Store on a
// new file.
func TestContract(t *testing.T) {
	open := func(t *testing.T, opts storetest.Options) storetest.Store {
		t.Helper()
		return openStore(t, testPath(t), Options{History: opts.History})
	}
	t.Run("Bans", func(t *testing.T) { storetest.Bans(t, open) })
}
