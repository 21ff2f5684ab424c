-- Claim: one more connection of a node holding a nickname in a room.
--
-- ARGV[1]  the key prefix       ARGV[2]  the room's name
-- ARGV[3]  nick.Key(name)       ARGV[4]  the name as given
-- ARGV[5]  the token given ("" for none)
-- ARGV[6]  a new token, for a new claim or one taken over
-- ARGV[7]  "1" to resume: only the token given may take the nickname
-- ARGV[8]  the node             ARGV[9]  the node's presence TTL, ms
-- ARGV[10] "1" for the default room, which is made again if it is gone
-- ARGV[11] an epoch and ARGV[12] a creation time, for that
-- ARGV[13] entries the log keeps
-- Returns {token, epoch, position of the add entry appended or 0, position
-- of the add entry that made the nickname present (this one, or the
-- earlier one)}, or an error reply NOROOM or NAMETAKEN.
local prefix, room, key, node = ARGV[1], ARGV[2], ARGV[3], ARGV[8]
local epoch = open_room(prefix, room, ARGV[10], ARGV[11], ARGV[12])
if not epoch then
  return redis.error_reply('NOROOM no such room')
end
local token, resume = ARGV[5], ARGV[7] == '1'
local out
local c = get_claim(prefix, room, key)
if c then
  local matched = token ~= '' and c.token == token
  if holders(c) > 0 then
    if not matched then
      return redis.error_reply('NAMETAKEN the nickname is in use')
    end
  else
    -- In its grace: taken back.
    if resume and not matched then
      return redis.error_reply('NAMETAKEN the nickname is in use')
    end
    if not matched then
      c.token = ARGV[6]
    end
    c.grace = 0
    redis.call('ZREM', prefix .. 'graces', room .. '\n' .. key)
  end
  c.nodes[node] = (c.nodes[node] or 0) + 1
  put_claim(prefix, room, key, c)
  out = {c.token, epoch, 0, c.added}
else
  -- A client resuming its session keeps its token: it releases with it.
  local fresh = ARGV[6]
  if resume and token ~= '' then
    fresh = token
  end
  c = {name = ARGV[4], token = fresh, nodes = {[node] = 1}, grace = 0}
  local at = append_entry(prefix, room, ARGV[13], name_body('add', c.name))
  c.added = at[2]
  put_claim(prefix, room, key, c)
  out = {c.token, at[1], at[2], at[2]}
end
redis.call('SADD', prefix .. 'node:' .. node .. ':claims', room .. '\n' .. key)
-- A node that claims is alive: listed with its expiry (never shortened),
-- so that its claims are reaped should it stop.
redis.call('ZADD', prefix .. 'nodes', 'GT', string.format('%d', NOW_MS + tonumber(ARGV[9])), node)
return out
