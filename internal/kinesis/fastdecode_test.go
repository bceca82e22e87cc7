package kinesis

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/sluicedata/sluice/internal/awsproto"
)

var fastSeeds = []string{
	`{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"}]}`,
	`{"Records":[{"PartitionKey":"a","Data":"","ExplicitHashKey":"12"},{"Data":"YWJj","PartitionKey":"b"}],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`,
	` { "StreamName" : "s" , "Records" : [ { "Data" : "AA==" , "PartitionKey" : "k" } ] } `,
	`{"StreamName":"s","Records":[{"Data":"aGVsbG8","PartitionKey":"k"}]}`,
	`{"StreamName":"s","Records":[{"Data":"aGVs\nbG8=","PartitionKey":"k"}]}`,
	`{"StreamName":"s","StreamName":"t","Records":[{"Data":"AA==","PartitionKey":"k"}]}`,
	`{"StreamName":"s","Records":[]}`,
	`{"StreamName":"s","Records":[{"Data":null,"PartitionKey":"k"}]}`,
	`{"StreamName":"s","Records":[{"Data":"AA==","PartitionKey":"k\u00e9"}]}`,
	`{"StreamName":"s","Records":[{"Data":"AA==","PartitionKey":"é"}]}`,
	`{"StreamName":"s","Records":[{"Data":"AA==","PartitionKey":"k","Other":"x"}]}`,
	`{"StreamName":"s","Records":[{"Data":"AA==","PartitionKey":"k"}]} x`,
	`{"StreamName":"s","DryRun":true,"Records":[{"Data":"AA==","PartitionKey":"k"}]}`,
}

// checkFast decodes body both ways: whenever the fast path accepts it, the
// general decoder must accept it too and produce the same value.
// The scratch is shared, as the pool shares it between calls: what one
// call left in it must not show in the next.
func checkFast(t *testing.T, body []byte) bool {
	sc := getPutScratch()
	defer sc.release()
	var fast putRecordsInput
	if !fastPutRecords(body, &fast, sc) {
		return false
	}
	var slow putRecordsInput
	if err := awsproto.Unmarshal(awsproto.JSON, body, &slow); err != nil {
		t.Fatalf("fast path accepted %q, the general decoder refused it: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decoders differ on %q:\nfast %#v\nslow %#v", body, fast, slow)
	}
	return true
}

func TestFastPutRecordsMatchesGeneralDecoder(t *testing.T) {
	accepted := 0
	for _, s := range fastSeeds {
		if checkFast(t, []byte(s)) {
			accepted++
		}
	}
	if accepted != 3 {
		t.Fatalf("fast path accepted %d of the seeds, want the 3 well-formed ones", accepted)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		b := []byte(fastSeeds[r.IntN(len(fastSeeds))])
		for range 1 + r.IntN(3) {
			switch i := r.IntN(len(b)); r.IntN(3) {
			case 0:
				b[i] = byte(r.IntN(256))
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				const chars = "\"{}[],: \\=Aa0\n"
				b = append(b[:i], append([]byte{chars[r.IntN(len(chars))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		checkFast(t, b)
	}
}

func FuzzFastPutRecords(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFast(t, body) })
}
