-- LogSince: a room's log after a position, with the log's epoch and its
-- newest position, read at one moment.
--
-- KEYS[1]  the room's hash  KEYS[2]  its log
-- ARGV[1]  the position after which entries are wanted
-- Returns {epoch, newest position, entry JSON...}, or an error reply
-- NOROOM.
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if not meta[1] then
  return redis.error_reply('NOROOM no such room')
end
local out = {meta[1], tonumber(meta[2])}
local from = string.format('%d', tonumber(ARGV[1]) + 1) .. '-0'
for _, e in ipairs(redis.call('XRANGE', KEYS[2], from, '+')) do
  -- e is {id, {field, value}}: the entry is the value of field "e".
  out[#out + 1] = e[2][2]
end
return out
