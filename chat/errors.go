package chat

import (
	"errors"
	"fmt"
)

// Code is the machine-readable reason a request was refused. It is sent to
// clients as the "error" of an ack or the "code" of a "chat error" event.
type Code string

// The codes a client can receive.
const (
	// CodeInvalidName: the nickname is not a string, empty after trimming,
	// too long, or contains control, format, bidi or invisible characters.
	CodeInvalidName Code = "invalid_name"
	// CodeNameTaken: another present chatter holds the same nickname (by
	// nick.Key: regardless of case and of look-alike characters) and the
	// join carried no matching resume token.
	CodeNameTaken Code = "name_taken"
	// CodeBanned: the nickname is banned for a while.
	CodeBanned Code = "banned"
	// CodeNotJoined: a message was sent before a successful join.
	CodeNotJoined Code = "not_joined"
	// CodeInvalidMessage: the message is not a string, blank, or too long.
	CodeInvalidMessage Code = "invalid_message"
	// CodeRateLimited: the connection sends faster than its rate limit.
	CodeRateLimited Code = "rate_limited"
	// CodeStoreFailed: the message could not be made durable (disk full,
	// read-only file...). It was not delivered to anyone.
	CodeStoreFailed Code = "store_failed"
	// CodeUnavailable: the server is shutting down, or the room was
	// removed.
	CodeUnavailable Code = "unavailable"
	// CodeNoSuchChatter: an admin request named a nickname that is not
	// present.
	CodeNoSuchChatter Code = "no_such_chatter"
	// CodeNoSuchRoom: an admin request named a room that does not exist.
	CodeNoSuchRoom Code = "no_such_room"
	// CodeRoomExists: an admin request added a room that exists already.
	CodeRoomExists Code = "room_exists"
	// CodeInvalidRoom: an admin request gave a room name that breaks the
	// rule (storage.CheckRoomName), or asked to remove the default room.
	CodeInvalidRoom Code = "invalid_room"
	// CodeInternal: an unexpected server-side failure.
	CodeInternal Code = "internal"
)

// Error is a refusal with a code and a plain-words message fit to show to
// the person who caused it.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// errorf returns an *Error with code and a formatted message.
func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the Code of an *Error in its chain,
// or CodeInternal for any other non-nil error ("" for nil).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message to show for err: the Message of an
// *Error in its chain, or a generic text that hides internal details.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal server error"
}

// InvalidName returns the refusal for a nickname that is not a string, for
// transports that see the argument's type before chat does.
func InvalidName() error {
	return errorf(CodeInvalidName, "nickname must be a string")
}

// InvalidMessage returns the refusal for a message that is not a string.
func InvalidMessage() error {
	return errorf(CodeInvalidMessage, "message must be a string")
}
