-- AddRoom: makes a room, empty, with a new log, and says so on the
-- control channel.
--
-- KEYS[1]  the rooms set    KEYS[2]  the room's hash
-- ARGV[1]  the room's name
-- ARGV[2]  its topic        ARGV[3]  its creation time
-- ARGV[4]  the epoch of its log
-- ARGV[5]  the control channel
-- Returns "OK", or an error reply ROOMEXISTS.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return redis.error_reply('ROOMEXISTS the room exists already')
end
local room = KEYS[2]
-- Whatever a room of the name left behind is not this room's.
redis.call('DEL', room, room .. ':history', room .. ':log',
  room .. ':claims', room .. ':kicks')
redis.call('HSET', room, 'topic', ARGV[2], 'created', ARGV[3], 'epoch', ARGV[4],
  'id', 0, 'seq', 0, 'time', '0000000000000000000')
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[5], 'add ' .. ARGV[1])
return 'OK'
