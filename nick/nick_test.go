package nick

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"alice", "alice", true},
		// Letter case, by every case mapping Unicode has.
		{"Alice", "aLiCe", true},
		{"ALICE", "alice", true},
		{"ας", "ΑΣ", true}, // final sigma: strings.ToLower("ΑΣ") is "ασ"
		{"ας", "ασ", true},
		{"Σοφία", "σοφία", true},
		{"Kelvin", "\u212Aelvin", true}, // KELVIN SIGN
		{"ſam", "Sam", true},            // LATIN SMALL LETTER LONG S
		{"Straße", "STRAẞE", true},      // CAPITAL SHARP S
		{"Ǆemal", "ǆemal", true},        // a title-case digraph and its lower case
		{"ǅemal", "ǆemal", true},
		{"Émile", "émile", true},
		{"ılık", "ILIK", true}, // the dotless i is case-mapped to I
		// NFKC: compatibility forms and canonical equivalents.
		{"ａｌｉｃｅ", "alice", true},       // FULLWIDTH LATIN SMALL LETTERs
		{"ＡＬＩＣＥ", "alice", true},       // FULLWIDTH LATIN CAPITAL LETTERs
		{"𝐚𝐥𝐢𝐜𝐞", "alice", true},       // MATHEMATICAL BOLD SMALL LETTERs
		{"ﬁona", "fiona", true},        // LATIN SMALL LIGATURE FI
		{"e\u0301mile", "émile", true}, // decomposed and precomposed é
		{"bob²", "bob2", true},         // SUPERSCRIPT TWO
		{"ᾳ", "ΑΙ", true},              // the iota subscript folds to ι, as in Unicode's full case folding
		{"ᾳ", "α\u0345", true},         // …wherever it is written
		// Look-alikes: the confusable skeleton.
		{"аlice", "alice", true},     // CYRILLIC SMALL LETTER A
		{"АLICE", "alice", true},     // CYRILLIC CAPITAL LETTER A
		{"ѕрammer", "spammer", true}, // CYRILLIC DZE and ER
		{"ѕрammer", "SPAMMER", true},
		{"αlice", "alice", true},       // GREEK SMALL LETTER ALPHA
		{"аⅼіcе", "alice", true},       // Cyrillic а і е and SMALL ROMAN NUMERAL FIFTY
		{"al1ce", "allce", true},       // DIGIT ONE passes for a small L
		{"a|ice", "alice", true},       // VERTICAL LINE
		{"bob0", "bobo", true},         // DIGIT ZERO passes for a small O
		{"modern", "rnodern", true},    // m and rn
		{"bjørn", "bjo\u0338rn", true}, // o with stroke and o with a combining solidus
		{"ＡＬＩСЕ", "alice", true},       // full-width Latin and Cyrillic capitals mixed
		{"don’t", "don't", true},       // RIGHT SINGLE QUOTATION MARK
		{"x‐y", "x-y", true},           // HYPHEN
		{"Ирина", "Иpинa", true},       // Cyrillic р and а against Latin p and a
		{"Ирина", "ирина", true},
		{"李小龍", "李小龍", true},
		// Different nicknames.
		{"alice", "alicia", false},
		{"alice", "bob", false},
		{"a b", "ab", false},
		{"ss", "ß", false},              // Key maps letter case one character to one
		{"alice", "alice\u034F", false}, // invisible characters are refused, not ignored (Invisible)
		{"émile", "emile", false},       // an accent is not a look-alike
		{"ирина", "ирана", false},
		{"\xff", "\uFFFD", true}, // invalid UTF-8
	}
	for _, tt := range tests {
		t.Run(tt.a+"|"+tt.b, func(t *testing.T) {
			ka, kb := Key(tt.a), Key(tt.b)
			if (ka == kb) != tt.same {
				t.Errorf("Key(%q) = %q, Key(%q) = %q; same = %v, want %v", tt.a, ka, tt.b, kb, ka == kb, tt.same)
			}
		})
	}
}

