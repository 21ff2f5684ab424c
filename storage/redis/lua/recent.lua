-- RecentMessages (and AppendMessages of nothing): the newest messages of
-- a room, oldest first.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's history
-- ARGV[1]  the room's name
-- ARGV[2]  how many (0: none, only the check that the room exists;
--          -1: all it keeps)
-- ARGV[3]  "1" for the default room, which always exists
-- Returns the messages' JSON, or an error reply NOROOM.
if ARGV[3] ~= '1' and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('NOROOM no such room')
end
local n = tonumber(ARGV[2])
if n == 0 then
  return {}
elseif n < 0 then
  return redis.call('LRANGE', KEYS[2], 0, -1)
end
return redis.call('LRANGE', KEYS[2], -n, -1)
