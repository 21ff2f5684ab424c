package chat

import "time"

// Metrics is told what the room does with messages, for monitoring: the
// metrics package implements it, and Config.Metrics nil means nobody is
// told. Its methods are called from the connections' goroutines and from
// the writer: they must be safe for concurrent use, return at once and
// not call the room.
type Metrics interface {
	// MessageReceived is called for each message a client sends, before
	// it is checked.
	MessageReceived()
	// MessageRefused is called for each message refused, with the code
	// its sender is given (see Client.Say), a paced message dropped before
	// its turn included.
	MessageRefused(code Code)
	// MessagePaced is called for each message over the rate limits that
	// waits its turn rather than being refused (see Client.Post); it is
	// later stored, or refused, like any other.
	MessagePaced()
	// Committed is called once per store transaction of the writer: the
	// messages it carried, how long the store took, and its error (nil:
	// the messages are stored).
	Committed(messages int, took time.Duration, err error)
	// Delivered is called once per committed batch with its deliveries:
	// each stored message counts once for every joined connection it was
	// queued to.
	Delivered(n int)
	// Resubscribed is called when a hub on a SharedStore has subscribed
	// to it again after its subscription ended (a lost connection, a
	// restart of the store).
	Resubscribed()
	// CaughtUp is called when a room on a SharedStore read what it had
	// missed from the store's log; reset when the log no longer held it,
	// and the room started again from the store's state, its clients made
	// to reconnect.
	CaughtUp(reset bool)
}

// noMetrics is the Metrics of a Config without: it does nothing.
type noMetrics struct{}

func (noMetrics) MessageReceived()                    {}
func (noMetrics) MessageRefused(Code)                 {}
func (noMetrics) MessagePaced()                       {}
func (noMetrics) Committed(int, time.Duration, error) {}
func (noMetrics) Delivered(int)                       {}
func (noMetrics) Resubscribed()                       {}
func (noMetrics) CaughtUp(bool)                       {}
