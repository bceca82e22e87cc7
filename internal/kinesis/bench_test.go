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
	reqJSON := []byte(`{"ShardIterator":"` + it + `"}`)
	reqCBOR, err := awsproto.Marshal(awsproto.CBOR, map[string]string{"ShardIterator": it})
	if err != nil {
		b.Fatal(err)
	}
	for _, answer := range []struct {
		name   string
		proto  awsproto.Protocol
		answer func(b *testing.B) any
	}{
		{"json", awsproto.JSON, func(b *testing.B) any {
			return handle(b, s, &Request{Operation: "GetRecords", Protocol: awsproto.JSON, Body: reqJSON})
		}},
		{"cbor", awsproto.CBOR, func(b *testing.B) any {
			return handle(b, s, &Request{Operation: "GetRecords", Protocol: awsproto.CBOR, Body: reqCBOR})
		}},
		// The engine's answer through the reflection encoder, without the
		// read turn and the answer's AppendCBOR.
		{"cbor-reflection", awsproto.CBOR, func(b *testing.B) any {
			res, err := s.eng.GetRecords(it, 0)
			if err != nil {
				b.Fatal(err)
			}
			return reflectGetRecordsOutput(getRecordsAnswer(res, new([]recordOut)))
		}},
	} {
		b.Run(answer.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			var got struct {
				Records []struct{ SequenceNumber string }
			}
			if err := awsproto.Unmarshal(answer.proto, marshalAnswer(b, answer.proto, answer.answer(b)), &got); err != nil {
				b.Fatal(err)
			}
			if len(got.Records) != records {
				b.Fatalf("GetRecords returned %d records, want %d", len(got.Records), records)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := awsproto.WriteResponse(w, answer.proto, answer.answer(b)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// handle calls r's operation and returns its answer.
func handle(b *testing.B, s *Service, r *Request) any {
	out, err := s.Handle(r)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// marshalAnswer returns out's encoding in p.
func marshalAnswer(b *testing.B, p awsproto.Protocol, out any) []byte {
	if e, ok := out.(awsproto.Encoded); ok {
		return e.Bytes()
	}
	body, err := awsproto.Marshal(p, out)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func mustCall(tb testing.TB, s *Service, op, body string) any {
	tb.Helper()
	out, err := call(s, op, body)
	if err != nil {
		tb.Fatalf("%s: %v", op, err)
	}
	return out
}
