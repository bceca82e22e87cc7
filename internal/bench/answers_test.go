package bench

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// Answer shapes as Sluice's kinesis package writes them (types.go), so
// that the scanners are tested against awsproto's own encodings.
type (
	testRecord struct {
		SequenceNumber              string             `json:"SequenceNumber"`
		ApproximateArrivalTimestamp awsproto.Timestamp `json:"ApproximateArrivalTimestamp"`
		Data                        []byte             `json:"Data"`
		PartitionKey                string             `json:"PartitionKey"`
	}
	testChildShard struct {
		ShardId      string   `json:"ShardId"`
		ParentShards []string `json:"ParentShards"`
		HashKeyRange struct {
			StartingHashKey string `json:"StartingHashKey"`
			EndingHashKey   string `json:"EndingHashKey"`
		} `json:"HashKeyRange"`
	}
	testGetRecordsOutput struct {
		Records            []testRecord     `json:"Records"`
		NextShardIterator  *string          `json:"NextShardIterator"`
		MillisBehindLatest int64            `json:"MillisBehindLatest"`
		ChildShards        []testChildShard `json:"ChildShards,omitempty"`
	}
	testPutResult struct {
		SequenceNumber string `json:"SequenceNumber,omitempty"`
		ShardId        string `json:"ShardId,omitempty"`
		ErrorCode      string `json:"ErrorCode,omitempty"`
		ErrorMessage   string `json:"ErrorMessage,omitempty"`
	}
	testPutRecordsOutput struct {
		FailedRecordCount int             `json:"FailedRecordCount"`
		Records           []testPutResult `json:"Records"`
		EncryptionType    string          `json:"EncryptionType,omitempty"`
	}
)

func stamped(ts int64, size int) []byte {
	d := bytes.Repeat([]byte{'x'}, size)
	if size >= stampBytes {
		binary.BigEndian.PutUint64(d, uint64(ts))
		d[8] = stampMagic
	}
	return d
}

// TestStampOfBase64 holds the table decode to encoding/base64 followed by
// stampOf: stamped data of every size around the stamp, and 12-character
// texts with a character replaced by one outside the alphabet, padding
// or a line break.
func TestStampOfBase64(t *testing.T) {
	want := func(text []byte) (int64, bool) {
		if len(text) < 12 {
			return 0, false
		}
		b, err := base64.StdEncoding.DecodeString(string(text[:12]))
		if err != nil {
			return 0, false
		}
		return stampOf(b)
	}
	check := func(text []byte) {
		t.Helper()
		gs, gok := stampOfBase64(text)
		ws, wok := want(text)
		if gs != ws || gok != wok {
			t.Fatalf("stampOfBase64(%q) = %d, %v; want %d, %v", text, gs, gok, ws, wok)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	bad := []byte{'=', '\n', '\r', '-', '_', '"', 0, 0x80, 0xff}
	for range 20000 {
		d := stamped(int64(r.Uint64()), r.IntN(20))
		if len(d) > 8 && r.IntN(8) == 0 {
			d[8] ^= byte(1 + r.IntN(255)) // not the magic
		}
		text := []byte(base64.StdEncoding.EncodeToString(d))
		check(text)
		if len(text) >= 12 {
			m := bytes.Clone(text)
			m[r.IntN(12)] = bad[r.IntN(len(bad))]
			check(m)
		}
	}
}

func TestParseRecords(t *testing.T) {
	now := time.Now().UnixNano()
	it := "AAAA/+iterator=="
	out := testGetRecordsOutput{
		Records: []testRecord{
			{SequenceNumber: "1", ApproximateArrivalTimestamp: awsproto.Timestamp{Millis: 1700000000123}, Data: stamped(now-5e6, 100), PartitionKey: "a"},
			{SequenceNumber: "2", Data: stamped(now-7e6, 10), PartitionKey: "b"},
			{SequenceNumber: "3", Data: []byte("someone else's"), PartitionKey: "c"}, // no stamp: counted, not timed
			{SequenceNumber: "4", Data: []byte{}, PartitionKey: "d"},
			{SequenceNumber: "5", Data: stamped(now-1e6, 1), PartitionKey: "e"},
		},
		NextShardIterator: &it, MillisBehindLatest: 42,
		ChildShards: []testChildShard{{ShardId: "shardId-000000000002", ParentShards: []string{"shardId-000000000000"}}},
	}
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		t.Run(p.String(), func(t *testing.T) {
			body, err := awsproto.Marshal(p, out)
			if err != nil {
				t.Fatal(err)
			}
			var h Histogram
			a, err := parseRecords(p, body, "NextShardIterator", &latencySink{hist: &h, now: now})
			if err != nil {
				t.Fatal(err)
			}
			want := recordsAnswer{records: 5, bytes: 100 + 10 + 14 + 0 + 1, next: it, hasNext: true, millisBehind: 42}
			if a != want {
				t.Errorf("answer %+v, want %+v", a, want)
			}
			if h.Count() != 2 || h.Max() != 7*time.Millisecond || h.Quantile(0) < 5*time.Millisecond-time.Millisecond/histSub {
				t.Errorf("latencies: %d samples, max %v", h.Count(), h.Max())
			}
		})
	}
}

func TestParseRecordsEnd(t *testing.T) {
	// A closed shard's end: no NextShardIterator (null or absent).
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		body, _ := awsproto.Marshal(p, testGetRecordsOutput{Records: []testRecord{}})
		a, err := parseRecords(p, body, "NextShardIterator", nil)
		if err != nil || a.hasNext || a.records != 0 {
			t.Errorf("%s: %+v %v", p, a, err)
		}
	}
}

