package e2e

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// CBOR major types, from the first byte's top three bits.
const (
	cborUint  = 0
	cborNeg   = 1
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborMap   = 5
	cborTag   = 6
	cborFloat = 7
)

func cborMajor(raw cbor.RawMessage) int {
	if len(raw) == 0 {
		return -1
	}
	return int(raw[0] >> 5)
}

// cborObj is a decoded CBOR map whose values stay raw, so the test can check
// each member's CBOR type as well as its value.
type cborObj map[string]cbor.RawMessage

func decodeCBORObj(t testing.TB, what string, b []byte) cborObj {
	t.Helper()
	var m cborObj
	if err := cbor.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: response is not a CBOR map: %v (% x)", what, err, truncate(b, 64))
	}
	return m
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (o cborObj) text(t testing.TB, key string) string {
	t.Helper()
	raw, ok := o[key]
	if !ok {
		t.Fatalf("CBOR member %s missing (members: %v)", key, o.keys())
	}
	if cborMajor(raw) != cborText {
		t.Fatalf("CBOR member %s has major type %d, want text string", key, cborMajor(raw))
	}
	var s string
	if err := cbor.Unmarshal(raw, &s); err != nil {
		t.Fatalf("CBOR member %s: %v", key, err)
	}
	return s
}

func (o cborObj) bytes(t testing.TB, key string) []byte {
	t.Helper()
	raw, ok := o[key]
	if !ok {
		t.Fatalf("CBOR member %s missing (members: %v)", key, o.keys())
	}
	if cborMajor(raw) != cborBytes {
		t.Fatalf("CBOR member %s has major type %d, want byte string (blobs are raw bytes in CBOR)", key, cborMajor(raw))
	}
	var b []byte
	if err := cbor.Unmarshal(raw, &b); err != nil {
		t.Fatalf("CBOR member %s: %v", key, err)
	}
	return b
}

func (o cborObj) int(t testing.TB, key string) int64 {
	t.Helper()
	raw, ok := o[key]
	if !ok {
		t.Fatalf("CBOR member %s missing (members: %v)", key, o.keys())
	}
	if m := cborMajor(raw); m != cborUint && m != cborNeg {
		t.Fatalf("CBOR member %s has major type %d, want integer", key, m)
	}
	var v int64
	if err := cbor.Unmarshal(raw, &v); err != nil {
		t.Fatalf("CBOR member %s: %v", key, err)
	}
	return v
}

// millis decodes a timestamp member: epoch milliseconds as an integer or a
// float, optionally under tag 1 (Jackson ignores the tag).
func (o cborObj) millis(t testing.TB, key string) int64 {
	t.Helper()
	raw, ok := o[key]
	if !ok {
		t.Fatalf("CBOR member %s missing (members: %v)", key, o.keys())
	}
	if len(raw) > 0 && raw[0] == 0xc1 { // tag 1
		raw = raw[1:]
	}
	switch cborMajor(raw) {
	case cborUint, cborNeg:
		var v int64
		if err := cbor.Unmarshal(raw, &v); err != nil {
			t.Fatalf("CBOR member %s: %v", key, err)
		}
		return v
	case cborFloat:
		var f float64
		if err := cbor.Unmarshal(raw, &f); err != nil {
			t.Fatalf("CBOR member %s: %v", key, err)
		}
		return int64(math.Round(f))
	}
	t.Fatalf("CBOR member %s has major type %d, want a number of epoch milliseconds", key, cborMajor(raw))
	return 0
}

func (o cborObj) array(t testing.TB, key string) []cborObj {
	t.Helper()
	raw, ok := o[key]
	if !ok {
		t.Fatalf("CBOR member %s missing (members: %v)", key, o.keys())
	}
	if cborMajor(raw) != cborArray {
		t.Fatalf("CBOR member %s has major type %d, want array", key, cborMajor(raw))
	}
	var out []cborObj
	if err := cbor.Unmarshal(raw, &out); err != nil {
		t.Fatalf("CBOR member %s: %v", key, err)
	}
	return out
}

func (o cborObj) keys() []string {
	var k []string
	for key := range o {
		k = append(k, key)
	}
	return k
}

// cborCall sends a CBOR request and expects a 200 CBOR answer.
func cborCall(t testing.TB, s *server, op string, body []byte) cborObj {
	t.Helper()
	r := rawCall(t, rawHTTPClient(t), s.endpoint(), op, ctCBOR, body)
	if r.Status != 200 {
		t.Fatalf("%s over CBOR: status %d, body % x (%q)", op, r.Status, truncate(r.Body, 200), truncate(r.Body, 200))
	}
	if len(r.Body) == 0 {
		return cborObj{}
	}
	if ct := r.Header.Get("Content-Type"); ct != ctCBOR {
		t.Errorf("%s: response Content-Type %q, want %s", op, ct, ctCBOR)
	}
	return decodeCBORObj(t, op, r.Body)
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatalf("cbor marshal: %v", err)
	}
	return b
}

