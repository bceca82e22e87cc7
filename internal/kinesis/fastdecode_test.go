package kinesis

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strings"
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
	// Raw line breaks in data, which Go's base64 decoder would skip.
	"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"aGVs\n\n\r\nbG8=\",\"PartitionKey\":\"k\"}]}",
	"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"AA==\r\n\r\n\",\"PartitionKey\":\"k\"}]}",
	// Strings long enough to be scanned eight bytes at a time.
	`{"StreamName":"a-longer-stream-name","Records":[{"Data":"cmVjb3JkLWRhdGEtcmVjb3JkLWRhdGEtcmVjb3JkLWRhdGE=","PartitionKey":"partition-key-0001"}]}`,
	// An escape and a character above 0x7e inside an eight-byte word, and
	// member names that start like the ones matched whole.
	`{"StreamName":"a-longer-stream-name","Records":[{"Data":"AA==","PartitionKey":"partition\"-key-0001"}]}`,
	`{"StreamName":"a-longer-stream-name","Records":[{"Data":"AA==","PartitionKey":"partition-kéy-0001"}]}`,
	`{"StreamName":"s","Records":[{"DataX":"AA==","PartitionKey":"k"}]}`,
	`{"StreamName":"s","Records":[{"Data":"AA==","PartitionKeys":"k"}]}`,
}

// checkFast decodes a JSON body both ways: whenever the fast path accepts
// it, the general decoder must accept it too and produce the same value.
func checkFast(t *testing.T, body []byte) bool {
	return checkFastPath(t, awsproto.JSON, fastPutRecords, body)
}

// checkFastPath is checkFast for protocol p's fast path. The scratch is
// shared, as the pool shares it between calls: what one call left in it
// must not show in the next.
func checkFastPath(t *testing.T, p awsproto.Protocol, fastPath func([]byte, *putRecordsInput, *putScratch) bool, body []byte) bool {
	t.Helper()
	sc := getPutScratch()
	defer sc.release()
	var fast putRecordsInput
	if !fastPath(body, &fast, sc) {
		return false
	}
	var slow putRecordsInput
	if err := awsproto.Unmarshal(p, body, &slow); err != nil {
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
	if accepted != 4 {
		t.Fatalf("fast path accepted %d of the seeds, want the 4 well-formed ones", accepted)
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

func TestSpecialJSON8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' }
	check := func(b []byte) {
		first := 8 // the first byte that is not plain, 8 for none
		for i, c := range b {
			if !plain(c) {
				first = i
				break
			}
		}
		m := specialJSON8(binary.LittleEndian.Uint64(b))
		if got := bits.TrailingZeros64(m) >> 3; got != first {
			t.Fatalf("specialJSON8(%q) = %#x: first marked byte %d, want %d", b, m, got, first)
		}
		if m&^0x8080808080808080 != 0 {
			t.Fatalf("specialJSON8(%q) = %#x marks bits other than the bytes' highest", b, m)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	b := make([]byte, 8)
	// Every byte value at every position among plain bytes, and among
	// bytes of every kind (where borrows and carries cross bytes).
	for pos := range 8 {
		for v := range 256 {
			for range 20 {
				for i := range b {
					b[i] = byte(0x20 + r.IntN(0x5f))
					if r.IntN(4) == 0 {
						b[i] = byte(r.IntN(256))
					}
				}
				b[pos] = byte(v)
				check(b)
			}
		}
	}
}

// BenchmarkFastPutRecords decodes a PutRecords body of 500 records of 100
// bytes, as SDKs send it.
func BenchmarkFastPutRecords(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"StreamName":"bench","Records":[`)
	data := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("r", 100)))
	for i := range 500 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"Data":"%s","PartitionKey":"pk-%d"}`, data, i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		sc := getPutScratch()
		var in putRecordsInput
		if !fastPutRecords(body, &in, sc) || len(in.Records) != 500 {
			b.Fatal("fast path refused the body")
		}
		sc.release()
	}
}

// TestStrictBase64MatchesStd holds strictBase64 (AVX2 for the bulk) to
// encoding/base64's strict decoder: the same bytes when both accept, and
// a refusal whenever the standard library refuses, for valid strings of
// every length up to 300 bytes and for ones with a character replaced by
// something base64 does not use (or a line break, which it skips), at
// every place the vector loop and the tail meet.
func TestStrictBase64MatchesStd(t *testing.T) {
	std := base64.StdEncoding.Strict()
	r := rand.New(rand.NewPCG(3, 4))
	bad := []byte{'\n', '\r', '=', '"', '\\', '-', '_', ' ', 0, 0x80, 0xff, '.'}
	check := func(src []byte) {
		t.Helper()
		want := make([]byte, std.DecodedLen(len(src)))
		got := make([]byte, len(want))
		nw, ew := std.Decode(want, src)
		ng, eg := strictBase64.Decode(got, src)
		if (ew == nil) != (eg == nil) || (ew == nil && !bytes.Equal(want[:nw], got[:ng])) {
			t.Fatalf("%q: std %d %v, strictBase64 %d %v", src, nw, ew, ng, eg)
		}
	}
	for n := 0; n <= 300; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		enc := []byte(base64.StdEncoding.EncodeToString(p))
		check(enc)
		for range 8 {
			if len(enc) == 0 {
				break
			}
			m := bytes.Clone(enc)
			m[r.IntN(len(m))] = bad[r.IntN(len(bad))]
			check(m)
		}
		if len(enc) > 2 { // set trailing bits: strict decoders refuse them
			m := bytes.Clone(enc)
			if i := bytes.IndexByte(m, '='); i > 0 {
				m[i-1] = 'B'
				check(m)
			}
		}
	}
}

// TestGrow: grow hands out n zero elements whether it reuses the array or
// not, clearing what lies within the slice's length and relying on what
// lies beyond it being zero, as putScratch.release leaves it.
func TestGrow(t *testing.T) {
	s := grow([]string(nil), 3)
	if len(s) != 3 || s[0] != "" || s[2] != "" {
		t.Fatalf("grow(nil, 3) = %q", s)
	}
	s[0], s[1], s[2] = "a", "b", "c"
	again := grow(s, 2) // a second encoding of the same call's answer
	if len(again) != 2 || again[0] != "" || again[1] != "" || &again[0] != &s[0] {
		t.Fatalf("grow(s, 2) = %q, want 2 zero elements in s's array", again)
	}
	if s[2] != "" {
		t.Fatalf("grow(s, 2) left %q beyond the new length", s[2])
	}
	clear(again)
	released := again[:0]
	bigger := grow(released, 3)
	if len(bigger) != 3 || bigger[0] != "" || bigger[2] != "" || &bigger[0] != &s[0] {
		t.Fatalf("grow(released, 3) = %q, want 3 zero elements in s's array", bigger)
	}
	if larger := grow(bigger, 4); len(larger) != 4 || &larger[0] == &s[0] {
		t.Fatalf("grow beyond the capacity reused the array")
	}
}
