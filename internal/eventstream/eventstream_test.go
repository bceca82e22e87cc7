package eventstream

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestRoundTripValueTypes(t *testing.T) {
	maxBytes := bytes.Repeat([]byte{0xa5}, MaxHeaderValueBytes)
	uuid := [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 0xff}
	tests := []struct {
		name    string
		v       HeaderValue
		typ     ValueType
		wireLen int // value bytes after the type tag
		check   func(HeaderValue) bool
	}{
		{"true", Bool(true), TypeBoolTrue, 0, func(v HeaderValue) bool { return v.Bool() }},
		{"false", Bool(false), TypeBoolFalse, 0, func(v HeaderValue) bool { return !v.Bool() }},
		{"byte min", Byte(math.MinInt8), TypeByte, 1, func(v HeaderValue) bool { return v.Int() == math.MinInt8 }},
		{"byte max", Byte(math.MaxInt8), TypeByte, 1, func(v HeaderValue) bool { return v.Int() == math.MaxInt8 }},
		{"int16 min", Int16(math.MinInt16), TypeInt16, 2, func(v HeaderValue) bool { return v.Int() == math.MinInt16 }},
		{"int16 max", Int16(math.MaxInt16), TypeInt16, 2, func(v HeaderValue) bool { return v.Int() == math.MaxInt16 }},
		{"int32 min", Int32(math.MinInt32), TypeInt32, 4, func(v HeaderValue) bool { return v.Int() == math.MinInt32 }},
		{"int32 -1", Int32(-1), TypeInt32, 4, func(v HeaderValue) bool { return v.Int() == -1 }},
		{"int64 min", Int64(math.MinInt64), TypeInt64, 8, func(v HeaderValue) bool { return v.Int() == math.MinInt64 }},
		{"int64 max", Int64(math.MaxInt64), TypeInt64, 8, func(v HeaderValue) bool { return v.Int() == math.MaxInt64 }},
		{"bytes empty", Bytes(nil), TypeBytes, 2, func(v HeaderValue) bool { return len(v.Bytes()) == 0 }},
		{"bytes", Bytes([]byte{0, 1, 0xff}), TypeBytes, 5, func(v HeaderValue) bool { return string(v.Bytes()) == "\x00\x01\xff" }},
		{"bytes max", Bytes(maxBytes), TypeBytes, 2 + MaxHeaderValueBytes, func(v HeaderValue) bool { return bytes.Equal(v.Bytes(), maxBytes) }},
		{"string empty", String(""), TypeString, 2, func(v HeaderValue) bool { return v.String() == "" }},
		{"string", String("SubscribeToShardEvent"), TypeString, 23, func(v HeaderValue) bool { return v.String() == "SubscribeToShardEvent" }},
		{"string utf8", String("héllo, 世界"), TypeString, 2 + len("héllo, 世界"), func(v HeaderValue) bool { return v.String() == "héllo, 世界" }},
		{"string max", String(strings.Repeat("x", MaxHeaderValueBytes)), TypeString, 2 + MaxHeaderValueBytes, func(v HeaderValue) bool { return len(v.String()) == MaxHeaderValueBytes }},
		{"timestamp", Timestamp(time.Date(2026, 11, 25, 19, 33, 10, 123456789, time.UTC)), TypeTimestamp, 8, func(v HeaderValue) bool {
			return v.Timestamp().Equal(time.Date(2026, 11, 25, 19, 33, 10, 123e6, time.UTC))
		}},
		{"timestamp before epoch", TimestampMillis(-1), TypeTimestamp, 8, func(v HeaderValue) bool { return v.TimestampMillis() == -1 }},
		{"timestamp extremes", TimestampMillis(math.MinInt64), TypeTimestamp, 8, func(v HeaderValue) bool { return v.TimestampMillis() == math.MinInt64 }},
		{"uuid", UUID(uuid), TypeUUID, 16, func(v HeaderValue) bool { return v.UUID() == uuid }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v.Type() != tc.typ {
				t.Fatalf("constructor made type %v, want %v", tc.v.Type(), tc.typ)
			}
			m := &Message{Headers: []Header{{Name: "h", Value: tc.v}}, Payload: []byte("p")}
			b, err := AppendMessage(nil, m)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			// prelude 12, name_len 1, name 1, type 1, value, payload 1, crc 4
			if want := 12 + 3 + tc.wireLen + 1 + 4; len(b) != want {
				t.Fatalf("encoded %d bytes, want %d", len(b), want)
			}
			if b[14] != byte(tc.typ) {
				t.Fatalf("type tag on the wire is %d, want %d", b[14], tc.typ)
			}
			got, err := NewDecoder(bytes.NewReader(b)).Decode()
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertMessage(t, got, m)
			v, ok := got.Header("h")
			if !ok || v.Type() != tc.typ || !tc.check(v) {
				t.Fatalf("decoded value %v (%v, found %v) fails its check", v, v.Type(), ok)
			}
		})
	}
}

