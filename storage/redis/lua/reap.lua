-- Reap: ends what expired, by the server's clock: the claims of the
-- nodes that stopped (their heartbeat's expiry in the nodes set passed)
-- and the graces that ran out. A claim no connection holds any more, and
-- whose grace is not running, is deleted with a remove entry. Scripts run
-- one at a time, so however many nodes reap at once, each claim is
-- deleted, and its remove entry appended, once.
--
-- ARGV[1]  the key prefix       ARGV[2]  entries a log keeps
-- ARGV[3]  a node to take off at once, as if it had stopped ("" for none)
-- Returns the number of remove entries appended.
local prefix, size = ARGV[1], ARGV[2]
local removed = 0

-- take_off counts off every connection of node, deletes its index and
-- takes it off the nodes set.
local function take_off(node)
  local index = prefix .. 'node:' .. node .. ':claims'
  for _, member in ipairs(redis.call('SMEMBERS', index)) do
    local room, key = split_member(member)
    local c = get_claim(prefix, room, key)
    if c and c.nodes[node] then
      c.nodes[node] = nil
      if holders(c) == 0 and c.grace == 0 then
        drop_claim(prefix, room, key, c, size, name_body('remove', c.name))
        removed = removed + 1
      else
        put_claim(prefix, room, key, c)
      end
    end
  end
  redis.call('DEL', index)
  redis.call('ZREM', prefix .. 'nodes', node)
end

if ARGV[3] ~= '' then
  take_off(ARGV[3])
end
local now = string.format('%d', NOW_MS)
for _, node in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'nodes', '-inf', '(' .. now)) do
  take_off(node)
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'graces', '-inf', now)) do
  redis.call('ZREM', prefix .. 'graces', member)
  local room, key = split_member(member)
  local c = get_claim(prefix, room, key)
  if c and holders(c) == 0 and c.grace > 0 and c.grace <= NOW_MS then
    drop_claim(prefix, room, key, c, size, name_body('remove', c.name))
    removed = removed + 1
  end
end
return removed
