package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// validateName trims name and checks it against the nickname rules.
func validateName(name string, maxLen int) (string, error) {
	if !utf8.ValidString(name) {
		return "", errorf(CodeInvalidName, "nickname is not valid UTF-8")
	}
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", errorf(CodeInvalidName, "nickname is empty")
	case n > maxLen:
		return "", errorf(CodeInvalidName, "nickname is longer than %d characters", maxLen)
	}
	for _, r := range name {
		if r != ' ' && !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
			return "", errorf(CodeInvalidName, "nickname contains an invisible or control character (U+%04X)", r)
		}
	}
	return name, nil
}

// validateText trims text and checks it against the message rules. Line
// breaks and tabs are allowed inside a message; other control and format
// characters that could disguise text (bidi overrides) are refused.
func validateText(text string, maxLen int) (string, error) {
	if !utf8.ValidString(text) {
		return "", errorf(CodeInvalidMessage, "message is not valid UTF-8")
	}
	text = strings.TrimSpace(text)
	n := utf8.RuneCountInString(text)
	switch {
	case n == 0:
		return "", errorf(CodeInvalidMessage, "message is empty")
	case n > maxLen:
		return "", errorf(CodeInvalidMessage, "message is longer than %d characters", maxLen)
	}
	for _, r := range text {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) || isBidiControl(r) {
			return "", errorf(CodeInvalidMessage, "message contains a control character (U+%04X)", r)
		}
	}
	return text, nil
}

// isBidiControl reports whether r is an explicit bidirectional formatting
// character, which can make displayed text read differently from what it is.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// fold returns the key under which nicknames are compared: two nicknames
// that fold alike cannot be present at once.
func fold(name string) string { return strings.ToLower(name) }
