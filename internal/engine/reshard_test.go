package engine

import (
	"fmt"
	"math/big"
	"testing"
	"time"
)

func bigOf(s string) *big.Int {
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

// checkCover asserts the open shards tile the hash key space with no gap
// or overlap.
func checkCover(t *testing.T, h *harness, stream string) []ShardInfo {
	t.Helper()
	info, err := h.eng.DescribeStream(stream)
	if err != nil {
		t.Fatal(err)
	}
	var open []ShardInfo
	for _, sh := range info.Shards {
		if sh.EndingSequence == "" {
			open = append(open, sh)
		}
	}
	next := HashKey{}
	for i := range open {
		// Open shards are found in index order; find the one starting at next.
		found := false
		for _, sh := range open {
			if sh.HashKeyRange.Start == next {
				found = true
				if sh.HashKeyRange.End == MaxHashKey {
					if i != len(open)-1 {
						t.Fatalf("open shards overlap: %+v", open)
					}
				}
				next = sh.HashKeyRange.End.Add1()
				break
			}
		}
		if !found {
			t.Fatalf("gap at %s in %+v", next, open)
		}
	}
	if next != (HashKey{}) { // wrapped past 2^128-1
		t.Fatalf("open shards do not reach the top of the key space: %+v", open)
	}
	return open
}

func TestSplitAndMerge(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	before := h.put("s", "user_123", "before") // shard 0
	mid := evenRanges(4)[1].Start.String()     // the middle of shard 0's range
	if err := h.eng.SplitShard("s", "shardId-000000000000", mid); err != nil {
		t.Fatal(err)
	}
	open := checkCover(t, h, "s")
	if len(open) != 3 {
		t.Fatalf("open shards after split: %+v", open)
	}
	info, _ := h.eng.DescribeStream("s")
	parent, a, b := info.Shards[0], info.Shards[2], info.Shards[3]
	if parent.EndingSequence == "" || a.ParentShardID != "shardId-000000000000" || b.ParentShardID != "shardId-000000000000" ||
		a.HashKeyRange.End.Add1() != b.HashKeyRange.Start || b.HashKeyRange.Start.String() != mid {
		t.Fatalf("after split: %+v", info.Shards)
	}
	if bigOf(a.StartingSequence).Cmp(bigOf(parent.EndingSequence)) <= 0 || bigOf(parent.EndingSequence).Cmp(bigOf(before.SequenceNumber)) <= 0 {
		t.Fatalf("children must number above the parent's end: parent %s..%s, child %s", parent.StartingSequence, parent.EndingSequence, a.StartingSequence)
	}
	// The parent reads to its end, then names its children.
	res := h.read(h.iterator("s", "shardId-000000000000", IteratorTrimHorizon, "", nil))
	if len(res.Records) != 1 || res.NextShardIterator != "" || len(res.ChildShards) != 2 ||
		res.ChildShards[0].ParentShards[0] != "shardId-000000000000" {
		t.Fatalf("parent read: %+v", res)
	}
	after := h.put("s", "user_123", "after")
	if after.ShardID != a.ShardID && after.ShardID != b.ShardID {
		t.Fatalf("new record went to %s", after.ShardID)
	}
	// Splitting or merging a closed shard is refused.
	wantCode(t, h.eng.SplitShard("s", "shardId-000000000000", mid), CodeResourceInUse)
	wantCode(t, h.eng.SplitShard("s", "shardId-000000000002", a.HashKeyRange.Start.Add1().String()), CodeInvalidArgument)
	wantCode(t, h.eng.SplitShard("s", "shardId-000000000009", mid), CodeResourceNotFound)
	wantCode(t, h.eng.MergeShards("s", "shardId-000000000002", "shardId-000000000001"), CodeInvalidArgument) // not adjacent
	if err := h.eng.MergeShards("s", "shardId-000000000003", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	open = checkCover(t, h, "s")
	info, _ = h.eng.DescribeStream("s")
	c := info.Shards[4]
	if len(open) != 2 || c.ParentShardID != "shardId-000000000003" || c.AdjacentParentShardID != "shardId-000000000001" {
		t.Fatalf("after merge: %+v", info.Shards)
	}
	// Child shards' ids survive a restart, and AT_LATEST lists only open ones.
	h.restart()
	latest, _, err := h.eng.ListShards(ListShardsParams{Stream: "s", FilterType: FilterAtLatest})
	if err != nil || len(latest) != 2 {
		t.Fatalf("AT_LATEST: %+v %v", latest, err)
	}
	horizon, _, _ := h.eng.ListShards(ListShardsParams{Stream: "s", FilterType: FilterAtTrimHorizon})
	if len(horizon) != 2 || horizon[0].ShardID != "shardId-000000000000" || horizon[1].ShardID != "shardId-000000000001" {
		t.Fatalf("AT_TRIM_HORIZON: %+v", horizon)
	}
}

func TestUpdateShardCount(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []int{6, 4, 5, 3, 2, 4, 7} {
		h.clock.Advance(time.Second)
		cur, err := h.eng.UpdateShardCount("s", target)
		if err != nil {
			t.Fatalf("to %d: %v", target, err)
		}
		open := checkCover(t, h, "s")
		if len(open) != target {
			t.Fatalf("to %d (from %d): %d open shards", target, cur, len(open))
		}
		for i, sh := range open {
			if sh.HashKeyRange != evenRanges(target)[i] {
				// Open shards in index order need not be in hash order;
				// compare as sets.
				found := false
				for _, r := range evenRanges(target) {
					found = found || r == sh.HashKeyRange
				}
				if !found {
					t.Fatalf("to %d: shard %s has uneven range %v", target, sh.ShardID, sh.HashKeyRange)
				}
			}
		}
		// Every record put now is readable from its shard.
		r := h.put("s", fmt.Sprint("k", target), "v")
		got := h.read(h.iterator("s", r.ShardID, IteratorAtSequence, r.SequenceNumber, nil))
		if len(got.Records) != 1 {
			t.Fatalf("to %d: record not readable", target)
		}
	}
	_, err := h.eng.UpdateShardCount("s", 15)
	wantCode(t, err, CodeLimitExceeded) // more than double
	_, err = h.eng.UpdateShardCount("s", 3)
	wantCode(t, err, CodeLimitExceeded) // below half
	for range 3 {
		h.eng.UpdateShardCount("s", 7)
	}
	_, err = h.eng.UpdateShardCount("s", 8)
	wantCode(t, err, CodeLimitExceeded) // ten calls in 24 hours
	h.clock.Advance(24 * time.Hour)
	if _, err := h.eng.UpdateShardCount("s", 8); err != nil {
		t.Fatal(err)
	}
}

func TestReshardStates(t *testing.T) {
	h := newHarness(t, Config{StateDelay: time.Second})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.eng.SplitShard("s", "0", evenRanges(4)[1].Start.String()), CodeResourceInUse) // CREATING
	h.clock.Advance(time.Second)
	if err := h.eng.SplitShard("s", "0", evenRanges(4)[1].Start.String()); err != nil {
		t.Fatal(err)
	}
	info, _ := h.eng.DescribeStream("s")
	if info.Status != StatusUpdating {
		t.Fatalf("status %s", info.Status)
	}
	h.put("s", "k", "writes go on while UPDATING")
	_, err := h.eng.UpdateShardCount("s", 4)
	wantCode(t, err, CodeResourceInUse)
	h.clock.Advance(time.Second)
	if _, err := h.eng.UpdateShardCount("s", 4); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.CreateStream(CreateStreamParams{Name: "od", Mode: ModeOnDemand}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	wantCode(t, h.eng.SplitShard("od", "0", "100"), CodeValidation)
}