func TestHeaderValueAccessors(t *testing.T) {
	// Accessors of the wrong type return zero values, never another
	// type's bits.
	s := String("x")
	if s.Int() != 0 || s.Bool() || s.Bytes() != nil || !s.Timestamp().IsZero() || s.UUID() != [16]byte{} || s.TimestampMillis() != 0 {
		t.Fatal("wrong-type accessors on a string return non-zero values")
	}
	if Timestamp(time.UnixMilli(5)).Int() != 0 {
		t.Fatal("Int() of a timestamp is not 0")
	}
	var zero HeaderValue
	if zero.Type() != TypeInvalid || zero.Bool() || zero.String() != "<invalid>" {
		t.Fatalf("zero HeaderValue: type %v, bool %v, string %q", zero.Type(), zero.Bool(), zero.String())
	}
	if Int16(7).Equal(Int32(7)) || !Bytes(nil).Equal(Bytes([]byte{})) || String("a").Equal(String("b")) {
		t.Fatal("Equal compares types or values wrongly")
	}
	for v, want := range map[string]string{
		UUID([16]byte{0x12, 0x34, 0x56, 0x78, 15: 1}).String(): "12345678-0000-0000-0000-000000000001",
		Bytes([]byte{0xab}).String():                           "ab",
		TimestampMillis(1500).String():                         "1970-01-01T00:00:01.5Z",
		Byte(-3).String():                                      "-3",
		Bool(false).String():                                   "false",
		ValueType(42).String():                                 "ValueType(42)",
	} {
		if v != want {
			t.Errorf("String() = %q, want %q", v, want)
		}
	}
}

func TestKinesisHelpers(t *testing.T) {
	tests := []struct {
		m       *Message
		headers [][2]string
		payload string
	}{
		{EventMessage("SubscribeToShardEvent", []byte(`{"Records":[]}`)),
			[][2]string{{":message-type", "event"}, {":event-type", "SubscribeToShardEvent"}, {":content-type", "application/json"}},
			`{"Records":[]}`},
		{ExceptionMessage("ResourceInUseException", []byte(`{"message":"m"}`)),
			[][2]string{{":message-type", "exception"}, {":exception-type", "ResourceInUseException"}, {":content-type", "application/json"}},
			`{"message":"m"}`},
		{ErrorMessage("InternalFailure", "boom"),
			[][2]string{{":message-type", "error"}, {":error-code", "InternalFailure"}, {":error-message", "boom"}},
			""},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := NewEncoder(&buf).Encode(tc.m); err != nil {
			t.Fatal(err)
		}
		got, err := NewDecoder(&buf).Decode()
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Headers) != len(tc.headers) || string(got.Payload) != tc.payload {
			t.Fatalf("got %s", describe(got))
		}
		for i, kv := range tc.headers {
			h := got.Headers[i]
			if h.Name != kv[0] || h.Value.Type() != TypeString || h.Value.String() != kv[1] {
				t.Fatalf("header %d is %s=%v (%v), want %s=%s", i, h.Name, h.Value, h.Value.Type(), kv[0], kv[1])
			}
		}
	}
	if _, ok := tests[0].m.Header(":exception-type"); ok {
		t.Fatal("Header found a header the message does not have")
	}
}

