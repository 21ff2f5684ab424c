-- RemoveRoom: deletes a room with its history, log, claims, kicks and
-- appended batches,
-- and says so on the control channel. Its saved sessions expire by
-- themselves: a room added again under the name has a new epoch, so that
-- their positions mean nothing there.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's hash
-- ARGV[1]  the room's name
-- ARGV[2]  the control channel
-- ARGV[3]  the key prefix
-- Returns "OK", or an error reply NOROOM.
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('NOROOM no such room')
end
local room, prefix = KEYS[2], ARGV[3]
-- The claims go, and with them their graces and the nodes' index entries.
local claims = redis.call('HGETALL', room .. ':claims')
for i = 1, #claims, 2 do
  local member = ARGV[1] .. '\n' .. claims[i]
  redis.call('ZREM', prefix .. 'graces', member)
  local ok, c = pcall(cjson.decode, claims[i + 1])
  if ok and type(c) == 'table' and type(c.nodes) == 'table' then
    for node in pairs(c.nodes) do
      redis.call('SREM', prefix .. 'node:' .. node .. ':claims', member)
    end
  end
end
redis.call('DEL', room, room .. ':history', room .. ':log',
  room .. ':claims', room .. ':kicks', room .. ':batches')
redis.call('PUBLISH', ARGV[2], 'remove ' .. ARGV[1])
return 'OK'
