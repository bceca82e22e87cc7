package engine

import (
	"testing"

	"github.com/sluicedata/sluice/internal/storage"
)

func TestRecordsCache(t *testing.T) {
	c := recordsCache{maxSlices: 1}
	if got := c.get(); got != nil {
		t.Fatalf("empty cache gave cap %d", cap(got))
	}
	recs := make([]storage.Record, 3, 8)
	recs[0] = storage.Record{PartitionKey: "k", Data: []byte("d")}
	c.put(recs)
	c.put(make([]storage.Record, 0, 5)) // over maxSlices: dropped
	got := c.get()
	if len(got) != 0 || cap(got) != 8 {
		t.Fatalf("get = len %d cap %d, want 0 8", len(got), cap(got))
	}
	if r := got[:1][0]; r.PartitionKey != "" || r.Data != nil {
		t.Errorf("a cached slice still holds a record: %+v", r)
	}
	if got := c.get(); got != nil {
		t.Errorf("drained cache gave cap %d", cap(got))
	}
}