// indefiniteMap encodes key/value pairs as an indefinite-length CBOR map,
// the way Jackson's CBOR generator (used by the Java SDK) writes objects.
func indefiniteMap(t testing.TB, kv ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := cbor.NewEncoder(&buf)
	if err := enc.StartIndefiniteMap(); err != nil {
		t.Fatal(err)
	}
	for _, v := range kv {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.EndIndefinite(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// epochMillisTag is a timestamp as the Java SDK writes it: tag 1 followed
// by an integer number of epoch milliseconds.
func epochMillisTag(ts time.Time) cbor.Tag {
	return cbor.Tag{Number: 1, Content: ts.UnixMilli()}
}

// TestCBOR drives the server with CBOR 1.1 requests shaped like the Java
// SDK v2's and checks the CBOR responses.
func TestCBOR(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	const name = "cbor"
	before := time.Now()

	cborCall(t, srv, "CreateStream", mustCBOR(t, map[string]any{"StreamName": name, "ShardCount": 1}))

	// Poll DescribeStreamSummary over CBOR until ACTIVE.
	var summary cborObj
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := cborCall(t, srv, "DescribeStreamSummary", mustCBOR(t, map[string]any{"StreamName": name}))
		var sd cborObj
		if err := cbor.Unmarshal(out["StreamDescriptionSummary"], &sd); err != nil {
			t.Fatalf("StreamDescriptionSummary: %v", err)
		}
		if sd.text(t, "StreamStatus") == "ACTIVE" {
			summary = sd
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream not ACTIVE after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := summary.text(t, "StreamARN"); got != streamARN(name) {
		t.Errorf("StreamARN %q", got)
	}
	if n := summary.int(t, "OpenShardCount"); n != 1 {
		t.Errorf("OpenShardCount %d", n)
	}
	checkMillisNear(t, "StreamCreationTimestamp", summary.millis(t, "StreamCreationTimestamp"), before)

	// PutRecord with a non-UTF-8 payload, as an indefinite-length map.
	payload0 := []byte{0x00, 0xff, 0xfe, 0x80, 'h', 'i', 0xc3, 0x28, 0xed, 0xa0, 0x80}
	putStart := time.Now()
	pr := cborCall(t, srv, "PutRecord", indefiniteMap(t,
		"StreamName", name, "PartitionKey", "pk-0", "Data", payload0))
	if pr.text(t, "ShardId") != shardID(0) {
		t.Errorf("PutRecord ShardId %q", pr.text(t, "ShardId"))
	}
	seq0 := pr.text(t, "SequenceNumber")
	if !seqRE.MatchString(seq0) {
		t.Errorf("PutRecord SequenceNumber %q", seq0)
	}

	// PutRecords with three byte-string entries.
	payloads := [][]byte{payload0, {0xff, 0xff, 0xff}, {}, bytes.Repeat([]byte{0x80, 0x00}, 5000)}
	var entries []map[string]any
	for i, p := range payloads[1:] {
		entries = append(entries, map[string]any{"Data": p, "PartitionKey": fmt.Sprintf("pk-%d", i+1)})
	}
	prs := cborCall(t, srv, "PutRecords", mustCBOR(t, map[string]any{"StreamName": name, "Records": entries}))
	if n := prs.int(t, "FailedRecordCount"); n != 0 {
		t.Errorf("FailedRecordCount %d", n)
	}
	seqs := []string{seq0}
	for i, r := range prs.array(t, "Records") {
		if _, failed := r["ErrorCode"]; failed {
			t.Errorf("entry %d failed: %q", i, r.text(t, "ErrorCode"))
			continue
		}
		if r.text(t, "ShardId") != shardID(0) {
			t.Errorf("entry %d ShardId %q", i, r.text(t, "ShardId"))
		}
		seqs = append(seqs, r.text(t, "SequenceNumber"))
	}
	if len(seqs) != len(payloads) {
		t.Fatalf("%d sequence numbers for %d records", len(seqs), len(payloads))
	}
	for i := 1; i < len(seqs); i++ {
		if !seqLess(seqs[i-1], seqs[i]) {
			t.Errorf("sequence %d (%s) not above %s", i, seqs[i], seqs[i-1])
		}
	}

	// AT_TIMESTAMP as tag 1 + epoch millis, one second before the first put.
	it := cborCall(t, srv, "GetShardIterator", mustCBOR(t, map[string]any{
		"StreamName":        name,
		"ShardId":           shardID(0),
		"ShardIteratorType": "AT_TIMESTAMP",
		"Timestamp":         epochMillisTag(putStart.Add(-time.Second)),
	})).text(t, "ShardIterator")

	gr := cborCall(t, srv, "GetRecords", mustCBOR(t, map[string]any{"ShardIterator": it, "Limit": 100}))
	recs := gr.array(t, "Records")
	if len(recs) != len(payloads) {
		t.Fatalf("GetRecords: %d records, want %d", len(recs), len(payloads))
	}
	var lastArrival int64
	for i, r := range recs {
		if got := r.bytes(t, "Data"); !bytes.Equal(got, payloads[i]) {
			t.Errorf("record %d Data % x, want % x", i, truncate(got, 16), truncate(payloads[i], 16))
		}
		if got := r.text(t, "SequenceNumber"); got != seqs[i] {
			t.Errorf("record %d SequenceNumber %s, want %s", i, got, seqs[i])
		}
		if got := r.text(t, "PartitionKey"); got != fmt.Sprintf("pk-%d", i) {
			t.Errorf("record %d PartitionKey %q", i, got)
		}
		arrival := r.millis(t, "ApproximateArrivalTimestamp")
		checkMillisNear(t, fmt.Sprintf("record %d ApproximateArrivalTimestamp", i), arrival, putStart)
		lastArrival = max(lastArrival, arrival)
	}
	if n := gr.int(t, "MillisBehindLatest"); n != 0 {
		t.Errorf("MillisBehindLatest %d", n)
	}
	if next := gr.text(t, "NextShardIterator"); next == "" {
		t.Errorf("no NextShardIterator")
	}

	// AT_TIMESTAMP after every record (but not in the future, which AWS
	// rejects): nothing to read. A server that took the millis for seconds
	// would see a time far in the future and refuse it.
	waitClockPast(t, time.UnixMilli(lastArrival), 20*time.Millisecond)
	it2 := cborCall(t, srv, "GetShardIterator", mustCBOR(t, map[string]any{
		"StreamName":        name,
		"ShardId":           shardID(0),
		"ShardIteratorType": "AT_TIMESTAMP",
		"Timestamp":         epochMillisTag(time.Now().Add(-5 * time.Millisecond)),
	})).text(t, "ShardIterator")
	gr2 := cborCall(t, srv, "GetRecords", mustCBOR(t, map[string]any{"ShardIterator": it2}))
	if n := len(gr2.array(t, "Records")); n != 0 {
		t.Errorf("AT_TIMESTAMP after all records returned %d records", n)
	}

	// Errors come back as CBOR maps too.
	hc := rawHTTPClient(t)
	r := rawCall(t, hc, srv.endpoint(), "DescribeStreamSummary", ctCBOR, mustCBOR(t, map[string]any{"StreamName": "nope"}))
	expectCBORError(t, r, 400, "ResourceNotFoundException", notFoundMsg("nope"))

	r = rawCall(t, hc, srv.endpoint(), "PutRecord", ctCBOR, []byte{0xbf, 0x61, 'x', 0xff, 0xff, 0x1c})
	expectCBORError(t, r, 400, "SerializationException", "")
}

// checkMillisNear asserts ms is epoch milliseconds within a minute of ref.
func checkMillisNear(t testing.TB, what string, ms int64, ref time.Time) {
	t.Helper()
	got := time.UnixMilli(ms)
	if d := got.Sub(ref); d < -5*time.Second || d > time.Minute {
		t.Errorf("%s = %d (%v), want epoch milliseconds near %v", what, ms, got.UTC(), ref.UTC())
	}
}

// expectCBORError asserts a CBOR error body {__type, message}.
func expectCBORError(t testing.TB, r rawResponse, status int, typ, msg string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d", r.Status, status)
	}
	if ct := r.Header.Get("Content-Type"); ct != ctCBOR {
		t.Errorf("error Content-Type %q, want %s", ct, ctCBOR)
	}
	o := decodeCBORObj(t, "error", r.Body)
	gotType := o.text(t, "__type")
	if i := strings.LastIndexByte(gotType, '#'); i >= 0 {
		gotType = gotType[i+1:]
	}
	if gotType != typ {
		t.Errorf("__type %q, want %q", gotType, typ)
	}
	if msg != "" {
		key := "message"
		if _, ok := o[key]; !ok {
			key = "Message"
		}
		if got := o.text(t, key); got != msg {
			t.Errorf("message %q, want %q", got, msg)
		}
	}
}
