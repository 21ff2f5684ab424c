// Package logger turns a printf-style log function, the Logf of
// chatserver's configs, into a *log.Logger for the libraries that want
// one (http.Server.ErrorLog).
package logger

import (
	"bytes"
	"log"
)

// New returns a logger that hands each line to logf, prefixed with prefix
// and without the trailing newline. logf must not be nil.
func New(logf func(format string, args ...any), prefix string) *log.Logger {
	return log.New(writer{logf}, prefix, 0)
}

// writer sends what a log.Logger writes, one line a call, through logf.
type writer struct{ logf func(string, ...any) }

func (w writer) Write(p []byte) (int, error) {
	w.logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
