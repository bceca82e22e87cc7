package e2e

// The protocol fuzzer's request bodies: a small value model that can say
// what encoding/json and the CBOR library refuse to (duplicate keys,
// numbers beyond float64, nesting past any limit, invalid UTF-8, CBOR
// indefinite lengths and odd integer widths), its JSON and CBOR encoders,
// and the mutations applied to it.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Values of the model: nil, bool, string, int64, float64, []any, pfObj,
// pfBlob, pfNum, pfTime and pfRaw.
type (
	// pfObj is an object with its members in order; keys may repeat.
	pfObj []pfKV
	pfKV  struct {
		k string
		v any
	}
	// pfBlob is a blob: base64 text in JSON, a byte string in CBOR.
	pfBlob []byte
	// pfNum is a number written as its literal text, which may be beyond
	// any Go type ("1e400", 40 digits).
	pfNum string
	// pfTime is a timestamp in epoch seconds: a JSON number, or CBOR tag
	// 1 with epoch milliseconds as the Java SDK sends it.
	pfTime float64
	// pfRaw is a pre-encoded fragment, usually invalid, spliced in as is.
	pfRaw struct{ json, cbor []byte }
)

// get returns the first value of member k.
func (o pfObj) get(k string) (any, bool) {
	for _, kv := range o {
		if kv.k == k {
			return kv.v, true
		}
	}
	return nil, false
}

// pfEncoder encodes values, with random but legal variations of the
// encoding (whitespace, escapes, CBOR lengths and widths) drawn from rng.
type pfEncoder struct {
	rng  *rand.Rand
	vary bool // use the variations; off for the seeds' canonical form
}

func (e *pfEncoder) coin(p float64) bool { return e.vary && e.rng.Float64() < p }

// JSON encodes v as JSON.
func (e *pfEncoder) JSON(v any) []byte {
	var b bytes.Buffer
	e.json(&b, v)
	return b.Bytes()
}

func (e *pfEncoder) space(b *bytes.Buffer) {
	if e.coin(0.05) {
		b.WriteString([]string{" ", "\n", "\t", "\r\n  ", "  "}[e.rng.IntN(5)])
	}
}

// pfEncodeBound: once a body is this long the encoders stop, leaving it
// cut short. The server must refuse it for its size before it reads its
// content, so the cut changes no expectation, while mutations that copy
// lists of lists (1,000 copies of 10,000 elements, each a list...) would
// otherwise make the fuzzer's client encode gigabytes: under -race one
// such body stalled it for minutes at 9 GB of memory.
const pfEncodeBound = pfMaxBody + 1

func (e *pfEncoder) json(b *bytes.Buffer, v any) {
	if b.Len() >= pfEncodeBound {
		return
	}
	e.space(b)
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		e.jsonString(b, v)
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			b.WriteString("1e999")
		} else if e.coin(0.3) {
			b.WriteString(strconv.FormatFloat(v, 'E', -1, 64))
		} else {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	case pfNum:
		b.WriteString(string(v))
	case pfTime:
		b.WriteString(strconv.FormatFloat(float64(v), 'f', -1, 64))
	case pfBlob:
		b.WriteByte('"')
		b.WriteString(base64.StdEncoding.EncodeToString(v))
		b.WriteByte('"')
	case pfRaw:
		b.Write(v.json)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if b.Len() >= pfEncodeBound {
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			e.json(b, x)
		}
		e.space(b)
		b.WriteByte(']')
	case pfObj:
		b.WriteByte('{')
		for i, kv := range v {
			if b.Len() >= pfEncodeBound {
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			e.space(b)
			e.jsonString(b, kv.k)
			e.space(b)
			b.WriteByte(':')
			e.json(b, kv.v)
		}
		e.space(b)
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("protofuzz: no JSON for %T", v))
	}
	e.space(b)
}

// pfVaryStringMax is the longest string whose escapes vary: a coin flip
// per rune made the 16 MiB bodies of the size cases cost seconds each
// under -race, and the fuzzer's own client became its bottleneck.
const pfVaryStringMax = 4 << 10

