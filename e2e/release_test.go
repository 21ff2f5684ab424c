package e2e

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// releaseTimeout bounds scripts/release.sh for two targets: linking both
// takes seconds once the packages are compiled (make cross compiles them
// before the tests run), a minute or two on a cold build cache.
const releaseTimeout = 5 * time.Minute

// firstLogVersion returns the version that serve's first log record,
// "chatserver started", names ("" if the first record is another).
func firstLogVersion(stderr string) string {
	first, _, _ := strings.Cut(stderr, "\n")
	r, ok := parseLogLine(first)
	if !ok || r.msg != "chatserver started" {
		return ""
	}
	return r.attrs["version"]
}

// TestVersionShowsTheBuildInformation: `chatserver version` describes the
// binary as the Go toolchain recorded it (this one is built with plain go
// build, no linker values).
func TestVersionShowsTheBuildInformation(t *testing.T) {
	t.Parallel()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("read the build information of %s: %v", bin, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	wantCommit, wantDate := settings["vcs.revision"], settings["vcs.time"]
	if wantCommit == "" {
		wantCommit = "unknown"
	}
	if wantDate == "" {
		wantDate = "unknown"
	}
	wantModified := map[bool]string{true: "yes", false: "no"}[settings["vcs.modified"] == "true"]
	wantVersion := strings.TrimPrefix(info.Main.Version, "v")
	if wantVersion == "" || wantVersion == "(devel)" {
		wantVersion = "dev"
	}
	r := runCLI(t, "version", "--long")
	if r.code != 0 {
		t.Fatalf("version --long: exit %d, %s", r.code, r.stderr)
	}
	want := fmt.Sprintf("version:   %s\ncommit:    %s\nmodified:  %s\ndate:      %s\ngo:        %s\nplatform:  %s/%s\n",
		wantVersion, wantCommit, wantModified, wantDate, info.GoVersion, settings["GOOS"], settings["GOARCH"])
	if r.stdout != want {
		t.Errorf("version --long printed\n%s\nwant\n%s", r.stdout, want)
	}
	line := runCLI(t, "version")
	if line.code != 0 || !strings.HasPrefix(line.stdout, "chatserver "+wantVersion+" (") ||
		!strings.HasSuffix(line.stdout, info.GoVersion+" "+settings["GOOS"]+"/"+settings["GOARCH"]+")\n") {
		t.Errorf("version printed %q (exit %d)", line.stdout, line.code)
	}
}

// TestServeLogsItsVersionFirst: the first line of serve's log is the
// line `chatserver version` prints.
func TestServeLogsItsVersionFirst(t *testing.T) {
	t.Parallel()
	version := runCLI(t, "version")
	srv := startServer(t, filepath.Join(t.TempDir(), "chat.db"))
	// Standard error and output are two pipes: the log line may arrive
	// after the listening line.
	srv.waitRecord(t, "chatserver started")
	if got := firstLogVersion(srv.stderr.String()); got+"\n" != version.stdout {
		t.Errorf("serve's first log record names version %q, want %q:\n%s", got, strings.TrimSpace(version.stdout), srv.stderr)
	}
}

// TestReleaseStampsTheVersion runs scripts/release.sh (what `make
// release` runs) for this machine's platform and for Windows, with a
// version, a commit and a date given as a release gives them, and checks
// the archives, the checksum file, and that the binary in the archive
// tells that version, in `version` and first in serve's log.
func TestReleaseStampsTheVersion(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skipf("the release script uses GNU tar, touch and sha256sum: it runs on Linux, not %s", runtime.GOOS)
	}
	if runtime.GOARCH == "arm" {
		t.Skip("the test names its target by GOARCH; linux/arm needs its GOARM level")
	}
	for _, tool := range []string{"bash", "tar", "gzip", "sha256sum", "zip"} {
		if _, err := exec.LookPath(tool); err != nil {
			requireTool(t, tool+" is not installed")
		}
	}
	const (
		version = "1.2.3-e2e"
		commit  = "0123456789abcdef0123456789abcdef01234567"
		date    = "2026-11-29T12:00:00Z"
		epoch   = 1796040000 // the files' time in the archives
	)
	host := runtime.GOOS + "_" + runtime.GOARCH
	dist := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	script := exec.CommandContext(ctx, "bash", "scripts/release.sh")
	script.Dir = ".."
	script.Env = append(os.Environ(), "VERSION=v"+version, "COMMIT="+commit, "DATE="+date,
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch), "DIST="+dist,
		"TARGETS="+runtime.GOOS+"/"+runtime.GOARCH+" windows/amd64")
	if out, err := script.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}

	archives := map[string]string{ // archive: the binary in it
		"chatserver_" + version + "_" + host + ".tar.gz": "chatserver",
		"chatserver_" + version + "_windows_amd64.zip":   "chatserver.exe",
	}
	sums := readChecksums(t, filepath.Join(dist, "chatserver_"+version+"_checksums.txt"))
	if got, want := slices.Sorted(maps.Keys(sums)), slices.Sorted(maps.Keys(archives)); !slices.Equal(got, want) {
		t.Fatalf("the checksum file lists %q, want %q", got, want)
	}
	for name, sum := range sums {
		if got := sha256File(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("%s: SHA-256 %s, the checksum file says %s", name, got, sum)
		}
	}

	wantFiles := []string{"README.md", "contrib/chatserver.service"}
	tarFiles, binary := readTarGz(t, filepath.Join(dist, "chatserver_"+version+"_"+host+".tar.gz"), epoch)
	if want := append([]string{"chatserver"}, wantFiles...); !containsAll(tarFiles, want) {
		t.Errorf("the %s archive holds %q, want %q", host, tarFiles, want)
	}
	if zipFiles := readZip(t, filepath.Join(dist, "chatserver_"+version+"_windows_amd64.zip")); !containsAll(zipFiles, append([]string{"chatserver.exe"}, wantFiles...)) {
		t.Errorf("the Windows archive holds %q, want chatserver.exe and %q", zipFiles, wantFiles)
	}

	exe := filepath.Join(t.TempDir(), "chatserver")
	if err := os.WriteFile(exe, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("chatserver %s (commit 0123456789ab, %s, %s %s/%s)", version, date, info.GoVersion, runtime.GOOS, runtime.GOARCH)
	out, err := exec.Command(exe, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("the released binary's version: %q (%v), want %q", out, err, want)
	}
	if first := firstServeLogLine(t, exe); first != want {
		t.Errorf("the released binary's first serve log line names %q, want %q", first, want)
	}
}

