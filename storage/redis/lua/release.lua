-- Release: one connection of a node fewer holding a nickname in a room.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  nick.Key(name)       ARGV[4]  the claim's token
-- ARGV[5]  the node
-- ARGV[6]  the grace, ms: how long the nickname stays present once no
--          connection holds it (0: a remove entry at once)
-- ARGV[7]  entries the log keeps
-- Returns 1 when a connection was counted off, 0 when there was none of
-- the node's with the token (nothing changed).
local prefix, room, key, node = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local member = room .. '\n' .. key
local c = get_claim(prefix, room, key)
if not c or not c.nodes[node] then
  -- None of this node's connections hold it (it was kicked, reaped or
  -- its room removed): nothing for the node's index either.
  redis.call('SREM', prefix .. 'node:' .. node .. ':claims', member)
  return 0
end
if c.token ~= ARGV[4] then
  return 0
end
c.nodes[node] = c.nodes[node] - 1
if c.nodes[node] <= 0 then
  c.nodes[node] = nil
  redis.call('SREM', prefix .. 'node:' .. node .. ':claims', member)
end
if holders(c) > 0 then
  put_claim(prefix, room, key, c)
  return 1
end
local grace = tonumber(ARGV[6])
if grace > 0 then
  c.grace = NOW_MS + grace
  put_claim(prefix, room, key, c)
  redis.call('ZADD', prefix .. 'graces', string.format('%d', c.grace), member)
  return 1
end
drop_claim(prefix, room, key, c, ARGV[7], name_body('remove', c.name))
return 1
