// Package chat is the chat room: nicknames, presence, history order, rate
// limits and kicks. It knows nothing of HTTP or Socket.IO: the web package
// adapts each Socket.IO connection to a Conn and calls Client methods for
// the events it receives; chat stores through the small Store interface it
// defines, implemented by storage/bolt.
//
// Ordering and durability: every accepted message goes through one writer
// goroutine owned by the Room. The writer takes whatever messages are
// queued (group commit: one transaction and one fsync for the lot), then
// broadcasts them in ID order and only then answers each sender. So a
// message acknowledged to its sender is durable, and every client sees
// messages in the same order as the history.
//
// Rate limits: a message over its person's token buckets is paced, not
// refused: it waits its turn in the person's bounded backlog and then goes
// to the writer like any other (pace.go). Only past the backlog is it
// refused.
package chat
