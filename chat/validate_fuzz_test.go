package chat

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"chatserver/nick"
)

// The validation rules as properties, checked on whatever the fuzzer
// finds (seed corpus in testdata/fuzz; run longer with
// `go test -fuzz FuzzValidateName ./chat`).

// fuzzMaxLen is small so that the fuzzer reaches the length limit often.
const fuzzMaxLen = 8

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"alice", "  bob  ", "", " ", "ALICE", "a\u202eb", "zero\u200bwidth", "tab\tname", "nul\x00",
		"\xff\xfe", "ééééééééé", "😀😀😀😀😀😀😀😀", "a b",
		"alice\u034F", "\u3164", "ａｌｉｃｅ", "аlice", "´bob", "e\u0301\u0301", "ﷺ",
		"\u1F82\u1F82\u1F82\u1F82\u1F82\u1F82\u1F82\u1F82", "´\u03B1\u0313\u0300\u0345\u03B1\u0313\u0300\u0345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := validateName(in, fuzzMaxLen)
		if err != nil {
			if ErrorCode(err) != CodeInvalidName || ErrorMessage(err) == "" {
				t.Fatalf("validateName(%q) refused with %v (code %q), want invalid_name with a message", in, err, ErrorCode(err))
			}
			kept := strings.TrimSpace(nick.Normalize(strings.TrimSpace(in)))
			if strings.Contains(ErrorMessage(err), "longer than") && utf8.ValidString(in) && utf8.RuneCountInString(kept) <= fuzzMaxLen {
				t.Fatalf("validateName(%q) refused as too long, but its NFKC form %q fits", in, kept)
			}
			return
		}
		checkAccepted(t, "nickname", in, got)
		if want := strings.TrimSpace(nick.Normalize(strings.TrimSpace(in))); got != want {
			t.Fatalf("nickname %q accepted as %q, want it trimmed and in NFKC, %q", in, got, want)
		}
		for _, r := range got {
			if r != ' ' && !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) || IsBidiControl(r) || nick.Invisible(r) {
				t.Fatalf("validateName(%q) accepted %q with U+%04X", in, got, r)
			}
		}
		for _, r := range strings.TrimSpace(in) {
			if nick.Invisible(r) {
				t.Fatalf("validateName(%q) accepted the invisible U+%04X", in, r)
			}
		}
		if again, err := validateName(got, fuzzMaxLen); err != nil || again != got {
			t.Fatalf("validateName is not idempotent on %q: %q, %v", got, again, err)
		}
		if k := nick.Key(got); nick.Key(k) != k {
			t.Fatalf("nick.Key(%q) is not stable", got)
		}
	})
}

func FuzzValidateText(f *testing.F) {
	for _, s := range []string{"hello", "  padded\n", "", "\n\t ", "two\nlines", "bell\x07", "read \u202ethis", "\u200d👨\u200d👩",
		"\xc3\x28", "123456789", "🙂🙂🙂🙂🙂🙂🙂🙂🙂", "a\r\nb",
		"zero\u200bwidth", "\ufeffbom", "\u00ad", "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "\U000E0041hidden", "\u3164"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := validateText(in, fuzzMaxLen)
		if err != nil {
			if ErrorCode(err) != CodeInvalidMessage || ErrorMessage(err) == "" {
				t.Fatalf("validateText(%q) refused with %v (code %q), want invalid_message with a message", in, err, ErrorCode(err))
			}
			return
		}
		checkAccepted(t, "message", in, got)
		if want := strings.TrimSpace(strings.Map(dropStripped, in)); strings.Map(dropStripped, got) != want {
			t.Fatalf("message %q accepted as %q, want it trimmed and otherwise unchanged but for stripped characters, %q", in, got, want)
		}
		visible := false
		for i, r := range got {
			if (unicode.IsControl(r) && r != '\n' && r != '\t') || IsBidiControl(r) {
				t.Fatalf("validateText(%q) accepted %q with U+%04X", in, got, r)
			}
			if stripped(r) && !inFlag(got, i) {
				t.Fatalf("validateText(%q) kept U+%04X outside a flag in %q", in, r, got)
			}
			visible = visible || !unicode.IsSpace(r) && !nick.Invisible(r)
		}
		if !visible {
			t.Fatalf("validateText(%q) accepted %q, which shows nothing", in, got)
		}
		if again, err := validateText(got, fuzzMaxLen); err != nil || again != got {
			t.Fatalf("validateText is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

// dropStripped is strings.Map's way of removing every character that
// messages have stripped outside flags.
func dropStripped(r rune) rune {
	if r == 0x200B || r == 0xFEFF || r == 0x00AD || 0xE0000 <= r && r <= 0xE007F {
		return -1
	}
	return r
}

// inFlag reports whether the character at byte i of s belongs to a
// subdivision flag: a black flag, then 3 to 7 tag digits or small letters
// up to a cancel tag.
func inFlag(s string, i int) bool {
	start := strings.LastIndex(s[:i], "\U0001F3F4")
	if start < 0 {
		return false
	}
	tags := 0
	for _, r := range s[start+len("\U0001F3F4"):] {
		switch {
		case r == 0xE007F:
			return tags >= 3 && tags <= 7
		case 0xE0030 <= r && r <= 0xE0039 || 0xE0061 <= r && r <= 0xE007A:
			tags++
		default:
			return false
		}
	}
	return false
}

// checkAccepted checks what both validators promise of an accepted value:
// valid UTF-8, trimmed, 1 to fuzzMaxLen characters.
func checkAccepted(t *testing.T, what, in, got string) {
	t.Helper()
	if !utf8.ValidString(got) {
		t.Fatalf("%s %q accepted as invalid UTF-8 %q", what, in, got)
	}
	if got != strings.TrimSpace(got) {
		t.Fatalf("%s %q accepted as %q, not trimmed", what, in, got)
	}
	if n := utf8.RuneCountInString(got); n < 1 || n > fuzzMaxLen {
		t.Fatalf("%s %q accepted with %d characters, want 1 to %d", what, in, n, fuzzMaxLen)
	}
}
