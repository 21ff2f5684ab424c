package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"chatserver/nick"
)

// checkLength checks that s, already trimmed, holds 1 to maxLen
// characters; refusals carry code and call s what ("nickname").
func checkLength(s string, maxLen int, code Code, what string) error {
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return errorf(code, "%s is empty", what)
	case n > maxLen:
		return errorf(code, "%s is longer than %d characters", what, maxLen)
	}
	return nil
}

// maxComposed is the most characters that NFKC makes into one: a
// character in NFKC form decomposes (NFKD) into 4 at most (U+1F82, alpha
// with psili, varia and ypogegrammeni), and NFKC, which is NFKD composed
// again, only ever shortens a text by composing.
const maxComposed = 4

// maxRawNameLen is the most characters a nickname can have as sent (and
// trimmed) and still be maxLen characters at most in NFKC: maxComposed
// characters sent for each one kept, and for the one space NFKC can put
// in front ("´" is a space and a combining accent in NFKC), which is
// trimmed. A longer nickname is refused before normalizing it, which
// costs up to 18 characters for each one (U+FDFA) and is not done for
// a name that cannot fit.
func maxRawNameLen(maxLen int) int { return maxComposed * (maxLen + 1) }

// validateName checks name against the nickname rules and returns it as
// it is kept and shown: trimmed, in NFKC (nick.Normalize), 1 to maxLen
// characters of that form, none of them a control, format or invisible
// character (nick.Invisible). The characters are checked as sent, so that
// a refusal names the one the client sent, and again once normalized; a
// name too long to fit in any form (maxRawNameLen) is refused first.
func validateName(name string, maxLen int) (string, error) {
	if !utf8.ValidString(name) {
		return "", errorf(CodeInvalidName, "nickname is not valid UTF-8")
	}
	name = strings.TrimSpace(name)
	if bound := maxRawNameLen(maxLen); len(name) > bound*utf8.UTFMax || utf8.RuneCountInString(name) > bound {
		return "", errorf(CodeInvalidName, "nickname is longer than %d characters", maxLen)
	}
	if err := checkNameChars(name); err != nil {
		return "", err
	}
	name = strings.TrimSpace(nick.Normalize(name))
	if err := checkNameChars(name); err != nil {
		return "", err
	}
	if err := checkLength(name, maxLen, CodeInvalidName, "nickname"); err != nil {
		return "", err
	}
	return name, nil
}

// checkNameChars refuses a nickname with a character that is neither
// printable nor the space, or that renders as nothing.
func checkNameChars(name string) error {
	for _, r := range name {
		switch {
		case nick.Invisible(r):
			return errorf(CodeInvalidName, "nickname contains an invisible character (U+%04X)", r)
		case r != ' ' && !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r):
			return errorf(CodeInvalidName, "nickname contains an invisible or control character (U+%04X)", r)
		}
	}
	return nil
}

// validateText checks text against the message rules and returns it as it
// is stored and sent: without the invisible characters that mean nothing
// in chat text (stripInvisible), trimmed, 1 to maxLen characters. Line
// breaks and tabs are allowed inside a message; other control characters
// and the bidi controls, which could disguise text, are refused, and so is
// a message that shows nothing (only spaces and invisible characters).
func validateText(text string, maxLen int) (string, error) {
	if !utf8.ValidString(text) {
		return "", errorf(CodeInvalidMessage, "message is not valid UTF-8")
	}
	text = strings.TrimSpace(stripInvisible(text))
	if err := checkLength(text, maxLen, CodeInvalidMessage, "message"); err != nil {
		return "", err
	}
	visible := false
	for _, r := range text {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) || IsBidiControl(r) {
			return "", errorf(CodeInvalidMessage, "message contains a control character (U+%04X)", r)
		}
		visible = visible || !unicode.IsSpace(r) && !nick.Invisible(r)
	}
	if !visible {
		return "", errorf(CodeInvalidMessage, "message is empty")
	}
	return text, nil
}

// IsBidiControl reports whether r is an explicit bidirectional formatting
// character (the embeddings, overrides and isolates, and the left-to-right,
// right-to-left and Arabic letter marks), which can make displayed text
// read differently from what it is. Messages may not hold one; the
// history command escapes them.
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// Characters that stripInvisible removes from messages.
const (
	zeroWidthSpace = 0x200B // U+200B ZERO WIDTH SPACE
	byteOrderMark  = 0xFEFF // U+FEFF ZERO WIDTH NO-BREAK SPACE, the byte order mark
	softHyphen     = 0x00AD // U+00AD SOFT HYPHEN
	tagFirst       = 0xE0000
	tagLast        = 0xE007F // U+E007F CANCEL TAG, which ends an emoji tag sequence
	blackFlag      = 0x1F3F4 // U+1F3F4 WAVING BLACK FLAG, the base of subdivision flags
)

// stripInvisible removes from text the invisible characters that carry no
// meaning in chat and arrive mostly by copy and paste, where refusing the
// message would only puzzle its sender: the zero-width space, the byte
// order mark, the soft hyphen and the tag characters, which can smuggle
// text nobody sees. Tag characters are kept where emoji need them: in a
// subdivision flag (the black flag, 3 to 7 tag letters and digits, a
// cancel tag: England, Scotland, Wales). So are the other characters
// emoji and scripts need: the zero-width joiner and non-joiner and the
// variation selectors.
func stripInvisible(text string) string {
	if !strings.ContainsFunc(text, stripped) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == blackFlag {
			n := size + flagTags(text[i+size:])
			b.WriteString(text[i : i+n])
			i += n
			continue
		}
		if !stripped(r) {
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// stripped reports whether stripInvisible removes r outside a flag.
func stripped(r rune) bool {
	return r == zeroWidthSpace || r == byteOrderMark || r == softHyphen || tagFirst <= r && r <= tagLast
}

// flagTags returns the length in bytes of the tag sequence that s starts
// with if it completes a subdivision flag, or 0.
func flagTags(s string) int {
	const minTags, maxTags = 3, 7
	n, tags := 0, 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		n += size
		switch {
		case r == tagLast && tags >= minTags:
			return n
		case tags < maxTags && ('0'+tagFirst <= r && r <= '9'+tagFirst || 'a'+tagFirst <= r && r <= 'z'+tagFirst):
			tags++
		default:
			return 0
		}
	}
	return 0
}

// CheckTopic checks a room topic and returns it as kept: valid UTF-8,
// trimmed, one line of at most MaxTopicLen characters without control or
// bidi characters. An empty topic is allowed (none). A refusal is an
// *Error with CodeInvalidRoom. Hub.AddRoom applies it, and so does the
// room command before it writes a topic into a file no server has open.
func CheckTopic(topic string) (string, error) {
	if !utf8.ValidString(topic) {
		return "", errorf(CodeInvalidRoom, "the topic is not valid UTF-8")
	}
	topic = strings.TrimSpace(stripInvisible(topic))
	if n := utf8.RuneCountInString(topic); n > MaxTopicLen {
		return "", errorf(CodeInvalidRoom, "the topic is longer than %d characters", MaxTopicLen)
	}
	for _, r := range topic {
		if unicode.IsControl(r) || IsBidiControl(r) {
			return "", errorf(CodeInvalidRoom, "the topic must be one line without control characters (U+%04X)", r)
		}
	}
	return topic, nil
}
