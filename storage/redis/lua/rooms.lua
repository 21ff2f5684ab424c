-- Rooms: every room with its topic, creation time and the number of
-- messages it keeps, read at one moment.
--
-- KEYS[1]  the rooms set
-- ARGV[1]  the key prefix
-- Returns a flat array: name, topic, created, messages, name, ...
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local room = ARGV[1] .. 'room:' .. name
  local f = redis.call('HMGET', room, 'topic', 'created')
  out[#out + 1] = name
  out[#out + 1] = f[1] or ''
  out[#out + 1] = f[2] or ''
  out[#out + 1] = redis.call('LLEN', room .. ':history')
end
return out
