package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"chatserver/chat"
	"chatserver/storage"
)

// Client timings: the server is on the same machine, so an answer that
// takes seconds means it is stuck.
const (
	// dialTimeout bounds connecting to the socket.
	dialTimeout = time.Second
	// requestTimeout bounds one whole request, answer included.
	requestTimeout = 5 * time.Second
	// maxReply bounds a reply body: the history is at most --history
	// messages of 2000 characters, far below this.
	maxReply = 64 << 20
)

// Error is a request the running server refused. Unwrap gives the
// equivalent *chat.Error, so chat.ErrorCode and chat.ErrorMessage work on
// it.
type Error struct {
	Status  int       // HTTP status
	Code    chat.Code // a chat.Code or one of this package's request codes
	Message string    // in plain words, fit to show to the operator
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns e as a *chat.Error.
func (e *Error) Unwrap() error { return &chat.Error{Code: e.Code, Message: e.Message} }

// Client talks to a running server through its admin socket. It is safe for
// concurrent use; Close releases its idle connection.
type Client struct {
	path string
	http *http.Client
}

// Dial checks that a server listens on the admin socket at path and
// returns a client for it. When the socket does not exist or nobody
// answers on it (a stale file from a crash), the error wraps ErrNoServer.
// When the process answering runs as another user than this process and
// root, the error is an *UntrustedError; every later connection of the
// client is checked the same way.
func Dial(path string) (*Client, error) {
	addr, err := address(path)
	if err != nil {
		return nil, err
	}
	conn, err := dialChecked(context.Background(), path, addr)
	if err != nil {
		return nil, err
	}
	conn.Close()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialChecked(ctx, path, addr)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: requestTimeout,
	}
	return &Client{path: path, http: &http.Client{Transport: tr, Timeout: requestTimeout}}, nil
}

// dialChecked connects to the socket at addr and makes sure that its
// server may be trusted (checkServer).
func dialChecked(ctx context.Context, path, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, dialError(path, err)
	}
	if err := checkServer(conn, path, addr); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// dialError wraps ErrNoServer when nothing listens at path.
func dialError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: %w", path, ErrNoServer)
	}
	return fmt.Errorf("connect to admin socket %s: %w", path, unwrapOp(err))
}

// Close releases the client's idle connection.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// History returns up to n recent messages of room, oldest first (n <= 0:
// all that the server keeps; room "": the default room). A room that does
// not exist gives an error whose chat.ErrorCode is chat.CodeNoSuchRoom.
func (c *Client) History(ctx context.Context, room string, n int) ([]storage.Message, error) {
	q := url.Values{}
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
	}
	if room != "" {
		q.Set("room", room)
	}
	var msgs []storage.Message
	if err := c.do(ctx, http.MethodGet, "/history?"+q.Encode(), nil, &msgs); err != nil {
		return nil, err
	}
	return msgs, nil
}

// Kick disconnects the chatter called name from room (every room it is
// in when room is ""), whose connections there get a kicked event with
// reason, and with ban > 0 refuses the nickname everywhere for that long.
// It returns how many connections were closed, in which rooms. A nickname
// that is not present (and no ban) gives an error whose chat.ErrorCode is
// chat.CodeNoSuchChatter.
func (c *Client) Kick(ctx context.Context, room, name, reason string, ban time.Duration) (KickReply, error) {
	req := KickRequest{Name: name, Reason: reason, Room: room}
	if ban > 0 {
		req.Ban = ban.String()
	}
	var rep KickReply
	if err := c.do(ctx, http.MethodPost, "/kick", req, &rep); err != nil {
		return KickReply{}, err
	}
	return rep, nil
}

// Rooms lists the rooms, the default room first, with their topics,
// the messages they keep and the chatters present.
func (c *Client) Rooms(ctx context.Context) ([]chat.RoomInfo, error) {
	var rooms []chat.RoomInfo
	if err := c.do(ctx, http.MethodGet, "/rooms", nil, &rooms); err != nil {
		return nil, err
	}
	return rooms, nil
}

// AddRoom adds the room name with topic, open to clients at once.
func (c *Client) AddRoom(ctx context.Context, name, topic string) (chat.RoomInfo, error) {
	var info chat.RoomInfo
	if err := c.do(ctx, http.MethodPost, "/rooms", AddRoomRequest{Name: name, Topic: topic}, &info); err != nil {
		return chat.RoomInfo{}, err
	}
	return info, nil
}

// RemoveRoom removes the room name: its clients are kicked and its
// history and chatters deleted. It returns how many connections were
// closed.
func (c *Client) RemoveRoom(ctx context.Context, name string) (int, error) {
	var rep RemoveRoomReply
	if err := c.do(ctx, http.MethodPost, "/rooms/remove", RemoveRoomRequest{Name: name}, &rep); err != nil {
		return 0, err
	}
	return rep.Closed, nil
}

// Unban lifts the ban on name and reports whether there was one.
func (c *Client) Unban(ctx context.Context, name string) (bool, error) {
	var rep UnbanReply
	if err := c.do(ctx, http.MethodPost, "/unban", UnbanRequest{Name: name}, &rep); err != nil {
		return false, err
	}
	return rep.Unbanned, nil
}

// do sends one request and decodes the reply into out, or the refusal into
// an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode admin request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	// The host is a placeholder: the transport always dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://chatserver"+path, body)
	if err != nil {
		return fmt.Errorf("admin request %s: %w", path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.requestError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return refusal(resp)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxReply))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode admin reply from %s: %w", c.path, err)
	}
	return nil
}

// requestError words an error of http.Client.Do.
func (c *Client) requestError(err error) error {
	var untrusted *UntrustedError
	switch {
	case errors.As(err, &untrusted):
		return untrusted
	case errors.Is(err, ErrNoServer), errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: %w", c.path, ErrNoServer)
	}
	return fmt.Errorf("admin request to %s: %w", c.path, err)
}

// refusal decodes a reply other than 200 into an *Error.
func refusal(resp *http.Response) error {
	var rep ErrorReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReply)).Decode(&rep); err != nil || rep.Error == "" {
		return &Error{Status: resp.StatusCode, Code: chat.CodeInternal,
			Message: fmt.Sprintf("the server answered %s without an explanation", resp.Status)}
	}
	return &Error{Status: resp.StatusCode, Code: rep.Error, Message: rep.Message}
}
