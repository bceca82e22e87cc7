package awsproto

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want allTypes
	}{
		{"empty body", ``, allTypes{}},
		{"empty object", `{}`, allTypes{}},
		{"whitespace", " \t\r\n{ \"Str\" : \"x\" }\n", allTypes{Str: ptr("x")}},
		{"scalars", `{"Bool":true,"Int":-7,"Long":9007199254740993,"Short":12,"Uint":5,"Double":1.5,"Float":0.25,"Str":"s"}`,
			allTypes{Bool: ptr(true), Int: ptr[int32](-7), Long: ptr[int64](9007199254740993), Short: ptr[int16](12),
				Uint: ptr[uint32](5), Double: ptr(1.5), Float: ptr[float32](0.25), Str: ptr("s")}},
		{"false", `{"Bool":false}`, allTypes{Bool: ptr(false)}},
		{"null is absent", `{"Bool":null,"Int":null,"Str":null,"Blob":null,"Ts":null,"List":null,"Map":null,"Struct":null,"Any":null}`, allTypes{}},
		{"unknown members are skipped", `{"Foo":{"a":[1,2.5e3,{"b":null}],"c":"\u00e9"},"Str":"x","Bar":[[],{}],"Baz":-0.5}`,
			allTypes{Str: ptr("x")}},
		{"names are case-sensitive", `{"str":"x","STR":"y","Bool ":true}`, allTypes{}},
		{"last duplicate wins", `{"Str":"a","Str":"b","List":["x"],"List":["y","z"]}`, allTypes{Str: ptr("b"), List: []string{"y", "z"}}},
		{"untagged field", `{"Plain":3,"Hidden":"no"}`, allTypes{Plain: 3}},
		{"embedded field", `{"Extra":"e"}`, allTypes{Embedded: Embedded{Extra: ptr("e")}}},
		{"blob", `{"Blob":"AAEC/w=="}`, allTypes{Blob: []byte{0, 1, 2, 0xff}}},
		{"empty blob is present", `{"Blob":""}`, allTypes{Blob: []byte{}}},
		{"escaped blob", `{"Blob":"\/\/\/\/"}`, allTypes{Blob: []byte{0xff, 0xff, 0xff}}},
		{"escapes", `{"Str":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, allTypes{Str: ptr("a\"b\\c/d\b\f\n\r\té😀")}},
		{"lone surrogate", `{"Str":"\ud83d!"}`, allTypes{Str: ptr("\uFFFD!")}},
		{"escaped member name", `{"\u0053tr":"x"}`, allTypes{Str: ptr("x")}},
		{"utf-8", `{"Str":"zoë 😀"}`, allTypes{Str: ptr("zoë 😀")}},
		{"invalid utf-8", "{\"Str\":\"a\xffb\xc3\"}", allTypes{Str: ptr("a\uFFFDb\uFFFD")}},
		{"list", `{"List":["a","b",null]}`, allTypes{List: []string{"a", "b", ""}}},
		{"empty list", `{"List":[]}`, allTypes{List: []string{}}},
		{"map", `{"Map":{"k1":"v1","k2":"v2","k3":null}}`, allTypes{Map: map[string]string{"k1": "v1", "k2": "v2", "k3": ""}}},
		{"struct", `{"Struct":{"Name":"n","Count":2,"Other":true}}`, allTypes{Struct: &inner{Name: ptr("n"), Count: ptr[int32](2)}}},
		{"list of structs", `{"Nested":[{"Name":"a"},{},{"Count":1}]}`,
			allTypes{Nested: []inner{{Name: ptr("a")}, {}, {Count: ptr[int32](1)}}}},
		{"any", `{"Any":{"a":[1,"x",true,null]}}`, allTypes{Any: map[string]any{"a": []any{1.0, "x", true, nil}}}},
		{"bool strings", `{"Bool":"YES"}`, allTypes{Bool: ptr(true)}},
		{"bool strings false", `{"Bool":"False"}`, allTypes{Bool: ptr(false)}},
		{"bool strings 0", `{"Bool":"0"}`, allTypes{Bool: ptr(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got allTypes
			if err := Unmarshal(JSON, []byte(tt.body), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func dump(v any) string {
	b, err := Marshal(JSON, v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// Integer members take any JSON number: fractions are floored, values out
// of range clamped (kinesalite: Math.floor, Math.min(val, 2147483647)).
func TestUnmarshalJSONNumbers(t *testing.T) {
	tests := []struct {
		num       string
		wantInt   int32
		wantLong  int64
		wantShort int16
		wantUint  uint32
	}{
		{"0", 0, 0, 0, 0},
		{"-0", 0, 0, 0, 0},
		{"34.56", 34, 34, 34, 34},
		{"-1.5", -2, -2, -2, 0},
		{"-0.0001", -1, -1, -1, 0},
		{"1e2", 100, 100, 100, 100},
		{"1.5E+1", 15, 15, 15, 15},
		{"2500e-2", 25, 25, 25, 25},
		{"2147483647", math.MaxInt32, math.MaxInt32, math.MaxInt16, math.MaxInt32},
		{"2147483648", math.MaxInt32, 2147483648, math.MaxInt16, 2147483648},
		{"-2147483649", math.MinInt32, -2147483649, math.MinInt16, 0},
		{"9223372036854775807", math.MaxInt32, math.MaxInt64, math.MaxInt16, math.MaxUint32},
		{"9223372036854775808", math.MaxInt32, math.MaxInt64, math.MaxInt16, math.MaxUint32},
		{"-9223372036854775808", math.MinInt32, math.MinInt64, math.MinInt16, 0},
		{"-9223372036854775808.5", math.MinInt32, math.MinInt64, math.MinInt16, 0},
		{"-9223372036854775809", math.MinInt32, math.MinInt64, math.MinInt16, 0},
		{"123456789012345678901234567890", math.MaxInt32, math.MaxInt64, math.MaxInt16, math.MaxUint32},
		{"1e400", math.MaxInt32, math.MaxInt64, math.MaxInt16, math.MaxUint32},
		{"-1e400", math.MinInt32, math.MinInt64, math.MinInt16, 0},
		{"1e-400", 0, 0, 0, 0},
		{"-1e-400", -1, -1, -1, 0},
		{"1e99999999999999999999", math.MaxInt32, math.MaxInt64, math.MaxInt16, math.MaxUint32},
		{"0.000e99999999999999999999", 0, 0, 0, 0},
		{"12345678901234567890.5e-10", 1234567890, 1234567890, math.MaxInt16, 1234567890},
		{"100000000000000000000000000001e-29", 1, 1, 1, 1},
		{"-100000000000000000000000000001e-29", -2, -2, -2, 0},
	}
	for _, tt := range tests {
		body := fmt.Sprintf(`{"Int":%[1]s,"Long":%[1]s,"Short":%[1]s,"Uint":%[1]s}`, tt.num)
		var got allTypes
		if err := Unmarshal(JSON, []byte(body), &got); err != nil {
			t.Errorf("%s: %v", tt.num, err)
			continue
		}
		if *got.Int != tt.wantInt || *got.Long != tt.wantLong || *got.Short != tt.wantShort || *got.Uint != tt.wantUint {
			t.Errorf("%s: got Int %d Long %d Short %d Uint %d; want %d %d %d %d", tt.num,
				*got.Int, *got.Long, *got.Short, *got.Uint, tt.wantInt, tt.wantLong, tt.wantShort, tt.wantUint)
		}
	}
}

func TestUnmarshalJSONDoubles(t *testing.T) {
	tests := []struct {
		num  string
		want float64
	}{
		{"1.5", 1.5}, {"-2e-3", -0.002}, {"7", 7}, {"1e400", math.MaxFloat64}, {"-1e400", -math.MaxFloat64},
	}
	for _, tt := range tests {
		var got allTypes
		if err := Unmarshal(JSON, []byte(`{"Double":`+tt.num+`}`), &got); err != nil || *got.Double != tt.want {
			t.Errorf("%s: got %v, %v; want %v", tt.num, got.Double, err, tt.want)
		}
	}
	var got allTypes
	if err := Unmarshal(JSON, []byte(`{"Float":1e300}`), &got); err != nil || *got.Float != math.MaxFloat32 {
		t.Errorf("Float 1e300: got %v, %v", got.Float, err)
	}
}

// Timestamps are epoch seconds, floored exactly to a millisecond.
func TestUnmarshalJSONTimestamps(t *testing.T) {
	tests := []struct {
		num  string
		want int64
	}{
		{"1459799926.48", 1459799926480},   // what SDKs send
		{"1.45979992648E9", 1459799926480}, // the Java SDK's exponent form
		{"1.45979992648e+9", 1459799926480},
		{"1459799926", 1459799926000},
		{"1459799926.4809", 1459799926480},
		{"1459799926.4801", 1459799926480},
		{"1459799926.999999", 1459799926999},
		{"0.001", 1},
		{"0.0009", 0},
		{"-0.0005", -1},
		{"-1.5", -1500},
		{"0", 0},
		{"1e3", 1000000},
		{"1E-3", 1},
		{"9223372036854775.807", math.MaxInt64},
		{"9223372036854775.808", math.MaxInt64},
		{"1e300", math.MaxInt64},
		{"-1e300", math.MinInt64},
	}
	for _, tt := range tests {
		var got allTypes
		if err := Unmarshal(JSON, []byte(`{"Ts":`+tt.num+`}`), &got); err != nil {
			t.Errorf("%s: %v", tt.num, err)
			continue
		}
		if got.Ts.Millis != tt.want {
			t.Errorf("%s: got %d ms, want %d", tt.num, got.Ts.Millis, tt.want)
		}
	}
}

func TestUnmarshalJSONPutRecords(t *testing.T) {
	body := `{"StreamName":"s1","Records":[` +
		`{"Data":"aGVsbG8=","PartitionKey":"pk1"},` +
		`{"Data":"","PartitionKey":"pk2","ExplicitHashKey":"340282366920938463463374607431768211455"}],` +
		`"Timestamp":1.572297168123E9,"Limit":10000}`
	var got putRecordsRequest
	if err := Unmarshal(JSON, []byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := putRecordsRequest{
		StreamName: ptr("s1"),
		Records: []putRecordsEntry{
			{Data: []byte("hello"), PartitionKey: "pk1"},
			{Data: []byte{}, PartitionKey: "pk2", ExplicitHashKey: ptr("340282366920938463463374607431768211455")},
		},
		Timestamp: &Timestamp{1572297168123},
		Limit:     ptr[int32](10000),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", dump(got), dump(want))
	}
	// Blobs share a backing array but never each other's capacity.
	if cap(got.Records[0].Data) != len(got.Records[0].Data) {
		t.Errorf("blob cap %d != len %d", cap(got.Records[0].Data), len(got.Records[0].Data))
	}
	got.Records[0].Data = append(got.Records[0].Data, '!')
	if string(got.Records[0].Data) != "hello!" {
		t.Error("append to a blob broke it")
	}
}

// Decoded values never alias the request body.
func TestUnmarshalDoesNotAliasBody(t *testing.T) {
	for _, p := range []Protocol{JSON, CBOR} {
		body, err := Marshal(p, putRecordsRequest{
			StreamName: ptr("stream"),
			Records:    []putRecordsEntry{{Data: []byte("payload"), PartitionKey: "key"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var got putRecordsRequest
		if err := Unmarshal(p, body, &got); err != nil {
			t.Fatal(err)
		}
		for i := range body {
			body[i] = 'X'
		}
		if *got.StreamName != "stream" || string(got.Records[0].Data) != "payload" || got.Records[0].PartitionKey != "key" {
			t.Errorf("%v: decoded values changed with the body: %s", p, dump(got))
		}
	}
}

// Every SerializationException for a member of the wrong type, with the
// messages kinesalite's test/helpers.js asserts against AWS.
func TestUnmarshalJSONTypeErrors(t *testing.T) {
	const (
		num     = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an "
		list    = "Start of list found where not expected"
		object  = "Start of structure or map found where not expected."
		boolean = "class java.lang.Boolean can not be converted to an "
		str     = "class java.lang.String can not be converted to an "
	)
	tests := []struct {
		member string
		value  string
		msg    string
	}{
		{"Bool", `"23"`, "'23' can not be converted to an Boolean"},
		{"Bool", `"hello"`, "'HELLO' can not be converted to an Boolean"},
		{"Bool", `23`, num + "Boolean"},
		{"Bool", `-2147483648`, num + "Boolean"},
		{"Bool", `2147483648`, num + "Boolean"},
		{"Bool", `[]`, list},
		{"Bool", `{}`, object},

		{"Str", `true`, boolean + "String"},
		{"Str", `23`, num + "String"},
		{"Str", `-2147483648`, num + "String"},
		{"Str", `2147483648`, num + "String"},
		{"Str", `34.56`, num + "String"},
		{"Str", `[]`, list},
		{"Str", `{}`, object},

		{"Int", `"23"`, str + "Integer"},
		{"Int", `true`, boolean + "Integer"},
		{"Int", `[]`, list},
		{"Int", `{}`, object},
		{"Long", `"23"`, str + "Long"},
		{"Long", `true`, boolean + "Long"},
		{"Long", `[]`, list},
		{"Long", `{}`, object},
		{"Short", `"1"`, str + "Short"},
		{"Uint", `false`, boolean + "Integer"},
		{"Double", `"1.5"`, str + "Double"},
		{"Double", `true`, boolean + "Double"},
		{"Float", `"1.5"`, str + "Float"},

		{"Blob", `true`, "class java.lang.Boolean can not be converted to a Blob"},
		{"Blob", `23`, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"},
		{"Blob", `34.56`, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"},
		{"Blob", `[]`, list},
		{"Blob", `{}`, object},
		{"Blob", `"23456"`, "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"},
		{"Blob", `"=+/="`, "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"},
		{"Blob", `"+/+="`, "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"},
		{"Blob", `"AA==AA=="`, "'AA==AA==' can not be converted to a Blob: Invalid Base64 character: '='"},
		{"Blob", `"A==="`, "'A===' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"},
		{"Blob", `"===="`, "'====' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"},
		{"Blob", `"AAA-"`, "'AAA-' can not be converted to a Blob: Invalid Base64 character: '-'"},
		{"Blob", `"AAA_"`, "'AAA_' can not be converted to a Blob: Invalid Base64 character: '_'"},
		{"Blob", `"AAAA\r\nAA"`, "'AAAA\r\nAA' can not be converted to a Blob: Invalid Base64 character: '\r'"},
		{"Blob", `"AAAA\n\n\n\n"`, "'AAAA\n\n\n\n' can not be converted to a Blob: Invalid Base64 character: '\n'"},
		{"Blob", `"AéAA"`, "'AéAA' can not be converted to a Blob: Invalid Base64 character: 'é'"},
		{"Blob", `"😀AA"`, "'😀AA' can not be converted to a Blob: Invalid Base64 character: '😀'"},
		{"Blob", `"😀A"`, "'😀A' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"},

		{"Ts", `true`, "class java.lang.Boolean can not be converted to milliseconds since epoch"},
		{"Ts", `"2019-10-28T21:12:48Z"`, "class java.lang.String can not be converted to milliseconds since epoch"},
		{"Ts", `[]`, list},
		{"Ts", `{}`, object},

		{"List", `"23"`, "Expected list or null"},
		{"List", `true`, "Expected list or null"},
		{"List", `23`, "Expected list or null"},
		{"List", `34.56`, "Expected list or null"},
		{"List", `{}`, object},
		{"List", `[1]`, num + "String"},
		{"List", `["a",[]]`, list},

		{"Map", `"23"`, "Expected map or null"},
		{"Map", `true`, "Expected map or null"},
		{"Map", `23`, "Expected map or null"},
		{"Map", `[]`, list},
		{"Map", `{"k":1}`, num + "String"},

		{"Struct", `"23"`, "Expected null"},
		{"Struct", `true`, "Expected null"},
		{"Struct", `23`, "Expected null"},
		{"Struct", `34.56`, "Expected null"},
		{"Struct", `[]`, list},
		{"Struct", `{"Name":true}`, boolean + "String"},
		{"Nested", `[{"Count":"1"}]`, str + "Integer"},
		{"Nested", `["x"]`, "Expected null"},
	}
	for _, tt := range tests {
		body := `{"` + tt.member + `":` + tt.value + `}`
		var got allTypes
		err := Unmarshal(JSON, []byte(body), &got)
		e, ok := err.(*Error)
		if !ok || e.Type != "SerializationException" || e.Message != tt.msg || e.Status != 400 {
			t.Errorf("%s:\n got  %v\n want SerializationException: %s", body, err, tt.msg)
		}
	}
}

// Type errors inside lists of structs are found too (kinesalite:
// Records.0.Data etc.), and the first one in body order is reported.
func TestUnmarshalJSONFirstTypeErrorWins(t *testing.T) {
	var r putRecordsRequest
	err := Unmarshal(JSON, []byte(`{"Records":[{"Data":"AA==","PartitionKey":1},{"Data":true}],"StreamName":false}`), &r)
	mustSerialization(t, err, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String")
}

// Malformed bodies answer SerializationException without a message.
func TestUnmarshalJSONSyntaxErrors(t *testing.T) {
	bodies := []string{
		"hello", " ", "{", "}", `{"a"}`, `{"a":}`, `{"a" 1}`, `{,}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":1}}`, `{} x`, `{}{}`,
		`{"a":[1,]}`, `{"a":[1 2]}`, `{"a":[}`, `{'a':1}`, `{a:1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":1e}`, `{"a":1e+}`, `{"a":+1}`, `{"a":NaN}`, `{"a":Infinity}`, `{"a":tru}`, `{"a":nul}`, `{"a":True}`,
		`{"a":"x\q"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, "{\"a\":\"x\ny\"}", "{\"a\":\"\x00\"}", `{"a":"unterminated}`,
		"\xef\xbb\xbf{}", `{"Str":"x"`, `{"Str":"x",`, `{"Str"`, `{"Str":`, `{"Int":1.5.5}`, `{"Blob":"AA=="`,
		// A syntax error after a type error still wins.
		`{"Str":true,`, `{"Str":true} x`,
		// Top-level values that are not objects.
		`null`, `"str"`, `123`, `true`, `false`,
		// Nesting beyond Jackson's limit.
		`{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
		`{"Any":` + strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat("}", maxDepth) + `}`,
	}
	for _, body := range bodies {
		var got allTypes
		err := Unmarshal(JSON, []byte(body), &got)
		e, ok := err.(*Error)
		if !ok || e.Type != "SerializationException" || e.Message != "" {
			t.Errorf("%.60q: got %v, want SerializationException without a message", body, err)
		}
	}
	// Just under the limit is fine.
	deep := `{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`
	var got allTypes
	if err := Unmarshal(JSON, []byte(deep), &got); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
}

func TestUnmarshalJSONTopLevelArray(t *testing.T) {
	var got allTypes
	mustSerialization(t, Unmarshal(JSON, []byte(`[]`), &got), "Start of list found where not expected")
	mustSerialization(t, Unmarshal(JSON, []byte(` [{"a":1}]`), &got), "Start of list found where not expected")
	mustSerialization(t, Unmarshal(JSON, []byte(`[`), &got), "")
}

func TestUnmarshalPanicsOnBadTarget(t *testing.T) {
	for _, v := range []any{nil, allTypes{}, (*allTypes)(nil), new(chan int)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Unmarshal into %T did not panic", v)
				}
			}()
			_ = Unmarshal(JSON, []byte(`{}`), v)
		}()
	}
	type withTime struct {
		T struct{ X chan int } `json:"T"`
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Unmarshal into a struct with a chan did not panic")
			}
		}()
		_ = Unmarshal(JSON, []byte(`{}`), &withTime{})
	}()
}

// A large blob gets its own allocation rather than a slab chunk.
func TestUnmarshalJSONLargeBlob(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	body, _ := Marshal(JSON, allTypes{Blob: data})
	var got allTypes
	if err := Unmarshal(JSON, body, &got); err != nil || !bytes.Equal(got.Blob, data) {
		t.Fatalf("large blob: %v", err)
	}
}
