package awsproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// cborEnc encodes responses: struct members named by their json tags
// (fxamacker/cbor falls back to them), omitempty with encoding/json's
// meaning so that JSON and CBOR responses carry the same members, []byte as
// byte strings, definite lengths, members in field order.
var cborEnc = func() cbor.EncMode {
	em, err := cbor.EncOptions{
		Sort:          cbor.SortNone,
		ShortestFloat: cbor.ShortestFloatNone,
		IndefLength:   cbor.IndefLengthForbidden,
		NilContainers: cbor.NilContainerAsNull,
		OmitEmpty:     cbor.OmitEmptyGoValue,
		String:        cbor.StringToTextString,
		FieldName:     cbor.FieldNameToTextString,
	}.EncMode()
	if err != nil {
		panic(fmt.Sprintf("awsproto: cbor options: %v", err))
	}
	return em
}()

// Marshal encodes a response. JSON has encoding/json semantics with the
// json tags (HTML characters are not escaped, as AWS does not); CBOR is a
// definite-length map with the same member names, []byte as byte strings
// and Timestamp as tag 1 + epoch milliseconds; struct members keep their
// declaration order, Go maps' keys come in iteration order (JSON sorts
// them). A nil v (or nil pointer) encodes as an empty object.
func Marshal(p Protocol, v any) ([]byte, error) {
	if v == nil || isNilPointer(v) {
		switch p {
		case JSON:
			return []byte("{}"), nil
		case CBOR:
			return []byte{0xa0}, nil
		}
	}
	if encodesItself(p, v) {
		return AppendSelf(p, v, nil), nil
	}
	switch p {
	case JSON:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		out := buf.Bytes()
		return out[:len(out)-1], nil // Encode appends a newline
	case CBOR:
		return cborEnc.Marshal(v)
	}
	panic(fmt.Sprintf("awsproto: unknown protocol %d", uint8(p)))
}

// encodesItself reports whether v has its own encoder for p
// (JSONAppender, CBORAppender) and is not a nil pointer.
func encodesItself(p Protocol, v any) bool {
	var ok bool
	switch p {
	case JSON:
		_, ok = v.(JSONAppender)
	case CBOR:
		_, ok = v.(CBORAppender)
	}
	return ok && !isNilPointer(v)
}

// AppendSelf appends v's own encoding in p to b: v must be a
// CBORAppender for CBOR, a JSONAppender for JSON.
func AppendSelf(p Protocol, v any, b []byte) []byte {
	if p == CBOR {
		return v.(CBORAppender).AppendCBOR(b)
	}
	return v.(JSONAppender).AppendJSON(b)
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
