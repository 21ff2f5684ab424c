// Package bolt is chatserver's store in one bbolt file: the message history,
// the presence set and the bans of a single-node server.
//
// # Layout
//
// The file has four top-level buckets (schema version 1):
//
//	meta      "app"    → "chatserver"   marks the file as chatserver's
//	          "schema" → "1"            layout version, decimal
//	messages  8-byte big-endian ID → JSON of storage.Message
//	          IDs come from the bucket's NextSequence: strictly increasing,
//	          never reused, continuing across restarts. Only the newest
//	          History messages are kept; older ones are deleted in the same
//	          transaction that appends new ones.
//	chatters  nickname as given → empty value (the presence set)
//	bans      nick.Key(nickname) → expiry, RFC 3339 with nanoseconds, UTC
//
// Bans are found by nick.Key, the one definition of "the same nickname";
// stored chatters are matched by it too. Files written while bans were
// keyed by strings.ToLower, or before a stronger nick.Key, may hold keys
// that are not their own nick.Key: a read-write Open moves those bans to
// their current key (the later expiry wins when two meet), and a read-only
// store looks for them under their old keys, so no ban is lost. The
// schema version stays 1: the keys of most names are unchanged.
//
// # Opening
//
// Open creates the layout in a new or empty file. An existing file is first
// opened read-only with a shared lock and inspected (marker, schema version,
// every bucket read, bbolt's page-level consistency check) before anything
// is written, so a file that is not chatserver's (random bytes, damaged
// pages, another program's bbolt file) is reported as
// storage.ErrNotChatserver and left byte-for-byte unchanged. bbolt panics or
// faults on some damaged pages; Open and every call turn that into an error
// (storage.ErrNotChatserver in Open, storage.ErrCorrupt later) instead of
// crashing the server.
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
// whole batch, so the chat package's group-commit writer pays one fsync per
// batch rather than per message (see BenchmarkAppendBatch64). Reads never
// write, so a read-only Store serves `chatserver history` and ban lookups.
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
// FileCheckInterval, and before each AppendMessages, Ban and Unban when
// the last check is that old. While the path names another file or none,
// those writes fail with ErrFileGone and Check says so; one line is
// logged when the file goes and one when it is back (the same file,
// linked back under the path).
package bolt
