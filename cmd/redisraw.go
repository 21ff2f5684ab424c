package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

// dialRedis connects to the Redis at rawURL as a plain client, for what
// is not chatserver's store: the Node original's list that import reads,
// and what serve --check looks at without writing. It speaks RESP2, which
// every Redis does. The caller closes the client.
func dialRedis(ctx context.Context, rawURL string) (rueidis.Client, string, error) {
	where, err := redisWhere(rawURL)
	if err != nil {
		return nil, "", err
	}
	opt, err := rueidis.ParseURL(rawURL)
	if err != nil {
		return nil, where, fmt.Errorf("the Redis URL for %s is not valid", where)
	}
	opt.AlwaysRESP2 = true
	opt.DisableCache = true
	opt.ForceSingleClient = true
	opt.ClientName = "chatserver-cli"
	if deadline, ok := ctx.Deadline(); ok {
		opt.Dialer.Timeout = max(min(redisAttemptTimeout, time.Until(deadline)), time.Millisecond)
	} else {
		opt.Dialer.Timeout = redisAttemptTimeout
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, where, redisDialError(where, err)
	}
	return client, where, nil
}

// redisDialError explains a failure to connect to the Redis at where in
// one line, without the password.
func redisDialError(where string, err error) error {
	var re *rueidis.RedisError
	if errors.As(err, &re) {
		msg := re.Error()
		switch {
		case strings.HasPrefix(msg, "WRONGPASS"):
			return plainf(err, "Redis at %s refused the user name or password of the URL", where)
		case strings.HasPrefix(msg, "NOAUTH"):
			return plainf(err, "Redis at %s wants a password: give it in the URL (redis://:PASSWORD@%s/0)", where, where)
		}
		return plainf(err, "Redis at %s refused the connection: %s", where, msg)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return plainf(err, "cannot connect to Redis at %s: nothing listens there (is redis-server running?)", where)
	}
	return plainf(err, "cannot connect to Redis at %s: %v", where, err)
}