func TestKeyOfAPlainNameIsItsLowerCaseDecomposed(t *testing.T) {
	for _, name := range []string{"alice", "Bob", "ÉLISE", "李小龍", "bob_42", "Zoë"} {
		if got, want := Key(name), norm.NFD.String(strings.ToLower(name)); got != want {
			t.Errorf("Key(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"alice", "alice"},
		{"Alice", "Alice"}, // the case is kept
		{"ａｌｉｃｅ", "alice"},
		{"ＡＬＩＣＥ", "ALICE"},
		{"ﬁona", "fiona"},
		{"e\u0301mile", "émile"},
		{"аlice", "аlice"}, // a look-alike is kept as it is
	} {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// oldFold is the definition of the same nickname before Key equated
// look-alikes: bans written then are stored under it.
func oldFold(s string) string { return strings.Map(fold, s) }

// TestKeyProperties checks, for every character, what the rest of the
// program relies on: a key is its own key; the keys of earlier definitions
// (strings.ToLower, the case folding alone) give the key of the name, so
// stored bans are re-keyed correctly; whatever strings.EqualFold equates
// has one key.
func TestKeyProperties(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		k := Key(s)
		if Key(k) != k {
			t.Errorf("Key(Key(%U)) = %q, want %q", r, Key(k), k)
		}
		if kl := Key(strings.ToLower(s)); kl != k {
			t.Errorf("Key(ToLower(%U)) = %q, want Key(%U) = %q", r, kl, r, k)
		}
		if ko := Key(oldFold(s)); ko != k {
			t.Errorf("Key(oldFold(%U)) = %q, want Key(%U) = %q", r, ko, r, k)
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if kf := Key(string(f)); kf != k {
				t.Errorf("EqualFold(%U, %U) but their keys %q and %q differ", r, f, k, kf)
			}
		}
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"alice", "ALICE", "аlice", "ａｌｉｃｅ", "ѕрammer", "spammer\u034F", "ᾳ\u0345", "e\u0301\u0345",
		"İ", "\xff", "", "m0m1", "ǅ\u0301", "ﬃ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Key(s)
		if !utf8.ValidString(k) {
			t.Fatalf("Key(%+q) = %+q, not valid UTF-8", s, k)
		}
		if kk := Key(k); kk != k {
			t.Fatalf("Key(Key(%+q)) = %+q, want %+q", s, kk, k)
		}
		if kl := Key(strings.ToLower(s)); kl != k {
			t.Fatalf("Key(ToLower(%+q)) = %+q, want %+q", s, kl, k)
		}
		if ko := Key(oldFold(s)); ko != k {
			t.Fatalf("Key(oldFold(%+q)) = %+q, want %+q", s, ko, k)
		}
	})
}

// TestSkeletonTable checks the generated table against Key: its sources
// are in increasing order, each one a character that survives Key's steps
// before the skeleton, and each prototype is a key of its own and the key
// of its source.
func TestSkeletonTable(t *testing.T) {
	if len(skeletonTable) == 0 {
		t.Fatal("the skeleton table is empty")
	}
	for i, e := range skeletonTable {
		if i > 0 && skeletonTable[i-1].from >= e.from {
			t.Errorf("entry %d (%U) is not after entry %d (%U)", i, e.from, i-1, skeletonTable[i-1].from)
		}
		if got := foldedNFD(string(e.from)); got != string(e.from) {
			t.Errorf("%U becomes %+q before the skeleton: its entry is never used", e.from, got)
		}
		if Key(e.to) != e.to {
			t.Errorf("the prototype %+q of %U has the key %+q", e.to, e.from, Key(e.to))
		}
		if Key(string(e.from)) != e.to {
			t.Errorf("Key(%U) = %+q, want its prototype %+q", e.from, Key(string(e.from)), e.to)
		}
	}
}

// defaultIgnorableList is Default_Ignorable_Code_Point as
// DerivedCoreProperties.txt lists it.
var defaultIgnorableList = [][2]rune{
	{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C}, {0x115F, 0x1160}, {0x17B4, 0x17B5},
	{0x180B, 0x180F}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x206F}, {0x3164, 0x3164},
	{0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3},
	{0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
}

func TestDefaultIgnorableIsUnicodes(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := slices.ContainsFunc(defaultIgnorableList, func(rg [2]rune) bool { return rg[0] <= r && r <= rg[1] })
		if got := defaultIgnorable(r); got != want {
			t.Errorf("defaultIgnorable(%U) = %v, want %v", r, got, want)
		}
	}
}

func TestInvisible(t *testing.T) {
	for _, tt := range []struct {
		r    rune
		want bool
	}{
		{0x034F, true},  // COMBINING GRAPHEME JOINER
		{0xFE00, true},  // VARIATION SELECTOR-1
		{0xFE0F, true},  // VARIATION SELECTOR-16
		{0x17B4, true},  // KHMER VOWEL INHERENT AQ
		{0x3164, true},  // HANGUL FILLER
		{0x115F, true},  // HANGUL CHOSEONG FILLER
		{0x1160, true},  // HANGUL JUNGSEONG FILLER
		{0xFFA0, true},  // HALFWIDTH HANGUL FILLER
		{0x2800, true},  // BRAILLE PATTERN BLANK
		{0x200B, true},  // ZERO WIDTH SPACE
		{0x200D, true},  // ZERO WIDTH JOINER
		{0x00AD, true},  // SOFT HYPHEN
		{0xFEFF, true},  // ZERO WIDTH NO-BREAK SPACE
		{0x202E, true},  // RIGHT-TO-LEFT OVERRIDE
		{0xE0041, true}, // TAG LATIN CAPITAL LETTER A
		{0xE0100, true}, // VARIATION SELECTOR-17
		{'a', false},
		{' ', false},
		{0x2801, false}, // BRAILLE PATTERN DOTS-1
		{0x1100, false}, // HANGUL CHOSEONG KIYEOK
		{0x0600, false}, // ARABIC NUMBER SIGN: a visible format character
		{0xFFFB, false}, // INTERLINEAR ANNOTATION TERMINATOR: not ignorable, but Cf
		{0x0301, false}, // COMBINING ACUTE ACCENT
	} {
		t.Run(fmt.Sprintf("%U", tt.r), func(t *testing.T) {
			if got := Invisible(tt.r); got != tt.want {
				t.Errorf("Invisible(%U) = %v, want %v", tt.r, got, tt.want)
			}
		})
	}
}
