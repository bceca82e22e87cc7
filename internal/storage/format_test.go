package storage

import (
	"testing"
)

func TestFrameClasses(t *testing.T) {
	tests := []struct{ n, class, size int }{
		{readChunkBytes + 1, 0, 2 * readChunkBytes},
		{2 * readChunkBytes, 0, 2 * readChunkBytes},
		{2*readChunkBytes + 1, 1, 4 * readChunkBytes},
		{maxBatchBytes, frameClasses - 1, maxBatchBytes},
	}
	for _, tt := range tests {
		c, size := frameClass(tt.n)
		if c != tt.class || size != tt.size {
			t.Errorf("frameClass(%d) = %d, %d; want %d, %d", tt.n, c, size, tt.class, tt.size)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	tests := [][]Entry{
		{{PartitionKey: "", Data: nil}},
		{{PartitionKey: "k", Data: []byte("v")}, {PartitionKey: string(make([]byte, 300)), Data: make([]byte, 70000)}},
		entries(0, 100, 17),
	}
	for i, es := range tests {
		b := make([]byte, encodedBatchBytes(es))
		encodeRecords(b, batchHeaderBytes, es)
		if err := sealBatch(b, 42, len(es), 1234, nil); err != nil {
			t.Fatal(err)
		}
		h, reason := parseBatchHeader(b)
		if reason != "" || h.firstOffset != 42 || int(h.count) != len(es) || h.size() != int64(len(b)) {
			t.Fatalf("case %d: header %+v, %q", i, h, reason)
		}
		n := 0
		reason = walkRecords(b, &h, func(j int, arrival int64, key, data []byte) bool {
			if arrival != 1234 || string(key) != es[j].PartitionKey || string(data) != string(es[j].Data) {
				t.Fatalf("case %d record %d mismatch", i, j)
			}
			n++
			return true
		})
		if reason != "" || n != len(es) {
			t.Fatalf("case %d: walked %d, %q", i, n, reason)
		}
		// Every single-bit flip after the length field is caught.
		for pos := 4; pos < len(b) && pos < 200; pos++ {
			b[pos] ^= 1
			if h2, r := parseBatchHeader(b); r == "" && walkRecords(b, &h2, nil) == "" {
				t.Fatalf("case %d: flip at %d not detected", i, pos)
			}
			b[pos] ^= 1
		}
	}
}

func TestSegmentHeader(t *testing.T) {
	h := encodeSegmentHeader(77, segmentKeyInfo{})
	if _, r := parseSegmentHeader(h, 77); r != "" {
		t.Fatal(r)
	}
	if _, r := parseSegmentHeader(h, 78); r == "" {
		t.Fatal("base mismatch not detected")
	}
	for i := range h {
		h[i] ^= 0x20
		if _, r := parseSegmentHeader(h, 77); r == "" {
			t.Fatalf("flip at %d not detected", i)
		}
		h[i] ^= 0x20
	}
}
