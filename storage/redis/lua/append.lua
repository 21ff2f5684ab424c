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
-- ARGV[8]  the batch's token: a batch sent again with the same token (the
--          answer to the first try was lost with its connection) is not
--          appended twice; the first try's answer is returned
-- ARGV[9], ARGV[10], ...  per message, its time (Unix nanoseconds, 19
--          digits) and its JSON object without ID and time
--          ({"name":...,"text":...})
-- Returns {first ID, first log position, epoch, the time of the room's
-- previous message}, or an error reply NOROOM.
local room = KEYS[2]
local done_key = room .. ':batch:' .. ARGV[8]
local done = redis.call('HMGET', done_key, 'id', 'seq', 'epoch', 'floor')
if done[1] then
  return {tonumber(done[1]), tonumber(done[2]), done[3], done[4]}
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

local n = (#ARGV - 8) / 2
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
  local t = ARGV[7 + 2 * i]
  if later(prev, t) then
    t = prev
  end
  prev = t
  local id = string.format('%d', lastID - n + i)
  local seq = string.format('%d', lastSeq - n + i)
  local msg = '{"id":' .. id .. ',"time":' .. t .. ',' .. string.sub(ARGV[8 + 2 * i], 2)
  redis.call('RPUSH', KEYS[3], msg)
  local entry = '{"epoch":"' .. epoch .. '","seq":' .. seq .. ',"kind":"message","message":' .. msg .. '}'
  redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[3], seq .. '-0', 'e', entry)
  entries[i] = entry
end
redis.call('HSET', room, 'time', prev)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', ARGV[4], '[' .. table.concat(entries, ',') .. ']')
-- Kept a minute: a try again comes within seconds.
redis.call('HSET', done_key, 'id', lastID - n + 1, 'seq', lastSeq - n + 1, 'epoch', epoch, 'floor', floor)
redis.call('PEXPIRE', done_key, 60000)
return {lastID - n + 1, lastSeq - n + 1, epoch, floor}