func TestErrorMessageTruncates(t *testing.T) {
	// "é" is two bytes; an odd limit falls inside one.
	long := strings.Repeat("é", MaxHeaderValueBytes)
	m := ErrorMessage("InternalFailure", long)
	v, _ := m.Header(HeaderErrorMessage)
	if len(v.String()) != MaxHeaderValueBytes-1 || !strings.HasPrefix(long, v.String()) {
		t.Fatalf("truncated to %d bytes, want %d", len(v.String()), MaxHeaderValueBytes-1)
	}
	if _, err := AppendMessage(nil, m); err != nil {
		t.Fatalf("truncated error message does not encode: %v", err)
	}
}

func TestEncodeLimits(t *testing.T) {
	bigHeaders := make([]Header, 0, 5)
	for i := range 5 { // 5 * (1+1+1+2+32767) > 128 KiB
		bigHeaders = append(bigHeaders, Header{Name: string(rune('a' + i)), Value: Bytes(make([]byte, MaxHeaderValueBytes))})
	}
	// Headers of exactly MaxHeadersBytes: three full values plus one
	// header that takes the remainder (each costs 5 bytes of framing).
	exact := append([]Header(nil), bigHeaders[:3]...)
	rem := MaxHeadersBytes - 3*(5+MaxHeaderValueBytes)
	exact = append(exact, Header{Name: "e", Value: Bytes(make([]byte, rem-5))})
	overByOne := append(append([]Header(nil), exact[:3]...), Header{Name: "e", Value: Bytes(make([]byte, rem-4))})

	tests := []struct {
		name string
		m    *Message
		want error
	}{
		{"empty name", &Message{Headers: []Header{{Name: "", Value: Bool(true)}}}, ErrBadHeader},
		{"name 255", &Message{Headers: []Header{{Name: strings.Repeat("n", 255), Value: Bool(true)}}}, nil},
		{"name 256", &Message{Headers: []Header{{Name: strings.Repeat("n", 256), Value: Bool(true)}}}, ErrBadHeader},
		{"zero value", &Message{Headers: []Header{{Name: "z"}}}, ErrBadHeader},
		{"duplicate", &Message{Headers: []Header{{Name: "d", Value: Bool(true)}, {Name: "d", Value: Bool(false)}}}, ErrBadHeader},
		{"string 32768", &Message{Headers: []Header{{Name: "s", Value: String(strings.Repeat("x", MaxHeaderValueBytes+1))}}}, ErrBadHeader},
		{"bytes 32768", &Message{Headers: []Header{{Name: "b", Value: Bytes(make([]byte, MaxHeaderValueBytes+1))}}}, ErrBadHeader},
		{"headers exactly 128 KiB", &Message{Headers: exact}, nil},
		{"headers 128 KiB + 1", &Message{Headers: overByOne}, ErrHeadersTooLarge},
		{"headers far over", &Message{Headers: bigHeaders}, ErrHeadersTooLarge},
		{"message exactly 16 MiB", &Message{Payload: make([]byte, MaxMessageBytes-MinMessageBytes)}, nil},
		{"message 16 MiB + 1", &Message{Payload: make([]byte, MaxMessageBytes-MinMessageBytes+1)}, ErrMessageTooLarge},
		{"message over with headers", &Message{Headers: []Header{{Name: "a", Value: Bool(true)}}, Payload: make([]byte, MaxMessageBytes-MinMessageBytes)}, ErrMessageTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendMessage(dst, tc.m)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("AppendMessage error = %v, want %v", err, tc.want)
			}
			if err != nil {
				if string(out) != "keep" {
					t.Fatalf("failed AppendMessage changed dst to %d bytes", len(out))
				}
				return
			}
			got, err := NewDecoder(bytes.NewReader(out[4:])).Decode()
			if err != nil {
				t.Fatalf("Decode of a message at the limit: %v", err)
			}
			assertMessage(t, got, tc.m)
		})
	}
}

