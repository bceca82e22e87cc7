package engine

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		increase bool
		hours    int
		code     string
	}{
		{true, 23, CodeInvalidArgument}, {true, 8761, CodeInvalidArgument}, {false, 48, CodeInvalidArgument},
		{true, 48, ""}, {true, 24, CodeInvalidArgument}, {false, 72, CodeInvalidArgument}, {false, 24, ""}, {true, 8760, ""},
	} {
		var err error
		if c.increase {
			err = h.eng.IncreaseStreamRetentionPeriod("s", c.hours)
		} else {
			err = h.eng.DecreaseStreamRetentionPeriod("s", c.hours)
		}
		if c.code == "" && err != nil {
			t.Fatalf("%+v: %v", c, err)
		} else if c.code != "" {
			wantCode(t, err, c.code)
		}
	}
	if err := h.eng.DecreaseStreamRetentionPeriod("s", 24); err != nil {
		t.Fatal(err)
	}
	old := h.put("s", "k", "old")
	h.clock.Advance(23 * time.Hour)
	h.put("s", "k", "new")
	if got := h.read(h.iterator("s", "0", IteratorTrimHorizon, "", nil)); len(got.Records) != 2 {
		t.Fatalf("within retention: %d records", len(got.Records))
	}
	h.clock.Advance(2 * time.Hour) // "old" is 25 hours old now
	got := h.read(h.iterator("s", "0", IteratorTrimHorizon, "", nil))
	if len(got.Records) != 1 || string(got.Records[0].Data) != "new" {
		t.Fatalf("after expiry: %+v", got.Records)
	}
	// An iterator into expired data starts at the trim horizon.
	got = h.read(h.iterator("s", "0", IteratorAtSequence, old.SequenceNumber, nil))
	if len(got.Records) != 1 || string(got.Records[0].Data) != "new" {
		t.Fatalf("AT expired sequence number: %+v", got.Records)
	}
	// Raising retention does not bring expired records back.
	if err := h.eng.IncreaseStreamRetentionPeriod("s", 100); err != nil {
		t.Fatal(err)
	}
	if got := h.read(h.iterator("s", "0", IteratorTrimHorizon, "", nil)); len(got.Records) != 1 {
		t.Fatalf("after increase: %d records", len(got.Records))
	}
}

func TestExpiredClosedShardsDisappear(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	if _, err := h.eng.UpdateShardCount("s", 2); err != nil {
		t.Fatal(err)
	}
	info, _ := h.eng.DescribeStream("s")
	if len(info.Shards) != 3 {
		t.Fatalf("shards %d", len(info.Shards))
	}
	h.clock.Advance(25 * time.Hour)
	info, _ = h.eng.DescribeStream("s")
	shards, _, _ := h.eng.ListShards(ListShardsParams{Stream: "s"})
	if len(info.Shards) != 2 || len(shards) != 2 {
		t.Fatalf("after retention: describe %d, list %d shards", len(info.Shards), len(shards))
	}
	_, err := h.eng.GetShardIterator(IteratorParams{Stream: "s", ShardID: "0", Type: IteratorTrimHorizon})
	wantCode(t, err, CodeResourceNotFound)
	roots, _, _ := h.eng.ListShards(ListShardsParams{Stream: "s", FilterType: FilterAtTrimHorizon})
	if len(roots) != 2 {
		t.Fatalf("AT_TRIM_HORIZON after the parent expired: %+v", roots)
	}
}

func TestStreamModeAndOnDemandScaling(t *testing.T) {
	limits := AWSShardLimits()
	h := newHarness(t, Config{ShardLimits: limits})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.eng.UpdateStreamMode("s", ModeProvisioned, nil), CodeInvalidArgument)
	if err := h.eng.UpdateStreamMode("s", ModeOnDemand, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.UpdateStreamMode("s", ModeProvisioned, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.eng.UpdateStreamMode("s", ModeOnDemand, nil), CodeLimitExceeded) // two changes a day
	h.clock.Advance(24 * time.Hour)
	if err := h.eng.UpdateStreamMode("s", ModeOnDemand, nil); err != nil {
		t.Fatal(err)
	}
	// A shard throttled in three separate seconds is split.
	batch := make([]PutEntry, 500)
	for i := range batch {
		batch[i] = PutEntry{PartitionKey: fmt.Sprint(i), Data: []byte("x")}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.eng.PutRecords("s", batch)
		h.eng.PutRecords("s", batch)
		h.eng.PutRecords("s", batch)
		h.clock.Advance(time.Second)
		info, _ := h.eng.DescribeStream("s")
		if info.OpenShardCount == 2 {
			checkCover(t, h, "s")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hot shard not split: %+v", info.Shards)
		}
	}
}

