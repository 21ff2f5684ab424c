-- Heartbeat: a node says it is alive until its presence TTL from now.
--
-- ARGV[1]  the key prefix       ARGV[2]  the node
-- ARGV[3]  the presence TTL, ms
-- Returns "OK".
redis.call('ZADD', ARGV[1] .. 'nodes', string.format('%d', NOW_MS + tonumber(ARGV[3])), ARGV[2])
return 'OK'
