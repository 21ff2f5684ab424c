// Package logger turns the lines of a *log.Logger, for the libraries that
// want one (http.Server.ErrorLog), into log/slog lines, throttled so that
// a client provoking them in a loop (bad TLS handshakes, say) cannot
// flood the log.
package logger

import (
	"bytes"
	"log"
	"net"
	"strings"
)

// Lines is what New writes to: a throttle.Log.
type Lines interface {
	// Print logs msg with args unless lines of msg about key are held
	// back.
	Print(key, msg string, args ...any)
}

// keyWords is how many of a line's first words name its kind when it
// names no client: "http: panic serving" of "http: panic serving
// 192.0.2.7:4242: ...".
const keyWords = 3

// fromWord precedes the client address in the lines that name one:
// "http: TLS handshake error from 192.0.2.7:4242: EOF".
const fromWord = "from"

// New returns a logger that hands each line, without the trailing
// newline, to lines as one line of message msg with the text as its "err"
// attribute. A line that names its client ("... from HOST:PORT: ...") is
// throttled by the client, group(HOST) (HOST itself when group is nil),
// so that one client's failed handshakes do not hide another's; any other
// line by its first words.
func New(lines Lines, msg string, group func(host string) string) *log.Logger {
	if group == nil {
		group = func(host string) string { return host }
	}
	return log.New(writer{lines: lines, msg: msg, group: group}, "", 0)
}

// writer sends what a log.Logger writes, one line a call, to lines.
type writer struct {
	lines Lines
	msg   string
	group func(host string) string
}

func (w writer) Write(p []byte) (int, error) {
	text := string(bytes.TrimRight(p, "\n"))
	w.lines.Print(w.keyOf(text), w.msg, "err", text)
	return len(p), nil
}

// keyOf returns the client of text, grouped, when text names one after
// fromWord, else its first keyWords words.
func (w writer) keyOf(text string) string {
	words := strings.Fields(text)
	for i, word := range words[:max(len(words)-1, 0)] {
		if word != fromWord {
			continue
		}
		addr, ok := strings.CutSuffix(words[i+1], ":")
		if !ok {
			break
		}
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
			return w.group(host)
		}
		break
	}
	return strings.Join(words[:min(len(words), keyWords)], " ")
}
