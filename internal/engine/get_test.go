package engine

import (
	"bytes"
	"fmt"
	"testing"
)

// TestGetRecordsRelease: a released result's buffers serve the next
// read, whose records are whole and right; a result not released keeps
// its records whatever is read after it.
func TestGetRecordsRelease(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	data := func(i int) []byte { return fmt.Appendf(bytes.Repeat([]byte{'.'}, 200), "record %d", i) }
	var entries []PutEntry
	for i := range 500 {
		entries = append(entries, PutEntry{PartitionKey: fmt.Sprintf("k%d", i), Data: data(i)})
	}
	put, err := h.eng.PutRecords("s", entries)
	if err != nil {
		t.Fatal(err)
	}
	for { // no scratch left over from other tests
		if _, ok := readScratches.Get(); !ok {
			break
		}
	}
	next := 0
	check := func(res GetRecordsResult, n int) {
		t.Helper()
		if len(res.Records) != n {
			t.Fatalf("read %d records, want %d", len(res.Records), n)
		}
		for j, r := range res.Records {
			if i := next + j; !bytes.Equal(r.Data, data(i)) || r.PartitionKey != fmt.Sprintf("k%d", i) || r.SequenceNumber != put[i].SequenceNumber {
				t.Fatalf("record %d: %s %q %q", i, r.SequenceNumber, r.PartitionKey, r.Data)
			}
		}
	}
	it := h.iterator("s", "shardId-000000000000", "TRIM_HORIZON", "", nil)
	read := func(n int) GetRecordsResult {
		t.Helper()
		res, err := h.eng.GetRecords(it, n)
		if err != nil {
			t.Fatal(err)
		}
		check(res, n)
		it, next = res.NextShardIterator, next+n
		return res
	}

	first := read(100)
	first.Release()
	if first.Records != nil {
		t.Error("Release left the records in the result")
	}
	first.Release() // twice is harmless
	// The first read sized the scratch's arena: the next reads copy
	// their data into it, from its start.
	second := read(100)
	at := &second.Records[0].Data[0]
	second.Release()
	third := read(100)
	if &third.Records[0].Data[0] != at {
		t.Error("the third read did not reuse the arena the second gave back")
	}
	// Not released: the fourth read gets a scratch of its own.
	kept := third.Records
	fourth := read(100)
	next -= 200
	check(GetRecordsResult{Records: kept}, 100)
	next += 100
	check(fourth, 100)
	third.Release()
	fourth.Release()
}
