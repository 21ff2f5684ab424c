package chat

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"chatserver/nick"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" when refused
		refusal  string // part of the refusal's message
	}{
		{"plain", "alice", "alice", ""},
		{"trimmed", "  bob  ", "bob", ""},
		{"case kept", "Alice", "Alice", ""},
		{"inner space", "a b", "a b", ""},
		{"full-width letters are held in NFKC", "ａｌｉｃｅ", "alice", ""},
		{"a ligature is held in NFKC", "ﬁona", "fiona", ""},
		{"a decomposed accent is composed", "e\u0301mile", "émile", ""},
		{"a look-alike is held as sent", "аlice", "аlice", ""}, // Cyrillic а; the room refuses it while alice is present
		{"NFKC that starts with a space is trimmed", "\u00B4bob", "\u0301bob", ""},
		{"the limit applies to the NFKC form", strings.Repeat("e\u0301", 32), strings.Repeat("é", 32), ""},
		{"emoji", "😀", "😀", ""},
		{"four characters sent make one kept", strings.Repeat("\u03B1\u0313\u0300\u0345", 32), strings.Repeat("\u1F82", 32), ""},

		// Invisible characters, each after "alice" and alone.
		{"combining grapheme joiner", "alice\u034F", "", "U+034F"},
		{"variation selector 1", "alice\uFE00", "", "U+FE00"},
		{"variation selector 16", "alice\uFE0F", "", "U+FE0F"},
		{"Khmer inherent vowel", "alice\u17B4", "", "U+17B4"},
		{"Hangul filler", "alice\u3164", "", "U+3164"},
		{"Braille blank", "alice\u2800", "", "U+2800"},
		{"zero-width space", "alice\u200B", "", "U+200B"},
		{"zero-width joiner", "alice\u200D", "", "U+200D"},
		{"soft hyphen", "ali\u00ADce", "", "U+00AD"},
		{"byte order mark", "\uFEFFalice", "", "U+FEFF"},
		{"tag character", "alice\U000E0041", "", "U+E0041"},
		{"Mongolian free variation selector", "alice\u180B", "", "U+180B"},
		{"Hangul choseong filler alone", "\u115F", "", "U+115F"},
		{"Hangul jungseong filler alone", "\u1160", "", "U+1160"},
		{"halfwidth Hangul filler alone", "\uFFA0", "", "U+FFA0"},
		{"combining grapheme joiners alone", "\u034F\u034F", "", "U+034F"},
		{"variation selectors alone", "\uFE0F\uFE0F", "", "U+FE0F"},
		{"Hangul fillers alone", "\u3164\u3164", "", "U+3164"},
		{"Braille blank alone", "\u2800", "", "U+2800"},

		// The rules as they were.
		{"empty", "", "", "empty"},
		{"blank", " \t ", "", "empty"},
		{"too long", strings.Repeat("n", 33), "", "longer than 32"},
		{"NFKC too long", "ﷺ" + strings.Repeat("n", 20), "", "longer than 32"}, // one character, 18 in NFKC
		{"bidi override", "evil\u202Eeman", "", "U+202E"},
		{"control character", "nul\x00l", "", "U+0000"},
		{"no-break space inside", "a\u00A0b", "", "U+00A0"},
		{"invalid UTF-8", "\xff", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validateName(tt.in, DefaultMaxNameLen)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("validateName(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("validateName(%+q) = %+q, want a refusal", tt.in, got)
			}
			if ErrorCode(err) != CodeInvalidName || !strings.Contains(ErrorMessage(err), tt.refusal) {
				t.Fatalf("validateName(%+q) refused with %q (%s), want invalid_name saying %q", tt.in, ErrorMessage(err), ErrorCode(err), tt.refusal)
			}
		})
	}
}

