// Command chatserver is a self-hosted chat appliance: one binary that serves
// a chat page and a Socket.IO v4 endpoint, keeping history and presence in a
// single bbolt file.
package main

import (
	"runtime"

	"chatserver/cmd"
)

func main() {
	// Nothing in chatserver serves or writes a heap profile, so the
	// runtime need not sample allocations for one: each sampled call
	// stack would keep a record, and a join storm samples many.
	runtime.MemProfileRate = 0
	cmd.Execute()
}
