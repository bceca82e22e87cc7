package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestHashKeysMemo: hashKeys gives every entry the MD5 of its own key,
// however keys repeat and collide in the memo, and takes an explicit hash
// key over the partition key.
func TestHashKeysMemo(t *testing.T) {
	var e Engine
	rng := rand.New(rand.NewPCG(1, 2))
	for _, distinct := range []int{1, 3, 32, 64, 65, 500, 5000} {
		entries := make([]PutEntry, 500)
		for i := range entries {
			entries[i].PartitionKey = fmt.Sprintf("key-%d", rng.IntN(distinct))
			if i%97 == 5 {
				entries[i].ExplicitHashKey = "42"
			}
		}
		keys := make([]HashKey, len(entries))
		if err := e.hashKeys(entries, keys); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			want := PartitionKeyHash(entries[i].PartitionKey)
			if entries[i].ExplicitHashKey != "" {
				want, _ = ParseHashKey("42")
			}
			if k != want {
				t.Fatalf("%d distinct keys: entry %d (%q) got %v, want %v", distinct, i, entries[i].PartitionKey, k, want)
			}
		}
	}
}

// BenchmarkHashKeys: a 500-entry call with every key new, and with 32 keys
// repeated (as sluice bench sends: 8 per shard over 4 shards).
func BenchmarkHashKeys(b *testing.B) {
	for _, distinct := range []int{500, 32} {
		b.Run(fmt.Sprintf("distinct=%d", distinct), func(b *testing.B) {
			var e Engine
			entries := make([]PutEntry, 500)
			for i := range entries {
				entries[i].PartitionKey = fmt.Sprintf("partition-key-%d", i%distinct)
			}
			keys := make([]HashKey, len(entries))
			b.ReportAllocs()
			for b.Loop() {
				if err := e.hashKeys(entries, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
