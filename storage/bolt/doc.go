// Package bolt is chatserver's store in one bbolt file: the rooms of a
// single-node server, each with its message history and presence set, and
// the bans, which hold in every room.
//
// # Layout
//
// The file has three top-level buckets (schema version 2):
//
//	meta      "app"    → "chatserver"   marks the file as chatserver's
//	          "schema" → "2"            layout version, decimal
//	bans      nick.Key(nickname) → expiry, RFC 3339 with nanoseconds, UTC
//	rooms     one nested bucket per room, named by its name
//	          (storage.CheckRoomName), each holding:
//	  "topic"    → the room's topic, text (may be empty)
//	  "created"  → when the room was added, RFC 3339 with nanoseconds,
//	               UTC; the zero time for the default room of a migrated
//	               file
//	  messages   nested bucket: 8-byte big-endian ID → JSON of
//	             storage.Message. IDs come from this bucket's
//	             NextSequence: strictly increasing within the room, never
//	             reused by it, continuing across restarts. Only the newest
//	             History messages are kept; older ones are deleted in the
//	             same transaction that appends new ones.
//	  chatters   nested bucket: nickname as given → empty value (the
//	             room's presence set)
//
// The bucket of storage.DefaultRoom always exists: a read-write Open
// creates it (and any other bucket of the layout that is missing), and
// RemoveRoom refuses it. Removing a room deletes its bucket with its
// history and presence in one transaction; a room added later under the
// same name is a new room, whose IDs begin at 1.
//
// Bans are found by nick.Key, the one definition of "the same nickname";
// stored chatters are matched by it too. Files written while bans were
// keyed by strings.ToLower, or before a stronger nick.Key, may hold keys
// that are not their own nick.Key: a read-write Open moves those bans to
// their current key (the later expiry wins when two meet), and a read-only
// store looks for them under their old keys, so no ban is lost.
//
// # Schema 1
//
// Files written before rooms have schema version 1: top-level buckets
// messages and chatters (laid out as a room's nested ones are now) beside
// meta and bans. A read-write Open migrates such a file in one
// transaction: the messages (same keys, same values, and the bucket's
// sequence, so that IDs go on and are never given out twice) and the
// chatters become the default room's, the old buckets are deleted and
// meta/schema becomes "2"; if anything fails, nothing is written. A
// read-only Open (`chatserver history` while no server runs) never
// writes: it serves the old buckets as the default room, the only room
// such a file has. testdata/v1.db is such a file, written by the Store of
// schema 1 (see internal/v1file).
//
// # Opening
//
// Open creates the layout in a new or empty file. An existing file is first
// opened read-only with a shared lock and inspected (marker, schema version,
// every bucket read and checked against the layout of its version: no
// foreign bucket or key, room names that pass storage.CheckRoomName,
// message keys of 8 bytes within their bucket's sequence; then bbolt's
// page-level consistency check) before anything is written, so a file that
// is not chatserver's (random bytes, damaged pages, another program's bbolt
// file) is reported as storage.ErrNotChatserver and left byte-for-byte
// unchanged. A file of a newer schema gives storage.ErrNewerSchema. bbolt
// panics or faults on some damaged pages; Open and every call turn that
// into an error (storage.ErrNotChatserver in Open, storage.ErrCorrupt
// later) instead of crashing the server. A read-write Open also trims the
// history of every room to Options.History.
//
// bbolt locks the file with flock: a read-write Store holds it exclusively,
// read-only Stores share it. Locks belong to the open file, so even a
// second Open in the same process waits for the first to Close and, after
// Options.Timeout, fails with storage.ErrLocked. The admin commands use
// that to tell "a server is running" from "no server".
//
// # Writes
//
// Every write is one bbolt transaction: one fsync when it commits, nothing
// written when it fails or finds nothing to change. AppendMessages takes a
// whole batch for one room, so the chat package's group-commit writer pays
// one fsync per batch rather than per message (see BenchmarkAppendBatch64).
// Reads never write, so a read-only Store serves `chatserver history` and
// ban lookups.
//
// Every call but Ping, Check, Backup and Close takes a context and returns
// its error (wrapped with the call's name) when it is already done, before
// touching the file. bbolt's transactions cannot be interrupted, so the
// context is not looked at again once a transaction has begun: a call
// that has begun runs to its end.
//
// Values returned by a Store are copied out of the transaction and belong
// to the caller.
//
// # Backups
//
// Backup writes the whole file as it stands at one moment (bbolt's
// Tx.WriteTo in one read transaction), announcing the copy's size first;
// the copy opens as any chatserver file does. Commits go on meanwhile,
// but one that must enlarge the file's memory map waits for the copy, so
// the caller keeps the copy moving (the admin channel cuts off a reader
// that stalls).
//
// # The file under a running store
//
// A file deleted (or replaced) while open keeps working for the process
// that has it open, but nothing written to it survives. A read-write Store
// therefore compares the file it has open with its path every
// FileCheckInterval, and before each AppendMessages, AddRoom, RemoveRoom,
// Ban and Unban when the last check is that old. While the path names
// another file or none, those writes fail with ErrFileGone and Check says
// so; one line is logged when the file goes and one when it is back (the
// same file, linked back under the path).
package bolt
