package awsproto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds nesting (objects, arrays, tags) in request bodies:
// Jackson's default limit, which AWS's front end inherits. It also keeps
// the recursive decoders' stacks small.
const maxDepth = 1000

// errSyntax reports a malformed body. It becomes a SerializationException
// without a message, as AWS answers (kinesalite test/connection.js).
var errSyntax = errors.New("malformed body")

// Unmarshal decodes one request body into v, a non-nil pointer to a struct
// (or map). An empty body decodes as {}. Unknown members are ignored and a
// null member is absent. A malformed body, a top level that is not an
// object, or a member of the wrong type returns an *Error of type
// SerializationException with AWS's message (see the package doc). After
// an error, v may be partly filled.
func Unmarshal(p Protocol, body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("awsproto: Unmarshal needs a non-nil pointer, got %T", v))
	}
	c := codecFor(rv.Type().Elem())
	if len(body) == 0 {
		return nil
	}
	switch p {
	case JSON:
		d := jsonDecoder{data: body}
		return d.top(c, rv.Elem())
	case CBOR:
		d := cborDecoder{data: body}
		return d.top(c, rv.Elem())
	}
	panic(fmt.Sprintf("awsproto: unknown protocol %d", uint8(p)))
}

// wireType is the type of a value as it arrived, for Coral's messages.
type wireType uint8

const (
	wireString wireType = iota + 1
	wireNumber
	wireBool
	wireObject
	wireArray
	wireBytes // CBOR byte string
)

// Coral's messages for values of the wrong type, from kinesalite
// validations/index.js and test/helpers.js (which run against AWS).
const (
	msgListNotExpected   = "Start of list found where not expected"
	msgStructNotExpected = "Start of structure or map found where not expected."
	msgExpectedStruct    = "Expected null"
	msgExpectedList      = "Expected list or null"
	msgExpectedMap       = "Expected map or null"
	classBoolean         = "java.lang.Boolean"
	classString          = "java.lang.String"
	classNumber          = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
	// classBytes is Java's name for byte[]: what a CBOR byte string would
	// be in AWS's front end. Inferred; no client sends one to a non-blob.
	classBytes = "[B"
)

// mismatch returns the SerializationException message for a value of wire
// type got decoded into c. text is the value of a string, used by the one
// message that quotes it.
func mismatch(c *codec, got wireType, text string) string {
	switch got {
	case wireArray:
		return msgListNotExpected
	case wireObject:
		return msgStructNotExpected
	}
	switch c.kind {
	case kindStruct:
		return msgExpectedStruct
	case kindSlice:
		return msgExpectedList
	case kindMap:
		return msgExpectedMap
	}
	var class string
	switch got {
	case wireBool:
		class = classBoolean
	case wireNumber:
		class = classNumber
	case wireString:
		if c.kind == kindBool {
			// Coral upper-cases the value: "'HELLO' can not be converted to an Boolean".
			return "'" + strings.ToUpper(text) + "' can not be converted to an Boolean"
		}
		class = classString
	case wireBytes:
		class = classBytes
	}
	switch c.kind {
	case kindBlob:
		return "class " + class + " can not be converted to a Blob"
	case kindTimestamp:
		return "class " + class + " can not be converted to milliseconds since epoch"
	case kindString:
		return "class " + class + " can not be converted to an String"
	case kindBool:
		return "class " + class + " can not be converted to an Boolean"
	}
	return "class " + class + " can not be converted to an " + c.javaName
}

// boolFromText converts the strings AWS accepts for a Boolean member
// (kinesalite notes 'true'/'false'/'1'/'0'/'yes'/'no' "seem to convert
// fine" against AWS).
func boolFromText(s string) (val, ok bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "1":
		return true, true
	case "false", "no", "0":
		return false, true
	}
	return false, false
}

// setInt stores n, clamped to c's range, into an integer value.
func setInt(c *codec, v reflect.Value, n int64) {
	n = min(max(n, c.min), c.max)
	if c.kind == kindUint {
		v.SetUint(uint64(n))
		return
	}
	v.SetInt(n)
}

// floatToInt floors f and clamps it to the int64 range; NaN is 0.
func floatToInt(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(math.Floor(f))
}

// setFloat stores f into a float value, clamping what the type cannot hold.
func setFloat(v reflect.Value, f float64) {
	limit := math.MaxFloat64
	if v.Kind() == reflect.Float32 {
		limit = math.MaxFloat32
	}
	if f > limit {
		f = limit
	} else if f < -limit {
		f = -limit
	}
	v.SetFloat(f)
}

// setTimestamp stores epoch milliseconds into a Timestamp value.
func setTimestamp(v reflect.Value, ms int64) { v.Field(0).SetInt(ms) }