// jsonString writes s quoted. Invalid UTF-8 goes out as raw bytes (a JSON
// decoder must reject or replace them); escapes vary in strings up to
// pfVaryStringMax bytes.
func (e *pfEncoder) jsonString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	vary := len(s) <= pfVaryStringMax
	for i := 0; i < len(s); {
		if !vary {
			// Plain bytes in one run: everything but quote, backslash
			// and control characters goes out as it is.
			j := i
			for j < len(s) && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' {
				j++
			}
			if j > i {
				b.WriteString(s[i:j])
				i = j
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteString(strconv.FormatUint(uint64(r)>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(r)&15, 16))
		case vary && e.coin(0.02) && r < 0x10000:
			b.WriteString(`\u`)
			h := strconv.FormatUint(uint64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)) + h)
		case vary && e.coin(0.02) && r >= 0x10000:
			r1, r2 := utf16Pair(r)
			b.WriteString(`\u` + strconv.FormatUint(uint64(r1), 16) + `\u` + strconv.FormatUint(uint64(r2), 16))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// CBOR encodes v as CBOR.
func (e *pfEncoder) CBOR(v any) []byte {
	var b bytes.Buffer
	if e.coin(0.02) {
		b.Write([]byte{0xd9, 0xd9, 0xf7}) // the self-describe tag
	}
	e.cbor(&b, v)
	return b.Bytes()
}

// head writes a CBOR head of major type m and argument n, sometimes
// wider than needed (legal, and what some encoders send).
func (e *pfEncoder) head(b *bytes.Buffer, m byte, n uint64) {
	m <<= 5
	width := 0
	switch {
	case n < 24:
		width = 0
	case n <= math.MaxUint8:
		width = 1
	case n <= math.MaxUint16:
		width = 2
	case n <= math.MaxUint32:
		width = 4
	default:
		width = 8
	}
	if width < 8 && e.coin(0.05) {
		width = []int{1, 2, 4, 8}[e.rng.IntN(4)]
		if width == 1 && n > math.MaxUint8 || width == 2 && n > math.MaxUint16 || width == 4 && n > math.MaxUint32 {
			width = 8
		}
	}
	switch width {
	case 0:
		b.WriteByte(m | byte(n))
	case 1:
		b.WriteByte(m | 24)
		b.WriteByte(byte(n))
	case 2:
		b.WriteByte(m | 25)
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	case 4:
		b.WriteByte(m | 26)
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	default:
		b.WriteByte(m | 27)
		b.Write(binary.BigEndian.AppendUint64(nil, n))
	}
}

func (e *pfEncoder) cborInt(b *bytes.Buffer, n int64) {
	if n >= 0 {
		e.head(b, 0, uint64(n))
	} else {
		e.head(b, 1, uint64(-(n + 1)))
	}
}

// cborStrings writes a text (major 3) or byte (2) string, sometimes as
// an indefinite-length string of chunks.
func (e *pfEncoder) cborString(b *bytes.Buffer, major byte, s []byte) {
	if e.coin(0.05) && len(s) > 1 {
		b.WriteByte(major<<5 | 31)
		for len(s) > 0 {
			n := 1 + e.rng.IntN(len(s))
			if major == 3 {
				for n < len(s) && !utf8.RuneStart(s[n]) {
					n++ // chunks of text must each be valid UTF-8
				}
			}
			e.head(b, major, uint64(n))
			b.Write(s[:n])
			s = s[n:]
		}
		b.WriteByte(0xff)
		return
	}
	e.head(b, major, uint64(len(s)))
	b.Write(s)
}

func (e *pfEncoder) cborFloat(b *bytes.Buffer, f float64) {
	if f32 := float32(f); float64(f32) == f && e.coin(0.5) {
		b.WriteByte(0xfa)
		b.Write(binary.BigEndian.AppendUint32(nil, math.Float32bits(f32)))
		return
	}
	b.WriteByte(0xfb)
	b.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
}