func TestAutoDistribution(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", Mode: ModeOnDemand, RecordDistribution: DistributionAuto}); err != nil {
		t.Fatal(err)
	}
	batch := make([]PutEntry, 400)
	for i := range batch {
		batch[i] = PutEntry{PartitionKey: "same-key", Data: []byte("x")}
	}
	res, err := h.eng.PutRecords("s", batch)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, r := range res {
		per[r.ShardID]++
	}
	if len(per) != 4 || per["shardId-000000000000"] != 100 {
		t.Fatalf("AUTO spread: %v", per)
	}
}

func TestPerStreamLimitTags(t *testing.T) {
	h := newHarness(t, Config{}) // limits off on the server
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1, Tags: map[string]string{"sluice.shard-limits": "aws"}}); err != nil {
		t.Fatal(err)
	}
	batch := make([]PutEntry, 500)
	for i := range batch {
		batch[i] = PutEntry{PartitionKey: "k", Data: []byte("x")}
	}
	count := func() (ok int) {
		for range 3 {
			res, err := h.eng.PutRecords("s", batch)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.ErrorCode == "" {
					ok++
				}
			}
		}
		return ok
	}
	if n := count(); n != 1000 {
		t.Fatalf("with sluice.shard-limits=aws: %d of 1500 accepted, want 1000", n)
	}
	if err := h.eng.AddTags("s", map[string]string{"sluice.write-records-per-second": "1200"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	if n := count(); n != 1200 {
		t.Fatalf("with 1200 records/s: %d accepted", n)
	}
	if err := h.eng.AddTags("s", map[string]string{"sluice.shard-limits": "off"}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1500 {
		t.Fatalf("with sluice.shard-limits=off: %d accepted", n)
	}
}

func TestRetentionDeletesSegments(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	t0 := h.clock.Now()
	h.put("s", "k", "a") // each record lands in its own segment: they are two minutes apart
	h.clock.Advance(2 * time.Minute)
	h.put("s", "k", "b")
	h.clock.Advance(2 * time.Minute)
	h.put("s", "k", "c")
	segs := func() int {
		files, err := filepath.Glob(filepath.Join(h.dir, "shards", "*", "*", "*.seg"))
		if err != nil {
			t.Fatal(err)
		}
		return len(files)
	}
	first := func() string {
		r := h.read(h.iterator("s", "0", IteratorTrimHorizon, "", nil))
		return string(r.Records[0].Data)
	}
	if n := segs(); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	for _, c := range []struct {
		at        time.Duration // since "a" arrived
		segments  int
		trimStart string
	}{
		{24 * time.Hour, 3, "a"},                                  // "a" is exactly 24 h old: kept
		{24*time.Hour + time.Millisecond, 2, "b"},                 // past retention: its segment goes
		{24*time.Hour + 2*time.Minute, 2, "b"},                    // "b" exactly 24 h old
		{24*time.Hour + 2*time.Minute + time.Millisecond, 1, "c"}, // "b" gone; "c" is in the active segment
		{24*time.Hour + 4*time.Minute, 1, "c"},                    // "c" exactly 24 h old
		{24*time.Hour + 4*time.Minute + time.Millisecond, 1, ""},  // "c" expired: the active segment rolls and goes
	} {
		h.clock.Advance(t0.Add(c.at).Sub(h.clock.Now()))
		h.eng.trimOnce()
		if n := segs(); n != c.segments {
			t.Errorf("at +%v: %d segments, want %d", c.at, n, c.segments)
		}
		if c.trimStart == "" {
			if r := h.read(h.iterator("s", "0", IteratorTrimHorizon, "", nil)); len(r.Records) != 0 {
				t.Errorf("at +%v: %d records readable, want none", c.at, len(r.Records))
			}
			continue
		}
		if got := first(); got != c.trimStart {
			t.Errorf("at +%v: TRIM_HORIZON starts at %q, want %q", c.at, got, c.trimStart)
		}
	}
	// New records still go in, and a restart keeps the trimmed start.
	h.put("s", "k", "d")
	h.restart()
	if got := first(); got != "d" {
		t.Fatalf("after restart: %q", got)
	}
}

func TestExpiredShardsAreDeleted(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	h.put("s", "k", "x")
	h.clock.Advance(time.Second)
	if err := h.eng.SplitShard("s", "0", evenRanges(2)[1].Start.String()); err != nil {
		t.Fatal(err)
	}
	dirs := func() int {
		d, _ := filepath.Glob(filepath.Join(h.dir, "shards", "*", "*"))
		return len(d)
	}
	if dirs() != 3 {
		t.Fatalf("%d shard directories", dirs())
	}
	h.clock.Advance(25 * time.Hour)
	h.eng.trimOnce()
	if dirs() != 2 {
		t.Fatalf("after expiry: %d shard directories, want 2", dirs())
	}
	h.restart()
	info, err := h.eng.DescribeStream("s")
	if err != nil || len(info.Shards) != 2 || info.Shards[0].ParentShardID != "shardId-000000000000" {
		t.Fatalf("after restart: %+v %v", info, err)
	}
}
