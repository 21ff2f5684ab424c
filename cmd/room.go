package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/storage"
	"chatserver/web/admin"
)

// roomOptions are the flags of the `chatserver room` commands; each
// defines those it takes.
type roomOptions struct {
	db    string
	topic string
	json  bool
	redis redisOptions
}

// addDBFlag defines --db, --redis and --redis-prefix, which say where the
// rooms are.
func (o *roomOptions) addDBFlag(fs *pflag.FlagSet) {
	fs.StringVar(&o.db, "db", defaultDB, "database file")
	o.redis.addFlags(fs)
	withEnv(fs, "db", redisFlag, redisPrefixFlag)
}

// validate checks the flags and the room name, when the command takes
// one, before anything is read or written.
func (o *roomOptions) validate(name string, takesName bool) error {
	if o.db == "" {
		return errors.New("--db must name a file")
	}
	if _, err := o.redis.validate(); err != nil {
		return err
	}
	if !takesName {
		return nil
	}
	if err := storage.CheckRoomName(name); err != nil {
		return plainf(err, "%s", err)
	}
	return nil
}

func newRoomCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "room",
		Short: "Add, list and remove chat rooms",
		Long: `Add, list and remove the rooms of a database. Each room has its own history and
its own chatters; bans and rate limits hold for a person in every room.

The default room "general" always exists: it is the room the page opens first
and the one classic Socket.IO clients reach at the server's address. Every other
room NAME is the Socket.IO namespace /NAME, io("http://pi.local:8080/games").
A room name is 1 to 32 characters of a-z, 0-9, - and _, starting with a letter
or a digit.

While "chatserver serve" runs on the file, a change takes effect at once,
through the admin socket (FILE.sock); otherwise the file itself is changed,
and the server opens its rooms when it starts.

With --redis (or CHATSERVER_REDIS) the rooms are those of that Redis, the one
the servers of several nodes share, changed from any machine that reaches it
without an admin socket; the nodes running on it learn of the change from
Redis. A --db on the command line wins over CHATSERVER_REDIS.`,
		Example: `  chatserver room add games --topic "board games on Friday"
  chatserver room list
  chatserver room remove games
  chatserver room list --redis redis://:secret@10.0.0.5:6379/0`,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRoomAddCommand(), newRoomListCommand(), newRoomRemoveCommand())
	return cmd
}

func newRoomAddCommand() *cobra.Command {
	var o roomOptions
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a room",
		Long: fmt.Sprintf(`Add the room NAME, without messages, with the topic --topic: one line of at
most %d characters, shown beside the room's name (none unless given).

While "chatserver serve" runs on the file, the room opens at once: clients reach
it at the namespace /NAME, and the pages already open list it. Otherwise it is
written to the file and opens when the server starts.

A name that breaks the rule, a topic that does, or a room that exists already
is an error (exit status 1), and nothing is changed.`, chat.MaxTopicLen),
		Example: `  chatserver room add games
  chatserver room add homework --topic "ask and help, no spoilers"
  chatserver room add games --db /var/lib/chatserver/chat.db
  CHATSERVER_REDIS=redis://10.0.0.5:6379/0 chatserver room add games`,
		Args:              exactlyOneArg("room name"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyStoreEnv(cmd.Flags(), &o.redis); err != nil {
				return err
			}
			if err := o.validate(args[0], true); err != nil {
				return err
			}
			topic, err := chat.CheckTopic(o.topic)
			if err != nil {
				return plainf(err, "--topic: %s", chat.ErrorMessage(err))
			}
			if o.redis.url == "" {
				warnExposed(cmd.ErrOrStderr(), o.db)
			}
			return o.add(cmd.Context(), cmd.OutOrStdout(), args[0], topic)
		},
	}
	o.addDBFlag(cmd.Flags())
	cmd.Flags().StringVar(&o.topic, "topic", "", "the room's topic, one line")
	return cmd
}

func newRoomListCommand() *cobra.Command {
	var o roomOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the rooms with their topics, messages and chatters",
		Long: `List the rooms, the default room first, then by name: each room's name, its
topic, how many messages it keeps (at most serve's --history) and the chatters
present, in a table:

  ROOM     TOPIC                  MESSAGES  CHATTERS
  general  -                      10        alice, bob
  games    board games on Friday  3         carol

With --json the output is a JSON array of {name, topic, messages, chatters}.

While "chatserver serve" runs on the file, the list comes from it and the
chatters are those chatting now; otherwise the file is opened read-only and
left unchanged, and the chatters are those it holds as present (none after a
clean stop).`,
		Example: `  chatserver room list
  chatserver room list --json
  chatserver room list --db /var/lib/chatserver/chat.db
  chatserver room list --redis rediss://:secret@redis.example.org:6380/0 --json`,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyStoreEnv(cmd.Flags(), &o.redis); err != nil {
				return err
			}
			if err := o.validate("", false); err != nil {
				return err
			}
			if o.redis.url == "" {
				warnExposed(cmd.ErrOrStderr(), o.db)
			}
			rooms, err := listRooms(cmd.Context(), o.db, &o.redis)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), rooms)
			}
			return writeRooms(cmd.OutOrStdout(), rooms)
		},
	}
	o.addDBFlag(cmd.Flags())
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON array of {name, topic, messages, chatters} instead of a table")
	return cmd
}

