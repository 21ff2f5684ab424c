package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/storage/bolt"
	"chatserver/web/admin"
)

// backupOptions are the flags of `chatserver backup`.
type backupOptions struct {
	db    string
	force bool
}

func (o *backupOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.db, "db", defaultDB, "database file to copy")
	fs.BoolVar(&o.force, "force", false, "replace FILE if it exists")
	withEnv(fs, "db")
}

func (o *backupOptions) validate(file string) error {
	switch {
	case o.db == "":
		return errors.New("--db must name a file")
	case file == "":
		return errors.New("the backup file name is empty")
	}
	return nil
}

func newBackupCommand() *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the database to FILE",
		Long: `Write a consistent copy of the database to FILE: the rooms with their messages
and stored chatters, and the bans, as they were at one moment, in a file that
"chatserver history --db FILE" reads and "chatserver serve --db FILE" serves.

While "chatserver serve" runs on the database, the copy comes from it through
the admin socket (the database's name with .sock added) and chatting goes on
meanwhile; otherwise the database is opened read-only, copied and left
unchanged.

The copy is written to a temporary file beside FILE, flushed to disk, checked
and only then renamed to FILE, so FILE is either a whole copy or not written at
all: a failed or interrupted backup removes the temporary file. FILE gets mode
0600. An existing FILE is replaced only with --force.

To restore a copy, stop the server and put the copy in the database's place.`,
		Example: `  chatserver backup chat-copy.db
  chatserver backup --db /var/lib/chatserver/chat.db /var/backups/chat-$(date +%F).db
  chatserver backup --force /var/backups/chat-latest.db`,
		Args: exactlyOneArg("file name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			if err := o.validate(args[0]); err != nil {
				return err
			}
			warnExposed(cmd.ErrOrStderr(), o.db)
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// interruptSignals end a backup as an interruption, which removes the
// temporary file: Ctrl-C, kill, and SIGHUP, which a dropped ssh session
// sends and which would otherwise end the process with the file left.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// run writes the copy to a temporary file beside file and renames it into
// place once it is whole, on disk and sound.
func (o *backupOptions) run(ctx context.Context, out io.Writer, file string) error {
	ctx, stop := signal.NotifyContext(ctx, interruptSignals...)
	defer stop()
	if err := o.checkTarget(file); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return plainf(err, "cannot create a file in %s: %v", filepath.Dir(file), pathCause(err))
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	n, fromServer, err := o.copyBolt(ctx, tmp)
	switch {
	case ctx.Err() != nil:
		return plainf(ctx.Err(), "interrupted; %s was not written", file)
	case err != nil:
		return err
	}
	if err := tmp.Sync(); err != nil {
		return plainf(err, "cannot write the copy to %s: %v; %s was not written", tmp.Name(), pathCause(err), file)
	}
	if err := tmp.Close(); err != nil {
		return plainf(err, "cannot write the copy to %s: %v; %s was not written", tmp.Name(), pathCause(err), file)
	}
	if err := checkCopy(tmp.Name()); err != nil {
		return plainf(err, "the copy does not read back as a chatserver database (%v); %s was not written", err, file)
	}
	if err := o.checkTarget(file); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return plainf(err, "cannot put the copy in place as %s: %v", file, pathCause(err))
	}
	renamed = true
	if err := syncDir(filepath.Dir(file)); err != nil {
		return plainf(err, "wrote %s, but could not flush its directory to disk: %v", file, pathCause(err))
	}
	source := "from the running server"
	if !fromServer {
		source = "from the file; no server was running on it"
	}
	fmt.Fprintf(out, "backed up %s to %s (%d bytes, %s)\n", o.db, file, n, source)
	return nil
}

// checkTarget refuses a backup file that is the database itself,
// something other than a regular file, or (without --force) an existing
// file.
func (o *backupOptions) checkTarget(file string) error {
	if same, _ := samePath(file, o.db); same {
		return fmt.Errorf("%s is the database itself; name another file for the copy", file)
	}
	fi, err := os.Lstat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return plainf(err, "cannot look at %s: %v", file, pathCause(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s exists and is not a regular file; name a file for the copy", file)
	case !o.force:
		return plainf(fs.ErrExist, "%s already exists; pass --force to replace it", file)
	}
	return nil
}

// samePath reports whether a and b name the same file: the same absolute
// path, or two names of one existing file.
func samePath(a, b string) (bool, error) {
	absA, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	absB, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	if absA == absB {
		return true, nil
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb), nil
}

// copyBolt writes a copy of the database to w: from the running server
// through its admin socket, or from the file when no server runs on it.
// fromServer says which.
func (o *backupOptions) copyBolt(ctx context.Context, f *os.File) (n int64, fromServer bool, err error) {
	w := ctxWriter{ctx: ctx, w: f}
	c, err := admin.Dial(admin.SocketPath(o.db))
	if err == nil {
		defer c.Close()
		n, err := c.Backup(ctx, w)
		if !errors.Is(err, admin.ErrNoServer) {
			if err != nil {
				return n, true, backupError(err, f.Name())
			}
			return n, true, nil
		}
		// The server went away before it answered; the file is free.
		if err := rewind(f); err != nil {
			return 0, false, backupError(err, f.Name())
		}
	} else if !noServer(err) {
		return 0, false, reachError(err)
	}
	st, err := openOffline(o.db, true)
	if err != nil {
		return 0, false, err
	}
	defer st.Close()
	n, err = st.Backup(func(int64) io.Writer { return w })
	if err != nil {
		return n, false, backupError(openError(o.db, err), f.Name())
	}
	return n, false, nil
}

// rewind empties f for a fresh start.
func rewind(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// backupError words a failed copy into the temporary file tmp.
func backupError(err error, tmp string) error {
	var refused *admin.Error
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &refused):
		return adminError(err)
	case errors.As(err, &pathErr) && pathErr.Path == tmp:
		return plainf(err, "cannot write the copy to %s: %v", tmp, pathErr.Err)
	}
	return fmt.Errorf("copy the database: %w", err)
}

// checkCopy opens the copy at path as Open does for history (read-only,
// its layout and pages checked) and closes it.
func checkCopy(path string) error {
	st, err := bolt.Open(path, bolt.Options{History: keepAll, ReadOnly: true})
	if err != nil {
		return err
	}
	return st.Close()
}

// syncDir flushes the directory entry of a file just renamed into dir to
// disk, so that the rename survives a power cut. Windows has no such call
// for directories; there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// pathCause drops the *fs.PathError layer, whose text repeats the path.
func pathCause(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

// ctxWriter refuses to write once ctx is done, so that an interrupted copy
// stops at its next write.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