func TestValidateText(t *testing.T) {
	const england = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F" // black flag, "gbeng", cancel tag
	tests := []struct {
		name, in string
		want     string // "" when refused
		refusal  string // part of the refusal's message
	}{
		{"plain", "hello", "hello", ""},
		{"trimmed", "  padded\n", "padded", ""},
		{"lines and tabs", "two\nlines\tand a tab", "two\nlines\tand a tab", ""},

		// Stripped.
		{"zero-width space", "zero\u200Bwidth", "zerowidth", ""},
		{"byte order mark", "\uFEFFhello", "hello", ""},
		{"soft hyphen", "hy\u00ADphen", "hyphen", ""},
		{"tag characters smuggling text", "hi\U000E0068\U000E0069\U000E0064\U000E0065", "hi", ""},
		{"stripped then trimmed", "\u200B hello \uFEFF", "hello", ""},

		// Kept: what emoji and scripts need.
		{"zero-width joiner in an emoji", "👨\u200D👩\u200D👧", "👨\u200D👩\u200D👧", ""},
		{"variation selector 16", "❤\uFE0F", "❤\uFE0F", ""},
		{"variation selector 15", "☺\uFE0E", "☺\uFE0E", ""},
		{"zero-width non-joiner in Persian", "می\u200Cخواهم", "می\u200Cخواهم", ""},
		{"the flag of England", "go " + england, "go " + england, ""},
		{"a flag's tags not after a black flag", "x\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "x", ""},
		{"a flag's tags without a cancel tag", "\U0001F3F4\U000E0067\U000E0062\U000E0065", "\U0001F3F4", ""},
		{"a flag's tags too few", "\U0001F3F4\U000E0067\U000E0062\U000E007F", "\U0001F3F4", ""},
		{"Braille blank in Braille", "\u2803\u2800\u2803", "\u2803\u2800\u2803", ""},

		// Refused.
		{"only a zero-width space", "\u200B", "", "empty"},
		{"only stripped characters and spaces", " \uFEFF\u00AD \u200B\n", "", "empty"},
		{"only tag characters", "\U000E0041\U000E0042", "", "empty"},
		{"only a Hangul filler", "\u3164", "", "empty"},
		{"only Braille blanks", "\u2800\u2800", "", "empty"},
		{"only a zero-width joiner", "\u200D", "", "empty"},
		{"empty", "", "", "empty"},
		{"blank", " \n\t ", "", "empty"},
		{"too long", strings.Repeat("m", 2001), "", "longer than 2000"},
		{"bidi override", "read \u202Ethis", "", "U+202E"},
		{"control character", "bell\x07", "", "U+0007"},
		{"invalid UTF-8", "\xc3\x28", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validateText(tt.in, DefaultMaxMessageLen)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("validateText(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("validateText(%+q) = %+q, want a refusal", tt.in, got)
			}
			if ErrorCode(err) != CodeInvalidMessage || !strings.Contains(ErrorMessage(err), tt.refusal) {
				t.Fatalf("validateText(%+q) refused with %q (%s), want invalid_message saying %q", tt.in, ErrorMessage(err), ErrorCode(err), tt.refusal)
			}
		})
	}
}

func TestCheckTopic(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
		refusal  string // part of the refusal's message; "" when kept
	}{
		{"plain", "board games on Friday", "board games on Friday", ""},
		{"none", "", "", ""},
		{"blank is none", "  \t ", "", ""},
		{"trimmed", "  homework help  ", "homework help", ""},
		{"invisible characters stripped", "ga\u200Bmes\uFEFF", "games", ""},
		{"at the limit", strings.Repeat("t", MaxTopicLen), strings.Repeat("t", MaxTopicLen), ""},
		{"too long", strings.Repeat("t", MaxTopicLen+1), "", "longer than 200"},
		{"two lines", "two\nlines", "", "one line"},
		{"a tab", "a\ttab", "", "U+0009"},
		{"bidi override", "read \u202Ethis", "", "U+202E"},
		{"invalid UTF-8", "\xc3\x28", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckTopic(tt.in)
			if tt.refusal == "" {
				if err != nil || got != tt.want {
					t.Fatalf("CheckTopic(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
				}
				return
			}
			if ErrorCode(err) != CodeInvalidRoom || !strings.Contains(ErrorMessage(err), tt.refusal) {
				t.Fatalf("CheckTopic(%+q) = %+q, %v (%s); want invalid_room saying %q", tt.in, got, err, ErrorCode(err), tt.refusal)
			}
		})
	}
}

// TestLookAlikesOfAPresentNicknameAreRefused joins alice and tries each
// look-alike of her nickname: one that compares equal to it (nick.Key) is
// taken, one with an invisible character is invalid; the nickname shown is
// the NFKC form.
func TestLookAlikesOfAPresentNicknameAreRefused(t *testing.T) {
	f := newFixture(t, Config{})
	f.join(t, "alice")
	for _, tt := range []struct {
		name string
		code Code
	}{
		{"ALICE", CodeNameTaken},
		{"аlice", CodeNameTaken},         // CYRILLIC SMALL LETTER A
		{"ａｌｉｃｅ", CodeNameTaken},         // FULLWIDTH LATIN SMALL LETTERs
		{"аⅼіcе", CodeNameTaken},         // Cyrillic а і е, SMALL ROMAN NUMERAL FIFTY
		{"a|ice", CodeNameTaken},         // VERTICAL LINE
		{"alice\u034F", CodeInvalidName}, // COMBINING GRAPHEME JOINER
		{"alice\uFE00", CodeInvalidName}, // VARIATION SELECTOR-1
		{"alice\u17B4", CodeInvalidName}, // KHMER VOWEL INHERENT AQ
		{"alice\u3164", CodeInvalidName}, // HANGUL FILLER
		{"alice\u2800", CodeInvalidName}, // BRAILLE PATTERN BLANK
		{"\u034F", CodeInvalidName},
		{"\uFE0F", CodeInvalidName},
		{"\u3164", CodeInvalidName},
		{"\u115F", CodeInvalidName},
	} {
		_, err := f.connect(&recConn{}, Peer{}).Join(tt.name, "")
		if got := ErrorCode(err); got != tt.code {
			t.Errorf("Join(%+q) with alice present: %v (code %q), want %q", tt.name, err, got, tt.code)
		}
	}
	bob, _ := f.join(t, "ｂｏｂ")
	if got := bob.Name(); got != "bob" {
		t.Errorf("joined as ｂｏｂ, named %q, want bob", got)
	}
}

