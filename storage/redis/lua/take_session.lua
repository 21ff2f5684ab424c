-- TakeSession: returns a room's saved session and deletes it (one try),
-- unless its nickname was kicked from the room since it was saved.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  "1" for the default room, which always exists
-- ARGV[4]  the session's pid
-- Returns the session's JSON, or false when there is none (it never was,
-- it expired, it was taken or its nickname kicked), or an error reply
-- NOROOM.
local prefix, room = ARGV[1], ARGV[2]
if not room_exists(prefix, room, ARGV[3]) then
  return redis.error_reply('NOROOM no such room')
end
local rk = room_key(prefix, room)
local k = rk .. ':session:' .. ARGV[4]
local f = redis.call('HMGET', k, 'saved', 'key', 'session')
redis.call('DEL', k)
if not f[1] or not f[3] then
  return false
end
local kicked = redis.call('HGET', rk .. ':kicks', f[2])
if kicked and tonumber(kicked) >= tonumber(f[1]) then
  return false
end
return f[3]
