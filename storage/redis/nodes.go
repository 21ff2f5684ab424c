package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"chatserver/storage"
)

// The nodes set (P nodes) lists every started node with when its
// heartbeat expires (Unix ms, by the server's clock), and each node's
// index (P node:NODE:claims) the claims it counts connections in, so that
// those of a node that stopped can be found and counted off.

// errStarted refuses a second StartNode.
var errStarted = errors.New("the node was started already")

// StartNode makes this store a node that serves clients: it first takes
// this node's connections off every claim at once, as if it had stopped
// (a node that restarts under its name holds none yet: claims left with
// no connection get an EntryRemove, unless their grace is running), and
// registers its heartbeat; then, until Close, it beats every third of
// PresenceTTL and reaps every ReapInterval: the claims of the nodes whose
// heartbeat expired (counted off, with an EntryRemove for each claim no
// connection holds any more and whose grace is not running) and the
// graces that ran out (an EntryRemove each). Many nodes reap at once;
// each claim is removed, with one EntryRemove, once. Commands that only
// read (history, say) do not call it; a server calls it once, before its
// first Claim. The goroutines log their failures and try again next time.
func (s *Store) StartNode(ctx context.Context) error {
	const op = "start the node"
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.started {
		return fmt.Errorf("%s %s: %w", op, s.opts.Node, errStarted)
	}
	if _, err := s.reap(ctx, s.opts.Node); err != nil {
		return s.fail(op, err)
	}
	if err := s.heartbeat(ctx); err != nil {
		return s.fail(op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("%s: %w", op, storage.ErrClosed)
	}
	s.done.Add(2)
	go s.every(s.opts.PresenceTTL/3, "the heartbeat", s.heartbeat)
	go s.every(s.opts.ReapInterval, "reaping", func(ctx context.Context) error {
		_, err := s.reap(ctx, "")
		return err
	})
	s.started = true
	return nil
}

// every runs f every interval until Close, each run bounded by the
// interval; a failure is logged, and the next run tries again.
func (s *Store) every(interval time.Duration, what string, f func(context.Context) error) {
	defer s.done.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		err := f(ctx)
		cancel()
		if err != nil && !s.closed.Load() {
			s.opts.Logger.Warn(what+" in Redis failed; trying again", "node", s.opts.Node, "err", scriptError(err))
		}
	}
}

// heartbeat says this node is alive for PresenceTTL from now.
func (s *Store) heartbeat(ctx context.Context) error {
	return s.run(ctx, scriptHeartbeat, nil, s.opts.Prefix, s.opts.Node, millis(s.opts.PresenceTTL)).Error()
}

// reap runs the reap script, taking node off first ("" for none), and
// returns how many remove entries it appended.
func (s *Store) reap(ctx context.Context, node string) (int, error) {
	n, err := s.run(ctx, scriptReap, nil, s.opts.Prefix, strconv.Itoa(s.opts.LogSize), node).AsInt64()
	return int(n), err
}