// TestBanCoversLookAlikes bans spammer: the Cyrillic look-alike is banned
// too, and the one with an invisible character is refused outright.
func TestBanCoversLookAlikes(t *testing.T) {
	f := newFixture(t, Config{})
	f.join(t, "spammer")
	if _, err := f.kick("spammer", "spam", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		code Code
	}{
		{"spammer", CodeBanned},
		{"ѕрammer", CodeBanned}, // CYRILLIC SMALL LETTER DZE and ER
		{"ＳＰＡＭＭＥＲ", CodeBanned},
		{"spammer\u034F", CodeInvalidName},
	} {
		_, err := f.connect(&recConn{}, Peer{}).Join(tt.name, "")
		if got := ErrorCode(err); got != tt.code {
			t.Errorf("Join(%+q) with spammer banned: %v (code %q), want %q", tt.name, err, got, tt.code)
		}
	}
}

// TestALongNicknameIsRefusedBeforeNormalizing sends nicknames too long to
// fit in any form: they are refused as too long without being brought to
// NFKC, which would make each U+FDFA 18 characters, so refusing one
// allocates less than the name's own size (its normalized copy would be
// larger).
func TestALongNicknameIsRefusedBeforeNormalizing(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"a megabyte of U+FDFA", strings.Repeat("\uFDFA", 1<<20/3)},
		{"one character past the bound", strings.Repeat("\uFDFA", maxRawNameLen(DefaultMaxNameLen)+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			allocated := allocatedBy(func() { _, err = validateName(tt.in, DefaultMaxNameLen) })
			if ErrorCode(err) != CodeInvalidName || !strings.Contains(ErrorMessage(err), "longer than 32") {
				t.Fatalf("refused with %v, want invalid_name saying longer than 32", err)
			}
			if allocated >= uint64(len(tt.in)) {
				t.Fatalf("refusing a name of %d bytes allocated %d bytes, want less than the name", len(tt.in), allocated)
			}
		})
	}
}

// allocatedBy returns the fewest bytes that f allocated in three runs
// (the fewest, so that what other goroutines allocate meanwhile counts
// less).
func allocatedBy(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestTheRawLengthBoundFitsEveryNormalizedNickname checks, over every
// character, the two facts that maxRawNameLen relies on to never refuse a
// nickname whose NFKC form fits: a character of NFKC form decomposes into
// at most maxComposed characters (NFKC is NFKD composed again, and NFKD
// never drops a character, so at most maxComposed characters sent make one
// kept), and the NFKC form of a character the rules let through
// (printable, not a space) starts with at most one space (the one trimmed
// from "´", U+00B4), ends with none and is not blank.
func TestTheRawLengthBoundFitsEveryNormalizedNickname(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		if norm.NFKC.IsNormalString(s) {
			if n := utf8.RuneCountInString(norm.NFKD.String(s)); n > maxComposed {
				t.Errorf("U+%04X decomposes into %d characters, more than maxComposed (%d)", r, n, maxComposed)
			}
			continue // its own NFKC form: no space is brought in
		}
		if checkNameChars(s) != nil || unicode.IsSpace(r) {
			continue
		}
		nfkc := nick.Normalize(s)
		trimmed := strings.TrimLeftFunc(nfkc, unicode.IsSpace)
		if lead := utf8.RuneCountInString(nfkc) - utf8.RuneCountInString(trimmed); lead > 1 {
			t.Errorf("U+%04X is %+q in NFKC: %d spaces before it, want 1 at most", r, nfkc, lead)
		}
		if trimmed == "" || strings.TrimRightFunc(nfkc, unicode.IsSpace) != nfkc {
			t.Errorf("U+%04X is %+q in NFKC: blank, or a space after it", r, nfkc)
		}
	}
}
