package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"chatserver/chat"
	"chatserver/storage"
)

// backup streams a copy of the database: 200 with the copy's exact
// Content-Length, then the bytes. A copy cut off part way (the store
// failed, the client stopped reading) ends the connection before
// Content-Length bytes, so the client can tell it from a whole one. The
// write deadline moves with every write: a copy may take as long as it
// needs, a client that stops reading is cut off after writeTimeout.
func (h *handler) backup(w http.ResponseWriter, _ *http.Request) {
	if h.store == nil {
		h.fail(w, http.StatusNotFound, CodeNotFound, "this server keeps no database file to copy")
		return
	}
	rc := http.NewResponseController(w)
	// The request was read; its read deadline would only cancel the
	// request's context part way through a long copy.
	_ = rc.SetReadDeadline(time.Time{})
	started := false
	n, err := h.store.Backup(func(size int64) io.Writer {
		started = true
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Content-Length", strconv.FormatInt(size, 10))
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return &deadlineWriter{w: w, rc: rc}
	})
	switch {
	case err == nil:
	case started:
		h.log.Warn("backup cut off", "bytes", n, "err", err)
		// Close the connection short of Content-Length.
		panic(http.ErrAbortHandler)
	case errors.Is(err, storage.ErrClosed):
		h.fail(w, http.StatusServiceUnavailable, chat.CodeUnavailable, "the server is shutting down")
	default:
		h.log.Error("backup failed", "err", err)
		h.fail(w, http.StatusInternalServerError, chat.CodeStoreFailed, "the database could not be read; the server's log says why")
	}
}

// deadlineWriter pushes the connection's write deadline writeTimeout
// ahead before each write, and sends what it was given at once, so that
// the client sees the copy progress.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return 0, err
	}
	n, err := d.w.Write(p)
	if err == nil {
		err = d.rc.Flush()
	}
	return n, err
}

// backupIdle is how long Client.Backup waits for the server's next bytes
// (and for its answer to begin) before it gives up; a variable for tests.
var backupIdle = requestTimeout

// ErrBackupCut is wrapped by Client.Backup when the copy ended before all
// of its bytes arrived: the server failed part way, stopped sending for
// longer than the client waits, or went away. What was written is not a
// usable copy.
var ErrBackupCut = errors.New("the copy was cut off")

// Backup asks the server for a consistent copy of its database (GET
// /backup) and writes it to w, returning how many bytes it wrote. The copy
// may take as long as it needs; a server that sends nothing for 5 seconds
// (or whose answer does not begin within them) is given up on, however
// long the writes to w take. An error wrapping ErrBackupCut means that w
// holds part of a copy only; a refusal is an *Error.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("the server sent nothing for %s", backupIdle)
	watchdog := time.AfterFunc(backupIdle, func() { cancel(stalled) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://chatserver/backup", nil)
	if err != nil {
		return 0, fmt.Errorf("admin request /backup: %w", err)
	}
	// No overall timeout: the watchdog bounds each wait instead.
	hc := &http.Client{Transport: c.http.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, stalled) {
			return 0, fmt.Errorf("backup from %s: %w", c.path, cause)
		}
		return 0, c.requestError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, refusal(resp)
	}
	if resp.ContentLength < 0 {
		return 0, fmt.Errorf("backup from %s: the server did not say how long the copy is", c.path)
	}
	// The watchdog runs only while a read waits on the server, so that
	// slow local writes to w do not count as the server's silence.
	watchdog.Stop()
	body := readerFunc(func(p []byte) (int, error) {
		watchdog.Reset(backupIdle)
		n, err := resp.Body.Read(p)
		watchdog.Stop()
		return n, err
	})
	n, err := io.Copy(w, body)
	switch {
	case err != nil && errors.Is(context.Cause(ctx), stalled):
		return n, fmt.Errorf("backup from %s: %w after %d of %d bytes: %w", c.path, ErrBackupCut, n, resp.ContentLength, stalled)
	case errors.Is(err, io.ErrUnexpectedEOF), err == nil && n != resp.ContentLength:
		return n, fmt.Errorf("backup from %s: %w after %d of %d bytes", c.path, ErrBackupCut, n, resp.ContentLength)
	case err != nil:
		return n, fmt.Errorf("backup from %s: %w", c.path, err)
	}
	return n, nil
}

// readerFunc is an io.Reader made of a function.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
