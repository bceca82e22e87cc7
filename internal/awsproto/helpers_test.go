package awsproto

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// cb builds CBOR bodies byte by byte in tests, the way Jackson's
// CBORGenerator (the AWS Java SDKs) writes them, so that test vectors say
// exactly which encoding they exercise.
type cb struct{ bytes.Buffer }

func (b *cb) head(major byte, n uint64) *cb {
	switch {
	case n < 24:
		b.WriteByte(major<<5 | byte(n))
	case n <= math.MaxUint8:
		b.WriteByte(major<<5 | 24)
		b.WriteByte(byte(n))
	case n <= math.MaxUint16:
		b.WriteByte(major<<5 | 25)
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	case n <= math.MaxUint32:
		b.WriteByte(major<<5 | 26)
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	default:
		b.WriteByte(major<<5 | 27)
		b.Write(binary.BigEndian.AppendUint64(nil, n))
	}
	return b
}

func (b *cb) uint(n uint64) *cb { return b.head(0, n) }
func (b *cb) neg(n uint64) *cb  { return b.head(1, n) } // the value -1-n
func (b *cb) bytes(p []byte) *cb {
	b.head(2, uint64(len(p)))
	b.Write(p)
	return b
}
func (b *cb) text(s string) *cb {
	b.head(3, uint64(len(s)))
	b.WriteString(s)
	return b
}
func (b *cb) array(n int) *cb   { return b.head(4, uint64(n)) }
func (b *cb) mapN(n int) *cb    { return b.head(5, uint64(n)) }
func (b *cb) tag(n uint64) *cb  { return b.head(6, n) }
func (b *cb) raw(p ...byte) *cb { b.Write(p); return b }
func (b *cb) indefMap() *cb     { return b.raw(0xbf) }
func (b *cb) indefArray() *cb   { return b.raw(0x9f) }
func (b *cb) brk() *cb          { return b.raw(0xff) }
func (b *cb) null() *cb         { return b.raw(0xf6) }
func (b *cb) boolean(v bool) *cb {
	if v {
		return b.raw(0xf5)
	}
	return b.raw(0xf4)
}
func (b *cb) half(h uint16) *cb { return b.raw(0xf9, byte(h>>8), byte(h)) }
func (b *cb) single(f float32) *cb {
	b.WriteByte(0xfa)
	b.Write(binary.BigEndian.AppendUint32(nil, math.Float32bits(f)))
	return b
}
func (b *cb) double(f float64) *cb {
	b.WriteByte(0xfb)
	b.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
	return b
}

// indefText writes an indefinite-length text string in the given chunks.
func (b *cb) indefText(chunks ...string) *cb {
	b.raw(0x7f)
	for _, c := range chunks {
		b.text(c)
	}
	return b.brk()
}

// indefBytes writes an indefinite-length byte string in the given chunks.
func (b *cb) indefBytes(chunks ...[]byte) *cb {
	b.raw(0x5f)
	for _, c := range chunks {
		b.bytes(c)
	}
	return b.brk()
}

func (b *cb) done() []byte { return bytes.Clone(b.Bytes()) }

func newCB() *cb { return &cb{} }

func ptr[T any](v T) *T { return &v }

// mustSerialization checks that err is a SerializationException with msg.
func mustSerialization(t *testing.T, err error, msg string) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if e.Type != "SerializationException" || e.Status != 400 || e.Message != msg {
		t.Fatalf("error = %+v, want SerializationException 400 %q", e, msg)
	}
}
