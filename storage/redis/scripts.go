package redis

import (
	_ "embed"

	"github.com/redis/rueidis"
)

// The Lua scripts, one file each in lua/, each saying what it takes and
// returns. Each runs atomically on the server; the client sends it by its
// SHA-1 (EVALSHA) and in full (EVAL) only when the server does not have it
// yet, after a restart, say.
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
	//go:embed lua/set_presence.lua
	setPresenceSource string
	//go:embed lua/presence.lua
	presenceSource string

	scriptInit        = rueidis.NewLuaScript(initSource)
	scriptAddRoom     = rueidis.NewLuaScript(addRoomSource)
	scriptRemoveRoom  = rueidis.NewLuaScript(removeRoomSource)
	scriptRooms       = rueidis.NewLuaScript(roomsSource)
	scriptAppend      = rueidis.NewLuaScript(appendSource)
	scriptRecent      = rueidis.NewLuaScript(recentSource)
	scriptLog         = rueidis.NewLuaScript(logSource)
	scriptSetPresence = rueidis.NewLuaScript(setPresenceSource)
	scriptPresence    = rueidis.NewLuaScript(presenceSource)
)