func (e *pfEncoder) cbor(b *bytes.Buffer, v any) {
	if b.Len() >= pfEncodeBound {
		return
	}
	switch v := v.(type) {
	case nil:
		b.WriteByte(0xf6)
	case bool:
		if v {
			b.WriteByte(0xf5)
		} else {
			b.WriteByte(0xf4)
		}
	case string:
		e.cborString(b, 3, []byte(v))
	case int64:
		e.cborInt(b, v)
	case int:
		e.cborInt(b, int64(v))
	case float64:
		e.cborFloat(b, v)
	case pfNum:
		e.cborNum(b, string(v))
	case pfTime:
		b.WriteByte(0xc1) // tag 1
		ms := float64(v) * 1000
		if ms == math.Trunc(ms) && math.Abs(ms) < 1<<62 {
			e.cborInt(b, int64(ms))
		} else {
			e.cborFloat(b, ms)
		}
	case pfBlob:
		e.cborString(b, 2, v)
	case pfRaw:
		b.Write(v.cbor)
	case []any:
		indef := e.coin(0.1)
		if indef {
			b.WriteByte(0x9f)
		} else {
			e.head(b, 4, uint64(len(v)))
		}
		for _, x := range v {
			if b.Len() >= pfEncodeBound {
				break
			}
			e.cbor(b, x)
		}
		if indef {
			b.WriteByte(0xff)
		}
	case pfObj:
		indef := e.coin(0.2)
		if indef {
			b.WriteByte(0xbf)
		} else {
			e.head(b, 5, uint64(len(v)))
		}
		for _, kv := range v {
			if b.Len() >= pfEncodeBound {
				break
			}
			e.cborString(b, 3, []byte(kv.k))
			e.cbor(b, kv.v)
		}
		if indef {
			b.WriteByte(0xff)
		}
	default:
		panic(fmt.Sprintf("protofuzz: no CBOR for %T", v))
	}
}

// cborNum writes a number literal: an integer in the narrowest form that
// holds it (a bignum tag beyond 64 bits), else a double.
func (e *pfEncoder) cborNum(b *bytes.Buffer, lit string) {
	if n, ok := new(big.Int).SetString(lit, 10); ok {
		switch {
		case n.IsInt64():
			e.cborInt(b, n.Int64())
		case n.Sign() > 0 && n.IsUint64():
			e.head(b, 0, n.Uint64())
		case n.Sign() > 0:
			b.WriteByte(0xc2) // tag 2, positive bignum
			e.cborString(b, 2, n.Bytes())
		default:
			b.WriteByte(0xc3) // tag 3, negative bignum: -1 - n
			m := new(big.Int).Neg(n)
			m.Sub(m, big.NewInt(1))
			e.cborString(b, 2, m.Bytes())
		}
		return
	}
	f, _ := strconv.ParseFloat(lit, 64) // ±Inf beyond range
	e.cborFloat(b, f)
}

// Interesting values for the mutations.
var (
	pfEdgeInts = []int64{0, -1, 1, 2, 9, 10, 24, 99, 100, 255, 256, 500, 501, 1000, 1001, 10000, 10001,
		8760, 8761, 23, 168, 65535, 1 << 20, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1,
		math.MaxInt64, math.MinInt64, 1 << 53, -(1 << 53)}
	pfEdgeNums = []pfNum{"1e400", "-1e400", "1e-400", "-0", "0.0", "1.5", "1E2", "2.0", "123456789012345678901234567890",
		"-340282366920938463463374607431768211456", "18446744073709551615", "18446744073709551616", "4.9e-324",
		"0e0", "1.7976931348623157e308", pfNum("9" + strings.Repeat("9", 400))}
	pfEdgeStrings = []string{"", " ", "a", "\x00", "\u00e9", "\u202e", "\ufeff", "\U0001F600", "\u0301",
		"\xff\xfe", "\xed\xa0\x80", "\xc0\x80", "%s%n%x", "'; DROP TABLE streams;--", "../../../etc/passwd",
		"a/b", "a:b", "arn:", "null", "true", "0", "-1", "{}", "[]", "shardId-", "\r\n", "\t", "\\", "\"",
		strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("\u00e9", 128), strings.Repeat("x", 256),
		strings.Repeat("x", 2049), strings.Repeat("\U0001F600", 300)}
	pfEdgeTimes = []pfTime{0, -1, 1, 1e9, 1.5e9, 2e9, 253402300799, 253402300800, 1e12, 1e15, -62135596800, 1e18, 1e20, 0.0001}
)

