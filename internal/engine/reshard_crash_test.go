package engine

import (
	"testing"
)

// TestReshardAfterCrashBeforeCatalog reproduces a crash between a reshard
// creating its children's logs and the catalog recording the reshard: the
// logs are left under the indexes the next reshard takes. That reshard used
// to fail with InternalFailure ("shard log already exists"); it must
// replace them. Found by TestCrashDurability (test/e2e).
func TestReshardAfterCrashBeforeCatalog(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	h.put("s", "k", "before")
	st := h.eng.lookup("s")
	uid, next := st.meta.UID, st.meta.NextShardIndex
	h.close()
	// What the killed reshard left: the children's empty logs, unrecorded.
	h.open()
	for _, idx := range []uint32{next, next + 1} {
		log, err := h.store.CreateShard(shardStoreKey(uid, idx))
		if err != nil {
			t.Fatal(err)
		}
		log.Close()
	}
	h.restart()

	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"SplitShard", func() error { return h.eng.SplitShard("s", ShardID(0), evenRanges(2)[1].Start.String()) }},
		{"MergeShards", func() error { return h.eng.MergeShards("s", ShardID(1), ShardID(2)) }},
	} {
		if err := tc.do(); err != nil {
			t.Fatalf("%s over logs left by an unrecorded reshard: %v", tc.name, err)
		}
	}
	open := checkCover(t, h, "s")
	if len(open) != 1 || open[0].ShardID != ShardID(3) {
		t.Fatalf("open shards after split and merge: %+v", open)
	}
	res := h.put("s", "k", "after")
	if res.ShardID != ShardID(3) {
		t.Fatalf("record went to %s", res.ShardID)
	}
	h.restart()
	recs := h.read(h.iterator("s", ShardID(3), IteratorTrimHorizon, "", nil)).Records
	if len(recs) != 1 || string(recs[0].Data) != "after" {
		t.Fatalf("merged child after restart holds %+v", recs)
	}
}
