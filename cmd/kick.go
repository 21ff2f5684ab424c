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
}

func (o *kickOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.db, "db", defaultDB, "database file")
	fs.StringVar(&o.room, "room", "", "kick from this room only (default: every room the nickname is in)")
	fs.StringVar(&o.reason, "reason", "", "reason shown to the kicked chatter")
	fs.DurationVar(&o.ban, "ban", 0, "also refuse the nickname for this long, e.g. 10m or 24h (kept in the file)")
	fs.BoolVar(&o.unban, "unban", false, "lift the nickname's ban instead of kicking")
	withEnv(fs, "db")
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
		return checkRoomFlag(o.room)
	}
	return nil
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
only banned. --unban lifts a ban.`,
		Example: `  chatserver kick alice
  chatserver kick alice --room games
  chatserver kick alice --reason "please keep it friendly"
  chatserver kick spammer --ban 24h --reason "spam"
  chatserver kick --unban spammer`,
		Args: exactlyOneArg("nickname"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			if err := o.validate(args[0]); err != nil {
				return err
			}
			warnExposed(cmd.ErrOrStderr(), o.db)
			return o.run(cmd.Context(), cmd.OutOrStdout(), strings.TrimSpace(args[0]))
		},
	}
	o.addFlags(cmd.Flags())
	mustCompleteFlag(cmd, "room", completeRooms(&o.db, true))
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
