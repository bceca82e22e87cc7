package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxScanDepth bounds nesting in answers; Kinesis answers nest four deep.
const maxScanDepth = 64

// jsonScan walks a JSON answer without building it: the benchmark reads a
// few members of responses that can hold 10,000 records, and decoding
// them into structs would cost the client more than the server. It is
// lenient (it does not insist on commas in the right places) because it
// reads answers, not untrusted requests; a malformed answer still ends
// in an error, never a panic or a loop.
type jsonScan struct {
	b     []byte
	i     int
	depth int
	err   error
}

func (s *jsonScan) fail(what string) {
	if s.err == nil {
		s.err = fmt.Errorf("JSON answer at byte %d: %s", s.i, what)
	}
	s.i = len(s.b)
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *jsonScan) peek() byte {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

// open consumes c ('{' or '[') and reports whether it was there.
func (s *jsonScan) open(c byte) bool {
	if s.peek() != c {
		s.fail("want " + string(c))
		return false
	}
	s.i++
	return true
}

// more reports whether the object or array that is open has another
// member or element, consuming the comma before it or the closing byte.
func (s *jsonScan) more(closing byte) bool {
	switch s.peek() {
	case closing:
		s.i++
		return false
	case ',':
		s.i++
		return true
	case 0:
		s.fail("unexpected end")
		return false
	}
	return true
}

// key reads a member name and its colon. The name aliases the answer.
func (s *jsonScan) key() []byte {
	k, _ := s.str()
	if s.peek() != ':' {
		s.fail("want :")
		return nil
	}
	s.i++
	return k
}

// str reads a string and returns its raw bytes between the quotes
// (aliasing the answer) and whether they hold escapes.
func (s *jsonScan) str() (raw []byte, escaped bool) {
	if s.peek() != '"' {
		s.fail("want a string")
		return nil, false
	}
	s.i++
	start := s.i
	// Most strings (base64 data, names, sequence numbers) have no
	// escapes: find the closing quote with IndexByte's vector loop.
	if q := bytes.IndexByte(s.b[start:], '"'); q >= 0 && bytes.IndexByte(s.b[start:start+q], '\\') < 0 {
		s.i = start + q + 1
		return s.b[start : start+q], false
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped
		case '\\':
			escaped = true
			s.i += 2
		default:
			s.i++
		}
	}
	s.fail("unterminated string")
	return nil, false
}

// text reads a string and returns its value, unescaped.
func (s *jsonScan) text() string {
	raw, escaped := s.str()
	if !escaped {
		return string(raw)
	}
	return unescapeJSON(raw)
}

// null consumes a null and reports whether there was one.
func (s *jsonScan) null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// number consumes a number and returns its text and whether it has a
// fraction or an exponent.
func (s *jsonScan) number() (tok []byte, float bool) {
	s.peek()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '.' || c == 'e' || c == 'E' {
			float = true
		} else if (c < '0' || c > '9') && c != '-' && c != '+' {
			break
		}
		s.i++
	}
	return s.b[start:s.i], float
}

// int reads a number as an int64; fractions are dropped.
func (s *jsonScan) int() int64 {
	tok, float := s.number()
	if !float {
		if n, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			return n
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		s.fail("want a number")
		return 0
	}
	return int64(f)
}

// skip consumes one value of any kind.
func (s *jsonScan) skip() {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		s.depth++
		if s.depth > maxScanDepth {
			s.fail("nested too deep")
			return
		}
		s.i++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		for s.more(closing) {
			if c == '{' {
				s.key()
			}
			s.skip()
		}
		s.depth--
	case c == '"':
		s.str()
	case c == 't' || c == 'f' || c == 'n':
		for s.i < len(s.b) && s.b[s.i] >= 'a' && s.b[s.i] <= 'z' {
			s.i++
		}
	case c == '-' || c >= '0' && c <= '9':
		if tok, _ := s.number(); len(tok) == 0 {
			s.fail("want a number")
		}
	default:
		s.fail("want a value")
	}
}

// unescapeJSON decodes the escapes of a JSON string's raw bytes.
func unescapeJSON(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := utf8.RuneError
			if i+4 < len(raw) {
				if v, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16); err == nil {
					r = rune(v)
				}
				i += 4
			}
			out = utf8.AppendRune(out, r)
		default: // \" \\ \/
			out = append(out, raw[i])
		}
	}
	return string(out)
}
