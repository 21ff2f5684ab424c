package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/rueidis"

	"chatserver/storage"
)

// SubscriptionBuffer is how many published batches a Subscription holds
// for its reader. A reader that falls that far behind ends the
// subscription (ErrSubscriptionOverflow) rather than stall the connection
// every batch arrives on, or drop some silently.
const SubscriptionBuffer = 1024

// ErrSubscriptionOverflow ends a Subscription whose reader fell
// SubscriptionBuffer batches behind.
var ErrSubscriptionOverflow = errors.New("the subscription's reader fell behind")

// ErrSubscriptionLost ends a Subscription whose connection failed: Redis
// went away or restarted, or closed the connection (CLIENT KILL, a
// network failure).
var ErrSubscriptionLost = errors.New("the subscription's connection was lost")

// Subscription receives the batches every append to any room publishes
// (messages, and the add, remove and kick entries of the claims), from
// every node sharing the Redis and prefix, and a Batch with RoomsChanged
// for every room added or removed, on a connection of its own. A room's
// batches arrive in the order they were appended, which is the order of
// their positions; a batch published while the subscription is not there
// (before it began, after it ended, while its connection was down) is
// never received, which is what Store.LogSince is for. The store owns the
// connection; Close, or the store's Close, ends it. It is a
// storage.Subscription.
type Subscription struct {
	store   *Store
	batches chan storage.Batch
	lost    chan error // the first reason to end, for the owner goroutine
	stopped chan struct{}

	mu    sync.Mutex // guards ended and err, and sending on batches
	ended bool
	err   error
}

// Subscribe subscribes to every room's channel (one pattern, so rooms
// added later are included) and to the control channel, which AddRoom and
// RemoveRoom publish on, on a dedicated connection, and returns once
// Redis has confirmed both: every batch published after Subscribe returns
// reaches the subscription, until it ends. Batches are read from
// Batches(); when that channel is closed, Err says why. The subscription
// is a *Subscription.
func (s *Store) Subscribe(ctx context.Context) (storage.Subscription, error) {
	const op = "subscribe"
	if err := s.begin(ctx, op); err != nil {
		return nil, err
	}
	conn, release := s.client.Dedicate()
	sub := &Subscription{
		store:   s,
		batches: make(chan storage.Batch, SubscriptionBuffer),
		lost:    make(chan error, 1),
		stopped: make(chan struct{}),
	}
	prefix, control := s.channel(""), s.control()
	wait := conn.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			// This runs on the connection's read loop: never wait here.
			if m.Channel == control {
				sub.deliver(storage.Batch{RoomsChanged: true})
				return
			}
			room, ok := strings.CutPrefix(m.Channel, prefix)
			if !ok {
				return
			}
			entries, err := decodeBatch([]byte(m.Message))
			if err != nil || !validRoom(room) {
				s.opts.Logger.Warn("a message on a room's channel in Redis is not chatserver's; ignored", "channel", m.Channel, "err", err)
				return
			}
			sub.deliver(storage.Batch{Room: room, Entries: entries})
		},
	})
	for _, cmd := range []rueidis.Completed{
		conn.B().Psubscribe().Pattern(prefix + "*").Build(),
		conn.B().Subscribe().Channel(control).Build(),
	} {
		if err := conn.Do(ctx, cmd).Error(); err != nil {
			conn.Close()
			release()
			return nil, s.fail(op, err)
		}
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		conn.Close()
		release()
		return nil, fmt.Errorf("%s: %w", op, storage.ErrClosed)
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	// The owner: it ends the subscription when its connection fails, its
	// reader falls behind, or it is closed, and then gives the connection
	// back.
	go func() {
		var reason error
		select {
		case err := <-wait:
			reason = fmt.Errorf("%w: %v", ErrSubscriptionLost, err)
		case reason = <-sub.lost:
		}
		sub.finish(reason)
		conn.Close()
		release()
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
		close(sub.stopped)
	}()
	return sub, nil
}

// Batches is the channel the batches arrive on, closed when the
// subscription ends.
func (sub *Subscription) Batches() <-chan storage.Batch { return sub.batches }

// Err says why the subscription ended, once Batches is closed: nil after
// Close, storage.ErrClosed after the store's Close, ErrSubscriptionLost
// or ErrSubscriptionOverflow.
func (sub *Subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close ends the subscription and waits until its connection is given
// back. Idempotent.
func (sub *Subscription) Close() {
	sub.end(nil)
	<-sub.stopped
}

// end asks the owner to end the subscription for reason, unless it is
// ending already.
func (sub *Subscription) end(reason error) {
	select {
	case sub.lost <- reason:
	default:
	}
}

// deliver hands b to the reader without waiting: a full buffer ends the
// subscription.
func (sub *Subscription) deliver(b storage.Batch) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ended {
		return
	}
	select {
	case sub.batches <- b:
	default:
		// Nothing after a batch that was not delivered: the reader
		// catches up from the log.
		sub.ended = true
		sub.end(ErrSubscriptionOverflow)
	}
}

// finish closes Batches with reason as Err; only the owner calls it.
func (sub *Subscription) finish(reason error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.ended, sub.err = true, reason
	close(sub.batches)
}
