package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/storage"
	"chatserver/web/admin"
)

// kickOptions are the flags of `chatserver kick`.
type kickOptions struct {
	db     string
	room   string
	reason string
	ban    time.Duration
	unban  bool
	redis  redisOptions
}

func (o *kickOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.db, "db", defaultDB, "database file")
	fs.StringVar(&o.room, "room", "", "kick from this room only (default: every room the nickname is in)")
	fs.StringVar(&o.reason, "reason", "", "reason shown to the kicked chatter")
	fs.DurationVar(&o.ban, "ban", 0, "also refuse the nickname for this long, e.g. 10m or 24h (kept in the file)")
	fs.BoolVar(&o.unban, "unban", false, "lift the nickname's ban instead of kicking")
	o.redis.addFlags(fs)
	withEnv(fs, "db", redisFlag, redisPrefixFlag)
}

func (o *kickOptions) validate(name string) error {
	switch {
	case o.db == "":
		return errors.New("--db must name a file")
	case strings.TrimSpace(name) == "":
		return errors.New("the nickname is empty")
	case utf8.RuneCountInString(o.reason) > admin.MaxReasonLen:
		return fmt.Errorf("--reason is longer than %d characters", admin.MaxReasonLen)
	case o.ban < 0:
		return fmt.Errorf("--ban must not be negative, got %s", o.ban)
	case o.unban && (o.ban > 0 || o.reason != "" || o.room != ""):
		return errors.New("--unban cannot be combined with --ban, --reason or --room (bans hold in every room)")
	case o.room != "":
		if err := checkRoomFlag(o.room); err != nil {
			return err
		}
	}
	_, err := o.redis.validate()
	return err
}

func newKickCommand() *cobra.Command {
	var o kickOptions
	cmd := &cobra.Command{
		Use:   "kick NICK",
		Short: "Disconnect a chatter, optionally banning the nickname",
		Long: `Kick the chatter called NICK (compared regardless of case and look-alike letters)
from every room it is in, or from the room --room names.

While "chatserver serve" runs on the file, every connection holding the nickname
there gets a "kicked" event with the reason and is disconnected, and everyone
else there sees the chatter leave; this goes through the admin socket
(FILE.sock). With no server running, the nickname is removed from the stored
chatter sets. A nickname that is not there is an error (exit status 1).

--ban also refuses the nickname for a while in every room, stored in the file
so that it survives restarts; with --ban, a nickname that is not present is
only banned. --unban lifts a ban.

With --redis (or CHATSERVER_REDIS) the kick goes straight to that Redis, the one
the servers of several nodes share, from any machine that reaches it: the ban
is stored there, and the nickname is kicked from the room (or from every room
it is in) on whichever nodes hold it; the rooms it was kicked from are printed.
No admin socket is used and no file is read. A --db on the command line wins
over CHATSERVER_REDIS.`,
		Example: `  chatserver kick alice
  chatserver kick alice --room games
  chatserver kick alice --reason "please keep it friendly"
  chatserver kick spammer --ban 24h --reason "spam"
  chatserver kick --unban spammer
  chatserver kick spammer --ban 24h --redis redis://:secret@10.0.0.5:6379/0`,
		Args: exactlyOneArg("nickname"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyStoreEnv(cmd.Flags(), &o.redis); err != nil {
				return err
			}
			if err := o.validate(args[0]); err != nil {
				return err
			}
			name := strings.TrimSpace(args[0])
			if o.redis.url != "" {
				return o.onRedis(cmd.Context(), cmd.OutOrStdout(), name)
			}
			warnExposed(cmd.ErrOrStderr(), o.db)
			return o.run(cmd.Context(), cmd.OutOrStdout(), name)
		},
	}
	o.addFlags(cmd.Flags())
	mustCompleteFlag(cmd, "room", completeRooms(&o.db, &o.redis, true))
	return cmd
}

func (o *kickOptions) run(ctx context.Context, out io.Writer, name string) error {
	c, err := admin.Dial(admin.SocketPath(o.db))
	if err == nil {
		defer c.Close()
		err = o.online(ctx, out, c, name)
		if !errors.Is(err, admin.ErrNoServer) {
			return err
		}
	} else if !noServer(err) {
		return reachError(err)
	}
	return o.offline(out, name)
}

// online kicks, bans or unbans through the running server.
func (o *kickOptions) online(ctx context.Context, out io.Writer, c *admin.Client, name string) error {
	if o.unban {
		was, err := c.Unban(ctx, name)
		if err != nil {
			return adminError(err)
		}
		return reportUnban(out, name, was)
	}
	rep, err := c.Kick(ctx, o.room, name, o.reason, o.ban)
	switch chat.ErrorCode(err) {
	case "":
	case chat.CodeNoSuchChatter:
		if o.room != "" {
			return plainf(err, "no chatter called %q is present in the room %q", name, o.room)
		}
		return plainf(err, "no chatter called %q is present", name)
	case chat.CodeNoSuchRoom:
		return plainf(err, "there is no room called %q", o.room)
	default:
		return adminError(err)
	}
	switch {
	case rep.Closed > 0:
		fmt.Fprintf(out, "kicked %s from %s (%s closed)\n", name, roomList(rep.Rooms), plural(rep.Closed, "connection"))
	default:
		fmt.Fprintf(out, "%s is not present\n", name)
	}
	if o.ban > 0 {
		fmt.Fprintf(out, "banned %s for %s\n", name, o.ban)
	}
	return nil
}

