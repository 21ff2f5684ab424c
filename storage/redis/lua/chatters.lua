-- Chatters: the claims of a room.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  "1" for the default room, which always exists
-- Returns the claims' JSON, or an error reply NOROOM.
local prefix, room = ARGV[1], ARGV[2]
if not room_exists(prefix, room, ARGV[3]) then
  return redis.error_reply('NOROOM no such room')
end
return redis.call('HVALS', room_key(prefix, room) .. ':claims')
