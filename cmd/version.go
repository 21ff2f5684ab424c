package cmd

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Version is chatserver's version, set at build time:
//
//	go build -ldflags "-X chatserver/cmd.Version=1.2.0"
var Version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of chatserver and of Go it was built with",
		Example: `  chatserver version
  # set the version when building:
  go build -ldflags "-X chatserver/cmd.Version=1.2.0"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "chatserver %s (%s %s/%s)\n",
				Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
