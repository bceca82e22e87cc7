package awsproto

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// Requests exactly as the AWS Java SDK v2 writes them with Jackson's
// CBORGenerator: indefinite-length maps and arrays (writeStartObject /
// writeStartArray without a size), definite text keys, byte strings for
// blobs, tag 1 + an integer of epoch milliseconds for timestamps
// (SdkCborGenerator), minimal-width integers.
func TestUnmarshalCBORJavaSDK(t *testing.T) {
	const ms = 1572297168123 // needs the 8-byte integer form
	body := newCB().indefMap().
		text("Records").indefArray().
		indefMap().text("Data").bytes([]byte("hello")).text("PartitionKey").text("pk1").brk().
		indefMap().text("Data").bytes([]byte{}).text("ExplicitHashKey").text("340282366920938463463374607431768211455").text("PartitionKey").text("pk2").brk().
		brk().
		text("StreamName").text("my-stream").
		text("Timestamp").tag(1).uint(ms).
		text("Limit").uint(10000).
		brk().done()
	if !bytes.Contains(body, []byte{0xc1, 0x1b}) {
		t.Fatalf("test vector does not hold tag 1 + 8-byte integer: %x", body)
	}
	var got putRecordsRequest
	if err := Unmarshal(CBOR, body, &got); err != nil {
		t.Fatal(err)
	}
	want := putRecordsRequest{
		StreamName: ptr("my-stream"),
		Records: []putRecordsEntry{
			{Data: []byte("hello"), PartitionKey: "pk1"},
			{Data: []byte{}, PartitionKey: "pk2", ExplicitHashKey: ptr("340282366920938463463374607431768211455")},
		},
		Timestamp: &Timestamp{ms},
		Limit:     ptr[int32](10000),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", dump(got), dump(want))
	}
}

