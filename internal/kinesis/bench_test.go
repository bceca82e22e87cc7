package kinesis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// discardWriter is an http.ResponseWriter that keeps only the body's
// length, so that a benchmark measures the encoder and not a recorder.
type discardWriter struct {
	h     http.Header
	bytes int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { w.bytes += len(p); return len(p), nil }

// BenchmarkGetRecords measures one full GetRecords call as the server
// makes it, from the decoded request to the body handed to the
// ResponseWriter: 10,000 records of 100 data bytes each, as
// `sluice bench get` reads them, answered in JSON, in CBOR, and in CBOR
// by the reflection encoder (the answer's type without its AppendCBOR).
func BenchmarkGetRecords(b *testing.B) {
	const records, dataBytes = 10000, 100
	s := newService(b)
	mustCall(b, s, "CreateStream", `{"StreamName":"s","ShardCount":1}`)
	type entry struct {
		PartitionKey string
		Data         []byte
	}
	data := bytes.Repeat([]byte{0xa5}, dataBytes)
	for i := 0; i < records; i += 500 {
		var put struct {
			StreamName string
			Records    []entry
		}
		put.StreamName = "s"
		for j := range 500 {
			put.Records = append(put.Records, entry{PartitionKey: fmt.Sprintf("pk-%d", i+j), Data: data})
		}
		body, _ := json.Marshal(put)
		mustCall(b, s, "PutRecords", string(body))
	}
	it := mustCall(b, s, "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`).(getShardIteratorOutput).ShardIterator
	req := &Request{Operation: "GetRecords", Protocol: awsproto.JSON, Body: []byte(`{"ShardIterator":"` + it + `"}`)}
	for _, answer := range []struct {
		name  string
		proto awsproto.Protocol
		conv  func(getRecordsOutput) any
	}{
		{"json", awsproto.JSON, func(o getRecordsOutput) any { return o }},
		{"cbor", awsproto.CBOR, func(o getRecordsOutput) any { return o }},
		{"cbor-reflection", awsproto.CBOR, func(o getRecordsOutput) any { return reflectGetRecordsOutput(o) }},
	} {
		b.Run(answer.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				out, err := s.Handle(req)
				if err != nil {
					b.Fatal(err)
				}
				if n := len(out.(getRecordsOutput).Records); n != records {
					b.Fatalf("GetRecords returned %d records, want %d", n, records)
				}
				if err := awsproto.WriteResponse(w, answer.proto, answer.conv(out.(getRecordsOutput))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func mustCall(b *testing.B, s *Service, op, body string) any {
	b.Helper()
	out, err := call(s, op, body)
	if err != nil {
		b.Fatalf("%s: %v", op, err)
	}
	return out
}
