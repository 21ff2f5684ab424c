// Package admin is chatserver's admin channel: a small HTTP+JSON API on a
// Unix socket beside the database file, through which the `history`,
// `kick`, `room` and `backup` commands reach a running `chatserver serve`.
//
// The server side is Listen (bind the socket, replacing a stale one left by
// a crash) with NewHandler (the routes, over a Hub and a Store). The
// client side is Dial, whose Client has a method for each route the
// commands use (History, Kick, Unban, Rooms, AddRoom, RemoveRoom,
// Backup); GET /chatters serves whoever looks at a running server by
// other means. SocketPath names the
// socket of a database file.
//
// # Routes
//
//	GET  /history?room=R&n=N   recent messages, oldest first (n <= 0 or absent: all kept)
//	GET  /chatters?room=R      present nicknames, sorted
//	POST /kick                 {"name", "reason", "ban", "room"} -> {"ok":true,"closed":N,"rooms":[...]}
//	POST /unban                {"name"}                    -> {"ok":true,"unbanned":bool}
//	GET  /rooms                [{"name","topic","messages","chatters"}], the default room first
//	POST /rooms                {"name", "topic"}           -> the new room as GET /rooms lists it
//	POST /rooms/remove         {"name"}                    -> {"ok":true,"closed":N}
//	GET  /backup               a consistent copy of the database file (application/octet-stream)
//
// room is a room's name; absent means the default room ("general"), and
// for /kick every room the nickname is in. "ban" is a Go duration ("10m",
// "2h"); empty or absent means no ban; bans hold in every room.
//
// GET /backup answers with the copy's exact Content-Length and streams it
// from one read transaction of the store. A copy that fails part way ends
// the connection before that many bytes, so a client never takes part of a
// copy for a whole one. The server gives the client as long as it keeps
// reading (each write has its own deadline), and cuts off one that stops.
// A refused request is answered with a 4xx or 5xx status and the body
// {"error": code, "message": text}, where code is a chat.Code (for example
// "no_such_chatter", "no_such_room", "room_exists", "invalid_room") or
// one of this package's request codes
// ("bad_request", "not_found", "method_not_allowed", "too_large",
// "forbidden").
//
// # Security
//
// Anyone who can connect to the socket can kick chatters and read the
// history, so it is created with mode 0600 (only the user running the
// server; on Linux connecting to a Unix socket needs write permission on
// it). It is bound inside a new directory of mode 0700 beside its path,
// given its mode there and renamed into place, so that no umask ever
// leaves it open to others, even for an instant. On Linux the server also
// checks every request's peer credentials (SO_PEERCRED): a process of
// another user than the server's and root gets 403 {"error":"forbidden"},
// logged at most once a minute.
//
// The client trusts the socket no more than the server trusts its
// clients: Dial and every later connection check that the process
// serving it runs as the same user or root (SO_PEERCRED on Linux, the
// socket file's owner elsewhere) and otherwise fail with an
// *UntrustedError naming that user, so that a socket planted by another
// user in a shared directory is never believed.
//
// # Path length
//
// A Unix socket address holds at most MaxPathLen bytes. When the socket
// path is longer, Listen and Dial use the same file through a shorter
// relative name (relative to the working directory) if there is one, and
// otherwise fail with ErrPathTooLong, which names the path: move the
// database to a shorter directory.
package admin
