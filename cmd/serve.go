package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"chatserver/chat"
	"chatserver/web"
	"chatserver/web/admin"
)

const (
	// defaultAddr listens on every interface, so phones on the same
	// network can join.
	defaultAddr = ":8080"
	// maxHistory bounds --history: every joining client is sent that many
	// messages of up to 2000 characters, so a few megabytes at most.
	maxHistory = 1000
	// shutdownTimeout bounds the graceful part of shutdown: clients are
	// told and disconnected, in-flight requests finish, then the rest is
	// cut.
	shutdownTimeout = 10 * time.Second
	// maxLANAddrs is how many of this machine's network addresses the
	// start-up message suggests when listening on every interface.
	maxLANAddrs = 3
)

// serveOptions are the flags of `chatserver serve`.
type serveOptions struct {
	addr           string
	db             string
	history        int
	allowedOrigins []string
}

func (o *serveOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.addr, "addr", defaultAddr, "address to listen on, host:port (env "+envAddr+")")
	fs.StringVar(&o.db, "db", defaultDB, "database file, created if missing (env "+envDB+")")
	fs.IntVar(&o.history, "history", chat.DefaultHistory, "messages kept and replayed to each joining chatter (env "+envHistory+")")
	fs.StringSliceVar(&o.allowedOrigins, "allowed-origins", nil,
		"other origins whose pages may connect, comma-separated, e.g. https://chat.example.org (env "+envAllowedOrigins+")")
}

var serveEnv = map[string]string{
	"addr":            envAddr,
	"db":              envDB,
	"history":         envHistory,
	"allowed-origins": envAllowedOrigins,
}

func (o *serveOptions) validate() error {
	if _, port, err := net.SplitHostPort(o.addr); err != nil || port == "" {
		return fmt.Errorf("--addr must be host:port such as :8080 or 127.0.0.1:8080, got %q", o.addr)
	}
	if o.db == "" {
		return errors.New("--db must name a file")
	}
	if o.history < 1 || o.history > maxHistory {
		return fmt.Errorf("--history must be between 1 and %d, got %d", maxHistory, o.history)
	}
	for _, origin := range o.allowedOrigins {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("--allowed-origins entries must look like https://chat.example.org, got %q", origin)
		}
	}
	return nil
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the chat server",
		Long: `Serve the chat page and the Socket.IO endpoint until SIGINT (Ctrl-C) or SIGTERM.

The database file keeps the newest --history messages and the bans; it is
created if missing and locked while the server runs, so a second server on the
same file fails at once. Beside it, FILE.sock is the admin socket (mode 0600)
that "chatserver history" and "chatserver kick" use while the server runs.

Every flag can also be set by its environment variable; a flag on the command
line wins. On shutdown every client is disconnected and the file is closed
last; the exit status is 0.`,
		Example: `  chatserver serve
  chatserver serve --addr 127.0.0.1:9000 --db /var/lib/chatserver/chat.db --history 50
  CHATSERVER_ADDR=:80 CHATSERVER_DB=/srv/chat.db chatserver serve
  chatserver serve --allowed-origins https://chat.example.org,https://example.org`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), serveEnv); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// run serves until ctx ends or SIGINT/SIGTERM arrives, then shuts down in
// order: the web server (disconnecting every client), the admin socket,
// the room, and the database file last.
func (o *serveOptions) run(ctx context.Context, out, errOut io.Writer) error {
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	logf := log.New(errOut, "chatserver: ", log.LstdFlags).Printf

	store, err := openForServe(o.db, o.history)
	if err != nil {
		return err
	}
	// Until the server runs, undo what was set up on the way out.
	var undo []func()
	fail := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}
	undo = append(undo, func() { store.Close() })

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fail(listenError(o.addr, err))
	}
	undo = append(undo, func() { ln.Close() })

	room, err := chat.NewRoom(store, chat.Config{History: o.history, Logf: logf})
	if err != nil {
		return fail(fmt.Errorf("start the room: %w", openError(o.db, err)))
	}
	undo = append(undo, room.Close)

	sock := admin.SocketPath(o.db)
	adm, err := admin.Listen(sock, admin.NewHandler(room, logf), logf)
	if errors.Is(err, admin.ErrPathTooLong) {
		return fail(plainf(err, "the admin socket path %s is too long for a Unix socket (%d bytes, at most %d); keep the database in a shorter path",
			sock, len(sock), admin.MaxPathLen))
	}
	if err != nil {
		return fail(fmt.Errorf("start the admin socket: %w", err))
	}
	undo = append(undo, func() { adm.Close() })

	srv := web.New(room, web.Config{AllowedOrigins: o.allowedOrigins, Logf: logf})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	dbName := o.db
	if abs, err := filepath.Abs(o.db); err == nil {
		dbName = abs
	}
	fmt.Fprintf(out, "chatserver: listening on %s (database %s)\n", displayURL(ln.Addr()), dbName)
	for _, u := range lanURLs(ln.Addr()) {
		fmt.Fprintf(out, "chatserver: on this network: %s\n", u)
	}

	var runErr error
	select {
	case <-ctx.Done():
		// A second Ctrl-C now stops the process the hard way.
		stopSignals()
		fmt.Fprintln(errOut, "chatserver: shutting down")
	case runErr = <-served:
		served = nil
		if runErr == nil {
			runErr = errors.New("the web server stopped unexpectedly")
		}
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logf("shutdown: web server: %v", err)
	}
	if served != nil {
		if err := <-served; err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := adm.Close(); err != nil {
		logf("shutdown: %v", err)
	}
	room.Close()
	if err := store.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close database: %w", err)
	}
	if runErr == nil {
		fmt.Fprintln(errOut, "chatserver: stopped")
	}
	return runErr
}

// listenError explains a failed TCP listen.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return plainf(err, "cannot listen on %s: the port is already in use (is another chatserver or program using it? choose another with --addr)", addr)
	case errors.Is(err, syscall.EACCES):
		return plainf(err, "cannot listen on %s: permission denied (ports below 1024 need privileges; try --addr :8080)", addr)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return plainf(err, "cannot listen on %s: %v", addr, op.Err)
	}
	return plainf(err, "cannot listen on %s: %v", addr, err)
}

// displayURL is the address to open in a browser on this machine.
func displayURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// lanURLs suggests addresses for other devices when the server listens on
// every interface: this machine's non-loopback IPv4 addresses.
func lanURLs(a net.Addr) []string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || (tcp.IP != nil && !tcp.IP.IsUnspecified()) {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var urls []string
	for _, ia := range addrs {
		ipnet, ok := ia.(*net.IPNet)
		if !ok || ipnet.IP.To4() == nil || ipnet.IP.IsLoopback() || !ipnet.IP.IsGlobalUnicast() {
			continue
		}
		urls = append(urls, "http://"+net.JoinHostPort(ipnet.IP.String(), strconv.Itoa(tcp.Port)))
		if len(urls) == maxLANAddrs {
			break
		}
	}
	return urls
}
