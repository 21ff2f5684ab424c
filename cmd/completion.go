package cmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// completionShell is one shell `chatserver completion` writes a script
// for, with Cobra's generator for it.
type completionShell struct {
	name    string
	install string // how to load the script, for the help
	example string
	gen     func(root *cobra.Command, w io.Writer, descriptions bool) error
}

var completionShells = []completionShell{
	{
		name: "bash",
		install: `Needs the bash-completion package (apt install bash-completion).

To load completions in this shell:

	source <(chatserver completion bash)

For every new shell, once (Linux):

	chatserver completion bash | sudo tee /etc/bash_completion.d/chatserver >/dev/null`,
		example: `  source <(chatserver completion bash)
  chatserver completion bash | sudo tee /etc/bash_completion.d/chatserver >/dev/null`,
		gen: func(root *cobra.Command, w io.Writer, desc bool) error { return root.GenBashCompletionV2(w, desc) },
	},
	{
		name: "zsh",
		install: `Needs completion enabled in zsh; if it is not, once:

	echo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in this shell:

	source <(chatserver completion zsh)

For every new shell, once:

	chatserver completion zsh > "${fpath[1]}/_chatserver"`,
		example: `  source <(chatserver completion zsh)
  chatserver completion zsh > "${fpath[1]}/_chatserver"`,
		gen: func(root *cobra.Command, w io.Writer, desc bool) error {
			if desc {
				return root.GenZshCompletion(w)
			}
			return root.GenZshCompletionNoDesc(w)
		},
	},
	{
		name: "fish",
		install: `To load completions in this shell:

	chatserver completion fish | source

For every new shell, once:

	chatserver completion fish > ~/.config/fish/completions/chatserver.fish`,
		example: `  chatserver completion fish | source
  chatserver completion fish > ~/.config/fish/completions/chatserver.fish`,
		gen: func(root *cobra.Command, w io.Writer, desc bool) error { return root.GenFishCompletion(w, desc) },
	},
	{
		name: "powershell",
		install: `To load completions in this shell:

	chatserver completion powershell | Out-String | Invoke-Expression

For every new shell, add that line to your PowerShell profile.`,
		example: `  chatserver completion powershell | Out-String | Invoke-Expression`,
		gen: func(root *cobra.Command, w io.Writer, desc bool) error {
			if desc {
				return root.GenPowerShellCompletionWithDesc(w)
			}
			return root.GenPowerShellCompletion(w)
		},
	},
}

// newCompletionCommand is Cobra's shell-completion command, given the
// examples every command here has. Named "completion", it takes the place
// of the one Cobra would add by itself; the scripts are Cobra's, and
// complete commands, flags and file names by asking the binary itself
// (its hidden __complete command).
func newCompletionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion",
		Short: "Write the shell-completion script for bash, zsh, fish or PowerShell",
		Long: `Write a script to standard output that makes the shell complete chatserver's
commands and flags on Tab. Run "chatserver completion SHELL --help" for how to
load it in that shell.`,
		Example: `  chatserver completion bash | sudo tee /etc/bash_completion.d/chatserver >/dev/null
  source <(chatserver completion zsh)
  chatserver completion fish | source`,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, sh := range completionShells {
		var noDesc bool
		sub := &cobra.Command{
			Use:                   sh.name,
			Short:                 fmt.Sprintf("Write the completion script for %s", sh.name),
			Long:                  fmt.Sprintf("Write the completion script for %s to standard output.\n\n%s", sh.name, sh.install),
			Example:               sh.example,
			Args:                  noArgs,
			DisableFlagsInUseLine: true,
			ValidArgsFunction:     cobra.NoFileCompletions,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return sh.gen(cmd.Root(), cmd.OutOrStdout(), !noDesc)
			},
		}
		sub.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without the one-line descriptions")
		cmd.AddCommand(sub)
	}
	return cmd
}
