package awsproto

import (
	"fmt"
	"testing"
)

const (
	benchRecords    = 500
	benchRecordSize = 100
)

// putRecordsBodies returns a PutRecords request of 500 records of 100 bytes
// as the Go SDK sends it (JSON) and as the Java SDK v2 sends it (CBOR,
// indefinite-length maps and arrays).
func putRecordsBodies() (jsonBody, cborBody []byte) {
	req := putRecordsRequest{StreamName: ptr("benchmark-stream")}
	c := newCB().indefMap().text("StreamName").text("benchmark-stream").text("Records").indefArray()
	for i := range benchRecords {
		data := make([]byte, benchRecordSize)
		for j := range data {
			data[j] = byte(i + j)
		}
		pk := fmt.Sprintf("partition-key-%d", i)
		req.Records = append(req.Records, putRecordsEntry{Data: data, PartitionKey: pk})
		c.indefMap().text("Data").bytes(data).text("PartitionKey").text(pk).brk()
	}
	jsonBody, err := Marshal(JSON, req)
	if err != nil {
		panic(err)
	}
	return jsonBody, c.brk().brk().done()
}

func BenchmarkUnmarshalPutRecords(b *testing.B) {
	jsonBody, cborBody := putRecordsBodies()
	for _, bc := range []struct {
		p    Protocol
		body []byte
	}{{JSON, jsonBody}, {CBOR, cborBody}} {
		b.Run(bc.p.String(), func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				var req putRecordsRequest
				if err := Unmarshal(bc.p, bc.body, &req); err != nil {
					b.Fatal(err)
				}
				if len(req.Records) != benchRecords {
					b.Fatal(len(req.Records))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecords), "ns/record")
		})
	}
}
