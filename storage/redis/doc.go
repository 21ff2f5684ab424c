// Package redis is chatserver's store in Redis: the store of record that
// several nodes share, so that they serve the same rooms. It keeps what
// storage/bolt keeps in its file (the rooms, each with its history and
// presence, the bans, the recovery state) and, for the nodes to stay in
// step, a bounded log of every room's entries (messages, arrivals,
// departures, kicks) and a channel each append publishes on, the
// nicknames' claims, the nodes' heartbeats and the lost clients'
// sessions: a Store is what chat.SharedStore asks for. docs/REDIS.md is the design of the whole engine; this
// package is its storage.
//
// # The client library
//
// The client is github.com/redis/rueidis, chosen over
// github.com/redis/go-redis/v9 for four reasons:
//
//   - Size. Measured on the linux/arm GOARM=6 release build (stripped),
//     a program using each for the same calls grows by 0.59 MB with
//     rueidis and by 1.84 MB with go-redis; with this package it is
//     0.72 MB (9.83 MB before).
//   - Pipelining. rueidis pipelines concurrent commands on one connection
//     by itself: the rooms' writers, the heartbeat, the reaper and ban
//     lookups share one connection and its round trips, with no pool to
//     size. go-redis takes a connection from a pool per command unless the
//     caller gathers commands into a pipeline.
//   - Pub/sub reconnection. A rueidis subscription on a connection of its
//     own reports the loss of that connection and leaves resubscribing to
//     the caller, who must catch up on what was published meanwhile. That
//     is what this store needs: a Subscription ends with
//     ErrSubscriptionLost and its reader reads the log (LogSince). go-redis
//     reconnects and resubscribes silently, so what was published in the
//     gap would be missed without a sign but a gap in the positions.
//   - Lua. Both send a script by its SHA-1 (EVALSHA) and in full (EVAL)
//     when the server answers NOSCRIPT (rueidis.Lua.Exec, go-redis's
//     Script.Run); no difference there.
//
// The client is set up for one Redis server (not a cluster: a script
// touches several keys of a room and the room list) without client-side
// caching. Redis 6.2 or later is needed (GETDEL, the scripts' commands);
// the tests run Debian's redis-server 7.0.
//
// # Layout
//
// Every key and channel begins with the prefix (Options.Prefix,
// "chatserver:" unless told), written P below; one Redis database may so
// hold several deployments. Room names (storage.CheckRoomName) hold no
// ":", so no room's keys can be mistaken for another's.
//
//	P meta                  hash    app → "chatserver" (the prefix is chatserver's),
//	                                schema → "1" (this layout's version; bolt's file
//	                                schema counts apart)
//	P rooms                 set     the names of the rooms, storage.DefaultRoom among them
//	P room:NAME             hash    topic, created (RFC 3339 with nanoseconds, UTC),
//	                                epoch (the log's, 12 hex digits), id (the last
//	                                message ID given), seq (the log's newest position),
//	                                time (the last message's time, Unix nanoseconds in
//	                                19 digits)
//	P room:NAME:history     list    the newest History messages, oldest first, each
//	                                {"id":7,"time":UNIX_NS,"name":"…","text":"…"}
//	P room:NAME:log         stream  the newest LogSize entries: stream ID "SEQ-0", one
//	                                field "e" → {"epoch":"…","seq":SEQ,"kind":"message",
//	                                "message":{…}}, {…,"kind":"add"/"remove","name":"…"}
//	                                or {…,"kind":"kick","name":"…","reason":"…"}
//	P room:NAME:claims      hash    nick.Key(name) → {"name":…,"token":…,"nodes":{NODE:
//	                                COUNT},"grace":DEADLINE_MS or 0}
//	P room:NAME:kicks       hash    nick.Key(name) → when it was last kicked (Unix µs)
//	P room:NAME:session:PID hash    session (JSON of storage.Session), key (nick.Key of
//	                                its name), saved (Unix µs); expires with the session
//	P nodes                 zset    node → when its heartbeat expires (Unix ms)
//	P node:NODE:claims      set     "ROOM\nKEY" of every claim NODE counts connections in
//	P graces                zset    "ROOM\nKEY" → when the claim's grace ends (Unix ms)
//	P bans                  hash    nick.Key(nickname) → expiry, RFC 3339 with
//	                                nanoseconds, UTC; one set for every room
//	P recovery:NODE         string  the recovery state NODE saved at a clean shutdown
//	                                (JSON of storage.RecoveryState), for a day at most
//	P events:NAME           channel each append to the room publishes its entries on,
//	                                as one JSON array
//	P control               channel AddRoom and RemoveRoom say "add NAME", "remove NAME"
//
// Every time in Redis that something expires by is the server's clock
// (TIME), so that the nodes' clocks need not agree.
//
// Open writes the meta hash and the default room when they are missing,
// refuses a prefix whose meta hash names another program
// (storage.ErrNotChatserver) or a newer layout (storage.ErrNewerSchema),
// and trims every room's history to Options.History. A room added gets a
// new epoch; a room removed loses every key of its own in the same step,
// so one added later under the name is a new room whose IDs and positions
// begin at 1.
//
// # The scripts
//
// Every write that touches more than one key is one Lua script (lua/*.lua,
// each stating what it takes and returns), run atomically by the server.
// The one that matters most is the append (AppendMessages): for a whole
// batch, in one step, it gives the messages the room's next IDs and the
// log's next positions, raises any time before the room's last one to it,
// appends them to the history and trims it, appends an entry per message
// to the log (XADD with an exact MAXLEN) and publishes the batch's entries
// on the room's channel. Since scripts run one at a time, the order of IDs,
// of positions, of the log and of what subscribers receive is one order,
// whichever node appended. The script refuses a room that is gone
// (storage.ErrNoSuchRoom) except the default room, which it makes again
// with a new epoch: Redis may lose everything (FLUSHDB, a restart without
// persistence), and the default room always exists. The script's inputs
// are the batch's JSON and times as Go wrote them; it builds the stored
// JSON by joining strings, never by decoding, so what Go encoded is what
// the readers decode.
//
// Positions and epochs follow Socket.IO connection state recovery, as the
// chat rooms number their events: a room's log counts its entries from 1
// without gaps, and its epoch changes whenever the log starts anew (a room
// added, the default room made again), so a position of another epoch is
// recognised as meaningless (Log.Complete).
//
// # Presence
//
// A room's presence is its claims (Claim, Release, Kick): a nickname is
// held with a token, by any number of connections of any nodes, counted
// per node; a new claim appends an add entry, and a claim no connection
// holds any more stays for its grace and then goes with a remove entry.
// A node that serves clients calls StartNode: its heartbeat keeps it in
// the nodes set, and its reaper, like every other node's, counts off the
// connections of the nodes whose heartbeat expired and ends the graces
// that ran out, in one script, so that each nickname is removed once
// however many nodes reap. SetChatters is a no-op kept for chat.Store.
//
// # Errors and contexts
//
// Every call takes a context and returns its error (wrapped with the
// call's name, as storage/bolt does) when it is already done, before
// sending anything; a context that ends while a call waits for its reply
// makes the call return, though the server may still run it. Calls after
// Close return storage.ErrClosed. The errors name the server by host and
// port, never with the URL's password.
package redis
