package redis_test

import (
	"chatserver/chat"
	"chatserver/storage/redis"
)

// A Store is what the chat rooms need of a store that several nodes
// share.
var _ chat.SharedStore = (*redis.Store)(nil)
