// Package logger turns the lines of a *log.Logger, for the libraries that
// want one (http.Server.ErrorLog), into log/slog lines, throttled so that
// a client provoking them in a loop (bad TLS handshakes, say) cannot
// flood the log.
package logger

import (
	"bytes"
	"log"
	"strings"
)

// Lines is what New writes to: a throttle.Log.
type Lines interface {
	// Print logs msg with args unless lines of msg about key are held
	// back.
	Print(key, msg string, args ...any)
}

// keyWords is how many of a line's first words name its kind: "http: TLS
// handshake" of "http: TLS handshake error from 192.0.2.7:4242: EOF".
const keyWords = 3

// New returns a logger that hands each line, without the trailing
// newline, to lines as one line of message msg with the text as its "err"
// attribute, throttled by the line's first words.
func New(lines Lines, msg string) *log.Logger {
	return log.New(writer{lines: lines, msg: msg}, "", 0)
}

// writer sends what a log.Logger writes, one line a call, to lines.
type writer struct {
	lines Lines
	msg   string
}

func (w writer) Write(p []byte) (int, error) {
	text := string(bytes.TrimRight(p, "\n"))
	w.lines.Print(kindOf(text), w.msg, "err", text)
	return len(p), nil
}

// kindOf returns the first keyWords words of text.
func kindOf(text string) string {
	words := strings.Fields(text)
	return strings.Join(words[:min(len(words), keyWords)], " ")
}
