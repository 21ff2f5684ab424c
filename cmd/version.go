package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version, Commit and Date describe the build. A release sets them with
// the linker:
//
//	go build -ldflags "-X chatserver/cmd.Version=1.2.0 -X chatserver/cmd.Commit=$(git rev-parse HEAD) -X chatserver/cmd.Date=2026-11-29T12:00:00Z"
//
// Left empty, each is taken from what the Go toolchain recorded in the
// binary (runtime/debug.ReadBuildInfo): the module version (that of a
// module installed with go install, or the one Go derives from the
// checkout's tags: 1.2.0 on the commit tagged v1.2.0, a pseudo-version
// after it), the commit (vcs.revision) and its time (vcs.time).
var (
	// Version is the release, such as 1.2.0.
	Version = ""
	// Commit is the full hash of the commit the binary was built from.
	Commit = ""
	// Date is when the source was committed, in RFC 3339 (releases stamp
	// the commit's date, not the clock's, so that a build is
	// reproducible).
	Date = ""
)

// devVersion is the version of a build that carries none.
const devVersion = "dev"

// shortCommit is how many hex digits of the commit the one-line
// description shows.
const shortCommit = 12

// build is what is known of how this binary was built.
type build struct {
	Version  string // "dev" when unknown
	Commit   string // "" when unknown
	Date     string // "" when unknown
	Modified bool   // built from a tree with uncommitted changes
	Go       string // the Go release, such as go1.26.8
	Platform string // GOOS/GOARCH, with the ARM level: linux/arm (GOARM=6)
}

// currentBuild describes this binary: the linker's values where given,
// the toolchain's build information otherwise.
func currentBuild() build {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(info, Version, Commit, Date)
}

// describeBuild combines the build information info (nil when the binary
// has none) with the values version, commit and date set by the linker,
// which win where they are not empty.
func describeBuild(info *debug.BuildInfo, version, commit, date string) build {
	b := build{Version: version, Commit: commit, Date: date, Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info == nil {
		if b.Version == "" {
			b.Version = devVersion
		}
		return b
	}
	if info.GoVersion != "" {
		b.Go = info.GoVersion
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if goos, goarch := settings["GOOS"], settings["GOARCH"]; goos != "" && goarch != "" {
		b.Platform = goos + "/" + goarch
	}
	if arm := settings["GOARM"]; arm != "" && settings["GOARCH"] == "arm" {
		b.Platform += " (GOARM=" + arm + ")"
	}
	if b.Version == "" {
		// "(devel)" is a build of a checkout whose version Go could not
		// tell. A tag or a pseudo-version loses its "v", as releases
		// write it: v1.2.0 is 1.2.0.
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = strings.TrimPrefix(v, "v")
		} else {
			b.Version = devVersion
		}
	}
	if b.Commit == "" {
		b.Commit = settings["vcs.revision"]
	}
	if b.Date == "" {
		b.Date = settings["vcs.time"]
	}
	b.Modified = settings["vcs.modified"] == "true"
	return b
}

// String is the one-line description that `chatserver version` prints and
// serve logs first:
//
//	chatserver 1.2.0 (commit 0123456789ab, 2026-11-29T12:00:00Z, go1.26.8 linux/arm64)
func (b build) String() string {
	commit := "commit unknown"
	if b.Commit != "" {
		commit = "commit " + truncate(b.Commit, shortCommit)
		if b.Modified {
			commit += " with local changes"
		}
	}
	parts := []string{commit}
	if b.Date != "" {
		parts = append(parts, b.Date)
	}
	parts = append(parts, b.Go+" "+b.Platform)
	return fmt.Sprintf("chatserver %s (%s)", b.Version, strings.Join(parts, ", "))
}

// details is what `chatserver version --long` adds below the line: every
// field in full, one per line.
func (b build) details() string {
	or := func(s, unknown string) string {
		if s == "" {
			return unknown
		}
		return s
	}
	modified := "no"
	if b.Modified {
		modified = "yes"
	}
	return fmt.Sprintf("version:   %s\ncommit:    %s\nmodified:  %s\ndate:      %s\ngo:        %s\nplatform:  %s\n",
		b.Version, or(b.Commit, "unknown"), modified, or(b.Date, "unknown"), b.Go, b.Platform)
}

// truncate returns the first n bytes of s (s is ASCII here).
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func newVersionCommand() *cobra.Command {
	var long bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of chatserver and the Go it was built with",
		Long: `Print chatserver's version, the commit it was built from (and whether the tree
had uncommitted changes), the commit's date, the Go release and the platform.

A release sets the version, commit and date when it is built (see the README's
release section); any other build takes them from what Go recorded: the module
version (1.2.0 in a checkout of the tag v1.2.0, a pseudo-version after it) and
the commit of the checkout it was built in.`,
		Example: `  chatserver version
  chatserver version --long
  # set them when building:
  go build -ldflags "-X chatserver/cmd.Version=1.2.0 -X chatserver/cmd.Commit=$(git rev-parse HEAD)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := currentBuild()
			out := b.String() + "\n"
			if long {
				out = b.details()
			}
			_, err := fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	cmd.Flags().BoolVar(&long, "long", false, "print every field on a line of its own, the commit in full")
	return cmd
}
