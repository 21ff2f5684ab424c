package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/rueidis"

	"chatserver/storage"
	"chatserver/storage/bolt"
	"chatserver/storage/redis"
	"chatserver/web/admin"
)

// maxCheckColumn bounds where --check aligns the origins of the settings.
const maxCheckColumn = 44

// checkResult is one thing --check looked at: what, what it found, or the
// problem that would stop serve.
type checkResult struct {
	what  string
	found string
	err   error
}

// check is `serve --check` once the settings are valid (resolve): it looks
// at the database, the admin socket and the addresses as serve would use
// them, without creating, changing or keeping hold of anything, and prints
// what it found and then the effective settings, each with where it came
// from; that part is itself a configuration file. The first problem found
// is returned after the report.
func (o *serveOptions) check(out io.Writer, r *resolved) error {
	db := o.db
	if abs, err := filepath.Abs(db); err == nil {
		db = abs
	}
	settings := "valid, no config file"
	if r.file != "" {
		by := "--" + configFlag
		if r.fileOrigin.kind == fromEnv {
			by = r.fileOrigin.env
		}
		settings = fmt.Sprintf("valid, config file %s (given by %s)", r.file, by)
	}
	results := []checkResult{{what: "settings", found: settings}}
	if o.redis.url == "" {
		found, err := checkDatabase(db)
		results = append(results, checkResult{what: "database " + db, found: found, err: err})
	} else {
		found, err := checkRedis(o.redis)
		results = append(results, checkResult{what: "Redis at " + o.redisWhere, found: found, err: err})
	}
	found, err := checkAdminSocket(admin.SocketPath(db))
	results = append(results, checkResult{what: "admin socket " + admin.SocketPath(db), found: found, err: err})
	results = append(results, checkAddresses(o.addr, o.metricsAddr)...)

	var b strings.Builder
	b.WriteString("# chatserver serve --check\n")
	var problems []error
	for _, res := range results {
		if res.err != nil {
			problems = append(problems, res.err)
			fmt.Fprintf(&b, "# %s: PROBLEM: %v\n", res.what, res.err)
			continue
		}
		fmt.Fprintf(&b, "# %s: %s\n", res.what, res.found)
	}
	switch len(problems) {
	case 0:
		b.WriteString("# serve would start with these settings:\n")
	case 1:
		b.WriteString("# serve would not start now: 1 problem above. The settings:\n")
	default:
		fmt.Fprintf(&b, "# serve would not start now: %d problems above. The settings:\n", len(problems))
	}
	for i, s := range r.settings {
		if s.key == redisFlag && o.redis.url != "" {
			// The report is shown and kept: never the password.
			r.settings[i].value = tomlString(redis.Redacted(o.redis.url))
		}
	}
	width := 0
	for _, s := range r.settings {
		if n := len(s.key) + len(" = ") + len(s.value); n > width && n <= maxCheckColumn {
			width = n
		}
	}
	for _, s := range r.settings {
		line := s.key + " = " + s.value
		fmt.Fprintf(&b, "%-*s  # %s\n", width, line, s.origin)
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if len(problems) > 0 {
		return problems[0]
	}
	return nil
}

// checkDatabase tells whether serve could open the database at path, and
// what the file holds, without creating or changing it. A file a running
// server holds is a problem: serve would fail on it until that server
// stops.
func checkDatabase(path string) (string, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkCreatable(path)
	case err != nil:
		return "", openError(path, err)
	case info.IsDir():
		return "", plainf(nil, "%s is a directory, not a database file", path)
	}
	// serve opens the file read-write; opening it so, writing nothing,
	// checks the permission.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", openError(path, err)
	}
	f.Close()
	if info.Size() == 0 {
		return "an empty file, which serve will set up as a new database", nil
	}
	st, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if errors.Is(err, storage.ErrLocked) {
		sock := admin.SocketPath(path)
		if c, dialErr := admin.Dial(sock); dialErr == nil {
			c.Close()
			return "", plainf(err, "%s is in use by a running chatserver (it answers on %s); serve would fail on it until that server stops", path, sock)
		}
		return "", plainf(err, "%s is locked by another process (a chatserver starting or stopping, or another program); serve would fail on it", path)
	}
	if err != nil {
		return "", openError(path, err)
	}
	defer st.Close()
	rooms, err := st.Rooms(context.Background())
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	msgs := 0
	for _, r := range rooms {
		msgs += r.Messages
	}
	return fmt.Sprintf("a chatserver database holding %s in %s, not in use", plural(msgs, "message"), plural(len(rooms), "room")), nil
}