func newRoomRemoveCommand() *cobra.Command {
	var o roomOptions
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a room with its history",
		Long: `Remove the room NAME with its history and its chatters. Bans hold in every
room and stay.

While "chatserver serve" runs on the file, every chatter in the room gets a
"kicked" event with the reason and every connection is taken out of it; the
room is gone at once, and its namespace is refused from then on. Otherwise the
room is deleted from the file. A room added later under the same name is a new,
empty room.

The default room "general" cannot be removed. A room that does not exist is an
error (exit status 1), and nothing is changed.`,
		Example: `  chatserver room remove games
  chatserver room remove games --db /var/lib/chatserver/chat.db
  chatserver room remove games --redis redis://10.0.0.5:6379/0`,
		Args:              exactlyOneArg("room name"),
		ValidArgsFunction: completeRooms(&o.db, &o.redis, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyStoreEnv(cmd.Flags(), &o.redis); err != nil {
				return err
			}
			if err := o.validate(args[0], true); err != nil {
				return err
			}
			if args[0] == storage.DefaultRoom {
				return plainf(storage.ErrDefaultRoom, "the default room %q cannot be removed", storage.DefaultRoom)
			}
			if o.redis.url == "" {
				warnExposed(cmd.ErrOrStderr(), o.db)
			}
			return o.remove(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	o.addDBFlag(cmd.Flags())
	return cmd
}

// onServer runs online with a client of the server running on db, or
// offline when none runs there (or it went away before answering).
func onServer(db string, online func(*admin.Client) error, offline func() error) error {
	c, err := admin.Dial(admin.SocketPath(db))
	if err == nil {
		defer c.Close()
		err = online(c)
		if !errors.Is(err, admin.ErrNoServer) {
			return err
		}
	} else if !noServer(err) {
		return reachError(err)
	}
	return offline()
}

// add adds the room name with topic (checked).
func (o *roomOptions) add(ctx context.Context, out io.Writer, name, topic string) error {
	if o.redis.url != "" {
		st, err := o.redis.openRedis(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		err = st.AddRoom(ctx, storage.Room{Name: name, Topic: topic, Created: time.Now().UTC()})
		switch {
		case errors.Is(err, storage.ErrRoomExists):
			return plainf(err, "there is already a room called %q in %s", name, o.redis.where())
		case err != nil:
			return fmt.Errorf("add room to %s: %w", o.redis.where(), err)
		}
		_, err = fmt.Fprintf(out, "added the room %s to %s; clients reach it at the namespace /%s\n", name, o.redis.where(), name)
		return err
	}
	return onServer(o.db, func(c *admin.Client) error {
		_, err := c.AddRoom(ctx, name, topic)
		switch chat.ErrorCode(err) {
		case "":
		case chat.CodeRoomExists:
			return plainf(err, "there is already a room called %q", name)
		default:
			return adminError(err)
		}
		_, err = fmt.Fprintf(out, "added the room %s; clients reach it at the namespace /%s\n", name, name)
		return err
	}, func() error {
		// Look with the file opened read-only first, so that a refusal
		// leaves it byte for byte as it was.
		rooms, err := storedRooms(ctx, o.db)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(rooms, func(r chat.RoomInfo) bool { return r.Name == name }) {
			return plainf(storage.ErrRoomExists, "there is already a room called %q in %s", name, o.db)
		}
		st, err := openOffline(o.db, false)
		if err != nil {
			return err
		}
		defer st.Close()
		err = st.AddRoom(ctx, storage.Room{Name: name, Topic: topic, Created: time.Now().UTC()})
		switch {
		case errors.Is(err, storage.ErrRoomExists):
			return plainf(err, "there is already a room called %q in %s", name, o.db)
		case err != nil:
			return fmt.Errorf("add room: %w", openError(o.db, err))
		}
		_, err = fmt.Fprintf(out, "added the room %s to %s (no server is running; the room opens when one starts)\n", name, o.db)
		return err
	})
}

// remove removes the room name, which is not the default room.
func (o *roomOptions) remove(ctx context.Context, out io.Writer, name string) error {
	if o.redis.url != "" {
		st, err := o.redis.openRedis(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		err = st.RemoveRoom(ctx, name)
		switch {
		case errors.Is(err, storage.ErrNoSuchRoom):
			return plainf(err, "there is no room called %q in %s", name, o.redis.where())
		case err != nil:
			return fmt.Errorf("remove room from %s: %w", o.redis.where(), err)
		}
		_, err = fmt.Fprintf(out, "removed the room %s from %s\n", name, o.redis.where())
		return err
	}
	return onServer(o.db, func(c *admin.Client) error {
		closed, err := c.RemoveRoom(ctx, name)
		switch chat.ErrorCode(err) {
		case "":
		case chat.CodeNoSuchRoom:
			return plainf(err, "there is no room called %q", name)
		default:
			return adminError(err)
		}
		_, err = fmt.Fprintf(out, "removed the room %s (%s closed)\n", name, plural(closed, "connection"))
		return err
	}, func() error {
		rooms, err := storedRooms(ctx, o.db)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(rooms, func(r chat.RoomInfo) bool { return r.Name == name }) {
			return plainf(storage.ErrNoSuchRoom, "there is no room called %q in %s", name, o.db)
		}
		st, err := openOffline(o.db, false)
		if err != nil {
			return err
		}
		defer st.Close()
		err = st.RemoveRoom(ctx, name)
		switch {
		case errors.Is(err, storage.ErrNoSuchRoom):
			return plainf(err, "there is no room called %q in %s", name, o.db)
		case err != nil:
			return fmt.Errorf("remove room: %w", openError(o.db, err))
		}
		_, err = fmt.Fprintf(out, "removed the room %s from %s (no server is running)\n", name, o.db)
		return err
	})
}

// listRooms returns the rooms of the Redis of r when it has a URL, or of
// db, the default room first: the running server's, or the file's when
// none runs.
func listRooms(ctx context.Context, db string, r *redisOptions) ([]chat.RoomInfo, error) {
	var rooms []chat.RoomInfo
	if r.url != "" {
		st, err := r.openRedis(ctx)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		rooms, err = roomInfos(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("read the rooms of %s: %w", r.where(), err)
		}
		return rooms, nil
	}
	err := onServer(db, func(c *admin.Client) error {
		var err error
		rooms, err = c.Rooms(ctx)
		if err != nil && !errors.Is(err, admin.ErrNoServer) {
			return fmt.Errorf("ask the running chatserver: %w", err)
		}
		return err
	}, func() error {
		var err error
		rooms, err = storedRooms(ctx, db)
		return err
	})
	for i := range rooms {
		if rooms[i].Chatters == nil {
			rooms[i].Chatters = []string{}
		}
	}
	return rooms, err
}

// storedRooms reads the rooms of the file db, opened read-only, with the
// chatters it holds as present.
func storedRooms(ctx context.Context, db string) ([]chat.RoomInfo, error) {
	st, err := openOffline(db, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rooms, err := roomInfos(ctx, st)
	if err != nil {
		return nil, openError(db, err)
	}
	return rooms, nil
}

// roomStore is what roomInfos reads: a file's or a Redis's rooms.
type roomStore interface {
	Rooms(ctx context.Context) ([]storage.Room, error)
	Chatters(ctx context.Context, room string) ([]string, error)
}

// roomInfos reads the rooms of st with the chatters it holds as present,
// never nil.
func roomInfos(ctx context.Context, st roomStore) ([]chat.RoomInfo, error) {
	stored, err := st.Rooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("read rooms: %w", err)
	}
	rooms := make([]chat.RoomInfo, len(stored))
	for i, r := range stored {
		names, err := st.Chatters(ctx, r.Name)
		if err != nil {
			return nil, fmt.Errorf("read the chatters of room %s: %w", r.Name, err)
		}
		if names == nil {
			names = []string{}
		}
		rooms[i] = chat.RoomInfo{Name: r.Name, Topic: r.Topic, Messages: r.Messages, Chatters: names}
	}
	return rooms, nil
}

// writeRooms prints rooms as an aligned table. Every cell goes through
// printable, so that no stored text can drive the terminal or break the
// columns; an empty one shows as "-".
func writeRooms(out io.Writer, rooms []chat.RoomInfo) error {
	cell := func(s string) string {
		if s == "" {
			return "-"
		}
		return printable(s, false)
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ROOM\tTOPIC\tMESSAGES\tCHATTERS")
	for _, r := range rooms {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", cell(r.Name), cell(r.Topic), r.Messages, cell(strings.Join(r.Chatters, ", ")))
	}
	return w.Flush()
}

// completeRooms completes a room name from the rooms of the Redis the
// command's --redis (or CHATSERVER_REDIS) names, or else of the database
// its --db (or CHATSERVER_DB) names: the running server's, or the file's. withDefault says whether the default room is offered.
func completeRooms(db *string, r *redisOptions, withDefault bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 || applyStoreEnv(cmd.Flags(), r) != nil || *db == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		rooms, err := listRooms(cmd.Context(), *db, r)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, r := range rooms {
			switch {
			case !strings.HasPrefix(r.Name, toComplete), !withDefault && r.Name == storage.DefaultRoom:
			case r.Topic != "":
				names = append(names, cobra.CompletionWithDesc(r.Name, r.Topic))
			default:
				names = append(names, r.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// mustCompleteFlag has the flag name of cmd completed by f.
func mustCompleteFlag(cmd *cobra.Command, name string, f cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(name, f); err != nil {
		panic(err) // name is a flag of cmd, registered once
	}
}
