package eventstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzDecode decodes arbitrary bytes twice: as they are, and with the
// prelude and message checksums recomputed so that the header parser sees
// inputs that random mutation would almost never get past the CRCs with.
// Whatever decodes must encode back to exactly the bytes it came from (the
// encoding is canonical), and whatever fails must fail with a documented
// error.
//
// The seed corpus in testdata/fuzz/FuzzDecode holds the aws-c-event-stream
// vectors, Kinesis messages, every value type and a few broken frames.
func FuzzDecode(f *testing.F) {
	for _, v := range positiveVectors {
		f.Add(mustHex(f, v.hex))
	}
	for _, v := range negativeVectors {
		f.Add(mustHex(f, v.hex))
	}
	_, stream := kinesisStream(f)
	f.Add(stream)
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeAll(t, data)
		if len(data) >= 2 {
			// The first two bytes choose headers_length, the rest are the
			// headers and payload.
			body := data[2:]
			hlen := int(binary.BigEndian.Uint16(data)) % (len(body) + 1)
			decodeAll(t, handFrame(body[:hlen], body[hlen:]))
		}
	})
}

// decodeAll decodes every message in data and checks each against its
// re-encoding, and against what DecodeShared makes of the same bytes.
func decodeAll(t *testing.T, data []byte) {
	d := NewDecoder(bytes.NewReader(data))
	ds := NewDecoder(bytes.NewReader(data))
	off := 0
	for {
		m, err := d.Decode()
		ms, errs := ds.DecodeShared()
		if (err == nil) != (errs == nil) || err != nil && err.Error() != errs.Error() || (m == nil) != (ms == nil) || m != nil && !messagesEqual(m, ms) {
			t.Fatalf("at offset %d Decode gave %s, %v; DecodeShared %s, %v", off, describe(m), err, describe(ms), errs)
		}
		if err == io.EOF {
			if off != len(data) {
				t.Fatalf("io.EOF at offset %d of %d", off, len(data))
			}
			return
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset != int64(off) || !(isFormat(err) || errors.Is(err, io.ErrUnexpectedEOF)) {
				t.Fatalf("undocumented error at offset %d: %#v", off, err)
			}
			if m != nil {
				t.Fatal("Decode returned a message and an error")
			}
			return
		}
		b, err := AppendMessage(nil, m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(b, data[off:min(off+len(b), len(data))]) {
			t.Fatalf("re-encoding differs at offset %d\n got %x\nwant %x", off, b, data[off:])
		}
		off += len(b)
	}
}
