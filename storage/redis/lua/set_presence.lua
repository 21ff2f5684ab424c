-- SetChatters: one node's part of a room's presence, which expires unless
-- the node writes it again in time. Times are the Redis server's, so that
-- the nodes' clocks need not agree.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's presence hash
-- KEYS[3]  its expiry set (node → expiry, Unix milliseconds)
-- ARGV[1]  the room's name
-- ARGV[2]  "1" for the default room, which always exists
-- ARGV[3]  the node
-- ARGV[4]  how long the part lives, in milliseconds
-- ARGV[5]  the names, a JSON array ("[]": none, the part is removed)
-- Returns "OK", or an error reply NOROOM.
redis.replicate_commands()
if ARGV[2] ~= '1' and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('NOROOM no such room')
end
if ARGV[5] == '[]' then
  redis.call('HDEL', KEYS[2], ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[3])
  return 'OK'
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[3], string.format('%d', ms + tonumber(ARGV[4])), ARGV[3])
return 'OK'