// decimalFloor returns floor(x × 10^shift) clamped to the int64 range,
// where x is a JSON number token. It is exact for any token length and
// exponent, and never allocates.
func decimalFloor(tok []byte, shift int) int64 {
	i := 0
	neg := false
	if i < len(tok) && tok[i] == '-' {
		neg = true
		i++
	}
	// The significant digits are tok[digitsStart:digitsEnd] minus the '.'.
	var digits [20]byte // the first up to 20 significant digits
	nd := 0             // significant digits seen (saturates at len(digits)+1)
	exp := int64(shift) // power of ten applied to the digit string
	fracNonZero := false
	seenPoint := false
	for ; i < len(tok); i++ {
		ch := tok[i]
		if ch == '.' {
			seenPoint = true
			continue
		}
		if ch < '0' || ch > '9' {
			break
		}
		if seenPoint {
			exp--
		}
		if nd == 0 && ch == '0' {
			continue // leading zero
		}
		if nd < len(digits) {
			digits[nd] = ch
			nd++
		} else {
			// Past 20 significant digits the magnitude is decided; keep
			// only whether something non-zero was dropped, and the scale.
			exp++
			if ch != '0' {
				fracNonZero = true
			}
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		eneg := false
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			eneg = tok[i] == '-'
			i++
		}
		var e int64
		for ; i < len(tok); i++ {
			if e < 1e12 {
				e = e*10 + int64(tok[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if nd == 0 {
		if neg && fracNonZero {
			return -1
		}
		return 0
	}
	// value = digits[:nd] × 10^exp (+ a dropped non-zero tail).
	var mag uint64
	overflow := false
	intDigits := int64(nd) + exp // digits left of the point
	if intDigits > 19 {
		overflow = true
	} else {
		for k := 0; int64(k) < intDigits; k++ {
			d := uint64(0)
			if k < nd {
				d = uint64(digits[k] - '0')
			}
			mag = mag*10 + d
		}
		for k := max(intDigits, 0); k < int64(nd); k++ {
			if digits[k] != '0' {
				fracNonZero = true
			}
		}
	}
	if neg {
		if overflow || mag > 1<<63 || (mag == 1<<63 && fracNonZero) {
			return math.MinInt64
		}
		n := -int64(mag)
		if fracNonZero {
			n--
		}
		return n
	}
	if overflow || mag > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(mag)
}

// utf16Len is the length Java (and JavaScript) report for s.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// blobMessage returns why text is not a blob, in AWS's words (kinesalite
// validations/index.js; the typo "dectected" is AWS's), or "" if it is
// well-formed base64.
func blobMessage(text string) string {
	prefix := "'" + text + "' can not be converted to a Blob: "
	if n := utf16Len(text); n%4 != 0 {
		return prefix + "Base64 encoded length is expected a multiple of 4 bytes but found: " + strconv.Itoa(n)
	}
	// The first character outside the alphabet, or an '=' followed by
	// anything but '=' (the regexp /[^a-zA-Z0-9+/=]|=[^=]/).
	for i, r := range text {
		if r < utf8.RuneSelf && base64Alphabet[r] {
			if r == '=' && i+1 < len(text) && text[i+1] != '=' {
				return prefix + "Invalid Base64 character: '='"
			}
			continue
		}
		return prefix + "Invalid Base64 character: '" + string(r) + "'"
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(text); err != nil {
		return prefix + "Invalid last non-pad Base64 character dectected"
	}
	return ""
}

var base64Alphabet = func() (t [utf8.RuneSelf]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" {
		t[c] = true
	}
	return t
}()

// slab hands out blob buffers carved from shared chunks: one allocation
// for many records. Every slice it returns has cap == len.
type slab struct {
	buf []byte
}

const (
	// slabChunk bounds a shared chunk; a chunk is also never larger than
	// what the rest of the body can still need. 32 KiB measured as well as
	// larger chunks (which waste more of the last one) on PutRecords.
	slabChunk = 32 << 10
	// Blobs larger than this get their own allocation, so that one large
	// record never pins a chunk of small ones.
	slabMaxShared = slabChunk / 4
)

// reserve returns room for n bytes without taking it; commit takes the
// first m. remaining bounds what the rest of the body can still need, so
// small bodies get small chunks.
func (s *slab) reserve(n, remaining int) []byte {
	if n > slabMaxShared {
		return make([]byte, n)
	}
	if cap(s.buf)-len(s.buf) < n {
		size := min(slabChunk, max(remaining, n))
		s.buf = make([]byte, 0, size)
	}
	return s.buf[len(s.buf) : len(s.buf)+n]
}

func (s *slab) commit(reserved []byte, m int) []byte {
	if len(reserved) > slabMaxShared {
		return reserved[:m:m]
	}
	start := len(s.buf)
	s.buf = s.buf[:start+m]
	return s.buf[start : start+m : start+m]
}

// decodeBase64 decodes AWS base64 text into a slab buffer. It returns the
// SerializationException message when text is not a blob.
func (s *slab) decodeBase64(text []byte, remaining int) ([]byte, string) {
	if len(text) == 0 {
		return []byte{}, ""
	}
	if len(text)%4 == 0 {
		dst := s.reserve(base64.StdEncoding.DecodedLen(len(text)), remaining)
		n, err := base64.StdEncoding.Strict().Decode(dst, text)
		// The decoder skips CR and LF, which AWS rejects.
		if err == nil && !containsCRLF(text) {
			return s.commit(dst, n), ""
		}
	}
	return nil, blobMessage(string(text))
}

func containsCRLF(b []byte) bool {
	return bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

// copyBytes copies a CBOR byte string into a slab buffer.
func (s *slab) copyBytes(b []byte, remaining int) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	dst := s.reserve(len(b), remaining)
	copy(dst, b)
	return s.commit(dst, len(b))
}

// validString converts b to a string, replacing each byte that is not
// part of valid UTF-8 with U+FFFD (encoding/json's rule).
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}
