// Command genv1 writes the chatserver database of schema version 1 that
// storage/bolt's tests open as testdata/v1.db (see package v1file for
// what it holds):
//
//	go run ./storage/bolt/internal/genv1 storage/bolt/testdata/v1.db
//
// The committed testdata/v1.db was written through the Store of schema 1;
// this command now writes the same contents with bbolt directly, which
// TestV1FileGeneratorMatchesTestdata checks. It refuses to overwrite a
// file.
package main

import (
	"fmt"
	"os"

	"chatserver/storage/bolt/internal/v1file"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genv1 FILE")
		os.Exit(2)
	}
	if err := v1file.Write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genv1:", err)
		os.Exit(1)
	}
}
