package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bashCompletion is the bash-completion package's library, which the
// bash script of `chatserver completion bash` builds on.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// completeInBash loads the binary's bash completion into a fresh bash,
// completes the words as Tab would after the last one, and prints one
// candidate a line.
const completeInBash = `
source ` + bashCompletion + `
source <(chatserver completion bash)
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
__start_chatserver 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
`

// TestBashCompletesCommandsAndFlags sources the generated script in bash
// and completes partial command lines through the real binary.
func TestBashCompletesCommandsAndFlags(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		requireTool(t, "bash is not installed")
	}
	if _, err := os.Stat(bashCompletion); err != nil {
		requireTool(t, "the bash-completion package is not installed")
	}
	// The script runs the first word, chatserver, from PATH.
	dir := t.TempDir()
	copyFile(t, bin, filepath.Join(dir, "chatserver"), 0o755)

	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"chatserver", "ser"}, []string{"serve"}},
		{[]string{"chatserver", "serve", "--max-con"}, []string{"--max-connections", "--max-connections-per-ip"}},
		{[]string{"chatserver", "completion", "f"}, []string{"fish"}},
		{[]string{"chatserver", "version", "--l"}, []string{"--long"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", append([]string{"--norc", "--noprofile", "-c", completeInBash, "bash"}, tt.words...)...)
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v", err)
			}
			got := strings.Fields(string(out))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tab after %q offers %q, want %q", strings.Join(tt.words, " "), got, tt.want)
			}
		})
	}
}
