// Package sdnotify tells the service manager (systemd, for a unit of
// Type=notify) how the service is doing: one datagram of "KEY=value"
// lines on the Unix socket named by $NOTIFY_SOCKET, as sd_notify(3)
// does, without linking libsystemd.
//
// Outside such a unit NOTIFY_SOCKET is unset and every call does nothing.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The states serve reports.
const (
	// Ready: start-up is done, the service answers requests.
	Ready = "READY=1"
	// Stopping: shutdown has begun.
	Stopping = "STOPPING=1"
)

// Env is the environment variable naming the socket.
const Env = "NOTIFY_SOCKET"

// writeTimeout bounds one send: the manager reads its socket at once, and
// a wedged one must not hold up start-up or shutdown.
const writeTimeout = time.Second

// ErrUnsupported is returned for a NOTIFY_SOCKET that is neither a path
// nor an abstract socket name (such as a vsock: address).
var ErrUnsupported = errors.New("unsupported NOTIFY_SOCKET address")

// Status is a STATUS= line: free text the manager shows, as in
// "systemctl status".
func Status(text string) string {
	return "STATUS=" + strings.ReplaceAll(text, "\n", " ")
}

// ExtendTimeout is an EXTEND_TIMEOUT_USEC= line: the manager waits d
// longer for the state the service is heading to (READY=1 while it
// starts), whatever its configured timeout.
func ExtendTimeout(d time.Duration) string {
	return "EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(d.Microseconds(), 10)
}

// Notify sends the lines (such as Ready, or Stopping and a Status) as one
// message. It reports whether a message was sent: false, with a nil
// error, when NOTIFY_SOCKET is unset or empty.
func Notify(lines ...string) (bool, error) {
	addr := os.Getenv(Env)
	if addr == "" {
		return false, nil
	}
	// A path, or a name in the abstract namespace written with a leading
	// "@", which package net maps to the leading NUL byte.
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return false, fmt.Errorf("%s=%q: %w", Env, addr, ErrUnsupported)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notify the service manager: %w", err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return false, fmt.Errorf("notify the service manager: %w", err)
	}
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return false, fmt.Errorf("notify the service manager: %w", err)
	}
	return true, nil
}
