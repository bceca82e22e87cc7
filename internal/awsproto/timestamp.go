package awsproto

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Timestamp is an AWS timestamp with millisecond precision, as Kinesis
// keeps them.
//
// JSON: requests carry epoch seconds as a number, possibly fractional or in
// exponent form (1459799926.48, 1.45979992648E9); the value is floored to a
// millisecond exactly, from the decimal text. Responses carry epoch seconds
// with up to three decimals and at least one (1572297168.123,
// 1572297168.0), the shape AWS's own responses have.
//
// CBOR requests: an integer is epoch milliseconds and a float is epoch
// seconds, with or without tag 1 (and any other tag is ignored, as Jackson
// does). The rule follows the only CBOR clients of Kinesis, the AWS Java
// SDKs: their SdkCborGenerator writes tag 1 followed by
// Instant.toEpochMilli() as an integer, contrary to RFC 8949 (where tag 1
// means seconds), and AwsCborProtocolFactory declares
// UNIX_TIMESTAMP_MILLIS for payloads. Floats never come from those SDKs;
// reading them as seconds keeps RFC 8949's meaning for other encoders.
//
// CBOR responses: tag 1 followed by epoch milliseconds as an integer. The
// Java SDK v2 reads payload timestamps as UNIX_TIMESTAMP_MILLIS
// (NumberToInstant: value.longValue(); older releases parse the text with
// Long.parseLong, so it must be an integer), and Jackson's CBOR parser
// skips tags. Writing the tag mirrors what the SDK itself sends.
type Timestamp struct{ Millis int64 }

var (
	_ json.Marshaler   = Timestamp{}
	_ json.Unmarshaler = (*Timestamp)(nil)
	_ cbor.Marshaler   = Timestamp{}
	_ cbor.Unmarshaler = (*Timestamp)(nil)
)

// TimestampFromTime converts t, flooring to a millisecond.
func TimestampFromTime(t time.Time) Timestamp { return Timestamp{Millis: t.UnixMilli()} }

// Time returns the timestamp as a UTC time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.Millis).UTC() }

// String formats the timestamp as RFC 3339 with milliseconds, for logs.
func (t Timestamp) String() string { return t.Time().Format("2006-01-02T15:04:05.000Z07:00") }

// MarshalJSON writes epoch seconds with up to three decimals.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return appendEpochSeconds(make([]byte, 0, 24), t.Millis), nil
}

func appendEpochSeconds(b []byte, ms int64) []byte {
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		frac = -frac
		if sec == 0 {
			b = append(b, '-')
		}
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	// Trim trailing zeros but keep one decimal: 1.500 -> 1.5, 1.000 -> 1.0.
	for k := 0; k < 2 && b[len(b)-1] == '0'; k++ {
		b = b[:len(b)-1]
	}
	return b
}

// UnmarshalJSON reads epoch seconds with the same rules and messages as
// Unmarshal; null leaves t unchanged.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	d := jsonDecoder{data: b}
	return d.single(codecFor(timestampType), reflect.ValueOf(t).Elem())
}

// MarshalCBOR writes tag 1 followed by epoch milliseconds as an integer.
func (t Timestamp) MarshalCBOR() ([]byte, error) {
	return t.AppendCBOR(make([]byte, 0, 10)), nil
}

// UnmarshalCBOR reads one CBOR item with the rules above; null leaves t
// unchanged.
func (t *Timestamp) UnmarshalCBOR(b []byte) error {
	d := cborDecoder{data: b}
	return d.single(codecFor(timestampType), reflect.ValueOf(t).Elem())
}
