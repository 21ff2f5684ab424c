package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/storage"
	"chatserver/storage/bolt"
)

// defaultImportKey is the list the Node original keeps its history in.
const defaultImportKey = "messages"

// importStep is the time between two imported messages: they are stamped
// with the time of the import, one step apart, so that their order shows
// in their times too.
const importStep = time.Millisecond

// importOptions are the flags of `chatserver import`.
type importOptions struct {
	from  string // --from-redis
	key   string
	db    string
	redis redisOptions
}

func (o *importOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.from, "from-redis", "",
		"the Redis of the Node original, redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS); only read")
	fs.StringVar(&o.key, "key", defaultImportKey, "the list holding the Node original's messages")
	fs.StringVar(&o.db, "db", defaultDB, "database file to import into, created if missing")
	o.redis.addFlags(fs)
	withEnv(fs, "db", redisFlag, redisPrefixFlag)
}

func (o *importOptions) validate() error {
	switch {
	case o.from == "":
		return usageError{errors.New("--from-redis is required: the URL of the Redis the Node original used")}
	case o.key == "":
		return errors.New("--key must name a list")
	case o.db == "" && o.redis.url == "":
		return errors.New("--db must name a file")
	}
	if _, err := redisWhere(o.from); err != nil {
		return fmt.Errorf("--from-redis: %w", err)
	}
	_, err := o.redis.validate()
	return err
}

func newImportCommand() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Copy the Node original's messages from its Redis into the default room",
		Long: `Copy the history of the Node original, the chat app this server replaces, into
the default room "general": the list --key (messages) of the Redis at
--from-redis, which holds JSON strings {"name","data"}, newest first. They are
imported oldest first, as messages of the default room stamped with the time of
the import (in their order), and take the room's next IDs; the room keeps its
newest --history messages, as ever. The Redis read is left unchanged.

They go into the database file --db (CHATSERVER_DB), or with --redis
(CHATSERVER_REDIS) into the Redis that servers of several nodes share. A file
that a running server holds is refused: stop the server, import, and start it
again.

Every entry is checked before any is written: a missing key, a key that is not
a list, or an entry that is not such JSON (named by its index, 0 the newest) is
an error (exit status 1), and nothing is imported. The count imported is printed.

Nothing marks messages as imported: running it twice imports them twice.`,
		Example: `  chatserver import --from-redis redis://127.0.0.1:6379/0
  chatserver import --from-redis redis://:secret@old-host:6379/0 --db /var/lib/chatserver/chat.db
  chatserver import --from-redis redis://old-host:6379/0 --key messages --redis redis://10.0.0.5:6379/0`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyStoreEnv(cmd.Flags(), &o.redis); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// nodeMessage is one entry of the Node original's list.
type nodeMessage struct {
	Name *string `json:"name"`
	Data *string `json:"data"`
}

func (o *importOptions) run(ctx context.Context, out io.Writer) error {
	msgs, from, err := o.read(ctx)
	if err != nil {
		return err
	}
	start := time.Now().UTC()
	for i := range msgs {
		msgs[i].Time = start.Add(time.Duration(i) * importStep)
	}
	var into string
	if o.redis.url != "" {
		st, err := o.redis.openRedis(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		into = o.redis.where()
		if _, err := st.AppendMessages(ctx, storage.DefaultRoom, msgs); err != nil {
			return fmt.Errorf("import into %s: %w", into, err)
		}
	} else {
		st, err := openForImport(o.db)
		if err != nil {
			return err
		}
		defer st.Close()
		into = o.db
		if _, err := st.AppendMessages(ctx, storage.DefaultRoom, msgs); err != nil {
			return fmt.Errorf("import into %s: %w", o.db, openError(o.db, err))
		}
		if err := st.Close(); err != nil {
			return fmt.Errorf("close %s: %w", o.db, err)
		}
	}
	_, err = fmt.Fprintf(out, "imported %s from the list %s of %s into the room %s of %s\n",
		plural(len(msgs), "message"), o.key, from, storage.DefaultRoom, into)
	return err
}

// read reads and checks the whole list, and returns its messages oldest
// first, without times, and the Redis it read ("Redis at HOST:PORT").
func (o *importOptions) read(ctx context.Context) ([]storage.Message, string, error) {
	ctx, cancel := context.WithTimeout(ctx, redisCommandTimeout)
	defer cancel()
	client, where, err := dialRedis(ctx, o.from)
	if err != nil {
		return nil, "", err
	}
	defer client.Close()
	from := "Redis at " + where
	typ, err := client.Do(ctx, client.B().Type().Key(o.key).Build()).ToString()
	if err != nil {
		return nil, "", redisDialError(where, err)
	}
	switch typ {
	case "list":
	case "none":
		return nil, "", fmt.Errorf("%s has no key %q: nothing to import (is it the Node original's Redis and database?)", from, o.key)
	default:
		return nil, "", fmt.Errorf("the key %q of %s is a %s, not a list of messages; nothing was imported", o.key, from, typ)
	}
	raw, err := client.Do(ctx, client.B().Lrange().Key(o.key).Start(0).Stop(-1).Build()).AsStrSlice()
	if err != nil {
		return nil, "", redisDialError(where, err)
	}
	msgs, err := parseNodeMessages(raw)
	if err != nil {
		return nil, "", fmt.Errorf("the list %q of %s: %w; nothing was imported", o.key, from, err)
	}
	return msgs, from, nil
}

// parseNodeMessages turns the Node original's list, newest first, into
// messages oldest first; an entry that is not a JSON object with the
// strings name and data is an error naming its index in the list.
func parseNodeMessages(raw []string) ([]storage.Message, error) {
	msgs := make([]storage.Message, len(raw))
	for i, s := range raw {
		var m nodeMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil || m.Name == nil || m.Data == nil {
			return nil, fmt.Errorf(`entry %d is not a JSON object {"name", "data"} of two strings`, i)
		}
		msgs[i] = storage.Message{Name: *m.Name, Text: *m.Data}
	}
	slices.Reverse(msgs)
	return msgs, nil
}

// openForImport opens the file at path read-write for import, creating it
// if missing, and refuses one that a running server holds.
func openForImport(path string) (*bolt.Store, error) {
	st, err := bolt.Open(path, bolt.Options{History: keepAll})
	if errors.Is(err, storage.ErrLocked) {
		return nil, plainf(err, "%s is in use by a running chatserver: stop it, import, then start it again", path)
	}
	return st, openError(path, err)
}
