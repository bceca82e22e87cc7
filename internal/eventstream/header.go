package eventstream

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// ValueType is the one-byte tag that says how a header value is encoded.
type ValueType uint8

// The header value types, numbered as on the wire.
const (
	TypeBoolTrue  ValueType = 0 // boolean true, no value bytes
	TypeBoolFalse ValueType = 1 // boolean false, no value bytes
	TypeByte      ValueType = 2 // int8
	TypeInt16     ValueType = 3 // int16
	TypeInt32     ValueType = 4 // int32
	TypeInt64     ValueType = 5 // int64
	TypeBytes     ValueType = 6 // u16 length, then bytes
	TypeString    ValueType = 7 // u16 length, then UTF-8 bytes
	TypeTimestamp ValueType = 8 // int64 milliseconds since the Unix epoch
	TypeUUID      ValueType = 9 // 16 bytes

	// TypeInvalid is what the zero HeaderValue reports. It has no wire
	// encoding: encoding a header that holds it fails with ErrBadHeader.
	TypeInvalid ValueType = 0xff
)

// String returns the name the smithy specification uses for the type.
func (t ValueType) String() string {
	switch t {
	case TypeBoolTrue:
		return "boolean_true"
	case TypeBoolFalse:
		return "boolean_false"
	case TypeByte:
		return "byte"
	case TypeInt16:
		return "short"
	case TypeInt32:
		return "integer"
	case TypeInt64:
		return "long"
	case TypeBytes:
		return "byte_array"
	case TypeString:
		return "string"
	case TypeTimestamp:
		return "timestamp"
	case TypeUUID:
		return "uuid"
	}
	return "ValueType(" + strconv.Itoa(int(t)) + ")"
}

// fixedValueBytes returns how many value bytes follow a tag of type t, or
// -1 for the length-prefixed types and -2 for an unknown tag.
func fixedValueBytes(t ValueType) int {
	switch t {
	case TypeBoolTrue, TypeBoolFalse:
		return 0
	case TypeByte:
		return 1
	case TypeInt16:
		return 2
	case TypeInt32:
		return 4
	case TypeInt64, TypeTimestamp:
		return 8
	case TypeUUID:
		return 16
	case TypeBytes, TypeString:
		return -1
	}
	return -2
}

// HeaderValue is a tagged header value: a ValueType and the Go value of
// that type. Make one with String, Bytes, Bool, Byte, Int16, Int32, Int64,
// Timestamp or UUID; the zero HeaderValue holds no value (TypeInvalid).
//
// A HeaderValue made by Bytes, or returned by a Decoder, refers to its byte
// slice without copying it.
type HeaderValue struct {
	// tag is the wire type plus one, so that the zero value is not
	// mistaken for boolean true (type 0).
	tag uint8
	// num holds the integer types, sign-extended, and timestamps in
	// milliseconds, so that a decoded timestamp re-encodes exactly.
	num  int64
	str  string
	raw  []byte
	uuid [16]byte
}

func tagged(t ValueType) HeaderValue { return HeaderValue{tag: uint8(t) + 1} }

// String returns a string value (TypeString).
func String(s string) HeaderValue { v := tagged(TypeString); v.str = s; return v }

// Bytes returns a byte-array value (TypeBytes). It keeps b, not a copy.
func Bytes(b []byte) HeaderValue { v := tagged(TypeBytes); v.raw = b; return v }

// Bool returns TypeBoolTrue or TypeBoolFalse.
func Bool(b bool) HeaderValue {
	if b {
		return tagged(TypeBoolTrue)
	}
	return tagged(TypeBoolFalse)
}

// Byte returns a one-byte signed integer value (TypeByte).
func Byte(n int8) HeaderValue { v := tagged(TypeByte); v.num = int64(n); return v }

// Int16 returns a TypeInt16 value.
func Int16(n int16) HeaderValue { v := tagged(TypeInt16); v.num = int64(n); return v }

// Int32 returns a TypeInt32 value.
func Int32(n int32) HeaderValue { v := tagged(TypeInt32); v.num = int64(n); return v }

// Int64 returns a TypeInt64 value.
func Int64(n int64) HeaderValue { v := tagged(TypeInt64); v.num = n; return v }