// pfOddEncodings are values only a hand-made encoding has: JSON the
// grammar forbids or stretches, CBOR tags, simple values and lengths that
// clients do not send.
var pfOddEncodings = []pfRaw{
	{json: []byte(`"\ud800"`), cbor: []byte{0x62, 0xed, 0xa0}},                          // a lone surrogate; a cut UTF-8 sequence
	{json: []byte(`"\u0000\u001f"`), cbor: []byte{0x62, 0x00, 0x1f}},                    // control characters
	{json: []byte(`1e99999999999`), cbor: []byte{0xf9, 0x7c, 0x00}},                     // beyond float64; half-float +Inf
	{json: []byte(`-`), cbor: []byte{0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}},               // a sign alone; a NaN payload
	{json: []byte(`01`), cbor: []byte{0xf7}},                                            // a leading zero; undefined
	{json: []byte(`+1`), cbor: []byte{0xf8, 0xff}},                                      // a plus sign; simple value 255
	{json: []byte(`[1,]`), cbor: []byte{0x9f, 0x01, 0x02}},                              // a trailing comma; an array without its break
	{json: []byte(`/*c*/1`), cbor: []byte{0xc1, 0x63, 'n', 'o', 'w'}},                   // a comment; a timestamp tag on text
	{json: []byte("ï»¿1"), cbor: []byte{0xc1, 0xc1, 0x00}},                              // a BOM; a tag on a tag
	{json: []byte(`tru`), cbor: []byte{0xc1, 0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}},       // a cut literal; a timestamp of +Inf
	{json: []byte(`"\x41"`), cbor: []byte{0xc1, 0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0}}, // a bad escape; a timestamp bignum
	{json: []byte(`{"a":1,}`), cbor: []byte{0x1c}},                                      // a trailing comma; reserved additional info
	{json: []byte(`[[[[[[[[[[`), cbor: []byte{0x5f, 0x61, 'a', 0xff}},                   // open arrays; a text chunk in a byte string
	{json: []byte(`"abc`), cbor: []byte{0x7f, 0x7f, 0xff, 0xff}},                        // an open string; nested indefinite text
	{json: []byte(`1.`), cbor: []byte{0xff}},                                            // a cut number; a stray break
	{json: []byte(`.5`), cbor: []byte{0xc0, 0x74, '2', '0', '2', '4', '-', '0', '1', '-', '0', '1', 'T', '0', '0', ':', '0', '0', ':', '0', '0', 'Z'}},
	{json: []byte(`1e-99999999999`), cbor: []byte{0xc1, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, // millis beyond int64
	{json: []byte(`-0.0e+0`), cbor: []byte{0xc1, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},        // the least int64 millis
	{json: []byte(`"\uDBFF\uDFFF"`), cbor: []byte{0xd9, 0xd9, 0xf7, 0xa0}},                                     // the last code point; self-described empty map
	{json: []byte(`null null`), cbor: []byte{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},            // two values; a map of 2^64-1
}

// pfWeird returns an odd value: an edge scalar, a wrong type, deep
// nesting, or something large.
func pfWeird(rng *rand.Rand) any {
	switch rng.IntN(16) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2, 3:
		return pfEdgeStrings[rng.IntN(len(pfEdgeStrings))]
	case 4, 5:
		return pfEdgeInts[rng.IntN(len(pfEdgeInts))]
	case 6:
		return pfEdgeNums[rng.IntN(len(pfEdgeNums))]
	case 7:
		return []float64{0.5, -0.0, 1e308, -1e308, 1e-320, math.Pi}[rng.IntN(6)]
	case 8:
		return pfEdgeTimes[rng.IntN(len(pfEdgeTimes))]
	case 9:
		return pfBlob(pfRandBytes(rng, rng.IntN(64)))
	case 10:
		return pfObj{}
	case 11:
		return []any{}
	case 12:
		return pfDeep(rng)
	case 13:
		// Many members or elements.
		n := []int{100, 1000, 10000}[rng.IntN(3)]
		if rng.IntN(2) == 0 {
			a := make([]any, n)
			for i := range a {
				a[i] = int64(i)
			}
			return a
		}
		o := make(pfObj, n)
		for i := range o {
			o[i] = pfKV{"k" + strconv.Itoa(i), "v"}
		}
		return o
	case 14:
		return strings.Repeat(string(rune('a'+rng.IntN(26))), []int{1 << 10, 64 << 10, 1 << 20}[rng.IntN(3)])
	default:
		if rng.IntN(4) == 0 {
			return pfRaw{json: []byte(`NaN`), cbor: []byte{0xf9, 0x7e, 0x00}} // NaN: not JSON; a CBOR half float
		}
		return pfOddEncodings[rng.IntN(len(pfOddEncodings))]
	}
}

// pfDeep nests a value in arrays or objects around the decoders' depth
// limit (1000).
func pfDeep(rng *rand.Rand) any {
	depth := []int{50, 999, 1000, 1001, 5000}[rng.IntN(5)]
	var v any = "x"
	obj := rng.IntN(2) == 0
	for range depth {
		if obj {
			v = pfObj{{"a", v}}
		} else {
			v = []any{v}
		}
	}
	return v
}

func pfRandBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 { // eight bytes a draw: bodies run to 16 MiB
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

// pfMutate returns v with one to three changes somewhere in it. names are
// strings worth substituting (stream names, ARNs, shard ids, iterators).
func pfMutate(rng *rand.Rand, v any, names []string) any {
	for range 1 + rng.IntN(3) {
		v = pfMutateOnce(rng, v, names, 0)
	}
	return v
}

func pfMutateOnce(rng *rand.Rand, v any, names []string, depth int) any {
	// Descend into a container with some probability, else change here.
	switch x := v.(type) {
	case pfObj:
		if len(x) > 0 && depth < 8 && rng.IntN(3) > 0 {
			o := append(pfObj(nil), x...)
			i := rng.IntN(len(o))
			o[i].v = pfMutateOnce(rng, o[i].v, names, depth+1)
			return o
		}
		return pfMutateObj(rng, x, names)
	case []any:
		if len(x) > 0 && depth < 8 && rng.IntN(3) > 0 {
			a := append([]any(nil), x...)
			i := rng.IntN(len(a))
			a[i] = pfMutateOnce(rng, a[i], names, depth+1)
			return a
		}
		switch rng.IntN(4) {
		case 0:
			return append(append([]any(nil), x...), pfWeird(rng))
		case 1:
			if len(x) > 0 {
				return x[:rng.IntN(len(x))]
			}
		case 2:
			// Many copies of one element (PutRecords over 500 records).
			if len(x) > 0 {
				n := []int{499, 500, 501, 1000}[rng.IntN(4)]
				a := make([]any, n)
				for i := range a {
					a[i] = x[i%len(x)]
				}
				return a
			}
		}
		return pfWeird(rng)
	case string:
		switch rng.IntN(6) {
		case 0, 1:
			if len(names) > 0 {
				return names[rng.IntN(len(names))]
			}
		case 2:
			return pfMutateString(rng, x)
		case 3:
			return pfNum(x) // a name or number as a bare literal
		}
		return pfWeird(rng)
	case pfBlob:
		switch rng.IntN(3) {
		case 0:
			return pfBlob(pfRandBytes(rng, []int{0, 1, 1 << 10, 1<<20 - 1, 1 << 20, 1<<20 + 1}[rng.IntN(6)]))
		case 1:
			return string(x) + "!" // not base64
		}
		return pfWeird(rng)
	}
	return pfWeird(rng)
}

func pfMutateObj(rng *rand.Rand, o pfObj, names []string) any {
	o = append(pfObj(nil), o...)
	switch rng.IntN(7) {
	case 0: // drop a member
		if len(o) > 0 {
			i := rng.IntN(len(o))
			return append(o[:i], o[i+1:]...)
		}
	case 1: // duplicate a member with another value
		if len(o) > 0 {
			kv := o[rng.IntN(len(o))]
			kv.v = pfMutateOnce(rng, kv.v, names, 8)
			if rng.IntN(2) == 0 {
				return append(pfObj{kv}, o...)
			}
			return append(o, kv)
		}
	case 2: // an unknown member
		k := []string{"Unknown", "streamname", "STREAMNAME", "", "__type", "\u0000", "StreamName ", "Records[0]"}[rng.IntN(8)]
		return append(o, pfKV{k, pfWeird(rng)})
	case 3: // a known member name from elsewhere
		k := []string{"StreamName", "StreamARN", "ShardId", "Limit", "NextToken", "Timestamp", "Data", "Records",
			"ConsumerARN", "StartingPosition", "ShardIteratorType", "Tags", "ResourceARN", "StreamId"}[rng.IntN(14)]
		return append(o, pfKV{k, pfWeird(rng)})
	case 4: // the whole object becomes something else
		return pfWeird(rng)
	case 5: // members shuffled
		rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
		return o
	}
	return pfObj{}
}

func pfMutateString(rng *rand.Rand, s string) string {
	b := []byte(s)
	if len(b) == 0 {
		return pfEdgeStrings[rng.IntN(len(pfEdgeStrings))]
	}
	i := rng.IntN(len(b))
	switch rng.IntN(5) {
	case 0:
		b[i] ^= 1 << rng.IntN(8)
	case 1:
		b = append(b[:i], b[i+1:]...)
	case 2:
		b = append(b[:i], append([]byte(pfEdgeStrings[rng.IntN(len(pfEdgeStrings))]), b[i:]...)...)
	case 3:
		b = b[:i]
	default:
		b = append(b, b...)
	}
	return string(b)
}

// pfMutateBytes changes an encoded body: bit flips, interesting bytes,
// cuts, copies, insertions and truncation.
func pfMutateBytes(rng *rand.Rand, b []byte, other []byte) []byte {
	b = append([]byte(nil), b...)
	for range 1 + rng.IntN(4) {
		if len(b) == 0 {
			b = append(b, pfRandBytes(rng, 1+rng.IntN(8))...)
			continue
		}
		i := rng.IntN(len(b))
		switch rng.IntN(9) {
		case 0, 1:
			b[i] ^= 1 << rng.IntN(8)
		case 2:
			b[i] = []byte{0x00, 0xff, '"', '{', '}', '[', ']', ',', ':', '\\', 0x7f, 0x80, 0xbf, 0xc0, 0x9f, 0x1f, 0xfb, 0xf7}[rng.IntN(18)]
		case 3:
			j := i + rng.IntN(len(b)-i+1)
			b = append(b[:i], b[j:]...)
		case 4:
			j := i + rng.IntN(min(len(b)-i, 64)+1)
			b = append(b[:j], append(append([]byte(nil), b[i:j]...), b[j:]...)...)
		case 5:
			b = append(b[:i], append(pfRandBytes(rng, 1+rng.IntN(16)), b[i:]...)...)
		case 6:
			b = b[:i]
		case 7:
			if len(other) > 0 {
				j := rng.IntN(len(other))
				b = append(b[:i], other[j:]...)
			}
		default:
			// A length or count byte near the start pushed to its limit.
			k := rng.IntN(min(len(b), 8))
			b[k] = []byte{0x1b, 0x3b, 0x5b, 0x7b, 0x9b, 0xbb, 0xdb, 0x1a, 0x5f, 0x7f}[rng.IntN(10)]
		}
	}
	return b
}