// TestDecodeLimits feeds preludes whose checksums match but whose lengths
// are out of bounds. The reader holds only the prelude, so a decoder that
// tried to read (or allocate) the body would report io.ErrUnexpectedEOF
// instead of the limit.
func TestDecodeLimits(t *testing.T) {
	tests := []struct {
		name        string
		total, hlen uint32
		want        error
	}{
		{"total 0", 0, 0, ErrBadPrelude},
		{"total 15", 15, 0, ErrBadPrelude},
		{"headers past total", 20, 5, ErrBadPrelude},
		{"total 16 MiB + 1", MaxMessageBytes + 1, 0, ErrMessageTooLarge},
		{"total 4 GiB - 1", math.MaxUint32, 0, ErrMessageTooLarge},
		{"headers 128 KiB + 1", MaxMessageBytes, MaxHeadersBytes + 1, ErrHeadersTooLarge},
		{"headers 4 GiB - 1", 100, math.MaxUint32, ErrHeadersTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prelude := handFrameLens(tc.total, tc.hlen, nil, nil)[:12]
			_, err := NewDecoder(bytes.NewReader(prelude)).Decode()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeBadHeaders feeds header sections that are wrong in every way
// the parser checks, in frames with valid checksums.
func TestDecodeBadHeaders(t *testing.T) {
	long := make([]byte, 0, 3+MaxHeaderValueBytes+1)
	long = append(long, 1, 'l', byte(TypeString), 0x80, 0x00) // 32768
	long = append(long, make([]byte, MaxHeaderValueBytes+1)...)
	tests := []struct {
		name    string
		headers []byte
	}{
		{"empty name", []byte{0, byte(TypeBoolTrue)}},
		{"name overruns", []byte{5, 'a', 'b'}},
		{"no type byte", []byte{1, 'a'}},
		{"unknown type 10", []byte{1, 'a', 10}},
		{"unknown type 255", []byte{1, 'a', 255}},
		{"int32 short", []byte{1, 'a', byte(TypeInt32), 0, 0, 0}},
		{"uuid short", append([]byte{1, 'a', byte(TypeUUID)}, make([]byte, 15)...)},
		{"string length cut", []byte{1, 'a', byte(TypeString), 0}},
		{"string overruns", []byte{1, 'a', byte(TypeString), 0, 3, 'x', 'y'}},
		{"bytes overruns", []byte{1, 'a', byte(TypeBytes), 0xff, 0xff}},
		{"string 32768", long},
		{"duplicate", []byte{1, 'a', byte(TypeBoolTrue), 1, 'a', byte(TypeBoolFalse)}},
		{"trailing byte", []byte{1, 'a', byte(TypeBoolTrue), 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewDecoder(bytes.NewReader(handFrame(tc.headers, []byte("payload")))).Decode()
			if !errors.Is(err, ErrBadHeader) || m != nil {
				t.Fatalf("Decode = %v, %v; want ErrBadHeader", describe(m), err)
			}
		})
	}
}

// TestDecodeManyHeaders checks the linear duplicate check on a header
// section packed with the smallest headers.
func TestDecodeManyHeaders(t *testing.T) {
	var m Message
	for i := 0; len(m.Headers) < 20000; i++ {
		m.Headers = append(m.Headers, Header{Name: string([]byte{byte(1 + i%255), byte(1 + i/255)}), Value: Bool(i%2 == 0)})
	}
	b, err := AppendMessage(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	assertMessage(t, got, &m)

	m.Headers[19999].Name = m.Headers[0].Name
	if _, err := AppendMessage(nil, &m); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("duplicate among many headers: %v, want ErrBadHeader", err)
	}
}

// kinesisStream returns the messages of a short SubscribeToShard response
// and their concatenated encoding.
func kinesisStream(t testing.TB) ([]*Message, []byte) {
	msgs := []*Message{
		EventMessage("initial-response", []byte("{}")),
		EventMessage("SubscribeToShardEvent", []byte(`{"ContinuationSequenceNumber":"4959","MillisBehindLatest":0,"Records":[]}`)),
		{Headers: []Header{{Name: "n", Value: Int64(-7)}}},
		{},
		ExceptionMessage("ResourceInUseException", []byte(`{"message":"Another subscription took over"}`)),
	}
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = AppendMessage(b, m); err != nil {
			t.Fatal(err)
		}
	}
	return msgs, b
}

func TestDecodeStream(t *testing.T) {
	msgs, b := kinesisStream(t)
	checkDecodeStream(t, b, msgs, (*Decoder).Decode)
}

// checkDecodeStream decodes b with next, the stream arriving whole and in
// pieces of several sizes, and checks that it gives msgs and then io.EOF.
// Each message is checked before the next is read.
func checkDecodeStream(t *testing.T, b []byte, msgs []*Message, next func(*Decoder) (*Message, error)) {
	t.Helper()
	readers := map[string]io.Reader{
		"whole":    bytes.NewReader(b),
		"one byte": iotest.OneByteReader(bytes.NewReader(b)),
		"half":     iotest.HalfReader(bytes.NewReader(b)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(b)),
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(r)
			for i, want := range msgs {
				got, err := next(d)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				assertMessage(t, got, want)
			}
			for range 2 {
				if m, err := next(d); m != nil || err != io.EOF {
					t.Fatalf("after the last message: %v, %v; want io.EOF", m, err)
				}
			}
		})
	}
}

