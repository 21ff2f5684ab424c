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
		"\xff\xfe", "ééééééééé", "😀😀😀😀😀😀😀😀", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := validateName(in, fuzzMaxLen)
		if err != nil {
			if ErrorCode(err) != CodeInvalidName || ErrorMessage(err) == "" {
				t.Fatalf("validateName(%q) refused with %v (code %q), want invalid_name with a message", in, err, ErrorCode(err))
			}
			return
		}
		checkAccepted(t, "nickname", in, got)
		for _, r := range got {
			if r != ' ' && !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) || isBidiControl(r) {
				t.Fatalf("validateName(%q) accepted %q with U+%04X", in, got, r)
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
		"\xc3\x28", "123456789", "🙂🙂🙂🙂🙂🙂🙂🙂🙂", "a\r\nb"} {
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
		for _, r := range got {
			if (unicode.IsControl(r) && r != '\n' && r != '\t') || isBidiControl(r) {
				t.Fatalf("validateText(%q) accepted %q with U+%04X", in, got, r)
			}
		}
		if again, err := validateText(got, fuzzMaxLen); err != nil || again != got {
			t.Fatalf("validateText is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

// checkAccepted checks what both validators promise of an accepted value:
// valid UTF-8, the input trimmed, 1 to fuzzMaxLen characters.
func checkAccepted(t *testing.T, what, in, got string) {
	t.Helper()
	if !utf8.ValidString(got) {
		t.Fatalf("%s %q accepted as invalid UTF-8 %q", what, in, got)
	}
	if got != strings.TrimSpace(in) {
		t.Fatalf("%s %q accepted as %q, want it trimmed and otherwise unchanged", what, in, got)
	}
	if n := utf8.RuneCountInString(got); n < 1 || n > fuzzMaxLen {
		t.Fatalf("%s %q accepted with %d characters, want 1 to %d", what, in, n, fuzzMaxLen)
	}
}
