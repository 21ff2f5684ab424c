-- Open: marks the prefix as chatserver's, makes sure the default room
-- exists, and trims every room's history to the opener's --history.
--
-- KEYS[1]  the meta hash         KEYS[2]  the rooms set
-- ARGV[1]  the layout version this chatserver writes
-- ARGV[2]  the key prefix
-- ARGV[3]  the default room's name
-- ARGV[4]  an epoch for the default room's log, if it is made now
-- ARGV[5]  the default room's creation time, if it is made now
-- ARGV[6]  messages each room keeps
-- Returns "OK", or an error reply NOTCHATSERVER or NEWERSCHEMA.
local app = redis.call('HGET', KEYS[1], 'app')
if app and app ~= 'chatserver' then
  return redis.error_reply('NOTCHATSERVER the meta hash names the program ' .. app)
end
local schema = tonumber(redis.call('HGET', KEYS[1], 'schema') or '0') or 0
if schema > tonumber(ARGV[1]) then
  return redis.error_reply('NEWERSCHEMA layout version ' .. schema)
end
redis.call('HSET', KEYS[1], 'app', 'chatserver', 'schema', ARGV[1])

local prefix, default = ARGV[2], ARGV[3]
local room = prefix .. 'room:' .. default
if redis.call('HEXISTS', room, 'epoch') == 0 then
  redis.call('DEL', room .. ':history', room .. ':log', room .. ':claims', room .. ':kicks')
  redis.call('HSET', room, 'topic', '', 'created', ARGV[5], 'epoch', ARGV[4],
    'id', 0, 'seq', 0, 'time', '0000000000000000000')
end
redis.call('SADD', KEYS[2], default)

local keep = tonumber(ARGV[6])
for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('LTRIM', prefix .. 'room:' .. name .. ':history', -keep, -1)
end
return 'OK'
