-- The helpers of the scripts that write a room's claims and log entries
-- other than messages; this source is put before each of them. Those
-- scripts name their keys from the prefix (ARGV[1]), as a script that
-- reaps every room must: chatserver runs on one Redis, never a cluster.
--
-- A claim is a field of the room's claims hash, nick.Key(name) → JSON
-- {"name":…,"token":…,"nodes":{NODE:COUNT,…},"grace":DEADLINE_MS or 0}.
-- A claim's member, in the graces set and the nodes' indexes, is
-- ROOM .. "\n" .. KEY.
redis.replicate_commands()

-- The server's clock, which every expiry is measured by: NOW_MS in Unix
-- milliseconds, NOW_US in Unix microseconds (exact in a double).
local clock = redis.call('TIME')
local NOW_MS = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local NOW_US = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- room_key is the name of the hash of room; its other keys are named
-- after it.
local function room_key(prefix, room)
  return prefix .. 'room:' .. room
end

-- open_room returns the room's epoch; the default room (is_default "1")
-- is made again, with epoch and created, when it is gone, as the append
-- does; another room that is gone gives nil.
local function open_room(prefix, room, is_default, epoch, created)
  local k = room_key(prefix, room)
  local e = redis.call('HGET', k, 'epoch')
  if e then
    return e
  end
  if is_default ~= '1' then
    return nil
  end
  redis.call('DEL', k .. ':history', k .. ':log', k .. ':claims', k .. ':kicks')
  redis.call('HSET', k, 'topic', '', 'created', created, 'epoch', epoch,
    'id', 0, 'seq', 0, 'time', '0000000000000000000')
  redis.call('SADD', prefix .. 'rooms', room)
  return epoch
end

-- room_exists reports whether the room exists; the default room always
-- does.
local function room_exists(prefix, room, is_default)
  return is_default == '1' or redis.call('SISMEMBER', prefix .. 'rooms', room) == 1
end

-- append_entry appends one entry to the room's log, whose JSON is
-- {"epoch":…,"seq":…} with body (',"kind":…,…') after the position, at
-- the log's next position, trims the log to size entries and publishes
-- the entry, as a one-element array, on the room's channel, as the
-- append does. It returns {epoch, position}, or nil when the room is gone.
local function append_entry(prefix, room, size, body)
  local k = room_key(prefix, room)
  local epoch = redis.call('HGET', k, 'epoch')
  if not epoch then
    return nil
  end
  local seq = string.format('%d', redis.call('HINCRBY', k, 'seq', 1))
  local entry = '{"epoch":"' .. epoch .. '","seq":' .. seq .. body .. '}'
  redis.call('XADD', k .. ':log', 'MAXLEN', size, seq .. '-0', 'e', entry)
  redis.call('PUBLISH', prefix .. 'events:' .. room, '[' .. entry .. ']')
  return {epoch, tonumber(seq)}
end

-- name_body is the body of an entry of kind naming name.
local function name_body(kind, name)
  return ',"kind":"' .. kind .. '","name":' .. cjson.encode(name)
end

-- holders counts the connections holding a claim, on every node.
local function holders(c)
  local n = 0
  for _, count in pairs(c.nodes) do
    n = n + count
  end
  return n
end

-- encode_claim writes a claim, its nodes in order; added is the position
-- of the add entry that made the nickname present.
local function encode_claim(c)
  local nodes = {}
  for node in pairs(c.nodes) do
    nodes[#nodes + 1] = node
  end
  table.sort(nodes)
  for i, node in ipairs(nodes) do
    nodes[i] = cjson.encode(node) .. ':' .. string.format('%d', c.nodes[node])
  end
  return '{"name":' .. cjson.encode(c.name) .. ',"token":' .. cjson.encode(c.token) ..
    ',"nodes":{' .. table.concat(nodes, ',') .. '},"grace":' .. string.format('%d', c.grace) ..
    ',"added":' .. string.format('%d', c.added) .. '}'
end

-- get_claim reads the claim of key in room, or nil.
local function get_claim(prefix, room, key)
  local raw = redis.call('HGET', room_key(prefix, room) .. ':claims', key)
  if not raw then
    return nil
  end
  local c = cjson.decode(raw)
  if type(c.nodes) ~= 'table' then
    c.nodes = {}
  end
  c.grace = tonumber(c.grace) or 0
  c.added = tonumber(c.added) or 0
  return c
end

-- put_claim writes the claim of key in room.
local function put_claim(prefix, room, key, c)
  redis.call('HSET', room_key(prefix, room) .. ':claims', key, encode_claim(c))
end

-- drop_claim deletes the claim c of key in room, with its grace and its
-- nodes' index entries, and appends the entry of body (a remove or a
-- kick). It returns what append_entry does.
local function drop_claim(prefix, room, key, c, size, body)
  local member = room .. '\n' .. key
  redis.call('HDEL', room_key(prefix, room) .. ':claims', key)
  redis.call('ZREM', prefix .. 'graces', member)
  for node in pairs(c.nodes) do
    redis.call('SREM', prefix .. 'node:' .. node .. ':claims', member)
  end
  return append_entry(prefix, room, size, body)
end

-- split_member returns the room and the key of a claim's member.
local function split_member(member)
  local i = string.find(member, '\n', 1, true)
  return string.sub(member, 1, i - 1), string.sub(member, i + 1)
end
