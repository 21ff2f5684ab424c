-- AppendMessages, in one atomic step: gives each message of a batch the
-- room's next ID and the next position of its log, raises a time that is
-- before the room's previous message to it, appends the messages to the
-- room's history and trims it, appends one entry per message to the
-- room's log (bounded, each {"epoch","seq","kind":"message","message"}),
-- and publishes the batch's entries, as one JSON
-- array, on the room's channel.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's hash
-- KEYS[3]  its history      KEYS[4]  its log
-- ARGV[1]  the room's name
-- ARGV[2]  messages the history keeps
-- ARGV[3]  entries the log keeps
-- ARGV[4]  the room's channel
-- ARGV[5]  "1" for the default room, which is made again if it is gone
-- ARGV[6]  an epoch and ARGV[7] a creation time, for that
-- ARGV[8]  the batch's token, kept with its answer among the room's
--          newest 256 batches (its list "batches")
-- ARGV[9]  "1" when the batch is sent again (the answer to its first try
--          was lost with its connection): if the first try ran, its
--          answer is returned and nothing is appended twice
-- ARGV[10], ARGV[11], ...  per message, its time (Unix nanoseconds, 19
--          digits) and its JSON object without ID and time
--          ({"name":...,"text":...})
-- Returns {first ID, first log position, epoch, the time of the room's
-- previous message}, or an error reply NOROOM.
local room = KEYS[2]
local batches = room .. ':batches'
if ARGV[9] == '1' then
  local prefix = ARGV[8] .. ' '
  for _, b in ipairs(redis.call('LRANGE', batches, 0, -1)) do
    if string.sub(b, 1, #prefix) == prefix then
      local id, seq, ep, fl = string.match(b, '^%S+ (%d+) (%d+) (%S+) (%d+)$')
      return {tonumber(id), tonumber(seq), ep, fl}
    end
  end
end
local epoch = redis.call('HGET', room, 'epoch')
if not epoch then
  if ARGV[5] ~= '1' then
    return redis.error_reply('NOROOM no such room')
  end
  epoch = ARGV[6]
  redis.call('DEL', KEYS[3], KEYS[4], room .. ':claims', room .. ':kicks')
  redis.call('HSET', room, 'topic', '', 'created', ARGV[7], 'epoch', epoch,
    'id', 0, 'seq', 0, 'time', '0000000000000000000')
  redis.call('SADD', KEYS[1], ARGV[1])
end

local n = (#ARGV - 9) / 2
local lastID = redis.call('HINCRBY', room, 'id', n)
local lastSeq = redis.call('HINCRBY', room, 'seq', n)
local floor = redis.call('HGET', room, 'time')
local prev = floor

-- later reports whether a is after b, both Unix nanoseconds in 19 digits
-- (compared in two parts: a double holds neither exactly).
local function later(a, b)
  local as, bs = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if as ~= bs then
    return as > bs
  end
  return tonumber(string.sub(a, 11)) > tonumber(string.sub(b, 11))
end

local entries = {}
for i = 1, n do
  local t = ARGV[8 + 2 * i]
  if later(prev, t) then
    t = prev
  end
  prev = t
  local id = string.format('%d', lastID - n + i)
  local seq = string.format('%d', lastSeq - n + i)
  local msg = '{"id":' .. id .. ',"time":' .. t .. ',' .. string.sub(ARGV[9 + 2 * i], 2)
  redis.call('RPUSH', KEYS[3], msg)
  local entry = '{"epoch":"' .. epoch .. '","seq":' .. seq .. ',"kind":"message","message":' .. msg .. '}'
  redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[3], seq .. '-0', 'e', entry)
  entries[i] = entry
end
redis.call('HSET', room, 'time', prev)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', ARGV[4], '[' .. table.concat(entries, ',') .. ']')
-- A try again comes at once, long before 256 more batches.
redis.call('LPUSH', batches, string.format('%s %d %d %s %s', ARGV[8], lastID - n + 1, lastSeq - n + 1, epoch, floor))
redis.call('LTRIM', batches, 0, 255)
return {lastID - n + 1, lastSeq - n + 1, epoch, floor}
