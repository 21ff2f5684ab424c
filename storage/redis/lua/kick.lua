-- Kick: ends a nickname's presence in a room, however many connections
-- hold it, with a kick entry, and records the time, after which saved
-- sessions of the nickname in the room are refused.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  nick.Key(name)       ARGV[4]  the reason, a JSON string
-- ARGV[5]  "1" for the default room, which is made again if it is gone
-- ARGV[6]  an epoch and ARGV[7] a creation time, for that
-- ARGV[8]  entries the log keeps
-- Returns 1 when the nickname was present (and a kick entry appended), 0
-- otherwise, or an error reply NOROOM.
local prefix, room, key = ARGV[1], ARGV[2], ARGV[3]
if not open_room(prefix, room, ARGV[5], ARGV[6], ARGV[7]) then
  return redis.error_reply('NOROOM no such room')
end
redis.call('HSET', room_key(prefix, room) .. ':kicks', key, string.format('%d', NOW_US))
local c = get_claim(prefix, room, key)
if not c then
  return 0
end
drop_claim(prefix, room, key, c, ARGV[8], name_body('kick', c.name) .. ',"reason":' .. ARGV[4])
return 1