func TestUnmarshalCBOR(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want allTypes
	}{
		{"empty body", nil, allTypes{}},
		{"empty map", []byte{0xa0}, allTypes{}},
		{"empty indefinite map", []byte{0xbf, 0xff}, allTypes{}},
		{"definite map", newCB().mapN(3).text("Bool").boolean(true).text("Int").neg(6).text("Str").text("s").done(),
			allTypes{Bool: ptr(true), Int: ptr[int32](-7), Str: ptr("s")}},
		{"integer widths", newCB().mapN(3).text("Int").raw(0x18, 200).text("Long").raw(0x1a, 0, 1, 0, 0).text("Short").raw(0x19, 1, 0).done(),
			allTypes{Int: ptr[int32](200), Long: ptr[int64](65536), Short: ptr[int16](256)}},
		{"non-minimal integers", newCB().mapN(1).text("Int").raw(0x1b, 0, 0, 0, 0, 0, 0, 0, 5).done(), allTypes{Int: ptr[int32](5)}},
		{"clamped integers", newCB().mapN(3).text("Int").uint(1 << 40).text("Long").uint(math.MaxUint64).text("Uint").neg(5).done(),
			allTypes{Int: ptr[int32](math.MaxInt32), Long: ptr[int64](math.MaxInt64), Uint: ptr[uint32](0)}},
		{"most negative", newCB().mapN(2).text("Long").neg(math.MaxUint64).text("Int").neg(1 << 31).done(),
			allTypes{Long: ptr[int64](math.MinInt64), Int: ptr[int32](math.MinInt32)}},
		{"half float", newCB().mapN(1).text("Double").half(0x3e00).done(), allTypes{Double: ptr(1.5)}},
		{"half float subnormal", newCB().mapN(1).text("Double").half(0x0001).done(), allTypes{Double: ptr(math.Ldexp(1, -24))}},
		{"half float negative", newCB().mapN(1).text("Double").half(0xc400).done(), allTypes{Double: ptr(-4.0)}},
		{"half float infinity", newCB().mapN(1).text("Double").half(0x7c00).done(), allTypes{Double: ptr(math.MaxFloat64)}},
		{"single float", newCB().mapN(1).text("Float").single(0.25).done(), allTypes{Float: ptr[float32](0.25)}},
		{"double", newCB().mapN(1).text("Double").double(-2.5e-3).done(), allTypes{Double: ptr(-2.5e-3)}},
		{"floats into integers floor", newCB().mapN(3).text("Int").double(34.56).text("Long").single(-1.5).text("Short").half(0x7c00).done(),
			allTypes{Int: ptr[int32](34), Long: ptr[int64](-2), Short: ptr[int16](math.MaxInt16)}},
		{"integer into double", newCB().mapN(1).text("Double").uint(3).done(), allTypes{Double: ptr(3.0)}},
		{"bignum", newCB().mapN(2).text("Long").tag(2).bytes([]byte{0, 0, 1, 0}).text("Int").tag(3).bytes([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}).done(),
			allTypes{Long: ptr[int64](256), Int: ptr[int32](math.MinInt32)}},
		{"null and undefined are absent", newCB().mapN(3).text("Str").null().text("Int").raw(0xf7).text("Ts").tag(1).null().done(), allTypes{}},
		{"unknown members are skipped",
			newCB().indefMap().text("X").indefArray().uint(1).neg(1).null().raw(0xf7).boolean(false).half(0x7c00).single(1).double(2).
				indefBytes([]byte{9}).indefText("a").tag(55799).mapN(1).text("k").array(0).tag(2).bytes([]byte{1}).brk().
				text("Str").text("x").brk().done(),
			allTypes{Str: ptr("x")}},
		{"names are case-sensitive", newCB().mapN(1).text("str").text("x").done(), allTypes{}},
		{"last duplicate wins", newCB().mapN(2).text("Str").text("a").text("Str").text("b").done(), allTypes{Str: ptr("b")}},
		{"chunked text and key", newCB().indefMap().indefText("S", "t", "r").indefText("ab", "", "c").brk().done(), allTypes{Str: ptr("abc")}},
		{"empty chunked text", newCB().mapN(1).text("Str").indefText().done(), allTypes{Str: ptr("")}},
		{"blob", newCB().mapN(1).text("Blob").bytes([]byte{0, 1, 2, 0xff}).done(), allTypes{Blob: []byte{0, 1, 2, 0xff}}},
		{"chunked blob", newCB().mapN(1).text("Blob").indefBytes([]byte{1, 2}, []byte{}, []byte{3}).done(), allTypes{Blob: []byte{1, 2, 3}}},
		{"empty blob is present", newCB().mapN(1).text("Blob").bytes(nil).done(), allTypes{Blob: []byte{}}},
		{"base64 text blob", newCB().mapN(1).text("Blob").text("AAEC").done(), allTypes{Blob: []byte{0, 1, 2}}},
		{"invalid utf-8", newCB().mapN(1).text("Str").text("a\xffb").done(), allTypes{Str: ptr("a\uFFFDb")}},
		{"utf-8", newCB().mapN(1).text("Str").text("zoë 😀").done(), allTypes{Str: ptr("zoë 😀")}},
		{"list", newCB().mapN(1).text("List").array(2).text("a").text("b").done(), allTypes{List: []string{"a", "b"}}},
		{"indefinite list", newCB().mapN(1).text("List").indefArray().text("a").null().brk().done(), allTypes{List: []string{"a", ""}}},
		{"empty list", newCB().mapN(1).text("List").array(0).done(), allTypes{List: []string{}}},
		{"map", newCB().mapN(1).text("Map").indefMap().text("k1").text("v1").indefText("k", "2").text("v2").brk().done(),
			allTypes{Map: map[string]string{"k1": "v1", "k2": "v2"}}},
		{"struct", newCB().mapN(1).text("Struct").mapN(2).text("Name").text("n").text("Count").uint(2).done(),
			allTypes{Struct: &inner{Name: ptr("n"), Count: ptr[int32](2)}}},
		{"list of structs", newCB().mapN(1).text("Nested").array(2).mapN(1).text("Name").text("a").indefMap().brk().done(),
			allTypes{Nested: []inner{{Name: ptr("a")}, {}}}},
		{"any", newCB().mapN(1).text("Any").mapN(1).text("a").array(5).uint(1).text("x").boolean(true).null().bytes([]byte{7}).done(),
			allTypes{Any: map[string]any{"a": []any{1.0, "x", true, nil, []byte{7}}}}},
		{"tags are ignored", newCB().tag(55799).mapN(1).text("Str").tag(32).text("x").done(), allTypes{Str: ptr("x")}},
		{"bool strings", newCB().mapN(1).text("Bool").text("yes").done(), allTypes{Bool: ptr(true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got allTypes
			if err := Unmarshal(CBOR, tt.body, &got); err != nil {
				t.Fatalf("Unmarshal(%x): %v", tt.body, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

// CBOR timestamps: integers are epoch milliseconds, floats epoch seconds,
// tagged with 1 or not.
func TestUnmarshalCBORTimestamps(t *testing.T) {
	const ms = 1572297168123
	tests := []struct {
		name string
		ts   []byte
		want int64
	}{
		{"tag 1 + uint64 millis (Java SDK)", newCB().tag(1).uint(ms).done(), ms},
		{"tag 1 + small millis", newCB().tag(1).uint(5).done(), 5},
		{"tag 1 + negative millis", newCB().tag(1).neg(1499).done(), -1500},
		{"untagged millis", newCB().uint(ms).done(), ms},
		{"tag 1 + double seconds", newCB().tag(1).double(1572297168.123).done(), ms},
		{"untagged double seconds", newCB().double(1572297168.5).done(), 1572297168500},
		{"tag 1 + single seconds", newCB().tag(1).single(1.5).done(), 1500},
		{"half seconds", newCB().half(0x3e00).done(), 1500},
		{"bignum millis", newCB().tag(2).bytes([]byte{1, 0}).done(), 256},
		{"huge double", newCB().double(1e300).done(), math.MaxInt64},
	}
	for _, tt := range tests {
		body := append(newCB().mapN(1).text("Ts").done(), tt.ts...)
		var got allTypes
		if err := Unmarshal(CBOR, body, &got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Ts.Millis != tt.want {
			t.Errorf("%s: got %d ms, want %d", tt.name, got.Ts.Millis, tt.want)
		}
	}
}

// CBOR values of the wrong type get the same Coral messages as JSON ones;
// byte strings, which JSON lacks, are Java byte[] ("class [B").
func TestUnmarshalCBORTypeErrors(t *testing.T) {
	const (
		num    = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an "
		list   = "Start of list found where not expected"
		object = "Start of structure or map found where not expected."
	)
	tests := []struct {
		member string
		value  *cb
		msg    string
	}{
		{"Str", newCB().uint(23), num + "String"},
		{"Str", newCB().neg(0), num + "String"},
		{"Str", newCB().double(34.56), num + "String"},
		{"Str", newCB().tag(2).bytes([]byte{1}), num + "String"},
		{"Str", newCB().boolean(true), "class java.lang.Boolean can not be converted to an String"},
		{"Str", newCB().bytes([]byte("s")), "class [B can not be converted to an String"},
		{"Str", newCB().array(0), list},
		{"Str", newCB().indefArray().brk(), list},
		{"Str", newCB().mapN(0), object},
		{"Bool", newCB().uint(1), num + "Boolean"},
		{"Bool", newCB().text("23"), "'23' can not be converted to an Boolean"},
		{"Int", newCB().text("23"), "class java.lang.String can not be converted to an Integer"},
		{"Int", newCB().boolean(false), "class java.lang.Boolean can not be converted to an Integer"},
		{"Long", newCB().bytes([]byte{1}), "class [B can not be converted to an Long"},
		{"Blob", newCB().uint(1), "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"},
		{"Blob", newCB().boolean(true), "class java.lang.Boolean can not be converted to a Blob"},
		{"Blob", newCB().text("23456"), "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"},
		{"Blob", newCB().array(0), list},
		{"Ts", newCB().text("x"), "class java.lang.String can not be converted to milliseconds since epoch"},
		{"Ts", newCB().tag(1).text("2019-10-28T21:12:48Z"), "class java.lang.String can not be converted to milliseconds since epoch"},
		{"Ts", newCB().boolean(true), "class java.lang.Boolean can not be converted to milliseconds since epoch"},
		{"Ts", newCB().bytes(nil), "class [B can not be converted to milliseconds since epoch"},
		{"List", newCB().text("x"), "Expected list or null"},
		{"List", newCB().mapN(0), object},
		{"List", newCB().array(1).uint(1), num + "String"},
		{"Map", newCB().uint(1), "Expected map or null"},
		{"Map", newCB().array(0), list},
		{"Struct", newCB().text("x"), "Expected null"},
		{"Struct", newCB().array(0), list},
		{"Nested", newCB().array(1).mapN(1).text("Count").text("1"), "class java.lang.String can not be converted to an Integer"},
	}
	for _, tt := range tests {
		body := append(newCB().mapN(1).text(tt.member).done(), tt.value.done()...)
		var got allTypes
		err := Unmarshal(CBOR, body, &got)
		e, ok := err.(*Error)
		if !ok || e.Type != "SerializationException" || e.Message != tt.msg {
			t.Errorf("%s = %x:\n got  %v\n want SerializationException: %s", tt.member, tt.value.Bytes(), err, tt.msg)
		}
	}
}

func TestUnmarshalCBORSyntaxErrors(t *testing.T) {
	deep := newCB().mapN(1).text("Any")
	for range maxDepth {
		deep.array(1)
	}
	deep.uint(0)
	deepTags := newCB().mapN(1).text("Str")
	for range maxDepth + 1 {
		deepTags.tag(1)
	}
	deepTags.text("x")
	bodies := map[string][]byte{
		"truncated map":             newCB().mapN(2).text("Str").text("s").done(),
		"truncated head":            {0xa1, 0x63, 'S', 't', 'r', 0x19, 0x01},
		"truncated string":          newCB().mapN(1).text("Str").head(3, 10).raw('a').done(),
		"huge string length":        newCB().mapN(1).text("Str").head(3, 1<<62).done(),
		"huge array count":          newCB().mapN(1).text("List").head(4, 1<<40).done(),
		"huge map count":            newCB().head(5, 1<<40).done(),
		"reserved info":             {0xa1, 0x63, 'S', 't', 'r', 0x1c},
		"reserved info 30":          {0xa1, 0x63, 'S', 't', 'r', 0x3e},
		"indefinite integer":        {0xa1, 0x63, 'S', 't', 'r', 0x1f},
		"indefinite tag":            {0xa1, 0x63, 'S', 't', 'r', 0xdf},
		"break outside container":   {0xa1, 0x63, 'S', 't', 'r', 0xff},
		"break at top":              {0xff},
		"unterminated indefinite":   {0xbf, 0x63, 'S', 't', 'r', 0x61, 'x'},
		"integer key":               newCB().mapN(1).uint(1).text("x").done(),
		"byte string key":           newCB().mapN(1).bytes([]byte("Str")).text("x").done(),
		"chunk of the wrong type":   newCB().mapN(1).text("Str").raw(0x7f).bytes([]byte("a")).brk().done(),
		"nested indefinite chunk":   newCB().mapN(1).text("Str").raw(0x7f, 0x7f, 0xff, 0xff).done(),
		"one-byte simple value":     newCB().mapN(1).text("Str").raw(0xf8, 0x20).done(),
		"unassigned simple value":   newCB().mapN(1).text("Str").raw(0xf0).done(),
		"trailing bytes":            append(newCB().mapN(0).done(), 0x00),
		"two top-level maps":        {0xa0, 0xa0},
		"bignum of text":            newCB().mapN(1).text("Long").tag(2).text("1").done(),
		"skipped bignum of text":    newCB().mapN(1).text("X").tag(2).text("1").done(),
		"top-level text":            newCB().text("x").done(),
		"top-level null":            {0xf6},
		"top-level integer":         {0x01},
		"too deep":                  deep.done(),
		"too many tags":             deepTags.done(),
		"truncated after type err":  newCB().mapN(2).text("Str").uint(1).done(),
		"type err then bad trailer": append(newCB().mapN(1).text("Str").uint(1).done(), 0xff),
	}
	for name, body := range bodies {
		var got allTypes
		err := Unmarshal(CBOR, body, &got)
		e, ok := err.(*Error)
		if !ok || e.Type != "SerializationException" || e.Message != "" {
			t.Errorf("%s (%x): got %v, want SerializationException without a message", name, body, err)
		}
	}
}

func TestUnmarshalCBORTopLevelArray(t *testing.T) {
	var got allTypes
	mustSerialization(t, Unmarshal(CBOR, []byte{0x80}, &got), "Start of list found where not expected")
	mustSerialization(t, Unmarshal(CBOR, []byte{0x9f, 0xff}, &got), "Start of list found where not expected")
}

// A long partition key arrives as an indefinite-length string, the way
// Jackson writes long text in chunks.
func TestUnmarshalCBORLongChunkedString(t *testing.T) {
	long := strings.Repeat("k", 70000)
	body := newCB().mapN(1).text("Str").indefText(long[:30000], long[30000:]).done()
	var got allTypes
	if err := Unmarshal(CBOR, body, &got); err != nil || *got.Str != long {
		t.Fatalf("long chunked string: %v", err)
	}
}
