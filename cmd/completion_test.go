package cmd

import (
	"strings"
	"testing"
)

func TestCompletionWritesEachShellsScript(t *testing.T) {
	tests := []struct {
		shell string
		want  []string // in the script
	}{
		{"bash", []string{"# bash completion V2 for chatserver", "complete -o default -F __start_chatserver chatserver"}},
		{"zsh", []string{"#compdef chatserver", "compdef _chatserver chatserver"}},
		{"fish", []string{"# fish completion for chatserver", "complete -c chatserver"}},
		{"powershell", []string{"# powershell completion for chatserver", "Register-ArgumentCompleter"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			for _, args := range [][]string{{"completion", tt.shell}, {"completion", tt.shell, "--no-descriptions"}} {
				r := run(t, args...)
				if r.err != nil {
					t.Fatalf("%s: %v", strings.Join(args, " "), r.err)
				}
				for _, want := range tt.want {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("%s wrote no %q", strings.Join(args, " "), want)
					}
				}
			}
			r := run(t, "completion", tt.shell, "--help")
			if r.err != nil || !strings.Contains(r.stdout, "Examples:\n  ") || !strings.Contains(r.stdout, "chatserver completion "+tt.shell) {
				t.Errorf("completion %s --help has no example: %v\n%s", tt.shell, r.err, r.stdout)
			}
		})
	}
}

// TestCompletionAsksTheBinary: the scripts call the hidden __complete
// command; it answers with the commands and flags of the tree.
func TestCompletionAsksTheBinary(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", ""}, []string{"serve\t", "history\t", "kick\t", "room\t", "version\t", "completion\t"}},
		{[]string{"__complete", "room", ""}, []string{"add\t", "list\t", "remove\t"}},
		{[]string{"__complete", "serve", "--max-con"}, []string{"--max-connections\t", "--max-connections-per-ip\t"}},
		{[]string{"__complete", "completion", ""}, []string{"bash\t", "zsh\t", "fish\t", "powershell\t"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, tt.args...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("completions %q lack %q", r.stdout, want)
				}
			}
		})
	}
}