// Timestamp returns a TypeTimestamp value. The wire carries whole
// milliseconds, so t is truncated to the millisecond.
func Timestamp(t time.Time) HeaderValue { return TimestampMillis(t.UnixMilli()) }

// TimestampMillis returns a TypeTimestamp value of ms milliseconds since
// the Unix epoch.
func TimestampMillis(ms int64) HeaderValue { v := tagged(TypeTimestamp); v.num = ms; return v }

// UUID returns a TypeUUID value.
func UUID(u [16]byte) HeaderValue { v := tagged(TypeUUID); v.uuid = u; return v }

// Type reports the value's type; TypeInvalid for the zero HeaderValue.
func (v HeaderValue) Type() ValueType {
	if v.tag == 0 {
		return TypeInvalid
	}
	return ValueType(v.tag - 1)
}

// Bool returns the value of a boolean; false for other types.
func (v HeaderValue) Bool() bool { return v.Type() == TypeBoolTrue }

// Int returns the value of TypeByte, TypeInt16, TypeInt32 or TypeInt64,
// sign-extended; 0 for other types.
func (v HeaderValue) Int() int64 {
	switch v.Type() {
	case TypeByte, TypeInt16, TypeInt32, TypeInt64:
		return v.num
	}
	return 0
}

// Bytes returns the value of a TypeBytes value; nil for other types. The
// slice is shared, not copied.
func (v HeaderValue) Bytes() []byte {
	if v.Type() != TypeBytes {
		return nil
	}
	return v.raw
}

// Timestamp returns a TypeTimestamp value in UTC; the zero time.Time for
// other types.
func (v HeaderValue) Timestamp() time.Time {
	if v.Type() != TypeTimestamp {
		return time.Time{}
	}
	return time.UnixMilli(v.num).UTC()
}

// TimestampMillis returns a TypeTimestamp value as milliseconds since the
// Unix epoch; 0 for other types.
func (v HeaderValue) TimestampMillis() int64 {
	if v.Type() != TypeTimestamp {
		return 0
	}
	return v.num
}

// UUID returns a TypeUUID value; all zeros for other types.
func (v HeaderValue) UUID() [16]byte {
	if v.Type() != TypeUUID {
		return [16]byte{}
	}
	return v.uuid
}

// String returns a TypeString value as it is. For the other types it
// returns a readable rendering (for logs and test failures), so that
// HeaderValue prints well with fmt.
func (v HeaderValue) String() string {
	switch v.Type() {
	case TypeString:
		return v.str
	case TypeBoolTrue:
		return "true"
	case TypeBoolFalse:
		return "false"
	case TypeByte, TypeInt16, TypeInt32, TypeInt64:
		return strconv.FormatInt(v.num, 10)
	case TypeBytes:
		return hex.EncodeToString(v.raw)
	case TypeTimestamp:
		return v.Timestamp().Format(time.RFC3339Nano)
	case TypeUUID:
		u := v.uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	}
	return "<invalid>"
}

// Equal reports whether v and w have the same type and value. A nil and an
// empty byte array are equal: the wire does not tell them apart.
func (v HeaderValue) Equal(w HeaderValue) bool {
	if v.tag != w.tag {
		return false
	}
	switch v.Type() {
	case TypeString:
		return v.str == w.str
	case TypeBytes:
		return bytes.Equal(v.raw, w.raw)
	case TypeUUID:
		return v.uuid == w.uuid
	case TypeByte, TypeInt16, TypeInt32, TypeInt64, TypeTimestamp:
		return v.num == w.num
	}
	return true
}

// encodedLen returns how many bytes the value takes after its type tag,
// or an error if it cannot be encoded.
func (v HeaderValue) encodedLen() (int, error) {
	t := v.Type()
	switch n := fixedValueBytes(t); n {
	case -2:
		return 0, fmt.Errorf("%w: value has no type", ErrBadHeader)
	case -1:
		l := len(v.raw)
		if t == TypeString {
			l = len(v.str)
		}
		if l > MaxHeaderValueBytes {
			return 0, fmt.Errorf("%w: %s value is %d bytes, limit %d", ErrBadHeader, t, l, MaxHeaderValueBytes)
		}
		return 2 + l, nil
	default:
		return n, nil
	}
}