func TestParseRecordsJSONText(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       recordsAnswer
	}{
		{"white space and escapes", " {\n \"Records\" : [ { \"Data\" : \"aGVsbG8=\" , \"PartitionKey\":\"a\\\"b\" } ] ,\n" +
			" \"NextShardIterator\" : \"x\\/y\\u0041\" , \"MillisBehindLatest\" : 7 } ",
			recordsAnswer{records: 1, bytes: 5, next: "x/yA", hasNext: true, millisBehind: 7}},
		{"nulls", `{"Records":[{"Data":null}],"NextShardIterator":null,"MillisBehindLatest":null}`,
			recordsAnswer{records: 1}},
		{"fractional number", `{"Records":[],"MillisBehindLatest":1.5e3,"Other":{"a":[true,false,null,-1.2]}}`,
			recordsAnswer{millisBehind: 1500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseRecords(awsproto.JSON, []byte(tc.body), "NextShardIterator", nil)
			if err != nil || a != tc.want {
				t.Errorf("%+v %v, want %+v", a, err, tc.want)
			}
		})
	}
}

// TestPlainRecord: the one-pass read takes a record only in Sluice's exact
// layout, and an answer mixing it with other layouts reads the same as
// the member by member scan would.
func TestPlainRecord(t *testing.T) {
	now := time.Now().UnixNano()
	data := base64.StdEncoding.EncodeToString(stamped(now-3e6, 20))
	plain := `{"SequenceNumber":"49658000000000000000000000000000000000000000000000000001","ApproximateArrivalTimestamp":1.700000000123E9,"Data":"` + data + `","PartitionKey":"pk"}`
	others := []string{
		`{"SequenceNumber":"2","ApproximateArrivalTimestamp":1700000000,"Data":"` + data + `","PartitionKey":"a\"}b"}`,                    // escape in the key
		`{"SequenceNumber":"3","ApproximateArrivalTimestamp":1700000000,"Data":"` + data + `","PartitionKey":"k","EncryptionType":"KMS"}`, // a member more
		`{ "SequenceNumber":"4","ApproximateArrivalTimestamp":1700000000,"Data":"` + data + `","PartitionKey":"k"}`,                       // a blank
		`{"Data":"` + data + `","SequenceNumber":"5","PartitionKey":"\"Data\":\"","ApproximateArrivalTimestamp":1700000000}`,              // another order
		`{"SequenceNumber":"6","ApproximateArrivalTimestamp":1700000000,"Data":null,"PartitionKey":"k"}`,                                  // no data
	}
	for _, noEscapes := range []bool{true, false} {
		s := jsonScan{b: []byte(plain + ",")}
		var a recordsAnswer
		var h Histogram
		if !s.plainRecord(&a, &latencySink{hist: &h, now: now}, noEscapes) || s.i != len(plain) || a.bytes != 20 || h.Count() != 1 {
			t.Fatalf("plain record (noEscapes %v): read %v, at %d of %d, %+v, %d latencies", noEscapes, s.err, s.i, len(plain), a, h.Count())
		}
	}
	var a recordsAnswer
	for _, o := range others {
		s := jsonScan{b: []byte(o)}
		// As parseRecords says it: no escapes only if the answer has no backslash.
		if s.plainRecord(&a, nil, !strings.Contains(o, `\`)) || s.i != 0 {
			t.Errorf("%s: read as plain", o)
		}
	}
	recs := []string{plain}
	for _, o := range others {
		recs = append(recs, o, plain)
	}
	body := `{"Records":[` + strings.Join(recs, ",") + `],"NextShardIterator":"it","MillisBehindLatest":3}`
	var h Histogram
	got, err := parseRecords(awsproto.JSON, []byte(body), "NextShardIterator", &latencySink{hist: &h, now: now})
	want := recordsAnswer{records: 11, bytes: 20 * 10, next: "it", hasNext: true, millisBehind: 3}
	if err != nil || got != want || h.Count() != 10 {
		t.Errorf("mixed answer: %+v %v, %d latencies; want %+v, 10", got, err, h.Count(), want)
	}
}

func TestParseRecordsCBORIndefinite(t *testing.T) {
	// {_ "Records": [_ {_ "Data": (_ h'0102', h'03') }], "ContinuationSequenceNumber": (_ "4", "2"), "MillisBehindLatest": 1(-0) }
	var b []byte
	b = append(b, 0xbf)
	b = append(b, 0x67)
	b = append(b, "Records"...)
	b = append(b, 0x9f, 0xbf, 0x64)
	b = append(b, "Data"...)
	b = append(b, 0x5f, 0x42, 1, 2, 0x41, 3, 0xff, 0xff, 0xff)
	b = append(b, 0x78, byte(len("ContinuationSequenceNumber")))
	b = append(b, "ContinuationSequenceNumber"...)
	b = append(b, 0x7f, 0x61, '4', 0x61, '2', 0xff)
	b = append(b, 0x72)
	b = append(b, "MillisBehindLatest"...)
	b = append(b, 0xc1, 0x19, 0x01, 0x00) // tag 1, 256
	b = append(b, 0xff)
	a, err := parseRecords(awsproto.CBOR, b, "ContinuationSequenceNumber", nil)
	want := recordsAnswer{records: 1, bytes: 3, next: "42", hasNext: true, millisBehind: 256}
	if err != nil || a != want {
		t.Errorf("%+v %v, want %+v", a, err, want)
	}
}

func TestParsePutRecords(t *testing.T) {
	out := testPutRecordsOutput{FailedRecordCount: 3, Records: []testPutResult{
		{SequenceNumber: "1", ShardId: "shardId-000000000000"},
		{ErrorCode: throttleCode, ErrorMessage: "Rate exceeded for shard"},
		{ErrorCode: "InternalFailure", ErrorMessage: "disk on fire"},
		{ErrorCode: throttleCode, ErrorMessage: "Rate exceeded"},
		{SequenceNumber: "2", ShardId: "shardId-000000000001"},
	}}
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		t.Run(p.String(), func(t *testing.T) {
			body, err := awsproto.Marshal(p, out)
			if err != nil {
				t.Fatal(err)
			}
			a, err := parsePutRecords(p, body)
			want := putAnswer{entries: 5, throttled: 2, failed: 1, firstError: "PutRecords entry: InternalFailure: disk on fire"}
			if err != nil || a != want {
				t.Errorf("%+v %v, want %+v", a, err, want)
			}
		})
	}
}

// TestCleanPutRecords: the counted path takes only answers it can count
// exactly, and agrees with the member by member scan on every answer.
func TestCleanPutRecords(t *testing.T) {
	seq := `{"SequenceNumber":"49658000000000000000000000000000000000000000000000000001","ShardId":"shardId-000000000000"}`
	for _, c := range []struct {
		body    string
		counted bool
		want    putAnswer
	}{
		{`{"FailedRecordCount":0,"Records":[` + seq + `]}`, true, putAnswer{entries: 1}},
		{`{"FailedRecordCount":0,"Records":[` + seq + "," + seq + "," + seq + `]}`, true, putAnswer{entries: 3}},
		// Another server's layout: blanks, another member order, a member
		// after Records.
		{`{ "FailedRecordCount": 0, "Records": [` + seq + `] }`, false, putAnswer{entries: 1}},
		{`{"FailedRecordCount":0,"Records":[{"ShardId":"shardId-000000000000","SequenceNumber":"1"}]}`, false, putAnswer{entries: 1}},
		{`{"FailedRecordCount":0,"Records":[` + seq + `],"EncryptionType":"NONE"}`, false, putAnswer{entries: 1}},
		// A count that does not match its entries: the scan decides.
		{`{"FailedRecordCount":0,"Records":[` + seq + `,{"ErrorCode":"InternalFailure","ErrorMessage":"x"}]}`, false,
			putAnswer{entries: 2, failed: 1, firstError: "PutRecords entry: InternalFailure: x"}},
		{`{"FailedRecordCount":0,"Records":[` + seq + `,{"SequenceNumber":"2","ErrorCode":"InternalFailure","ErrorMessage":"{x}"}]}`, false,
			putAnswer{entries: 2, failed: 1, firstError: "PutRecords entry: InternalFailure: {x}"}},
		{`{"FailedRecordCount":0,"Records":[]}`, false, putAnswer{}},
	} {
		if _, counted := cleanPutRecords([]byte(c.body)); counted != c.counted {
			t.Errorf("%s: counted %v, want %v", c.body, counted, c.counted)
		}
		got, err := parsePutRecords(awsproto.JSON, []byte(c.body))
		scanned, serr := scanPutRecords([]byte(c.body))
		if err != nil || serr != nil || got != c.want || scanned != c.want {
			t.Errorf("%s: parsed %+v %v, scanned %+v %v, want %+v", c.body, got, err, scanned, serr, c.want)
		}
	}
}

// TestCleanPutRecordsCBOR: the head-counted path takes only answers that
// say no record failed and name no ErrorCode, and agrees with the scan.
func TestCleanPutRecordsCBOR(t *testing.T) {
	ok := testPutResult{SequenceNumber: "49658000000000000000000000000000000000000000000000000001", ShardId: "shardId-000000000000"}
	bad := testPutResult{ErrorCode: "InternalFailure", ErrorMessage: "x"}
	marshal := func(v any) []byte {
		b, err := awsproto.Marshal(awsproto.CBOR, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type reordered struct { // Records first
		Records           []testPutResult `json:"Records"`
		FailedRecordCount int             `json:"FailedRecordCount"`
	}
	indefinite := append([]byte{0xbf}, cborName("FailedRecordCount")...)
	indefinite = append(indefinite, 0)
	indefinite = append(indefinite, cborName("Records")...)
	indefinite = append(indefinite, 0x9f, 0xa1)
	indefinite = append(append(indefinite, cborName("ShardId")...), cborName("s")...)
	indefinite = append(indefinite, 0xff, 0xff)
	for _, c := range []struct {
		name    string
		body    []byte
		counted bool
		want    putAnswer
	}{
		{"one", marshal(testPutRecordsOutput{Records: []testPutResult{ok}}), true, putAnswer{entries: 1}},
		{"500", marshal(testPutRecordsOutput{Records: slices.Repeat([]testPutResult{ok}, 500)}), true, putAnswer{entries: 500}},
		{"encrypted", marshal(testPutRecordsOutput{Records: []testPutResult{ok, ok}, EncryptionType: "KMS"}), true, putAnswer{entries: 2}},
		// Another layout: the scan reads it.
		{"Records first", marshal(reordered{Records: []testPutResult{ok}}), false, putAnswer{entries: 1}},
		{"indefinite", indefinite, false, putAnswer{entries: 1}},
		{"failures", marshal(testPutRecordsOutput{FailedRecordCount: 1, Records: []testPutResult{ok, bad}}), false,
			putAnswer{entries: 2, failed: 1, firstError: "PutRecords entry: InternalFailure: x"}},
		// A count of failures that does not match the entries: the scan decides.
		{"miscounted", marshal(testPutRecordsOutput{Records: []testPutResult{ok, bad}}), false,
			putAnswer{entries: 2, failed: 1, firstError: "PutRecords entry: InternalFailure: x"}},
		{"empty", marshal(testPutRecordsOutput{Records: []testPutResult{}}), false, putAnswer{}},
	} {
		if _, counted := cleanPutRecordsCBOR(c.body); counted != c.counted {
			t.Errorf("%s: counted %v, want %v", c.name, counted, c.counted)
		}
		got, err := parsePutRecords(awsproto.CBOR, c.body)
		scanned, serr := parsePutRecordsCBOR(c.body)
		if err != nil || serr != nil || got != c.want || scanned != c.want {
			t.Errorf("%s: parsed %+v %v, scanned %+v %v, want %+v", c.name, got, err, scanned, serr, c.want)
		}
	}
}

// rawCBOR is an item already encoded.
type rawCBOR []byte

// TestPlainRecordCBOR: the one-pass read takes a record only in Sluice's
// layout, and an answer mixing it with other layouts reads the same as
// the member by member scan would.
func TestPlainRecordCBOR(t *testing.T) {
	now := time.Now().UnixNano()
	data := stamped(now-3e6, 20)
	rec := func(members ...any) []byte { // name, value, name, value...
		b := []byte{byte(cborMap<<5 | len(members)/2)}
		for i, m := range members {
			if i%2 == 0 {
				b = append(b, cborName(m.(string))...)
				continue
			}
			switch v := m.(type) {
			case rawCBOR:
				b = append(b, v...)
			default:
				enc, err := awsproto.Marshal(awsproto.CBOR, map[string]any{"v": v})
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, enc[1+len(cborName("v")):]...)
			}
		}
		return b
	}
	seq := "49658000000000000000000000000000000000000000000000000001"
	arrival := rawCBOR{0xc1, 0xfb, 0x41, 0xd9, 0x54, 0xfc, 0x40, 0x07, 0xdf, 0x3b} // tag 1, a float64
	plain := rec("SequenceNumber", seq, "ApproximateArrivalTimestamp", arrival, "Data", data, "PartitionKey", "pk")
	encrypted := rec("SequenceNumber", seq, "ApproximateArrivalTimestamp", arrival, "Data", data, "PartitionKey", "pk", "EncryptionType", "KMS")
	others := [][]byte{
		rec("Data", data, "SequenceNumber", "2", "PartitionKey", "k", "ApproximateArrivalTimestamp", arrival),               // another order
		rec("SequenceNumber", "3", "ApproximateArrivalTimestamp", arrival, "Data", "c3RhbXA=", "PartitionKey", "k"),         // text data
		rec("SequenceNumber", "4", "ApproximateArrivalTimestamp", arrival, "Data", data, "PartitionKey", "k", "Other", "x"), // another member
		rec("SequenceNumber", "5", "ApproximateArrivalTimestamp", arrival, "Data", rawCBOR{0xf6}, "PartitionKey", "k"),      // no data
		append([]byte{0xbf}, append(rec("SequenceNumber", "6", "ApproximateArrivalTimestamp", arrival, "Data", data, "PartitionKey", "k")[1:], 0xff)...),
	}
	for _, p := range [][]byte{plain, encrypted} {
		s := cborScan{b: append(slices.Clone(p), 0xff)}
		var a recordsAnswer
		var h Histogram
		if !s.plainRecord(&a, &latencySink{hist: &h, now: now}) || s.i != len(p) || a.bytes != 20 || h.Count() != 1 {
			t.Fatalf("plain record: read %v, at %d of %d, %+v, %d latencies", s.err, s.i, len(p), a, h.Count())
		}
	}
	var a recordsAnswer
	for i, o := range others {
		s := cborScan{b: o}
		if s.plainRecord(&a, nil) || s.i != 0 || s.err != nil {
			t.Errorf("other %d: read as plain (at %d, %v)", i, s.i, s.err)
		}
	}
	body := []byte{cborMap<<5 | 3}
	body = append(body, cborName("Records")...)
	body = append(body, byte(cborArray<<5|(2+2*len(others))))
	body = append(append(body, plain...), encrypted...)
	for _, o := range others {
		body = append(append(body, o...), plain...)
	}
	body = append(append(body, cborName("ContinuationSequenceNumber")...), cborName("7")...)
	body = append(append(body, cborName("MillisBehindLatest")...), 3)
	var h Histogram
	got, err := parseRecords(awsproto.CBOR, body, "ContinuationSequenceNumber", &latencySink{hist: &h, now: now})
	// Every record but the text one (5 bytes of base64) and the null one
	// carries the 20 stamped bytes.
	want := recordsAnswer{records: 12, bytes: 20*10 + 5, next: "7", hasNext: true, millisBehind: 3}
	if err != nil || got != want || h.Count() != 10 {
		t.Errorf("mixed answer: %+v %v, %d latencies; want %+v, 10", got, err, h.Count(), want)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, body := range []string{"", "{", `{"Records":[{"Data":"abc`, `{"Records":[1,2,`, `[`, `{"Records":{"a":}}`, "\xbf\x67Records\x9f",
		"\xa1\x67Records\x9b\xff\xff\xff\xff\xff\xff\xff\xff"} {
		for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
			if _, err := parseRecords(p, []byte(body), "NextShardIterator", nil); err == nil {
				t.Errorf("%s %q: no error", p, body)
			}
			if _, err := parsePutRecords(p, []byte(body)); err == nil {
				t.Errorf("%s put %q: no error", p, body)
			}
		}
	}
}

// FuzzParseAnswers checks that no answer, however malformed, makes a
// scanner panic or loop.
func FuzzParseAnswers(f *testing.F) {
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		it := "it"
		body, _ := awsproto.Marshal(p, testGetRecordsOutput{Records: []testRecord{{Data: stamped(1, 20)}}, NextShardIterator: &it})
		f.Add(body)
		body, _ = awsproto.Marshal(p, testPutRecordsOutput{Records: []testPutResult{{ErrorCode: throttleCode}}})
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var h Histogram
		for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
			a, err := parseRecords(p, body, "NextShardIterator", &latencySink{hist: &h})
			if err == nil && (a.records < 0 || a.bytes < 0) {
				t.Errorf("%s: %+v", p, a)
			}
			parsePutRecords(p, body)
		}
	})
}

func TestGetRecordsBody(t *testing.T) {
	type in struct {
		ShardIterator string
		Limit         int
	}
	for _, it := range []string{"plain", "with \"quotes\" and \\ and \x01", "ünïcode"} {
		for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
			var got in
			body := appendGetRecords(p, nil, it, 10000)
			if err := awsproto.Unmarshal(p, body, &got); err != nil || got != (in{it, 10000}) {
				t.Errorf("%s %q: %+v %v (body %q)", p, it, got, err, body)
			}
		}
	}
}

