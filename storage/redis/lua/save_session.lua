-- SaveSession: keeps a lost client's session in a room until it expires,
-- with the server's time it was saved (a kick of its nickname after that
-- ends it), if its nickname is still claimed in the room with its token:
-- one kicked, or whose claim ended, before the save could only be refused.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  "1" for the default room, which always exists
-- ARGV[4]  the session's pid    ARGV[5]  nick.Key of its name
-- ARGV[6]  the session's JSON   ARGV[7]  its expiry, Unix ms
-- ARGV[8]  its nickname's token
-- Returns "OK", "UNCLAIMED" (nothing kept), or an error reply NOROOM.
local prefix, room = ARGV[1], ARGV[2]
if not room_exists(prefix, room, ARGV[3]) then
  return redis.error_reply('NOROOM no such room')
end
local c = get_claim(prefix, room, ARGV[5])
if not c or c.token ~= ARGV[8] then
  return 'UNCLAIMED'
end
local k = room_key(prefix, room) .. ':session:' .. ARGV[4]
redis.call('DEL', k)
redis.call('HSET', k, 'saved', string.format('%d', NOW_US), 'key', ARGV[5], 'session', ARGV[6])
-- An expiry already past deletes it at once.
redis.call('PEXPIREAT', k, ARGV[7])
return 'OK'
