-- RemoveRoom: deletes a room with its history, log and presence.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's hash
-- ARGV[1]  the room's name
-- Returns "OK", or an error reply NOROOM.
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('NOROOM no such room')
end
local room = KEYS[2]
redis.call('DEL', room, room .. ':history', room .. ':log',
  room .. ':presence', room .. ':presence:expiry')
return 'OK'
