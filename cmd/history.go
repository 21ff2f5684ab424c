package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/storage"
	"chatserver/web/admin"
)

// historyTimeFormat is the time column of `chatserver history`, in UTC.
const historyTimeFormat = "2006-01-02 15:04:05"

// historyOptions are the flags of `chatserver history`.
type historyOptions struct {
	db    string
	room  string
	n     int
	json  bool
	redis redisOptions
}

func (o *historyOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.db, "db", defaultDB, "database file")
	fs.StringVar(&o.room, "room", storage.DefaultRoom, "the room whose messages to print")
	fs.IntVarP(&o.n, "n", "n", 0, "show at most the newest N messages (0: all that are kept)")
	fs.BoolVar(&o.json, "json", false, "print a JSON array of {id, name, text, time} instead of text")
	o.redis.addFlags(fs)
	withEnv(fs, "db", redisFlag, redisPrefixFlag)
}

func (o *historyOptions) validate() error {
	if o.db == "" {
		return errors.New("--db must name a file")
	}
	if o.n < 0 {
		return fmt.Errorf("-n must be 0 or more, got %d", o.n)
	}
	if _, err := o.redis.validate(); err != nil {
		return err
	}
	return checkRoomFlag(o.room)
}

func newHistoryCommand() *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Print the stored messages of a room, oldest first",
		Long: `Print the stored messages of a room (--room, the default room "general"
unless told), oldest first, one per line:

  2026-11-29 12:00:01 alice: hi

Times are in UTC. Lines after the first of a multi-line message are indented.
Control characters and bidi controls are shown as escapes such as \x1b and
\u202e, so that no stored text can drive the terminal.

With --json the output is a JSON array of {id, name, text, time}, the same
objects chat clients receive (time in RFC 3339, UTC).

While "chatserver serve" runs on the file, the messages come from it through
the admin socket (FILE.sock); otherwise the file is opened read-only and left
unchanged.

With --redis (or CHATSERVER_REDIS) the messages are read from that Redis, the
one the servers of several nodes share, from any machine that reaches it; no
server needs to run and no file is read. A --db on the command line wins over
CHATSERVER_REDIS.`,
		Example: `  chatserver history
  chatserver history -n 3
  chatserver history --room games
  chatserver history --db /var/lib/chatserver/chat.db --json
  chatserver history --redis redis://:secret@10.0.0.5:6379/0 -n 20`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyStoreEnv(cmd.Flags(), &o.redis); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			if o.redis.url == "" {
				warnExposed(cmd.ErrOrStderr(), o.db)
			}
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	o.addFlags(cmd.Flags())
	mustCompleteFlag(cmd, "room", completeRooms(&o.db, &o.redis, true))
	return cmd
}

func (o *historyOptions) run(ctx context.Context, out io.Writer) error {
	msgs, err := o.fetch(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(out, msgs)
	}
	return writeText(out, msgs)
}

// fetch reads Redis with --redis; otherwise it asks the running server,
// or reads the file when none runs.
func (o *historyOptions) fetch(ctx context.Context) ([]storage.Message, error) {
	if o.redis.url != "" {
		st, err := o.redis.openRedis(ctx)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		msgs, err := st.RecentMessages(ctx, o.room, o.n)
		if errors.Is(err, storage.ErrNoSuchRoom) {
			return nil, plainf(err, "there is no room called %q in %s", o.room, o.redis.where())
		}
		if err != nil {
			return nil, fmt.Errorf("read messages from %s: %w", o.redis.where(), err)
		}
		return msgs, nil
	}
	c, err := admin.Dial(admin.SocketPath(o.db))
	if err == nil {
		defer c.Close()
		msgs, err := c.History(ctx, o.room, o.n)
		if !errors.Is(err, admin.ErrNoServer) {
			if chat.ErrorCode(err) == chat.CodeNoSuchRoom {
				return nil, plainf(err, "there is no room called %q", o.room)
			}
			if err != nil {
				return nil, fmt.Errorf("ask the running chatserver: %w", err)
			}
			return msgs, nil
		}
	} else if !noServer(err) {
		return nil, reachError(err)
	}
	st, err := openOffline(o.db, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	msgs, err := st.RecentMessages(ctx, o.room, o.n)
	if errors.Is(err, storage.ErrNoSuchRoom) {
		return nil, plainf(err, "there is no room called %q in %s", o.room, o.db)
	}
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", openError(o.db, err))
	}
	return msgs, nil
}

// writeText prints one message per line, continuation lines indented.
// Control and bidi characters are shown as escapes (printable).
func writeText(out io.Writer, msgs []storage.Message) error {
	w := bufio.NewWriter(out)
	indent := "\n" + strings.Repeat(" ", len(historyTimeFormat)+1)
	for _, m := range msgs {
		text := strings.ReplaceAll(printable(m.Text, true), "\n", indent)
		fmt.Fprintf(w, "%s %s: %s\n", m.Time.UTC().Format(historyTimeFormat), printable(m.Name, false), text)
	}
	return w.Flush()
}

// printable returns s with every character that could drive a terminal or
// make text read differently from what it is written as an escape: C0
// controls and DEL as \x1b, C1 controls and bidi formatting as \u202e,
// bytes that are not UTF-8 as \xff. With layout, line breaks and tabs
// (which a message may hold) stay as they are.
func printable(s string, layout bool) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return unsafeRune(r, layout) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafeRune(r, layout):
			b.WriteString(s[i : i+size])
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports whether printable escapes r.
func unsafeRune(r rune, layout bool) bool {
	if layout && (r == '\n' || r == '\t') {
		return false
	}
	return unicode.IsControl(r) || chat.IsBidiControl(r)
}

// writeJSON prints msgs as an indented JSON array of wire messages.
// encoding/json escapes C0 controls itself; jsonSafe escapes the rest of
// what printable would.
func writeJSON(out io.Writer, msgs []storage.Message) error {
	wire := make([]chat.WireMessage, len(msgs))
	for i, m := range msgs {
		wire[i] = chat.WireMessage{ID: m.ID, Name: m.Name, Text: m.Text, Time: m.Time.UTC().Format(chat.TimeFormat)}
	}
	return printJSON(out, wire)
}

// printJSON prints v as indented JSON, HTML characters as they are, with
// what a terminal would act on escaped (jsonSafe).
func printJSON(out io.Writer, v any) error {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(out, jsonSafe(buf.String()))
	return err
}

// jsonSafe rewrites, in JSON text that encoding/json wrote, the characters
// it leaves as they are but a terminal would act on (DEL, C1 controls,
// bidi formatting) as \u escapes, which mean the same in JSON. They can
// only occur inside strings.
func jsonSafe(s string) string {
	unsafe := func(r rune) bool { return r == 0x7f || r >= 0x80 && r <= 0x9f || chat.IsBidiControl(r) }
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafe(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkRoomFlag checks the value of a --room flag.
func checkRoomFlag(room string) error {
	if err := storage.CheckRoomName(room); err != nil {
		return fmt.Errorf("--room: %w", err)
	}
	return nil
}
