package awsproto

import (
	"encoding/base64"
	"slices"
	"unicode/utf8"

	asmbase64 "github.com/segmentio/asm/base64"
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
		// Most strings (sequence numbers, partition keys) are plain
		// ASCII: eight bytes are checked at once and skipped whole.
		if i+8 <= len(s) && plainASCII(load64(s[i:i+8])) {
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

// plainASCII reports whether the eight bytes of w are all ASCII
// that JSON takes as it is: no control character, quote or backslash.
// It is the classic "some byte is below n" word trick: w-n sets a byte's
// high bit if it is below n, and a quote or backslash byte is zero after
// the XOR. A subtraction borrows only past a byte that is a hit, so the
// answer is exact when it is yes; a false no only sends the caller to its
// byte loop. With w's own high bits (not ASCII) also a no, the XORed
// bytes are ASCII and the "& ^x" of the general trick is not needed.
func plainASCII(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (w|(w-ones*0x20)|((w^(ones*'"'))-ones)|((w^(ones*'\\'))-ones))&highs == 0
}

// load64 reads s[0:8] as a little-endian word, in one load.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// AppendJSONBytes appends b64 of p as a JSON string, as encoding/json
// encodes a []byte (nil as null).
func AppendJSONBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendBase64(b, p)
	return append(b, '"')
}

// appendBase64 appends p in standard base64 with padding, as
// base64.StdEncoding.AppendEncode does: segmentio/asm encodes the bulk
// with AVX2 and the rest with encoding/base64 (GetRecords spends much of
// its time here: 10,000 records per call).
func appendBase64(b, p []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(p))
	b = slices.Grow(b, n)
	asmbase64.StdEncoding.Encode(b[len(b):len(b)+n], p)
	return b[:len(b)+n]
}

// AppendJSON appends t as Marshal encodes a Timestamp in JSON: epoch
// seconds with the milliseconds as a fraction.
func (t Timestamp) AppendJSON(b []byte) []byte { return appendEpochSeconds(b, t.Millis) }
