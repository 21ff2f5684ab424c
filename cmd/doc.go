// Package cmd is chatserver's command line: the Cobra command tree that
// main.go runs through Execute.
//
// Commands are built by constructor functions added in NewRootCommand (no
// init() registration). Each command has one options struct that adds its
// flags, validates them in plain words and runs. A flag given an
// environment variable by withEnv (every flag of serve, --db of history,
// kick, room and backup) takes its value from it when the command line
// does not set it; the variable's name is derived from the flag's
// (--max-connections: CHATSERVER_MAX_CONNECTIONS). serve's flags write straight into the
// configuration structs of the packages they configure. Commands write
// to cmd.OutOrStdout() and cmd.ErrOrStderr(), so tests run the real root
// command with SetOut, SetErr and SetArgs.
//
// Errors come back to Execute, which prints them as one line,
// "chatserver: ...", and exits 1 (2 for a usage mistake such as an unknown
// flag), without a usage dump or a stack trace.
package cmd