func TestPutBodies(t *testing.T) {
	keys := [][]string{{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}, {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"}}
	type entry struct {
		Data         []byte
		PartitionKey string
	}
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		t.Run(p.String(), func(t *testing.T) {
			pb, err := buildPutBodies(p, "putrecords", "s", keys, 40, 7, 3)
			if err != nil {
				t.Fatal(err)
			}
			perShard := map[byte]int{}
			for round := range len(pb.bodies) {
				ts := int64(1e18) + int64(round)
				b := pb.take(ts)
				var in struct {
					StreamName string
					Records    []entry
				}
				if err := awsproto.Unmarshal(p, b.body, &in); err != nil {
					t.Fatal(err)
				}
				if in.StreamName != "s" || len(in.Records) != 7 {
					t.Fatalf("decoded %+v", in)
				}
				for _, r := range in.Records {
					if got, ok := stampOf(r.Data); !ok || got != ts || len(r.Data) != 40 {
						t.Errorf("record stamp %d %v, want %d", got, ok, ts)
					}
					perShard[r.PartitionKey[0]]++
				}
			}
			if perShard['a'] == 0 || perShard['b'] == 0 || perShard['a']-perShard['b'] > 1 || perShard['b']-perShard['a'] > 1 {
				t.Errorf("records per shard %v, want even", perShard)
			}
		})
	}
}

func TestPartitionKeysLandInTheirShard(t *testing.T) {
	var shards []shardInfo
	// Three uneven ranges covering the hash space.
	edges := []string{"0", "100000000000000000000000000000000000000", "200000000000000000000000000000000000000", "340282366920938463463374607431768211455"}
	for i := range 3 {
		var s shardInfo
		lo := edges[i]
		if i > 0 {
			lo = fmt.Sprint(edges[i], "1")[:len(edges[i])] // same magnitude; ranges may touch, not overlap
		}
		if !hashKey(lo, &s.lo) || !hashKey(edges[i+1], &s.hi) {
			t.Fatal("bad test key")
		}
		shards = append(shards, s)
	}
	for _, perShard := range []int{1, 8, 200} {
		keys, err := partitionKeys(shards, perShard)
		if err != nil {
			t.Fatal(err)
		}
		for i, ks := range keys {
			if len(ks) != perShard {
				t.Errorf("%d per shard: shard %d has %d keys", perShard, i, len(ks))
			}
			for _, k := range ks {
				h := md5.Sum([]byte(k))
				if bytes.Compare(h[:], shards[i].lo[:]) < 0 || bytes.Compare(h[:], shards[i].hi[:]) > 0 {
					t.Errorf("key %q of shard %d hashes outside its range", k, i)
				}
			}
		}
	}
}

// TestPutBodiesKeys: a body sends each shard's keys in turn, so a call
// repeats keys only when a shard gets more of its records than it has
// keys.
func TestPutBodiesKeys(t *testing.T) {
	shards := []shardInfo{{}, {}, {}, {}}
	for _, perShard := range []int{8, 125} {
		keys := make([][]string, len(shards))
		for s := range keys {
			for k := range perShard {
				keys[s] = append(keys[s], fmt.Sprintf("s%d-k%d", s, k))
			}
		}
		pb, err := buildPutBodies(awsproto.JSON, "putrecords", "st", keys, 10, 500, 0)
		if err != nil {
			t.Fatal(err)
		}
		var in struct {
			Records []struct{ PartitionKey string }
		}
		if err := json.Unmarshal(pb.bodies[0].body, &in); err != nil {
			t.Fatal(err)
		}
		distinct := map[string]bool{}
		for _, r := range in.Records {
			distinct[r.PartitionKey] = true
		}
		if want := min(500, len(shards)*perShard); len(distinct) != want {
			t.Errorf("%d keys per shard: a 500-record body has %d distinct keys, want %d", perShard, len(distinct), want)
		}
	}
}

// BenchmarkParseRecords measures the scan of a full GetRecords answer
// (10,000 records of 100 B): the client's cost per answer, which must stay
// far below the server's cost to produce it.
func BenchmarkParseRecords(b *testing.B) {
	out := testGetRecordsOutput{Records: make([]testRecord, 10000)}
	for i := range out.Records {
		out.Records[i] = testRecord{SequenceNumber: "49658000000000000000000000000000000000000000000000000000",
			ApproximateArrivalTimestamp: awsproto.Timestamp{Millis: 1700000000000}, Data: stamped(1, 100), PartitionKey: "pk-1"}
	}
	it := "iterator"
	out.NextShardIterator = &it
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		b.Run(p.String(), func(b *testing.B) {
			body, _ := awsproto.Marshal(p, out)
			var h Histogram
			sink := latencySink{hist: &h, now: 2}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if a, err := parseRecords(p, body, "NextShardIterator", &sink); err != nil || a.records != 10000 {
					b.Fatal(a, err)
				}
			}
			b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPutCall measures what a producer does for one PutRecords of
// 500 x 100 B besides the network: stamp the body, sign, scan the answer.
func BenchmarkPutCall(b *testing.B) {
	keys := [][]string{{"a", "b", "c", "d", "e", "f", "g", "h"}}
	pb, err := buildPutBodies(awsproto.JSON, "putrecords", "s", keys, 100, 500, 0)
	if err != nil {
		b.Fatal(err)
	}
	answer, _ := awsproto.Marshal(awsproto.JSON, testPutRecordsOutput{Records: make([]testPutResult, 500)})
	s := newSigner(DummyCredentials, "us-east-1", "127.0.0.1:4567")
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		pb.take(now.UnixNano())
		s.sign("Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", now)
		if a, err := parsePutRecords(awsproto.JSON, answer); err != nil || a.entries != 500 {
			b.Fatal(a, err)
		}
	}
}

// BenchmarkParsePutRecords measures the scan of a PutRecords answer of 500
// entries as Sluice writes them: what every producer does after each call.
func BenchmarkParsePutRecords(b *testing.B) {
	out := testPutRecordsOutput{Records: make([]testPutResult, 500)}
	for i := range out.Records {
		out.Records[i] = testPutResult{SequenceNumber: fmt.Sprintf("4965800000000000000000000000000000000000000000%010d", i),
			ShardId: fmt.Sprintf("shardId-%012d", i%4)}
	}
	for _, p := range []awsproto.Protocol{awsproto.JSON, awsproto.CBOR} {
		b.Run(p.String(), func(b *testing.B) {
			body, _ := awsproto.Marshal(p, out)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if a, err := parsePutRecords(p, body); err != nil || a.entries != 500 {
					b.Fatal(a, err)
				}
			}
		})
	}
}
