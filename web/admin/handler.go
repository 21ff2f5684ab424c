package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"chatserver/chat"
	"chatserver/storage"
)

// Hub is what the admin channel needs from the chat rooms; *chat.Hub
// implements it. Its methods are called from request goroutines.
type Hub interface {
	Room(name string) *chat.Room
	Infos() []chat.RoomInfo
	AddRoom(ctx context.Context, name, topic string) (*chat.Room, error)
	RemoveRoom(ctx context.Context, name string) (int, error)
	Kick(ctx context.Context, room, name, reason string, ban time.Duration) (chat.KickResult, error)
	Unban(ctx context.Context, name string) (bool, error)
}

var _ Hub = (*chat.Hub)(nil)

// Store is what the admin channel needs from the database, for GET
// /backup; *bolt.Store implements it. Backup writes a consistent copy of
// the database to the writer to returns, called once with the copy's size
// in bytes before the first byte, and returns how many bytes it wrote.
type Store interface {
	Backup(to func(size int64) io.Writer) (int64, error)
}

// Request error codes, besides the chat.Code values a Room returns.
const (
	CodeBadRequest       chat.Code = "bad_request"
	CodeNotFound         chat.Code = "not_found"
	CodeMethodNotAllowed chat.Code = "method_not_allowed"
	CodeTooLarge         chat.Code = "too_large"
	// CodeForbidden: the connecting process runs as another user than
	// the server and root.
	CodeForbidden chat.Code = "forbidden"
)

// Request limits.
const (
	// maxBody bounds a request body; a kick is a name and a reason.
	maxBody = 16 << 10
	// MaxReasonLen is the longest kick reason, in characters: it is shown
	// to the kicked person, a sentence or two.
	MaxReasonLen = 500
)

// KickRequest is the body of POST /kick.
type KickRequest struct {
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
	// Ban is a Go duration ("10m"); empty means no ban.
	Ban string `json:"ban,omitempty"`
	// Room limits the kick to one room; empty means every room the
	// nickname is in.
	Room string `json:"room,omitempty"`
}

// KickReply answers a successful POST /kick.
type KickReply struct {
	OK bool `json:"ok"`
	// Closed is how many connections of the chatter were closed.
	Closed int `json:"closed"`
	// Rooms are the rooms the chatter was kicked from.
	Rooms []string `json:"rooms"`
}

// AddRoomRequest is the body of POST /rooms.
type AddRoomRequest struct {
	Name  string `json:"name"`
	Topic string `json:"topic,omitempty"`
}

// RemoveRoomRequest is the body of POST /rooms/remove.
type RemoveRoomRequest struct {
	Name string `json:"name"`
}

// RemoveRoomReply answers a successful POST /rooms/remove.
type RemoveRoomReply struct {
	OK bool `json:"ok"`
	// Closed is how many connections were in the room.
	Closed int `json:"closed"`
}

// UnbanRequest is the body of POST /unban.
type UnbanRequest struct {
	Name string `json:"name"`
}

// UnbanReply answers a successful POST /unban.
type UnbanReply struct {
	OK bool `json:"ok"`
	// Unbanned reports whether there was a ban to lift.
	Unbanned bool `json:"unbanned"`
}

// ErrorReply is the body of every refused request.
type ErrorReply struct {
	Error   chat.Code `json:"error"`
	Message string    `json:"message"`
}

// NewHandler returns the admin routes over hub and store (see the
// package documentation). A nil store has no copy to give: GET /backup
// answers 404. logger receives internal errors and, at info level, a line
// for each kick, ban, lifted ban and room added or removed; nil means
// slog.Default().
func NewHandler(hub Hub, store Store, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	h := &handler{hub: hub, store: store, log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("/history", h.method(http.MethodGet, h.history))
	mux.HandleFunc("/chatters", h.method(http.MethodGet, h.chatters))
	mux.HandleFunc("/rooms", h.rooms)
	mux.HandleFunc("/rooms/remove", h.method(http.MethodPost, h.removeRoom))
	mux.HandleFunc("/kick", h.method(http.MethodPost, h.kick))
	mux.HandleFunc("/unban", h.method(http.MethodPost, h.unban))
	mux.HandleFunc("/backup", h.method(http.MethodGet, h.backup))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, CodeNotFound, "no admin route "+r.URL.Path)
	})
	return mux
}

type handler struct {
	hub   Hub
	store Store // nil: no backups
	log   *slog.Logger
}

// method refuses requests with another method than want, in JSON.
func (h *handler) method(want string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != want {
			w.Header().Set("Allow", want)
			h.fail(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.URL.Path+" takes "+want)
			return
		}
		next(w, r)
	}
}

// room finds the room of the request's "room" query parameter (absent:
// the default room), answering the request itself when there is none.
func (h *handler) room(w http.ResponseWriter, r *http.Request) (*chat.Room, bool) {
	name := r.URL.Query().Get("room")
	if name == "" {
		name = storage.DefaultRoom
	}
	room := h.hub.Room(name)
	if room == nil {
		h.fail(w, http.StatusNotFound, chat.CodeNoSuchRoom, fmt.Sprintf("there is no room called %q", name))
		return nil, false
	}
	return room, true
}

func (h *handler) history(w http.ResponseWriter, r *http.Request) {
	room, ok := h.room(w, r)
	if !ok {
		return
	}
	n := 0
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			h.fail(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("n must be a whole number, 0 or more, got %q", s))
			return
		}
		n = v
	}
	h.reply(w, room.History(n))
}