// offline changes the file itself: no server runs on it.
func (o *kickOptions) offline(out io.Writer, name string) error {
	st, err := openOffline(o.db, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.unban {
		was, err := st.Unban(context.Background(), name)
		if err != nil {
			return fmt.Errorf("lift ban: %w", openError(o.db, err))
		}
		return reportUnban(out, name, was)
	}
	if o.ban > 0 {
		if err := st.Ban(context.Background(), name, time.Now().Add(o.ban)); err != nil {
			return fmt.Errorf("store ban: %w", openError(o.db, err))
		}
	}
	rooms, err := st.RemoveChatter(context.Background(), o.room, name)
	if errors.Is(err, storage.ErrNoSuchRoom) {
		return plainf(err, "there is no room called %q in %s", o.room, o.db)
	}
	if err != nil {
		return fmt.Errorf("remove chatter: %w", openError(o.db, err))
	}
	switch {
	case len(rooms) > 0:
		fmt.Fprintf(out, "removed %s from the stored chatters of %s (no server is running)\n", name, roomList(rooms))
	case o.ban == 0:
		return fmt.Errorf("no chatter called %q is in %s (no server is running)", name, o.db)
	}
	if o.ban > 0 {
		fmt.Fprintf(out, "banned %s for %s\n", name, o.ban)
	}
	return nil
}

// onRedis kicks, bans or unbans in the Redis of --redis, for every node
// sharing it.
func (o *kickOptions) onRedis(ctx context.Context, out io.Writer, name string) error {
	st, err := o.redis.openRedis(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	where := o.redis.where()
	if o.unban {
		was, err := st.Unban(ctx, name)
		if err != nil {
			return fmt.Errorf("lift ban in %s: %w", where, err)
		}
		return reportUnban(out, name, was)
	}
	stored, err := st.Rooms(ctx)
	if err != nil {
		return fmt.Errorf("read the rooms of %s: %w", where, err)
	}
	var rooms []string
	for _, r := range stored {
		if o.room == "" || r.Name == o.room {
			rooms = append(rooms, r.Name)
		}
	}
	if len(rooms) == 0 {
		return plainf(storage.ErrNoSuchRoom, "there is no room called %q in %s", o.room, where)
	}
	if o.ban > 0 {
		if err := st.Ban(ctx, name, time.Now().Add(o.ban)); err != nil {
			return fmt.Errorf("store ban in %s: %w", where, err)
		}
	}
	var kicked []string
	for _, room := range rooms {
		was, err := st.Kick(ctx, room, name, o.reason)
		switch {
		case errors.Is(err, storage.ErrNoSuchRoom) && o.room != "":
			return plainf(err, "there is no room called %q in %s", o.room, where)
		case errors.Is(err, storage.ErrNoSuchRoom):
			// Removed since the list was read: nobody to kick there.
		case err != nil:
			return fmt.Errorf("kick %s from the room %s in %s: %w", name, room, where, err)
		case was:
			kicked = append(kicked, room)
		}
	}
	switch {
	case len(kicked) > 0:
		fmt.Fprintf(out, "kicked %s from %s (every connection holding the nickname, on every node)\n", name, roomList(kicked))
	case o.ban == 0 && o.room != "":
		return fmt.Errorf("no chatter called %q is present in the room %q", name, o.room)
	case o.ban == 0:
		return fmt.Errorf("no chatter called %q is present", name)
	default:
		fmt.Fprintf(out, "%s is not present\n", name)
	}
	if o.ban > 0 {
		fmt.Fprintf(out, "banned %s for %s\n", name, o.ban)
	}
	return nil
}

func reportUnban(out io.Writer, name string, was bool) error {
	if !was {
		return fmt.Errorf("%s is not banned", name)
	}
	_, err := fmt.Fprintf(out, "unbanned %s\n", name)
	return err
}

// adminError words a refusal of the running server.
func adminError(err error) error {
	return fmt.Errorf("the running chatserver refused: %w", err)
}

// roomList names rooms for a sentence: "the room general", "the rooms
// general and games".
func roomList(rooms []string) string {
	switch len(rooms) {
	case 0:
		return "no room"
	case 1:
		return "the room " + rooms[0]
	}
	return "the rooms " + strings.Join(rooms[:len(rooms)-1], ", ") + " and " + rooms[len(rooms)-1]
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
