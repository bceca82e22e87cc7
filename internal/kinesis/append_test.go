package kinesis

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
)

// stdJSON is encoding/json's output with HTML escaping off, as
// awsproto.Marshal produces without the fast path.
func stdJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func randString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "<", ">", "&",
		"é", "日本", "\u2028", "\u2029", "\xff", "\xc3", "😀", " ", "/"}
	n := r.IntN(12)
	var b []byte
	for range n {
		b = append(b, alphabet[r.IntN(len(alphabet))]...)
	}
	return string(b)
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		pro := randPutRecordsOutput(r, i)
		if got, want := pro.AppendJSON(nil), stdJSON(t, pro); !bytes.Equal(got, want) {
			t.Fatalf("PutRecords output:\n got %s\nwant %s", got, want)
		}
		gro := randGetRecordsOutput(r, i)
		if got, want := gro.AppendJSON(nil), stdJSON(t, gro); !bytes.Equal(got, want) {
			t.Fatalf("GetRecords output:\n got %s\nwant %s", got, want)
		}

		// A SubscribeToShard event carries the same records.
		ev := subscribeEvent{Records: gro.Records, MillisBehindLatest: gro.MillisBehindLatest, ChildShards: gro.ChildShards, engineTexts: gro.engineTexts}
		if r.IntN(2) == 0 {
			c := randString(r)
			ev.ContinuationSequenceNumber = &c
		}
		if got, want := ev.AppendJSON([]byte("prefix")), append([]byte("prefix"), stdJSON(t, ev)...); !bytes.Equal(got, want) {
			t.Fatalf("SubscribeToShard event:\n got %s\nwant %s", got, want)
		}
	}
}

// The same types without their AppendCBOR methods: awsproto.Marshal
// encodes these by reflection.
type (
	reflectPutRecordsOutput putRecordsOutput
	reflectGetRecordsOutput getRecordsOutput
	reflectSubscribeEvent   subscribeEvent
)

func TestAppendCBORMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	reflectCBOR := func(v any) []byte {
		t.Helper()
		b, err := awsproto.Marshal(awsproto.CBOR, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i := range 2000 {
		pro := randPutRecordsOutput(r, i)
		if got, want := pro.AppendCBOR([]byte("prefix")), append([]byte("prefix"), reflectCBOR(reflectPutRecordsOutput(pro))...); !bytes.Equal(got, want) {
			t.Fatalf("PutRecords output:\n got %x\nwant %x", got, want)
		}
		gro := randGetRecordsOutput(r, i)
		if got, want := gro.AppendCBOR(nil), reflectCBOR(reflectGetRecordsOutput(gro)); !bytes.Equal(got, want) {
			t.Fatalf("GetRecords output:\n got %x\nwant %x", got, want)
		}
		// A SubscribeToShard event for a subscription made in CBOR.
		ev := subscribeEvent{Records: gro.Records, MillisBehindLatest: gro.MillisBehindLatest, ChildShards: gro.ChildShards}
		if r.IntN(2) == 0 {
			c := randString(r)
			ev.ContinuationSequenceNumber = &c
		}
		if got, want := ev.AppendCBOR([]byte("prefix")), append([]byte("prefix"), reflectCBOR(reflectSubscribeEvent(ev))...); !bytes.Equal(got, want) {
			t.Fatalf("SubscribeToShard event:\n got %x\nwant %x", got, want)
		}
	}
	// Lengths in every head size, and an answer long enough to yield.
	big := getRecordsOutput{NextShardIterator: strings.Repeat("i", 300), MillisBehindLatest: 1 << 40}
	for _, n := range []int{0, 23, 24, 255, 256, 65535, 65536, 70000} {
		big.Records = append(big.Records, recordOut{SequenceNumber: strings.Repeat("4", 56), Data: bytes.Repeat([]byte{7}, n),
			PartitionKey: strings.Repeat("k", min(n, 256)), ApproximateArrivalTimestamp: awsproto.Timestamp{Millis: int64(n)}})
	}
	for range 3000 {
		big.Records = append(big.Records, recordOut{SequenceNumber: "1", Data: make([]byte, 100), PartitionKey: "p"})
	}
	if got, want := big.AppendCBOR(nil), reflectCBOR(reflectGetRecordsOutput(big)); !bytes.Equal(got, want) {
		t.Fatalf("a big GetRecords output differs from the reflection encoder's (%d and %d bytes)", len(got), len(want))
	}
	// Through awsproto.Marshal, which takes the CBORAppender.
	if got, want := reflectCBOR(big), reflectCBOR(reflectGetRecordsOutput(big)); !bytes.Equal(got, want) {
		t.Fatal("awsproto.Marshal of a getRecordsOutput differs from the reflection encoder's")
	}
}

func randPutRecordsOutput(r *rand.Rand, i int) putRecordsOutput {
	var pro putRecordsOutput
	if i%7 != 0 {
		pro.Records = make([]putRecordsResultEntry, r.IntN(4))
	}
	for j := range pro.Records {
		switch r.IntN(3) {
		case 0:
			pro.Records[j] = putRecordsResultEntry{SequenceNumber: randString(r), ShardId: randString(r)}
		case 1:
			pro.Records[j] = putRecordsResultEntry{ErrorCode: randString(r), ErrorMessage: randString(r)}
		}
	}
	pro.FailedRecordCount = r.IntN(500)
	if r.IntN(3) == 0 {
		pro.EncryptionType = randString(r)
	}
	if r.IntN(2) == 0 {
		// The engine's texts, which AppendJSON copies as they are.
		pro.engineTexts = true
		for j := range pro.Records {
			if e := &pro.Records[j]; e.SequenceNumber != "" {
				e.SequenceNumber = strconv.FormatUint(r.Uint64(), 10) + strconv.FormatUint(r.Uint64(), 10)
				e.ShardId = engine.ShardID(r.Uint32())
			}
		}
	}
	return pro
}

func randGetRecordsOutput(r *rand.Rand, i int) getRecordsOutput {
	var gro getRecordsOutput
	if i%5 != 0 {
		gro.Records = make([]recordOut, r.IntN(6))
	}
	for j := range gro.Records {
		var data []byte
		if r.IntN(4) != 0 {
			data = []byte(randString(r))
		}
		gro.Records[j] = recordOut{SequenceNumber: randString(r), Data: data, PartitionKey: randString(r),
			ApproximateArrivalTimestamp: awsproto.Timestamp{Millis: r.Int64N(4e12) - 1e12}}
		if j > 0 && r.IntN(2) == 0 { // records of one PutRecords call share it
			gro.Records[j].ApproximateArrivalTimestamp = gro.Records[j-1].ApproximateArrivalTimestamp
		}
		if r.IntN(3) == 0 {
			gro.Records[j].EncryptionType = "KMS"
		}
	}
	if r.IntN(2) == 0 {
		gro.NextShardIterator = randString(r)
	}
	gro.MillisBehindLatest = r.Int64N(1e9)
	if r.IntN(2) == 0 {
		// The engine's sequence numbers, which appendRecordsJSON copies.
		gro.engineTexts = true
		for j := range gro.Records {
			gro.Records[j].SequenceNumber = strconv.FormatUint(r.Uint64(), 10) + strconv.FormatUint(r.Uint64(), 10)
		}
	}
	if r.IntN(4) == 0 {
		gro.ChildShards = []childShard{{ShardId: "shardId-000000000002", ParentShards: []string{"shardId-000000000000"},
			HashKeyRange: hashKeyRange{StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455"}}}
	} else if r.IntN(2) == 0 {
		gro.ChildShards = []childShard{}
	}
	return gro
}

// BenchmarkPutRecordsOutput encodes the answer to 500 stored records.
func BenchmarkPutRecordsOutput(b *testing.B) {
	out := putRecordsOutput{Records: make([]putRecordsResultEntry, 500), engineTexts: true}
	for i := range out.Records {
		out.Records[i] = putRecordsResultEntry{SequenceNumber: "49668512393406462451394329163776538406738519658226532386", ShardId: "shardId-000000000003"}
	}
	for _, enc := range []struct {
		name   string
		append func([]byte) []byte
	}{
		{"json", out.AppendJSON},
		{"cbor", out.AppendCBOR},
		{"cbor-reflection", func(buf []byte) []byte {
			enc, err := awsproto.Marshal(awsproto.CBOR, reflectPutRecordsOutput(out))
			if err != nil {
				b.Fatal(err)
			}
			return append(buf, enc...)
		}},
	} {
		b.Run(enc.name, func(b *testing.B) {
			buf := enc.append(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = enc.append(buf[:0])
			}
		})
	}
}
