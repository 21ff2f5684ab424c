package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chatserver/storage"
)

func TestPrintableEscapesWhatDrivesATerminal(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		text, nick string // printable with and without layout
		unchanged  bool
	}{
		{name: "plain text", in: "hello, wörld 👋 <b>&</b> \\x1b", unchanged: true},
		{name: "escape sequence", in: "\x1b[2J\x1b]0;title\x07", text: `\x1b[2J\x1b]0;title\x07`, nick: `\x1b[2J\x1b]0;title\x07`},
		{name: "NUL, CR, DEL", in: "a\x00b\rc\x7f", text: `a\x00b\x0dc\x7f`, nick: `a\x00b\x0dc\x7f`},
		{name: "C1 controls", in: "\u0085\u009b31m", text: `\u0085\u009b31m`, nick: `\u0085\u009b31m`},
		{name: "bidi overrides and isolates", in: "\u202eexe.txt\u2066\u200f\u061c", text: `\u202eexe.txt\u2066\u200f\u061c`, nick: `\u202eexe.txt\u2066\u200f\u061c`},
		{name: "line breaks and tabs", in: "a\tb\nc", text: "a\tb\nc", nick: `a\x09b\x0ac`},
		{name: "not UTF-8", in: "a\xffb\xc3", text: `a\xffb\xc3`, nick: `a\xffb\xc3`},
		{name: "replacement character itself", in: "a\ufffdb", unchanged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unchanged {
				tc.text, tc.nick = tc.in, tc.in
			}
			if got := printable(tc.in, true); got != tc.text {
				t.Errorf("printable(%q, layout) = %q, want %q", tc.in, got, tc.text)
			}
			if got := printable(tc.in, false); got != tc.nick {
				t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.nick)
			}
		})
	}
}

func TestHistoryJSONEscapesWhatDrivesATerminal(t *testing.T) {
	msgs := []storage.Message{{ID: 1, Name: "a\u202eb", Text: "\x1b[2J\x7f\u0085\u2067<&>", Time: time.Unix(0, 0)}}
	var out bytes.Buffer
	if err := writeJSON(&out, msgs); err != nil {
		t.Fatal(err)
	}
	for _, r := range out.String() {
		if r != '\n' && unsafeRune(r, false) {
			t.Errorf("JSON output holds %U:\n%s", r, out.String())
		}
	}
	if !strings.Contains(out.String(), `<&>`) {
		t.Errorf("JSON output escaped HTML characters: %s", out.String())
	}
	var got []struct{ Name, Text string }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(got) != 1 || got[0].Name != msgs[0].Name || got[0].Text != msgs[0].Text {
		t.Errorf("decoded %+v, want the message unchanged", got)
	}
}

func TestWarnExposed(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want string // "" for no warning
	}{
		{"private", 0o600, ""},
		{"group may read", 0o640, ""},
		{"everyone may read", 0o644, "is readable by every user (mode 0644)"},
		{"everyone may write", 0o606, "is readable by every user (mode 0606)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			var w bytes.Buffer
			warnExposed(&w, path)
			switch {
			case tc.want == "" && w.Len() > 0:
				t.Errorf("warned %q", w.String())
			case tc.want != "" && (strings.Count(w.String(), "\n") != 1 || !strings.Contains(w.String(), tc.want) ||
				!strings.HasPrefix(w.String(), "chatserver: warning: "+path+" ")):
				t.Errorf("warned %q, want one line naming %s and saying %q", w.String(), path, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		var w bytes.Buffer
		warnExposed(&w, filepath.Join(dir, "missing.db"))
		if w.Len() > 0 {
			t.Errorf("warned %q", w.String())
		}
	})
}