// requireTool skips the test for a missing program, or fails it in CI,
// where `make test` installs it.
func requireTool(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %s; run `make test`, which installs it", why)
	}
	t.Skipf("skipping: %s; run `make test` to install it", why)
}

// firstServeLogLine starts `exe serve` on a free port, waits until it
// listens, stops it and returns what the first line of its log names.
func firstServeLogLine(t *testing.T, exe string) string {
	t.Helper()
	listening := make(chan struct{}, 1)
	stdout := &lineWriter{line: func(line string) {
		if listeningLine.MatchString(line) {
			select {
			case listening <- struct{}{}:
			default:
			}
		}
	}}
	stderr := &lineWriter{}
	cmd := exec.Command(exe, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "chat.db"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-listening:
	case err := <-exited:
		t.Fatalf("serve exited before listening: %v\n%s", err, stderr)
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not listen within %s\n%s", startTimeout, stderr)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(stopTimeout):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not stop within %s of SIGTERM", stopTimeout)
	}
	v := firstLogVersion(stderr.String())
	if v == "" {
		t.Fatalf("serve's first log record is not \"chatserver started\" with a version:\n%s", stderr.String())
	}
	return v
}

// readChecksums reads a sha256sum file: "HEX  NAME" lines.
func readChecksums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("%s: line %q is not `SHA256  NAME`", path, sc.Text())
		}
		sums[m[2]] = m[1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readTarGz lists the files of a .tar.gz archive, checks that each is
// owned by 0:0 and dated epoch (a reproducible archive), and returns the
// chatserver binary's bytes.
func readTarGz(t *testing.T, path string, epoch int64) (files []string, binary []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != epoch {
			t.Errorf("%s: %s is owned by %d:%d and dated %s, want 0:0 and %s", path, h.Name, h.Uid, h.Gid, h.ModTime.UTC(), time.Unix(epoch, 0).UTC())
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		files = append(files, h.Name)
		if h.Name == "chatserver" {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s: chatserver is not executable (mode %o)", path, h.Mode)
			}
			if binary, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if binary == nil {
		t.Fatalf("%s holds no chatserver", path)
	}
	return files, binary
}

// readZip lists the files of a zip archive.
func readZip(t *testing.T, path string) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer zr.Close()
	var files []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			files = append(files, f.Name)
		}
	}
	return files
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