// TestDecodeShared reads messages of growing and shrinking sizes with
// DecodeShared: each is whole while it is the latest, and once the buffer
// has grown to the largest a message costs no allocation for its body.
func TestDecodeShared(t *testing.T) {
	var msgs []*Message
	var b []byte
	for _, n := range []int{10, 5000, 0, 70000, 3, 70000, 20} {
		m := EventMessageAs("SubscribeToShardEvent", ContentTypeJSON, bytes.Repeat([]byte{byte('a' + n%26)}, n))
		if n == 0 {
			m.Payload = nil
		}
		msgs = append(msgs, m)
		var err error
		if b, err = AppendMessage(b, m); err != nil {
			t.Fatal(err)
		}
	}
	checkDecodeStream(t, b, msgs, (*Decoder).DecodeShared)

	one, err := AppendMessage(nil, msgs[3])
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(one)
	d := NewDecoder(r)
	decode := func(next func() (*Message, error)) {
		r.Reset(one)
		d.err, d.offset = nil, 0
		if _, err := next(); err != nil {
			t.Fatal(err)
		}
	}
	decode(d.DecodeShared) // grows the buffers
	shared := testing.AllocsPerRun(20, func() { decode(d.DecodeShared) })
	own := testing.AllocsPerRun(20, func() { decode(d.Decode) })
	// What is left is a string per header name and per string value.
	if want := float64(2 * len(msgs[3].Headers)); shared > want || own <= shared {
		t.Fatalf("allocations per message: DecodeShared %v (want at most %v), Decode %v", shared, want, own)
	}
}

// TestDecodeLeavesReader checks that the Decoder reads no byte past the
// message it returns.
func TestDecodeLeavesReader(t *testing.T) {
	_, b := kinesisStream(t)
	r := bytes.NewReader(append(b[:104:104], "rest"...))
	if _, err := NewDecoder(r).Decode(); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "rest" {
		t.Fatalf("reader left with %q, want \"rest\"", rest)
	}
}

// TestDecodeOwnership checks that a returned message does not change when
// the Decoder goes on to the next one.
func TestDecodeOwnership(t *testing.T) {
	a := &Message{Headers: []Header{{Name: "b", Value: Bytes([]byte("first"))}}, Payload: []byte("one")}
	b := &Message{Headers: []Header{{Name: "b", Value: Bytes([]byte("2nd!!"))}}, Payload: []byte("two")}
	buf, _ := AppendMessage(nil, a)
	buf, _ = AppendMessage(buf, b)
	d := NewDecoder(bytes.NewReader(buf))
	gotA, _ := d.Decode()
	gotB, _ := d.Decode()
	assertMessage(t, gotA, a)
	assertMessage(t, gotB, b)
	// Appending to a returned slice must not write into its neighbour.
	_ = append(gotA.Headers[0].Value.Bytes(), "XXXX"...)
	_ = append(gotA.Payload, "XXXX"...)
	assertMessage(t, gotA, a)
}

