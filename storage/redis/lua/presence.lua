-- Chatters: every live node's part of a room's presence; the parts whose
-- node did not write them again in time are deleted first.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's presence hash
-- KEYS[3]  its expiry set
-- ARGV[1]  the room's name
-- ARGV[2]  "1" for the default room, which always exists
-- Returns the parts (JSON arrays of names), or an error reply NOROOM.
redis.replicate_commands()
if ARGV[2] ~= '1' and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('NOROOM no such room')
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', ms))
for _, node in ipairs(expired) do
  redis.call('HDEL', KEYS[2], node)
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', ms))
end
return redis.call('HVALS', KEYS[2])
