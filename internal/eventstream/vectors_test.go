package eventstream

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"
)

// The vectors below are the aws-c-event-stream test suite's encoded
// messages (Apache-2.0), as shipped in aws-sdk-go-v2
// aws/protocol/eventstream/testdata/encoded, with the decoded contents from
// testdata/decoded written out as Messages. They were produced by the C
// implementation, independently of this package.
var positiveVectors = []struct {
	name string
	hex  string
	want Message
}{
	{
		name: "empty_message",
		hex:  "000000100000000005c248eb7d98c8ff",
		want: Message{},
	},
	{
		name: "payload_no_headers",
		hex:  "0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936",
		want: Message{Payload: []byte("{'foo':'bar'}")},
	},
	{
		name: "payload_one_str_header",
		hex: "0000003d0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e" +
			"7b27666f6f273a27626172277d8d9c08b1",
		want: Message{
			Headers: []Header{{Name: "content-type", Value: String("application/json")}},
			Payload: []byte("{'foo':'bar'}"),
		},
	},
	{
		name: "int32_header",
		hex:  "0000002d0000001041c424b80a6576656e742d74797065040000a00c7b27666f6f273a27626172277d36f480a0",
		want: Message{
			Headers: []Header{{Name: "event-type", Value: Int32(40972)}},
			Payload: []byte("{'foo':'bar'}"),
		},
	},
	{
		name: "all_headers",
		hex: "000000cc000000af0fae64ca0a6576656e742d74797065040000a00c0c636f6e74656e742d74797065070010" +
			"6170706c69636174696f6e2f6a736f6e0a626f6f6c2066616c73650109626f6f6c2074727565000462797465" +
			"02cf08627974652062756606001449276d2061206c6974746c6520746561706f74210974696d657374616d70" +
			"080000000000845fed05696e74313603002a05696e7436340500000000028757b20475756964090102030405" +
			"060708090a0b0c0d0e0f107b27666f6f273a27626172277daba5f10c",
		want: Message{
			Headers: []Header{
				{Name: "event-type", Value: Int32(40972)},
				{Name: "content-type", Value: String("application/json")},
				{Name: "bool false", Value: Bool(false)},
				{Name: "bool true", Value: Bool(true)},
				{Name: "byte", Value: Byte(-49)},
				{Name: "byte buf", Value: Bytes([]byte("I'm a little teapot!"))},
				{Name: "timestamp", Value: TimestampMillis(8675309)},
				{Name: "int16", Value: Int16(42)},
				{Name: "int64", Value: Int64(42424242)},
				{Name: "uuid", Value: UUID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})},
			},
			Payload: []byte("{'foo':'bar'}"),
		},
	},
}

// The negative vectors of the same suite and the error each must give.
var negativeVectors = []struct {
	name string
	hex  string
	want error
}{
	{"corrupted_header_len", "0000003d0000002107fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1", ErrPreludeChecksum},
	{"corrupted_headers", "0000003d0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b61666f6f273a27626172277d8d9c08b1", ErrMessageChecksum},
	{"corrupted_length", "0000003e0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1", ErrPreludeChecksum},
	{"corrupted_payload", "0000001d00000000fd528c5a5b27666f6f273a27626172277dc3653936", ErrMessageChecksum},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectorsDecode(t *testing.T) {
	for _, tc := range positiveVectors {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(bytes.NewReader(mustHex(t, tc.hex)))
			got, err := d.Decode()
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertMessage(t, got, &tc.want)
			if _, err := d.Decode(); err != io.EOF {
				t.Fatalf("second Decode: %v, want io.EOF", err)
			}
		})
	}
}

func TestVectorsEncode(t *testing.T) {
	for _, tc := range positiveVectors {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendMessage(nil, &tc.want)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			if want := mustHex(t, tc.hex); !bytes.Equal(got, want) {
				t.Fatalf("encoding differs from the vector\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestVectorsNegative(t *testing.T) {
	for _, tc := range negativeVectors {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewDecoder(bytes.NewReader(mustHex(t, tc.hex))).Decode()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want %v", m, err, tc.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset != 0 {
				t.Fatalf("error %#v is not a *FormatError at offset 0", err)
			}
		})
	}
}

// TestKinesisEventBytes builds a SubscribeToShard initial-response by hand
// from the specification, with nothing from the encoder, and checks that
// EventMessage encodes to exactly those bytes.
func TestKinesisEventBytes(t *testing.T) {
	var headers []byte
	for _, kv := range [][2]string{
		{":message-type", "event"},
		{":event-type", "initial-response"},
		{":content-type", "application/json"},
	} {
		headers = append(headers, byte(len(kv[0])))
		headers = append(headers, kv[0]...)
		headers = append(headers, 7, 0, byte(len(kv[1])))
		headers = append(headers, kv[1]...)
	}
	payload := []byte("{}")
	want := handFrame(headers, payload)
	// Sizes worked out on paper: headers are (1+13+1+2+5) + (1+11+1+2+16)
	// + (1+13+1+2+16) = 22+31+33 = 86 bytes; total = 12+86+2+4 = 104.
	if len(headers) != 86 || len(want) != 104 {
		t.Fatalf("hand-built frame is %d bytes with %d of headers, want 104 and 86", len(want), len(headers))
	}

	got, err := AppendMessage(nil, EventMessage("initial-response", payload))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("EventMessage encoding\n got %x\nwant %x", got, want)
	}
}

// TestTimestampVector checks the all_headers timestamp as a time.Time:
// 8675309 ms after the epoch.
func TestTimestampVector(t *testing.T) {
	v := positiveVectors[4].want.Headers[6].Value
	want := time.Date(1970, 1, 1, 2, 24, 35, 309e6, time.UTC)
	if got := v.Timestamp(); !got.Equal(want) {
		t.Fatalf("Timestamp() = %v, want %v", got, want)
	}
}
