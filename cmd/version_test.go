package cmd

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// buildInfo is build information as the Go toolchain records it, with
// the main module at version and the settings given as key, value pairs.
func buildInfo(version string, settings ...string) *debug.BuildInfo {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "chatserver", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return info
}

func TestVersionLine(t *testing.T) {
	const (
		rev   = "0123456789abcdef0123456789abcdef01234567"
		other = "fedcba9876543210fedcba9876543210fedcba98"
		when  = "2026-11-29T12:00:00Z"
	)
	tests := []struct {
		name                  string
		info                  *debug.BuildInfo
		version, commit, date string // as set with -ldflags -X
		want                  string
	}{
		{
			name:    "a release: the linker's values",
			info:    buildInfo("(devel)", "GOOS", "linux", "GOARCH", "arm64"),
			version: "1.2.0", commit: rev, date: when,
			want: "chatserver 1.2.0 (commit 0123456789ab, 2026-11-29T12:00:00Z, go1.26.8 linux/arm64)",
		},
		{
			name: "the linker's values win over the checkout's",
			info: buildInfo("v0.0.0-20261101000000-fedcba987654", "GOOS", "linux", "GOARCH", "arm64",
				"vcs.revision", other, "vcs.time", "2026-11-01T00:00:00Z"),
			version: "1.2.0", commit: rev, date: when,
			want: "chatserver 1.2.0 (commit 0123456789ab, 2026-11-29T12:00:00Z, go1.26.8 linux/arm64)",
		},
		{
			name: "a build of the tag v1.2.0: the module version, without the v",
			info: buildInfo("v1.2.0", "GOOS", "linux", "GOARCH", "arm64"),
			want: "chatserver 1.2.0 (commit unknown, go1.26.8 linux/arm64)",
		},
		{
			name: "a build in a checkout: Go's version, commit and time",
			info: buildInfo("v0.0.0-20261129120000-0123456789ab", "GOOS", "linux", "GOARCH", "arm64",
				"vcs", "git", "vcs.revision", rev, "vcs.time", when, "vcs.modified", "false"),
			want: "chatserver 0.0.0-20261129120000-0123456789ab (commit 0123456789ab, 2026-11-29T12:00:00Z, go1.26.8 linux/arm64)",
		},
		{
			name: "uncommitted changes are said",
			info: buildInfo("v0.0.0-20261129120000-0123456789ab+dirty", "GOOS", "linux", "GOARCH", "arm64",
				"vcs.revision", rev, "vcs.time", when, "vcs.modified", "true"),
			want: "chatserver 0.0.0-20261129120000-0123456789ab+dirty (commit 0123456789ab with local changes, 2026-11-29T12:00:00Z, go1.26.8 linux/arm64)",
		},
		{
			name: "a checkout whose version Go cannot tell is dev",
			info: buildInfo("(devel)", "GOOS", "linux", "GOARCH", "arm64", "vcs.revision", rev, "vcs.time", when),
			want: "chatserver dev (commit 0123456789ab, 2026-11-29T12:00:00Z, go1.26.8 linux/arm64)",
		},
		{
			name:    "the ARM level is named",
			info:    buildInfo("(devel)", "GOOS", "linux", "GOARCH", "arm", "GOARM", "6"),
			version: "1.2.0",
			want:    "chatserver 1.2.0 (commit unknown, go1.26.8 linux/arm (GOARM=6))",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeBuild(tt.info, tt.version, tt.commit, tt.date).String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	t.Run("no build information: dev, this binary's Go and platform", func(t *testing.T) {
		want := "chatserver dev (commit unknown, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
		if got := describeBuild(nil, "", "", "").String(); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
}

func TestVersionLongNamesEveryField(t *testing.T) {
	b := describeBuild(buildInfo("(devel)", "GOOS", "linux", "GOARCH", "amd64", "vcs.modified", "true"),
		"1.2.0", "0123456789abcdef0123456789abcdef01234567", "2026-11-29T12:00:00Z")
	want := "version:   1.2.0\n" +
		"commit:    0123456789abcdef0123456789abcdef01234567\n" +
		"modified:  yes\n" +
		"date:      2026-11-29T12:00:00Z\n" +
		"go:        go1.26.8\n" +
		"platform:  linux/amd64\n"
	if got := b.details(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestVersionCommandPrintsThisBuild(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"version"}, currentBuild().String() + "\n"},
		{[]string{"version", "--long"}, currentBuild().details()},
	} {
		r := run(t, tt.args...)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.stdout != tt.want {
			t.Errorf("%s printed %q, want %q", strings.Join(tt.args, " "), r.stdout, tt.want)
		}
	}
	if line := currentBuild().String(); !strings.Contains(line, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("%q does not name the Go release and the platform", line)
	}
}
