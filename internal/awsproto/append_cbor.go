package awsproto

import "fmt"

// CBORAppender is JSONAppender's twin for CBOR, the protocol the AWS Java
// SDKs (and so the Kinesis Client Library) use by default: a response type
// on a hot path encodes itself, and the output must be what Marshal's
// reflection encoder writes for the same value, byte for byte; tests
// compare the two.
type CBORAppender interface {
	AppendCBOR(b []byte) []byte
}

// appendCBORHead appends the head of an item of major type major
// (cbor_decode.go's majorUint...) with argument u, in the shortest form.
func appendCBORHead(b []byte, major byte, u uint64) []byte {
	major <<= 5
	switch {
	case u < 24:
		return append(b, major|byte(u))
	case u <= 0xff:
		return append(b, major|24, byte(u))
	case u <= 0xffff:
		return append(b, major|25, byte(u>>8), byte(u))
	case u <= 0xffffffff:
		return append(b, major|26, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	return append(b, major|27, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// AppendCBORInt appends n as Marshal encodes a Go integer: in CBOR's
// shortest integer form.
func AppendCBORInt(b []byte, n int64) []byte {
	if n < 0 {
		return appendCBORHead(b, majorNegInt, uint64(-(n + 1)))
	}
	return appendCBORHead(b, majorUint, uint64(n))
}

// AppendCBORText appends s as a text string, as Marshal encodes a Go
// string: its bytes as they are.
func AppendCBORText(b []byte, s string) []byte {
	return append(appendCBORHead(b, majorText, uint64(len(s))), s...)
}

// AppendCBORBytes appends p as a byte string (nil as null), as Marshal
// encodes a []byte.
func AppendCBORBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, cborNull)
	}
	return append(appendCBORHead(b, majorBytes, uint64(len(p))), p...)
}

// AppendCBORMapHead appends the head of a map of n pairs.
func AppendCBORMapHead(b []byte, n int) []byte { return appendCBORHead(b, majorMap, uint64(n)) }

// AppendCBORArrayHead appends the head of an array of n items; a nil
// slice is null, not an array (isNil).
func AppendCBORArrayHead(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, cborNull)
	}
	return appendCBORHead(b, majorArray, uint64(n))
}

// AppendCBORValue appends v as Marshal encodes it in CBOR, by reflection:
// for the rare members of a CBORAppender (child shards at a closed
// shard's end). A value the encoder refuses is a programmer error.
func AppendCBORValue(b []byte, v any) []byte {
	enc, err := cborEnc.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("awsproto: CBOR of %T: %v", v, err))
	}
	return append(b, enc...)
}

// AppendCBOR appends t as Marshal encodes a Timestamp in CBOR: tag 1 and
// epoch milliseconds as an integer.
func (t Timestamp) AppendCBOR(b []byte) []byte {
	return AppendCBORInt(append(b, 0xc1), t.Millis)
}
