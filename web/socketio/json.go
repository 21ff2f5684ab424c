package socketio

import (
	"encoding/json"
	"errors"
	"strconv"
)

// This file holds a small scanner over JSON text that json.Valid has
// already accepted. It splits the top-level argument array into its
// elements and finds binary placeholders ({"_placeholder":true,"num":K})
// together with their byte ranges, so that arguments can be passed on
// without ever being decoded into Go values (numbers stay exact, key order
// stays as sent).

// errMalformedJSON is returned by the scanner for input json.Valid would
// refuse; callers validate first, so it signals a bug or a skipped check.
var errMalformedJSON = errors.New("malformed json")

// placeholderSpan is one placeholder object in a JSON text: bytes
// [start,end) are the object, num the attachment it refers to.
type placeholderSpan struct {
	start, end, num int
}

// jsonScanner walks one JSON text. With findPlaceholders set it records
// every placeholder object (not descending into them, as the reference
// reconstruction does not) and checks that each refers to one of nbins
// attachments.
type jsonScanner struct {
	b                []byte
	findPlaceholders bool
	nbins            int
	spans            []placeholderSpan
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *jsonScanner) skipSpace(i int) int {
	for i < len(s.b) && isJSONSpace(s.b[i]) {
		i++
	}
	return i
}

// value scans the value starting at or after i (leading space allowed) and
// returns the index just past it.
func (s *jsonScanner) value(i int) (int, error) {
	i = s.skipSpace(i)
	if i >= len(s.b) {
		return 0, errMalformedJSON
	}
	switch s.b[i] {
	case '{':
		return s.object(i)
	case '[':
		return s.array(i, nil)
	case '"':
		return s.str(i)
	default:
		j := i
		for j < len(s.b) {
			c := s.b[j]
			if c == ',' || c == ']' || c == '}' || c == ':' || isJSONSpace(c) {
				break
			}
			j++
		}
		if j == i {
			return 0, errMalformedJSON
		}
		return j, nil
	}
}

// str returns the index just past the string starting at i.
func (s *jsonScanner) str(i int) (int, error) {
	for j := i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errMalformedJSON
}

// array scans the array starting at i; each element's trimmed text is
// passed to elem when it is non-nil.
func (s *jsonScanner) array(i int, elem func([]byte)) (int, error) {
	i = s.skipSpace(i + 1)
	if i < len(s.b) && s.b[i] == ']' {
		return i + 1, nil
	}
	for {
		start := s.skipSpace(i)
		end, err := s.value(start)
		if err != nil {
			return 0, err
		}
		if elem != nil {
			elem(s.b[start:end])
		}
		i = s.skipSpace(end)
		if i >= len(s.b) {
			return 0, errMalformedJSON
		}
		switch s.b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return 0, errMalformedJSON
		}
	}
}

func (s *jsonScanner) object(start int) (int, error) {
	mark := len(s.spans)
	isPlaceholder := false
	var num []byte
	i := s.skipSpace(start + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = s.skipSpace(i)
		if i >= len(s.b) || s.b[i] != '"' {
			return 0, errMalformedJSON
		}
		kEnd, err := s.str(i)
		if err != nil {
			return 0, err
		}
		key := s.b[i:kEnd]
		i = s.skipSpace(kEnd)
		if i >= len(s.b) || s.b[i] != ':' {
			return 0, errMalformedJSON
		}
		vStart := s.skipSpace(i + 1)
		vEnd, err := s.value(vStart)
		if err != nil {
			return 0, err
		}
		if s.findPlaceholders {
			// Later duplicates win, as in JSON.parse.
			switch unquoteKey(key) {
			case "_placeholder":
				isPlaceholder = string(s.b[vStart:vEnd]) == "true"
			case "num":
				num = s.b[vStart:vEnd]
			}
		}
		i = s.skipSpace(vEnd)
		if i >= len(s.b) {
			return 0, errMalformedJSON
		}
		if s.b[i] == ',' {
			i++
			continue
		}
		if s.b[i] != '}' {
			return 0, errMalformedJSON
		}
		i++
		break
	}
	if isPlaceholder {
		n, ok := attachmentIndex(num, s.nbins)
		if !ok {
			return 0, errIllegalAttachments
		}
		// A placeholder is replaced as a whole: anything nested in it is
		// not looked at, as in the reference implementation.
		s.spans = append(s.spans[:mark], placeholderSpan{start: start, end: i, num: n})
	}
	return i, nil
}

// unquoteKey returns the text of the JSON string key (with its quotes).
func unquoteKey(key []byte) string {
	inner := key[1 : len(key)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(key, &s) != nil {
				return ""
			}
			return s
		}
	}
	return string(inner)
}

// attachmentIndex checks a placeholder's "num": a JSON number with an
// integral value in [0,nbins).
func attachmentIndex(num []byte, nbins int) (int, bool) {
	if len(num) == 0 || (num[0] != '-' && (num[0] < '0' || num[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || f < 0 || f >= float64(nbins) || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// splitArray returns the elements of the JSON array b (already validated).
func splitArray(b []byte) ([]json.RawMessage, error) {
	s := jsonScanner{b: b}
	i := s.skipSpace(0)
	if i >= len(b) || b[i] != '[' {
		return nil, errMalformedJSON
	}
	var elems []json.RawMessage
	end, err := s.array(i, func(e []byte) { elems = append(elems, e) })
	if err != nil {
		return nil, err
	}
	if s.skipSpace(end) != len(b) {
		return nil, errMalformedJSON
	}
	return elems, nil
}

// findPlaceholders returns the placeholder objects in b (already
// validated), checking each refers to one of nbins attachments.
func findPlaceholders(b []byte, nbins int) ([]placeholderSpan, error) {
	s := jsonScanner{b: b, findPlaceholders: true, nbins: nbins}
	end, err := s.value(0)
	if err != nil {
		return nil, err
	}
	if s.skipSpace(end) != len(b) {
		return nil, errMalformedJSON
	}
	return s.spans, nil
}

// jsonKind returns the kind of the JSON value b (already validated) by its
// first significant byte: '{', '[', '"', 'n' (null), 't'/'f', or '0' for a
// number.
func jsonKind(b []byte) byte {
	for _, c := range b {
		if isJSONSpace(c) {
			continue
		}
		if c == '-' || (c >= '0' && c <= '9') {
			return '0'
		}
		return c
	}
	return 0
}
