package owner_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"chatserver/internal/owner"
)

func TestOfNamesTheFilesOwner(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("files carry no user id on Windows")
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	uid, ok := owner.Of(fi)
	if !ok || int(uid) != os.Geteuid() {
		t.Fatalf("Of = %d, %v; want %d, true", uid, ok, os.Geteuid())
	}
	if !owner.Trusted(uid) {
		t.Errorf("Trusted(%d) = false for this process's own uid", uid)
	}
}

func TestTrusted(t *testing.T) {
	me := uint32(os.Geteuid())
	for _, tc := range []struct {
		uid  uint32
		want bool
	}{
		{0, true},
		{me, true},
		{me + 1, false},
		{65534, me == 65534},
	} {
		if got := owner.Trusted(tc.uid); got != tc.want {
			t.Errorf("Trusted(%d) = %v, want %v (this process runs as %d)", tc.uid, got, tc.want, me)
		}
	}
}

func TestDescribe(t *testing.T) {
	if got := owner.Describe(0); got != "uid 0 (root)" && got != "uid 0" {
		t.Errorf("Describe(0) = %q", got)
	}
	// An id no system gives out is described by its number alone.
	const unknown = 4000000123
	if got, want := owner.Describe(unknown), "uid "+strconv.Itoa(unknown); got != want {
		t.Errorf("Describe(%d) = %q, want %q", unknown, got, want)
	}
}
