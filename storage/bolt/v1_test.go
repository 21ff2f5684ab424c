package bolt

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"chatserver/storage/bolt/internal/v1file"
)

// testdata/v1.db was written by the Store of schema 1 (see
// internal/v1file).

func TestV1FileGeneratorMatchesTestdata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	if err := v1file.Write(path); err != nil {
		t.Fatal(err)
	}
	got, want := dumpFile(t, path), dumpFile(t, filepath.Join("testdata", "v1.db"))
	if !slices.Equal(got, want) {
		t.Errorf("the generator writes\n%s\ntestdata/v1.db holds\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	before := readFile(t, path)
	if err := v1file.Write(path); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("writing over a file: %v, want a refusal", err)
	}
	assertUnchanged(t, path, before)
}

// dumpFile lists everything the bbolt file at path holds, sorted, one
// line per bucket ("rooms/general", with " sequence N" when that is not
// zero) and per value ("meta schema 2"). Keys that are not printable text
// are shown in hex ("0x0000000000000003"). Two files with the same lines
// hold the same data, however bbolt laid out their pages.
func dumpFile(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := bbolt.Open(path, 0, &bbolt.Options{ReadOnly: true, Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var lines []string
	var walk func(path string, b *bbolt.Bucket) error
	walk = func(path string, b *bbolt.Bucket) error {
		line := path
		if seq := b.Sequence(); seq != 0 {
			line += fmt.Sprintf(" sequence %d", seq)
		}
		lines = append(lines, line)
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(path+"/"+printable(k), b.Bucket(k))
			}
			lines = append(lines, path+" "+printable(k)+" "+string(v))
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walk(printable(name), b) })
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// printable is k as text if it is printable, else in hex.
func printable(k []byte) string {
	if utf8.Valid(k) && !strings.ContainsFunc(string(k), func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' || r == '/' }) {
		return string(k)
	}
	return fmt.Sprintf("%#x", k)
}
