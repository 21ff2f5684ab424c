package redis

import (
	_ "embed"

	"github.com/redis/rueidis"
)

// The Lua scripts, one file each in lua/, each saying what it takes and
// returns. Each runs atomically on the server; the client sends it by its
// SHA-1 (EVALSHA) and in full (EVAL) only when the server does not have it
// yet, after a restart, say. The scripts of the claims, the nodes, the
// kicks and the sessions begin with lua/shared.lua, their helpers.
var (
	//go:embed lua/init.lua
	initSource string
	//go:embed lua/add_room.lua
	addRoomSource string
	//go:embed lua/remove_room.lua
	removeRoomSource string
	//go:embed lua/rooms.lua
	roomsSource string
	//go:embed lua/append.lua
	appendSource string
	//go:embed lua/recent.lua
	recentSource string
	//go:embed lua/log.lua
	logSource string
	//go:embed lua/shared.lua
	sharedSource string
	//go:embed lua/snapshot.lua
	snapshotSource string
	//go:embed lua/chatters.lua
	chattersSource string
	//go:embed lua/claim.lua
	claimSource string
	//go:embed lua/release.lua
	releaseSource string
	//go:embed lua/kick.lua
	kickSource string
	//go:embed lua/heartbeat.lua
	heartbeatSource string
	//go:embed lua/reap.lua
	reapSource string
	//go:embed lua/save_session.lua
	saveSessionSource string
	//go:embed lua/take_session.lua
	takeSessionSource string

	scriptInit        = rueidis.NewLuaScript(initSource)
	scriptAddRoom     = rueidis.NewLuaScript(addRoomSource)
	scriptRemoveRoom  = rueidis.NewLuaScript(removeRoomSource)
	scriptRooms       = rueidis.NewLuaScript(roomsSource)
	scriptAppend      = rueidis.NewLuaScript(appendSource)
	scriptRecent      = rueidis.NewLuaScript(recentSource)
	scriptLog         = rueidis.NewLuaScript(logSource)
	scriptSnapshot    = withShared(snapshotSource)
	scriptChatters    = withShared(chattersSource)
	scriptClaim       = withShared(claimSource)
	scriptRelease     = withShared(releaseSource)
	scriptKick        = withShared(kickSource)
	scriptHeartbeat   = withShared(heartbeatSource)
	scriptReap        = withShared(reapSource)
	scriptSaveSession = withShared(saveSessionSource)
	scriptTakeSession = withShared(takeSessionSource)
)

// withShared is the script of source with the shared helpers before it.
func withShared(source string) *rueidis.Lua {
	return rueidis.NewLuaScript(sharedSource + "\n" + source)
}
