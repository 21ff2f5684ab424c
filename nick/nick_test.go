package nick

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"alice", "alice", true},
		{"Alice", "aLiCe", true},
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
		{"alice", "alicia", false},
		{"a b", "ab", false},
		{"ss", "ß", false},              // Key maps one character to one
		{"e\u0301mile", "émile", false}, // not normalised (NFKC would equate them)
		{"аlice", "alice", false},       // Cyrillic а: a look-alike, not a case variant
		{"\xff", "\uFFFD", true},        // invalid UTF-8
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

func TestKeyIsLowerCaseForMostNames(t *testing.T) {
	// Bans of names like these, stored under strings.ToLower, keep their
	// key; those of names with ς, ſ, ı and the like are re-keyed.
	for _, name := range []string{"alice", "Bob", "ÉMILE", "ΔΗΜΗΤΡΗΣ", "Ирина", "李小龍", "bob_42"} {
		if got, want := Key(name), strings.ToLower(name); got != want {
			t.Errorf("Key(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestKeyProperties checks, for every character, what the rest of the
// program relies on: a key is its own key; the key of a lower-cased name is
// the key of the name (so bans stored under strings.ToLower are re-keyed
// correctly); whatever strings.EqualFold equates has one key.
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
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if kf := Key(string(f)); kf != k {
				t.Errorf("EqualFold(%U, %U) but their keys %q and %q differ", r, f, k, kf)
			}
		}
	}
}