// checkRedis tells whether serve could use the Redis of r, and what it
// holds under the prefix, reading only.
func checkRedis(r redisOptions) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), redisAttemptTimeout)
	defer cancel()
	client, where, err := dialRedis(ctx, r.url)
	if err != nil {
		if redisRetriable(err) {
			return "", plainf(err, "%v; serve would start and wait for it", err)
		}
		return "", err
	}
	defer client.Close()
	app, err := client.Do(ctx, client.B().Hget().Key(r.prefix+"meta").Field("app").Build()).ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return fmt.Sprintf("answers; nothing under the prefix %s yet, which serve will set up", r.prefix), nil
	case err != nil:
		return "", redisDialError(where, err)
	case app != "chatserver":
		return "", plainf(storage.ErrNotChatserver, "Redis at %s holds another program's data under the prefix %s (its meta hash names %q); serve would refuse it", where, r.prefix, app)
	}
	rooms, err := client.Do(ctx, client.B().Scard().Key(r.prefix+"rooms").Build()).AsInt64()
	if err != nil {
		return "", redisDialError(where, err)
	}
	return fmt.Sprintf("answers, holding chatserver's data under the prefix %s in %s", r.prefix, plural(int(rooms), "room")), nil
}

// checkCreatable tells whether serve could create the database at path,
// by creating and removing a file beside it.
func checkCreatable(path string) (string, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".chatserver-check-*")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", plainf(err, "%s does not exist, and neither does its directory %s", path, dir)
	case errors.Is(err, fs.ErrPermission):
		return "", plainf(err, "%s does not exist and cannot be created: no permission to write in %s", path, dir)
	case err != nil:
		return "", plainf(err, "%s does not exist and cannot be created in %s: %v", path, dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return "", fmt.Errorf("remove the trial file %s: %w", name, err)
	}
	return "does not exist yet; serve will create it", nil
}

// checkAdminSocket tells whether serve could listen on the admin socket
// at path: it fits in a socket address and no server answers on it.
func checkAdminSocket(path string) (string, error) {
	c, err := admin.Dial(path)
	switch {
	case err == nil:
		c.Close()
		return "", plainf(admin.ErrInUse, "a chatserver answers on %s; serve would fail until that server stops", path)
	case errors.Is(err, admin.ErrPathTooLong):
		return "", plainf(err, "the admin socket path %s is too long for a Unix socket (%d bytes, at most %d); keep the database in a shorter path",
			path, len(path), admin.MaxPathLen)
	case errors.Is(err, admin.ErrNoServer):
		return "free", nil
	default:
		return "", fmt.Errorf("admin socket: %w", err)
	}
}

// checkAddresses tells whether serve could listen on addr and, when it is
// set, on metricsAddr (--metrics-addr): it listens on both at once, as
// serve does, and closes them.
func checkAddresses(addr, metricsAddr string) []checkResult {
	ln, found, err := checkAddress(addr, listenError)
	results := []checkResult{{what: "address " + addr, found: found, err: err}}
	if metricsAddr != "" {
		metricsLn, found, err := checkAddress(metricsAddr, func(addr string, err error) error {
			return listenErrorFor("metrics-addr", "127.0.0.1:9100", addr, err)
		})
		results = append(results, checkResult{what: "metrics address " + metricsAddr, found: found, err: err})
		results = closeTrial(results, metricsLn, metricsAddr)
	}
	return closeTrial(results, ln, addr)
}

// checkAddress listens on addr, as serve would, and returns the listener
// (nil when it failed) and what it found; explain turns a failure into
// the error serve would give.
func checkAddress(addr string, explain func(addr string, err error) error) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", explain(addr, err)
	}
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		return ln, "free (port 0: serve takes a free port of the system's choosing)", nil
	}
	return ln, "free", nil
}

// closeTrial closes ln, the trial listener on addr unless nil, and adds a
// failure to close it to results.
func closeTrial(results []checkResult, ln net.Listener, addr string) []checkResult {
	if ln == nil {
		return results
	}
	if err := ln.Close(); err != nil {
		results = append(results, checkResult{what: "address " + addr, err: fmt.Errorf("close the trial listener on %s: %w", addr, err)})
	}
	return results
}
