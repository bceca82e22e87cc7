package awsproto

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestMarshalJSON(t *testing.T) {
	type record struct {
		Data                        []byte     `json:"Data"`
		PartitionKey                string     `json:"PartitionKey"`
		SequenceNumber              string     `json:"SequenceNumber"`
		ApproximateArrivalTimestamp *Timestamp `json:"ApproximateArrivalTimestamp,omitempty"`
		EncryptionType              *string    `json:"EncryptionType,omitempty"`
	}
	type getRecordsOutput struct {
		Records            []record `json:"Records"`
		NextShardIterator  *string  `json:"NextShardIterator,omitempty"`
		MillisBehindLatest *int64   `json:"MillisBehindLatest,omitempty"`
	}
	got, err := Marshal(JSON, getRecordsOutput{
		Records:            []record{{Data: []byte("<&>"), PartitionKey: "a<b", SequenceNumber: "1", ApproximateArrivalTimestamp: &Timestamp{1441215410867}}},
		NextShardIterator:  ptr("AAAAAAAAAAE="),
		MillisBehindLatest: ptr[int64](0),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Records":[{"Data":"PCY+","PartitionKey":"a<b","SequenceNumber":"1","ApproximateArrivalTimestamp":1441215410.867}],"NextShardIterator":"AAAAAAAAAAE=","MillisBehindLatest":0}`
	if string(got) != want {
		t.Errorf("got\n %s\nwant\n %s", got, want)
	}
}

// CBOR responses carry the same members as JSON ones, with blobs as byte
// strings and timestamps as tag 1 + milliseconds, in definite lengths.
func TestMarshalCBOR(t *testing.T) {
	type out struct {
		Name    string            `json:"Name"`
		Opt     *string           `json:"Opt,omitempty"`
		Count   int32             `json:"Count"`
		Blob    []byte            `json:"Blob"`
		Ts      Timestamp         `json:"Ts,omitempty"`
		List    []string          `json:"List,omitempty"`
		Tags    map[string]string `json:"Tags,omitempty"`
		Double  float64           `json:"Double"`
		Flag    bool              `json:"Flag"`
		Skipped string            `json:"-"`
	}
	got, err := Marshal(CBOR, out{Name: "n", Count: 2, Blob: []byte{1}, Ts: Timestamp{0}, Double: 1.5, Flag: true, Skipped: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := newCB().mapN(6).text("Name").text("n").text("Count").uint(2).text("Blob").bytes([]byte{1}).
		text("Ts").tag(1).uint(0).text("Double").double(1.5).text("Flag").boolean(true).done()
	if string(got) != string(want) {
		t.Errorf("got  %x\nwant %x", got, want)
	}
	// Members match the JSON encoding's.
	var fromCBOR, fromJSON map[string]any
	if err := cbor.Unmarshal(got, &fromCBOR); err != nil {
		t.Fatal(err)
	}
	j, _ := Marshal(JSON, out{Name: "n", Count: 2, Blob: []byte{1}, Double: 1.5, Flag: true})
	if err := json.Unmarshal(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if len(fromCBOR) != len(fromJSON) {
		t.Errorf("CBOR members %v, JSON members %v", fromCBOR, fromJSON)
	}
	for k := range fromJSON {
		if _, ok := fromCBOR[k]; !ok {
			t.Errorf("CBOR lacks %s", k)
		}
	}
}

func TestMarshalNil(t *testing.T) {
	for p, want := range map[Protocol]string{JSON: "{}", CBOR: "\xa0"} {
		for _, v := range []any{nil, (*allTypes)(nil)} {
			got, err := Marshal(p, v)
			if err != nil || string(got) != want {
				t.Errorf("Marshal(%v, %#v) = %q, %v", p, v, got, err)
			}
		}
	}
}

// Everything Unmarshal produces, Marshal writes back, in both protocols.
func TestRoundTrip(t *testing.T) {
	v := allTypes{
		Bool: ptr(true), Int: ptr[int32](-2147483648), Long: ptr[int64](9223372036854775807), Short: ptr[int16](-3),
		Uint: ptr[uint32](4294967295), Double: ptr(-1.25e-300), Float: ptr[float32](3.5), Str: ptr("zoë \"quoted\" <tag> 😀\n"),
		Blob: []byte{0, 1, 2, 254, 255}, Ts: &Timestamp{-1500}, List: []string{"a", "", "c"},
		Map: map[string]string{"k": "v", "": "empty"}, Struct: &inner{Name: ptr("n"), Count: ptr[int32](0)},
		Nested: []inner{{}, {Name: ptr("x")}}, Plain: 42, Embedded: Embedded{Extra: ptr("e")},
		Any: map[string]any{"list": []any{1.5, "s", false, nil}},
	}
	for _, p := range []Protocol{JSON, CBOR} {
		body, err := Marshal(p, v)
		if err != nil {
			t.Fatal(err)
		}
		var got allTypes
		if err := Unmarshal(p, body, &got); err != nil {
			t.Fatalf("%v: %v\n%q", p, err, body)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%v:\n got  %s\n want %s", p, dump(got), dump(v))
		}
	}
}
