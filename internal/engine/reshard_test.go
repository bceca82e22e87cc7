package engine

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
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

func TestThroughputLimits(t *testing.T) {
	h := newHarness(t, Config{ShardLimits: AWSShardLimits()})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	// 1000 records per second: a 1200-record burst loses its last 200.
	var entries []PutEntry
	for i := range 1200 {
		entries = append(entries, PutEntry{PartitionKey: "k", Data: []byte{byte(i)}})
	}
	res, err := h.eng.PutRecords("s", entries[:500])
	if err != nil {
		t.Fatal(err)
	}
	res2, _ := h.eng.PutRecords("s", entries[500:1000])
	res3, _ := h.eng.PutRecords("s", entries[1000:])
	failed := 0
	for _, r := range append(append(res, res2...), res3...) {
		if r.ErrorCode != "" {
			if r.ErrorCode != CodeThroughputExceeded || r.ErrorMessage != "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000." {
				t.Fatalf("failure %+v", r)
			}
			failed++
		}
	}
	if failed != 200 {
		t.Fatalf("%d records throttled, want 200", failed)
	}
	_, err = h.eng.PutRecord("s", PutEntry{PartitionKey: "k"}, "")
	wantCode(t, err, CodeThroughputExceeded)
	h.clock.Advance(100 * time.Millisecond) // refills 100 records
	res, _ = h.eng.PutRecords("s", entries[:150])
	failed = 0
	for _, r := range res {
		if r.ErrorCode != "" {
			failed++
		}
	}
	if failed != 50 {
		t.Fatalf("after 100 ms: %d throttled, want 50", failed)
	}
	// 1 MiB per second: one 1 MiB record passes, the next waits a second.
	h.clock.Advance(time.Second)
	big := PutEntry{PartitionKey: "k", Data: make([]byte, 1<<20-1)}
	if _, err := h.eng.PutRecord("s", big, ""); err != nil {
		t.Fatal(err)
	}
	_, err = h.eng.PutRecord("s", big, "")
	wantCode(t, err, CodeThroughputExceeded)
	h.clock.Advance(time.Second)
	if _, err := h.eng.PutRecord("s", big, ""); err != nil {
		t.Fatal(err)
	}

	// Five GetRecords calls per second.
	it := h.iterator("s", "0", IteratorLatest, "", nil)
	for range 4 {
		it = h.read(it).NextShardIterator
	}
	h.read(it)
	_, err = h.eng.GetRecords(it, 0)
	wantCode(t, err, CodeThroughputExceeded)
	// A read of about 4 MiB overdraws the 2 MiB/s budget by 2 MiB: reads
	// wait until it is repaid.
	for range 2 {
		h.clock.Advance(time.Second)
		if _, err := h.eng.PutRecord("s", big, ""); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(2 * time.Second)
	trim := h.iterator("s", "0", IteratorTrimHorizon, "", nil)
	if r := h.read(trim); len(r.Records) == 0 {
		t.Fatal("read nothing")
	}
	h.clock.Advance(300 * time.Millisecond) // repays 0.6 of the 2 MiB debt
	_, err = h.eng.GetRecords(trim, 0)
	wantCode(t, err, CodeThroughputExceeded)
	h.clock.Advance(time.Second)
	h.read(trim)
}

// TestConcurrentReshardAndAccountCalls runs resharding on several streams
// while other calls take the engine-wide lock; it must finish (a lock-order
// inversion here once deadlocked the server) and keep the quota count exact.
func TestConcurrentReshardAndAccountCalls(t *testing.T) {
	h := newHarness(t, Config{ShardQuota: 1000})
	for i := range 4 {
		if err := h.eng.CreateStream(CreateStreamParams{Name: fmt.Sprint("s", i), ShardCount: 2}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("s", i)
			for j := range 20 {
				if _, err := h.eng.UpdateShardCount(name, 2+j%3); err != nil {
					var ee *Error
					if !errors.As(err, &ee) || ee.Code != CodeLimitExceeded {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := range 50 {
			name := fmt.Sprint("x", j)
			if err := h.eng.CreateStream(CreateStreamParams{Name: name, ShardCount: 1}); err != nil {
				t.Error(err)
			}
			h.eng.DescribeLimits()
			if err := h.eng.DeleteStream(name, false); err != nil {
				t.Error(err)
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("resharding with concurrent CreateStream/DescribeLimits/DeleteStream did not finish: deadlock")
	}
	open := 0
	for i := range 4 {
		info, _ := h.eng.DescribeStream(fmt.Sprint("s", i))
		open += info.OpenShardCount
	}
	if got := h.eng.DescribeLimits().OpenShardCount; got != open {
		t.Fatalf("DescribeLimits counts %d open shards, the streams have %d", got, open)
	}
}