func TestCorruption(t *testing.T) {
	_, stream := kinesisStream(t)
	inputs := map[string][]byte{
		"all_headers":    mustHex(t, positiveVectors[4].hex),
		"empty":          mustHex(t, positiveVectors[0].hex),
		"kinesis stream": stream,
	}
	for name, orig := range inputs {
		t.Run(name, func(t *testing.T) {
			var want []*Message
			d := NewDecoder(bytes.NewReader(orig))
			for {
				m, err := d.Decode()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("uncorrupted input: %v", err)
				}
				want = append(want, m)
			}
			buf := make([]byte, len(orig))
			for i := range orig {
				for x := 1; x < 256; x++ {
					copy(buf, orig)
					buf[i] ^= byte(x)
					checkCorrupted(t, buf, want, i, x)
				}
			}
		})
	}
}

// checkCorrupted decodes buf, in which byte i was XORed with x, and
// requires an error no later than the corrupted message, with every message
// before it intact.
func checkCorrupted(t *testing.T, buf []byte, want []*Message, i, x int) {
	t.Helper()
	d := NewDecoder(bytes.NewReader(buf))
	for k := 0; ; k++ {
		m, err := d.Decode()
		if err != nil {
			if err == io.EOF {
				t.Fatalf("byte %d ^ %#x: decoded %d messages and io.EOF", i, x, k)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("byte %d ^ %#x: error %v is not a *FormatError", i, x, err)
			}
			if fe.Offset > int64(i) {
				t.Fatalf("byte %d ^ %#x: error at offset %d, past the corruption", i, x, fe.Offset)
			}
			return
		}
		if k >= len(want) || !messagesEqual(m, want[k]) {
			t.Fatalf("byte %d ^ %#x: message %d decoded wrongly: %s", i, x, k, describe(m))
		}
	}
}

func TestTruncation(t *testing.T) {
	msgs, stream := kinesisStream(t)
	ends := []int{0} // offsets where a message ends
	for _, m := range msgs {
		b, _ := AppendMessage(nil, m)
		ends = append(ends, ends[len(ends)-1]+len(b))
	}
	for n := 0; n < len(stream); n++ {
		d := NewDecoder(bytes.NewReader(stream[:n]))
		whole := 0 // messages that fit in n bytes
		for whole+1 < len(ends) && ends[whole+1] <= n {
			whole++
		}
		for k := range whole {
			m, err := d.Decode()
			if err != nil {
				t.Fatalf("prefix %d: message %d: %v", n, k, err)
			}
			assertMessage(t, m, msgs[k])
		}
		m, err := d.Decode()
		switch {
		case m != nil:
			t.Fatalf("prefix %d: decoded a message from a partial one", n)
		case n == ends[whole]:
			if err != io.EOF {
				t.Fatalf("prefix %d ends between messages: %v, want io.EOF", n, err)
			}
		case !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("prefix %d: %v, want io.ErrUnexpectedEOF", n, err)
		default:
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset != int64(ends[whole]) {
				t.Fatalf("prefix %d: %#v, want a *FormatError at offset %d", n, err, ends[whole])
			}
		}
	}
}

// TestTruncatedLargeMessage checks that a message announced as large but
// cut short is reported without first allocating all of it.
func TestTruncatedLargeMessage(t *testing.T) {
	frame := handFrameLens(MaxMessageBytes, 0, nil, nil)[:12]
	frame = append(frame, make([]byte, 1000)...)
	if _, err := NewDecoder(bytes.NewReader(frame)).Decode(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Decode: %v", err)
	}
	var ms1, ms2 runtimeMem
	ms1.read()
	for range 10 {
		_, _ = NewDecoder(bytes.NewReader(frame)).Decode()
	}
	ms2.read()
	if per := (ms2.total - ms1.total) / 10; per > readChunkBytes+64<<10 {
		t.Fatalf("a truncated 16 MiB message allocated %d bytes, want at most %d", per, readChunkBytes+64<<10)
	}
}

