// Package nick defines when two nicknames are the same nickname.
//
// Key is that definition, and the only one: the chat room lets one key be
// present once, kicks and bans match by key, and the store keeps bans and
// finds stored chatters by key. Nothing else compares nicknames.
//
// Today two nicknames are the same when they differ only in letter case,
// by every case mapping Unicode has ("Alice" and "aLiCe", "ΑΣ" and "ας",
// "K" and the Kelvin sign "K"). A stronger definition, which also equates
// look-alikes ("аlice" with a Cyrillic "а", full-width letters, ligatures),
// is NFKC case folding followed by the confusable skeleton of Unicode
// Technical Standard #39. It is meant to replace the body of Key, and
// nothing else: whatever replaces it must keep the properties Key
// documents, because the store re-keys the bans it holds by applying Key
// to their old keys.
package nick

import (
	"strings"
	"unicode"
)

// Key returns the comparison key of the nickname name: two nicknames are
// the same nickname exactly when their keys are equal. A key is for
// comparing and storing, never for display.
//
// Each character becomes the lower case of its upper case, which is one
// character for every set of characters that Unicode case-maps into one
// another (σ, ς and Σ become σ; k, K and the Kelvin sign become k). So Key
// equates whatever strings.EqualFold does, and a little more: the dotless
// ı and the dotted İ have the key of i. Invalid UTF-8 becomes U+FFFD.
//
// Key is idempotent (Key(Key(s)) == Key(s)) and blind to lower case
// (Key(strings.ToLower(s)) == Key(s)): a key stored under an earlier,
// finer definition (bans were keyed by strings.ToLower) gives the key of
// its nickname when Key is applied to it.
func Key(name string) string {
	return strings.Map(fold, name)
}

// fold is Key for one character.
func fold(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }
