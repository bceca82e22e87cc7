package kinesis

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// cb builds CBOR by hand, so that the seeds hold the forms encoders do
// not choose: indefinite lengths, long heads for short lengths, tags.
type cb []byte

func (b cb) head(major byte, n uint64) cb {
	switch {
	case n < 24:
		return append(b, major<<5|byte(n))
	case n < 1<<8:
		return append(b, major<<5|24, byte(n))
	default:
		return append(b, major<<5|25, byte(n>>8), byte(n))
	}
}
func (b cb) text(s string) cb  { return append(b.head(3, uint64(len(s))), s...) }
func (b cb) bytes(s string) cb { return append(b.head(2, uint64(len(s))), s...) }
func (b cb) raw(p ...byte) cb  { return append(b, p...) }

// record is a map of Data and PartitionKey of definite length.
func (b cb) record(data, key string) cb {
	return b.head(5, 2).text("Data").bytes(data).text("PartitionKey").text(key)
}

var fastCBORSeeds = [][]byte{
	// Accepted: definite lengths, as Go and Python encoders write them.
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).record("hello", "k"),
	// Accepted: indefinite maps and arrays, as Jackson (the AWS SDK for
	// Java) writes them, an empty Data, ExplicitHashKey and StreamARN.
	cb{}.raw(0xbf).text("Records").raw(0x9f).
		raw(0xbf).text("PartitionKey").text("a").text("Data").bytes("").text("ExplicitHashKey").text("12").raw(0xff).
		record("abc", "b").raw(0xff).
		text("StreamARN").text("arn:aws:kinesis:us-east-1:000000000000:stream/s").raw(0xff),
	// Accepted: a one-byte length head for a short string, and a
	// two-byte one for a count.
	cb{}.head(5, 2).raw(0x78, 10).raw([]byte("StreamName")...).text("s").text("Records").raw(0x99, 0, 2).
		record("longer record data, longer than eight bytes", "partition-key-0001").record("x", "y"),
	// Refused: duplicate members, an empty list, null or text data,
	// non-ASCII and indefinite strings, unknown members, trailing bytes,
	// DryRun, a tag, a count larger than the body.
	cb{}.head(5, 3).text("StreamName").text("s").text("StreamName").text("t").text("Records").head(4, 1).record("a", "k"),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 0),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").raw(0x9f, 0xff),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).head(5, 2).text("Data").raw(0xf6).text("PartitionKey").text("k"),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).head(5, 2).text("Data").text("AA==").text("PartitionKey").text("k"),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).record("a", "é"),
	cb{}.head(5, 2).text("StreamName").raw(0x7f).text("s").raw(0xff).text("Records").head(4, 1).record("a", "k"),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).head(5, 3).text("Data").bytes("a").text("PartitionKey").text("k").text("Other").text("x"),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).record("a", "k").raw(0x00),
	cb{}.head(5, 3).text("StreamName").text("s").text("DryRun").raw(0xf5).text("Records").head(4, 1).record("a", "k"),
	cb{}.raw(0xd9, 0xd9, 0xf7).head(5, 2).text("StreamName").text("s").text("Records").head(4, 1).record("a", "k"),
	cb{}.head(5, 2).text("StreamName").text("s").text("Records").raw(0x9a, 0, 1, 0, 0).record("a", "k"),
}

// checkFastCBOR is checkFast for fastPutRecordsCBOR.
func checkFastCBOR(t *testing.T, body []byte) bool {
	return checkFastPath(t, awsproto.CBOR, fastPutRecordsCBOR, body)
}

func TestFastPutRecordsCBORMatchesGeneralDecoder(t *testing.T) {
	accepted := 0
	for _, s := range fastCBORSeeds {
		if checkFastCBOR(t, s) {
			accepted++
		}
	}
	if accepted != 3 {
		t.Fatalf("fast path accepted %d of the seeds, want the 3 well-formed ones", accepted)
	}
	// What the encoder behind awsproto.Marshal writes, for every count
	// and length head up to two bytes.
	for _, n := range []int{1, 23, 24, 255, 256, 500} {
		in := putRecordsInput{Records: make([]putRecordsEntry, n)}
		name := "stream"
		in.StreamName = &name
		for i := range in.Records {
			key := fmt.Sprintf("pk-%d", i)
			in.Records[i] = putRecordsEntry{Data: bytes.Repeat([]byte{byte(i)}, i%300), PartitionKey: &key}
		}
		body, err := awsproto.Marshal(awsproto.CBOR, in)
		if err != nil {
			t.Fatal(err)
		}
		if !checkFastCBOR(t, body) {
			t.Fatalf("fast path refused a body of %d records as awsproto.Marshal writes it", n)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	interesting := []byte{0x00, 0x01, 0x17, 0x18, 0x19, 0x1f, 0x40, 0x41, 0x5f, 0x60, 0x61, 0x7f, 0x80, 0x81, 0x9f,
		0xa0, 0xa1, 0xbf, 0xc0, 0xd9, 0xf4, 0xf5, 0xf6, 0xf7, 0xfb, 0xff, 'D', 'a', 0xc3}
	for range 200_000 {
		b := bytes.Clone(fastCBORSeeds[r.IntN(len(fastCBORSeeds))])
		for range 1 + r.IntN(3) {
			switch i := r.IntN(len(b)); r.IntN(3) {
			case 0:
				b[i] = interesting[r.IntN(len(interesting))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{interesting[r.IntN(len(interesting))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		checkFastCBOR(t, b)
	}
}

func FuzzFastPutRecordsCBOR(f *testing.F) {
	for _, s := range fastCBORSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastCBOR(t, body) })
}

// BenchmarkFastPutRecordsCBOR decodes a CBOR PutRecords body of 500
// records of 100 bytes; slow is the general decoder, as every CBOR
// PutRecords was decoded before the fast path.
func BenchmarkFastPutRecordsCBOR(b *testing.B) {
	in := putRecordsInput{Records: make([]putRecordsEntry, 500)}
	name := "bench"
	in.StreamName = &name
	for i := range in.Records {
		key := fmt.Sprintf("pk-%d", i)
		in.Records[i] = putRecordsEntry{Data: []byte(strings.Repeat("r", 100)), PartitionKey: &key}
	}
	body, err := awsproto.Marshal(awsproto.CBOR, in)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			sc := getPutScratch()
			var in putRecordsInput
			if !fastPutRecordsCBOR(body, &in, sc) || len(in.Records) != 500 {
				b.Fatal("fast path refused the body")
			}
			sc.release()
		}
	})
	b.Run("general", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var in putRecordsInput
			if err := awsproto.Unmarshal(awsproto.CBOR, body, &in); err != nil || len(in.Records) != 500 {
				b.Fatal("general decoder refused the body", err)
			}
		}
	})
}
