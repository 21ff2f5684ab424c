// Command chatserver is a self-hosted chat appliance: one binary that serves
// a chat page and a Socket.IO v4 endpoint, keeping history and presence in a
// single bbolt file.
package main

import "chatserver/cmd"

func main() { cmd.Execute() }
