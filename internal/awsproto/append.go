package awsproto

import (
	"encoding/base64"
	"unicode/utf8"
)

// JSONAppender is implemented by response types on hot paths (PutRecords,
// GetRecords) that encode themselves: Marshal then skips reflection. The
// output must be what encoding/json would produce for the same value with
// the type's json tags and HTML escaping off; tests compare the two.
type JSONAppender interface {
	AppendJSON(b []byte) []byte
}

// AppendJSONString appends s as a JSON string exactly as encoding/json
// does with HTML escaping off: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while they need no escape: sequence
		// numbers, shard ids, partition keys.
		if i+8 <= len(s) && asIs8(s[i:i+8]) {
			i += 8
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// asIs8 reports whether the eight bytes of s are all ASCII that a JSON
// string holds as it is: no control character, '"' or '\\'. It uses the
// classic SWAR tests, exact as to whether any byte matches.
func asIs8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	less := func(x, n uint64) uint64 { return (x - ones*n) &^ x & highs } // a byte < n
	return (less(x, 0x20)|x|less(x^(ones*'"'), 1)|less(x^(ones*'\\'), 1))&highs == 0
}

// AppendJSONBytes appends b64 of p as a JSON string, as encoding/json
// encodes a []byte (nil as null).
func AppendJSONBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

// AppendJSON appends t as Marshal encodes a Timestamp in JSON: epoch
// seconds with the milliseconds as a fraction.
func (t Timestamp) AppendJSON(b []byte) []byte { return appendEpochSeconds(b, t.Millis) }
