package awsproto

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The fuzz targets decode into a PutRecords-like request. Their seed
// corpora live in testdata/fuzz, so plain `go test` runs them.
//
// Properties checked on every input:
//   - Unmarshal never panics, and fails only with a SerializationException.
//   - JSON: it accepts a body only if encoding/json finds it valid, and
//     rejects a valid object body as malformed only when it nests deeper
//     than maxDepth.
//   - CBOR: it accepts a body only if fxamacker/cbor finds it well-formed
//     (tag-content checks aside: AWS's Jackson ignores tags).
//   - Whatever it accepts survives Marshal and Unmarshal unchanged, in both
//     protocols.

func FuzzUnmarshalJSON(f *testing.F) {
	f.Add([]byte(`{"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"pk","ExplicitHashKey":"1"}],"Timestamp":1.5E9,"Limit":5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r putRecordsRequest
		err := Unmarshal(JSON, body, &r)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Type != "SerializationException" || e.Status != 400 {
				t.Fatalf("error %#v is not a SerializationException", err)
			}
			if len(body) > 0 && json.Valid(body) && e.Message == "" && isJSONObject(body) && jsonDepth(body) <= maxDepth {
				t.Fatalf("valid JSON object rejected as malformed: %q", body)
			}
			return
		}
		if len(body) > 0 && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q as %s", body, dump(r))
		}
		checkRoundTrips(t, r)
	})
}

func FuzzUnmarshalCBOR(f *testing.F) {
	f.Add(newCB().indefMap().text("StreamName").text("s").text("Records").indefArray().
		indefMap().text("Data").bytes([]byte{1, 2}).text("PartitionKey").text("pk").brk().
		brk().text("Timestamp").tag(1).uint(1572297168123).brk().done())
	wellformed, err := cbor.DecOptions{
		MaxNestedLevels:  65535,
		MaxArrayElements: 2147483647,
		MaxMapPairs:      2147483647,
		UTF8:             cbor.UTF8DecodeInvalid,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		DupMapKey:        cbor.DupMapKeyQuiet,
	}.DecMode()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r putRecordsRequest
		err := Unmarshal(CBOR, body, &r)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Type != "SerializationException" || e.Status != 400 {
				t.Fatalf("error %#v is not a SerializationException", err)
			}
			return
		}
		if len(body) > 0 {
			if err := wellformed.Wellformed(body); err != nil && !strings.Contains(err.Error(), "tag") {
				t.Fatalf("accepted malformed CBOR %x (%v) as %s", body, err, dump(r))
			}
		}
		checkRoundTrips(t, r)
	})
}

// checkRoundTrips encodes r in both protocols and decodes it back.
func checkRoundTrips(t *testing.T, r putRecordsRequest) {
	t.Helper()
	for _, p := range []Protocol{JSON, CBOR} {
		enc, err := Marshal(p, r)
		if err != nil {
			t.Fatalf("%v: Marshal(%s): %v", p, dump(r), err)
		}
		var back putRecordsRequest
		if err := Unmarshal(p, enc, &back); err != nil {
			t.Fatalf("%v: Unmarshal(Marshal(%s)) = %v; body %q", p, dump(r), err, enc)
		}
		if !samePutRecords(r, back) {
			t.Fatalf("%v: round trip changed\n %s\nto\n %s", p, dump(r), dump(back))
		}
	}
}

// samePutRecords compares requests, taking empty and nil blobs and lists
// as equal (omitempty drops both).
func samePutRecords(a, b putRecordsRequest) bool {
	if !sameStringPtr(a.StreamName, b.StreamName) || !sameStringPtr(a.StreamARN, b.StreamARN) ||
		len(a.Records) != len(b.Records) {
		return false
	}
	if (a.Timestamp == nil) != (b.Timestamp == nil) || a.Timestamp != nil && *a.Timestamp != *b.Timestamp {
		return false
	}
	if (a.Limit == nil) != (b.Limit == nil) || a.Limit != nil && *a.Limit != *b.Limit {
		return false
	}
	for i := range a.Records {
		x, y := a.Records[i], b.Records[i]
		if !bytes.Equal(x.Data, y.Data) || x.PartitionKey != y.PartitionKey || !sameStringPtr(x.ExplicitHashKey, y.ExplicitHashKey) {
			return false
		}
	}
	return true
}

func sameStringPtr(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func isJSONObject(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// jsonDepth is the deepest nesting of a valid JSON document.
func jsonDepth(body []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
