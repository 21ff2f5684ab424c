package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes of Execute.
const (
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

// envPrefix begins the name of every environment variable the commands
// read.
const envPrefix = "CHATSERVER_"

// envAnnotation is the pflag annotation of a flag that has an environment
// variable (see withEnv).
const envAnnotation = "chatserver_env"

// defaultDB is the database file when neither --db nor CHATSERVER_DB is
// given: in the working directory, next to where the server was started.
const defaultDB = "chatserver.db"

// NewRootCommand returns the chatserver command tree. Each call builds a
// fresh tree, so tests can run commands independently.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "chatserver",
		Short: "A self-hosted chat server: one binary, one database file",
		Long: `chatserver is a self-hosted chat appliance: one binary that serves a chat page
and a Socket.IO v4 endpoint, keeping its rooms with their recent history and
presence in one bbolt database file. Start it with "chatserver serve" and open
the printed address in a browser; "chatserver room add" adds rooms.`,
		Example: `  chatserver serve
  chatserver serve --addr 127.0.0.1:9000 --db /var/lib/chatserver/chat.db
  chatserver history -n 5
  chatserver kick alice --reason "spam"
  chatserver room add games --topic "board games on Friday"
  chatserver backup /var/backups/chat.db
  chatserver serve --redis redis://:secret@10.0.0.5:6379/0 --node web-1
  chatserver import --from-redis redis://127.0.0.1:6379/0
  chatserver bench --url http://127.0.0.1:8080
  source <(chatserver completion bash)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Bare "chatserver" shows the help.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		Args: noArgs,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCommand(),
		newHistoryCommand(),
		newKickCommand(),
		newRoomCommand(),
		newImportCommand(),
		newBackupCommand(),
		newBenchCommand(),
		newVersionCommand(),
		// Cobra's shell completion, with examples like every command here
		// (Cobra would otherwise add its own, without them).
		newCompletionCommand(),
	)
	return root
}

// Execute runs the command tree on os.Args and exits non-zero on failure
// with a one-line "chatserver: ..." message on standard error.
func Execute() {
	cmd, err := NewRootCommand().ExecuteContextC(context.Background())
	if err != nil {
		os.Exit(report(os.Stderr, cmd, err))
	}
}

// report prints err, returned by cmd, as Execute does and returns the exit
// code.
func report(w io.Writer, cmd *cobra.Command, err error) int {
	fmt.Fprintf(w, "chatserver: %v\n", err)
	var c *configError
	if errors.As(err, &c) {
		return exitUsage
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitError
}

// usageError marks a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) > 0 && cmd.HasSubCommands():
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	case len(args) > 0:
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])}
	}
	return nil
}

// exactlyOneArg requires one positional argument, named what.
func exactlyOneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s takes exactly one %s, got %d arguments", cmd.CommandPath(), what, len(args))}
		}
		return nil
	}
}

// envName is the environment variable of the flag called name: the name
// in capitals, dashes turned into underscores, after envPrefix
// (--max-connections is CHATSERVER_MAX_CONNECTIONS).
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnv gives the flags of fs called names (every flag defined so far
// when no name is given) an environment variable, envName, and names it in
// their usage. applyEnv reads them.
func withEnv(fs *pflag.FlagSet, names ...string) {
	bind := func(f *pflag.Flag) {
		env := envName(f.Name)
		f.Usage += " (env " + env + ")"
		if err := fs.SetAnnotation(f.Name, envAnnotation, []string{env}); err != nil {
			panic(err) // f is a flag of fs
		}
	}
	if len(names) == 0 {
		fs.VisitAll(bind)
	}
	for _, name := range names {
		bind(fs.Lookup(name))
	}
}

// applyEnv gives every flag of fs that has an environment variable
// (withEnv) and was not set on the command line the variable's value, if
// it is set and not empty, in flag-name order. A value the flag refuses is
// an error naming the variable.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Annotations[envAnnotation] == nil {
			return
		}
		env := envName(f.Name)
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return
		}
		if setErr := fs.Set(f.Name, v); setErr != nil {
			err = fmt.Errorf("environment variable %s=%q is not valid: --%s takes %s", env, v, f.Name, describeType(f.Value.Type()))
		}
	})
	return err
}

// describeType says in words what a flag of pflag type typ accepts.
func describeType(typ string) string {
	switch typ {
	case "int":
		return "a whole number"
	case "duration":
		return "a duration such as 10m or 2h"
	case "bool":
		return "true or false"
	case "float64":
		return "a number such as 5 or 0.5"
	case "stringSlice":
		return "a comma-separated list"
	default:
		return "a " + typ
	}
}

// plainError is an error whose message is written for the person at the
// terminal, while errors.Is still sees the cause.
type plainError struct {
	msg string
	err error
}

func (e *plainError) Error() string { return e.msg }
func (e *plainError) Unwrap() error { return e.err }

// plainf returns a plainError with a formatted message wrapping cause.
func plainf(cause error, format string, args ...any) error {
	return &plainError{msg: fmt.Sprintf(format, args...), err: cause}
}
