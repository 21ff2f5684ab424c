// Package chat holds the chat rooms: nicknames, presence, history order,
// rate limits, kicks and bans, and what a client needs to miss nothing. It
// knows nothing of HTTP or Socket.IO: the web package adapts each
// Socket.IO namespace socket to a Conn and calls Client methods for the
// events it receives; chat stores through the small Store interface it
// defines, implemented by storage/bolt.
//
// A Hub owns the rooms (hub.go): it opens them from the store, adds and
// removes them for the operator, and holds what spans rooms: the rate
// limits of a person (limits.go, a Person per transport connection), the
// bans, the warnings about clients. Each Room has its own clients,
// presence, recent history and writer.
//
// Ordering and durability: every accepted message goes through one writer
// goroutine owned by its Room. The writer takes whatever messages are
// queued (group commit: one transaction and one fsync for the lot), then
// hands them to Room.deliver, which broadcasts them in ID order, and only
// then answers each sender. So a message acknowledged to its sender is
// durable, and every client sees messages in the same order as the
// history. deliver is the one way in for committed messages, so that a
// bus between nodes can feed it too.
//
// Rate limits: a message over its person's token buckets is paced, not
// refused: it waits its turn in the person's bounded backlog and then goes
// to the writer like any other (pace.go). Only past the backlog is it
// refused.
//
// Nothing missed: a connection lost rather than ended keeps its nickname
// present for a grace (Client.Drop), and with recovery on every broadcast
// takes a place in the room's event log, so that a client that comes back
// with its session is sent exactly what it missed (recovery.go).
package chat
