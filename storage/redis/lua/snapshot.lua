-- Snapshot: a room's newest messages, its claims and its log's position,
-- read at one moment.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  how many messages (-1: all it keeps)
-- ARGV[4]  "1" for the default room, which is made again if it is gone
-- ARGV[5]  an epoch and ARGV[6] a creation time, for that
-- Returns {epoch, position, {claim JSON...}, {message JSON...}}, or an
-- error reply NOROOM.
local prefix, room = ARGV[1], ARGV[2]
local epoch = open_room(prefix, room, ARGV[4], ARGV[5], ARGV[6])
if not epoch then
  return redis.error_reply('NOROOM no such room')
end
local k = room_key(prefix, room)
local seq = tonumber(redis.call('HGET', k, 'seq'))
local n = tonumber(ARGV[3])
local history
if n < 0 then
  history = redis.call('LRANGE', k .. ':history', 0, -1)
else
  history = redis.call('LRANGE', k .. ':history', -n, -1)
end
return {epoch, seq, redis.call('HVALS', k .. ':claims'), history}
