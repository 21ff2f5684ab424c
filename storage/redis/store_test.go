package redis

import "chatserver/chat"

// A Store is what the chat rooms need of their storage.
var _ chat.Store = (*Store)(nil)