func (h *handler) chatters(w http.ResponseWriter, r *http.Request) {
	room, ok := h.room(w, r)
	if !ok {
		return
	}
	h.reply(w, room.Chatters())
}

// rooms lists the rooms (GET) or adds one (POST).
func (h *handler) rooms(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.reply(w, h.hub.Infos())
	case http.MethodPost:
		var req AddRoomRequest
		if !h.decode(w, r, &req) {
			return
		}
		room, err := h.hub.AddRoom(r.Context(), req.Name, req.Topic)
		if err != nil {
			h.failErr(w, err)
			return
		}
		h.log.Info("room added", "room", room.Name(), "topic", room.Topic())
		h.reply(w, room.Info())
	default:
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.URL.Path+" takes GET or POST")
	}
}

func (h *handler) removeRoom(w http.ResponseWriter, r *http.Request) {
	var req RemoveRoomRequest
	if !h.decode(w, r, &req) {
		return
	}
	closed, err := h.hub.RemoveRoom(r.Context(), req.Name)
	if err != nil {
		h.failErr(w, err)
		return
	}
	h.log.Info("room removed", "room", req.Name, "connections_closed", closed)
	h.reply(w, RemoveRoomReply{OK: true, Closed: closed})
}

func (h *handler) kick(w http.ResponseWriter, r *http.Request) {
	var req KickRequest
	if !h.decode(w, r, &req) {
		return
	}
	name, ok := h.name(w, req.Name)
	if !ok {
		return
	}
	if utf8.RuneCountInString(req.Reason) > MaxReasonLen {
		h.fail(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("reason is longer than %d characters", MaxReasonLen))
		return
	}
	var ban time.Duration
	if req.Ban != "" {
		d, err := time.ParseDuration(req.Ban)
		if err != nil || d < 0 {
			h.fail(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("ban must be a duration such as 10m or 2h, got %q", req.Ban))
			return
		}
		ban = d
	}
	res, err := h.hub.Kick(r.Context(), req.Room, name, req.Reason, ban)
	if err != nil {
		h.failErr(w, err)
		return
	}
	// The reason is the operator's, shown to the chatter kicked.
	if ban > 0 {
		h.log.Info("nickname banned", "nick", name, "ban", ban, "connections_closed", res.Closed, "rooms", res.Rooms, "reason", req.Reason)
	} else {
		h.log.Info("chatter kicked", "nick", name, "connections_closed", res.Closed, "rooms", res.Rooms, "reason", req.Reason)
	}
	if res.Rooms == nil {
		res.Rooms = []string{}
	}
	h.reply(w, KickReply{OK: true, Closed: res.Closed, Rooms: res.Rooms})
}

func (h *handler) unban(w http.ResponseWriter, r *http.Request) {
	var req UnbanRequest
	if !h.decode(w, r, &req) {
		return
	}
	name, ok := h.name(w, req.Name)
	if !ok {
		return
	}
	was, err := h.hub.Unban(r.Context(), name)
	if err != nil {
		h.failErr(w, err)
		return
	}
	if was {
		h.log.Info("ban lifted", "nick", name)
	}
	h.reply(w, UnbanReply{OK: true, Unbanned: was})
}

// decode reads a JSON body into v, answering the request itself on error.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.fail(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is over %d bytes", maxBody))
			return false
		}
		h.fail(w, http.StatusBadRequest, CodeBadRequest, "request body is not the expected JSON object: "+err.Error())
		return false
	}
	return true
}

// name checks a nickname argument, answering the request itself on error.
func (h *handler) name(w http.ResponseWriter, name string) (string, bool) {
	name = strings.TrimSpace(name)
	if name == "" {
		h.fail(w, http.StatusBadRequest, CodeBadRequest, "name is missing")
		return "", false
	}
	return name, true
}

// statusOf maps the chat codes a Room returns to HTTP statuses.
var statusOf = map[chat.Code]int{
	chat.CodeNoSuchChatter: http.StatusNotFound,
	chat.CodeNoSuchRoom:    http.StatusNotFound,
	chat.CodeRoomExists:    http.StatusConflict,
	chat.CodeInvalidRoom:   http.StatusBadRequest,
	chat.CodeInvalidName:   http.StatusBadRequest,
	chat.CodeUnavailable:   http.StatusServiceUnavailable,
	chat.CodeStoreFailed:   http.StatusInternalServerError,
	chat.CodeInternal:      http.StatusInternalServerError,
}

// failErr answers a Room error; internal ones are logged, not shown.
func (h *handler) failErr(w http.ResponseWriter, err error) {
	code := chat.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusBadRequest
	}
	if status == http.StatusInternalServerError {
		h.log.Error("admin request failed", "err", err)
	}
	h.fail(w, status, code, chat.ErrorMessage(err))
}

func (h *handler) fail(w http.ResponseWriter, status int, code chat.Code, msg string) {
	h.write(w, status, ErrorReply{Error: code, Message: msg})
}

func (h *handler) reply(w http.ResponseWriter, v any) { h.write(w, http.StatusOK, v) }

func (h *handler) write(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Replies are plain structs and slices; this is a programming error.
		h.log.Error("admin: encoding a reply failed", "err", err)
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal","message":"internal server error"}`)
	}
	writeBody(w, status, body)
}

// writeBody sends the JSON body with status.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
