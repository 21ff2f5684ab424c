package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// trimChecked checks that s is valid UTF-8 and, once trimmed, holds 1 to
// maxLen characters; refusals carry code and call s what ("nickname").
func trimChecked(s string, maxLen int, code Code, what string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errorf(code, "%s is not valid UTF-8", what)
	}
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", errorf(code, "%s is empty", what)
	case n > maxLen:
		return "", errorf(code, "%s is longer than %d characters", what, maxLen)
	}
	return s, nil
}

// validateName trims name and checks it against the nickname rules.
func validateName(name string, maxLen int) (string, error) {
	name, err := trimChecked(name, maxLen, CodeInvalidName, "nickname")
	if err != nil {
		return "", err
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
	text, err := trimChecked(text, maxLen, CodeInvalidMessage, "message")
	if err != nil {
		return "", err
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