func TestDecodeLargePayload(t *testing.T) {
	// Larger than readChunkBytes and not a multiple of it, so the
	// chunked read path runs and ends part-way through a chunk.
	payload := make([]byte, 2*readChunkBytes+12345)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	m := EventMessage("SubscribeToShardEvent", payload)
	b, err := AppendMessage(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewDecoder(iotest.HalfReader(bytes.NewReader(b))).Decode()
	if err != nil {
		t.Fatal(err)
	}
	assertMessage(t, got, m)
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestDecodeReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	_, stream := kinesisStream(t)
	d := NewDecoder(io.MultiReader(bytes.NewReader(stream[:110]), failingReader{boom}))
	if _, err := d.Decode(); err != nil {
		t.Fatal(err)
	}
	_, err := d.Decode()
	var fe *FormatError
	if !errors.Is(err, boom) || errors.As(err, &fe) {
		t.Fatalf("Decode = %v, want the reader's error, not a FormatError", err)
	}
	if _, again := d.Decode(); again != err {
		t.Fatalf("second Decode after an error = %v, want the same error", again)
	}
}

func TestDecoderErrorIsSticky(t *testing.T) {
	_, stream := kinesisStream(t)
	bad := bytes.Clone(stream)
	bad[20] ^= 1
	d := NewDecoder(bytes.NewReader(bad))
	_, err1 := d.Decode()
	_, err2 := d.Decode()
	if !errors.Is(err1, ErrMessageChecksum) || err2 != err1 {
		t.Fatalf("errors %v then %v; want ErrMessageChecksum twice", err1, err2)
	}
}

type shortWriter struct {
	buf  bytes.Buffer
	fail bool
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 1, errors.New("broken pipe")
	}
	return w.buf.Write(p)
}

func TestEncoder(t *testing.T) {
	msgs, stream := kinesisStream(t)
	w := &shortWriter{}
	e := NewEncoder(w)
	for _, m := range msgs {
		if err := e.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(w.buf.Bytes(), stream) {
		t.Fatal("Encoder output differs from AppendMessage")
	}

	// A message over the limits is refused without writing or breaking
	// the Encoder.
	if err := e.Encode(&Message{Headers: []Header{{Name: ""}}}); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("Encode of a bad header: %v", err)
	}
	if w.buf.Len() != len(stream) {
		t.Fatal("a refused message wrote bytes")
	}
	if err := e.Encode(msgs[0]); err != nil {
		t.Fatalf("Encode after a refused message: %v", err)
	}

	// A write error sticks.
	w.fail = true
	err := e.Encode(msgs[0])
	if err == nil {
		t.Fatal("Encode hid a write error")
	}
	w.fail = false
	if again := e.Encode(msgs[0]); again != err {
		t.Fatalf("Encode after a write error = %v, want %v", again, err)
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	m := EventMessage("SubscribeToShardEvent", bytes.Repeat([]byte("x"), 4096))
	e := NewEncoder(io.Discard)
	if err := e.Encode(m); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = e.Encode(m) }); n != 0 {
		t.Errorf("Encoder.Encode allocates %v times per message", n)
	}
	dst := make([]byte, 0, 8192)
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendMessage(dst[:0], m) }); n != 0 {
		t.Errorf("AppendMessage with room in dst allocates %v times", n)
	}
}

func TestEncoderDropsHugeBuffer(t *testing.T) {
	e := NewEncoder(io.Discard)
	if err := e.Encode(&Message{Payload: make([]byte, retainBytesMax+1)}); err != nil {
		t.Fatal(err)
	}
	if cap(e.buf) > retainBytesMax {
		t.Fatalf("Encoder kept a %d-byte buffer, limit %d", cap(e.buf), retainBytesMax)
	}
}
