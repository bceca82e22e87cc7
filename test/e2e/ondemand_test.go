package e2e

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// onDemandSummary returns DescribeStreamSummary's description.
func onDemandSummary(t testing.TB, c *kinesis.Client, name string) *types.StreamDescriptionSummary {
	t.Helper()
	out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary %s: %v", name, err)
	}
	return out.StreamDescriptionSummary
}

func onDemandMode(s *types.StreamDescriptionSummary) types.StreamMode {
	if s.StreamModeDetails == nil {
		return ""
	}
	return s.StreamModeDetails.StreamMode
}

// TestOnDemandStreamGrows makes one shard of an ON_DEMAND stream hot (more
// than 1,000 records/s under one partition key, with AWS's shard limits)
// and waits for the stream to split it.
func TestOnDemandStreamGrows(t *testing.T) {
	t.Parallel()
	srv := startServerAWSLimits(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	const name = "od"
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatalf("CreateStream ON_DEMAND: %v", err)
	}
	reshardWaitActive(t, c, name)
	sum := onDemandSummary(t, c, name)
	if onDemandMode(sum) != types.StreamModeOnDemand || aws.ToInt32(sum.OpenShardCount) != 4 {
		t.Fatalf("new ON_DEMAND stream: mode %q, %d open shards; want ON_DEMAND with 4", onDemandMode(sum), aws.ToInt32(sum.OpenShardCount))
	}
	before := openShardsSorted(t, c, name)
	const key = "hot-key"
	hot := shardForKey(t, before, hashKey(key))
	var hotShard types.Shard
	for _, s := range before {
		if aws.ToString(s.ShardId) == hot {
			hotShard = s
		}
	}

	// Producers: about 2,000 records/s under one key, for at most 30 s or
	// until the test has seen the stream grow.
	var accepted, rejected atomic.Int64
	var callErrs atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loadEnd := time.Now().Add(30 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for seq := 0; time.Now().Before(loadEnd); seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				entries := make([]types.PutRecordsRequestEntry, 50)
				for i := range entries {
					entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte(fmt.Sprintf("%d-%d-%d", w, seq, i))}
				}
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
				if err != nil {
					callErrs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				for _, r := range out.Records {
					if r.ErrorCode == nil {
						accepted.Add(1)
						continue
					}
					rejected.Add(1)
					if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" {
						firstErr.CompareAndSwap(nil, "entry error "+aws.ToString(r.ErrorCode)+": "+aws.ToString(r.ErrorMessage))
						callErrs.Add(1)
					}
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopLoad()

	start := time.Now()
	var open int32
	for {
		open = aws.ToInt32(onDemandSummary(t, c, name).OpenShardCount)
		if open > 4 {
			break
		}
		if time.Now().After(loadEnd.Add(5 * time.Second)) {
			stopLoad()
			t.Fatalf("ON_DEMAND stream still has %d open shards after %v of load on %s (%d records accepted, %d refused)",
				open, time.Since(start).Round(time.Millisecond), hot, accepted.Load(), rejected.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	grewAfter := time.Since(start)
	stopLoad()
	t.Logf("stream grew to %d open shards after %v: %d records accepted, %d refused", open, grewAfter.Round(time.Millisecond),
		accepted.Load(), rejected.Load())
	if n := callErrs.Load(); n != 0 {
		t.Errorf("%d calls or entries failed other than by throttling; first: %v", n, firstErr.Load())
	}
	if rejected.Load() == 0 {
		t.Errorf("no record was refused, yet the stream grew")
	}

	// The hot shard is closed and has exactly two children that split its
	// range.
	all := listAllShards(t, c, name)
	var kids []types.Shard
	for _, s := range all {
		id := aws.ToString(s.ShardId)
		if id == hot {
			if shardOpen(s) {
				t.Errorf("hot shard %s is still open", hot)
			}
		}
		if aws.ToString(s.ParentShardId) == hot {
			if s.AdjacentParentShardId != nil {
				t.Errorf("split child %s has AdjacentParentShardId %s", id, aws.ToString(s.AdjacentParentShardId))
			}
			kids = append(kids, s)
		}
	}
	if len(kids) != 2 {
		t.Fatalf("hot shard %s has children %v, want two", hot, shardIDs(kids))
	}
	if bigOf(t, kids[0].HashKeyRange.StartingHashKey).Cmp(bigOf(t, kids[1].HashKeyRange.StartingHashKey)) > 0 {
		kids[0], kids[1] = kids[1], kids[0]
	}
	lo, hi := kids[0].HashKeyRange, kids[1].HashKeyRange
	if aws.ToString(lo.StartingHashKey) != aws.ToString(hotShard.HashKeyRange.StartingHashKey) ||
		aws.ToString(hi.EndingHashKey) != aws.ToString(hotShard.HashKeyRange.EndingHashKey) ||
		new(big.Int).Add(bigOf(t, lo.EndingHashKey), big.NewInt(1)).Cmp(bigOf(t, hi.StartingHashKey)) != 0 {
		t.Errorf("children %s %s..%s and %s %s..%s do not split %s %s..%s",
			aws.ToString(kids[0].ShardId), aws.ToString(lo.StartingHashKey), aws.ToString(lo.EndingHashKey),
			aws.ToString(kids[1].ShardId), aws.ToString(hi.StartingHashKey), aws.ToString(hi.EndingHashKey),
			hot, aws.ToString(hotShard.HashKeyRange.StartingHashKey), aws.ToString(hotShard.HashKeyRange.EndingHashKey))
	}
	// The other three original shards are untouched and still open.
	for _, s := range before {
		id := aws.ToString(s.ShardId)
		if id == hot {
			continue
		}
		for _, a := range all {
			if aws.ToString(a.ShardId) == id && !shardOpen(a) {
				t.Errorf("cold shard %s was closed", id)
			}
		}
	}
	sum = onDemandSummary(t, c, name)
	if onDemandMode(sum) != types.StreamModeOnDemand || sum.StreamStatus != types.StreamStatusActive {
		t.Errorf("after growing: mode %q status %q", onDemandMode(sum), sum.StreamStatus)
	}
}

// TestOnDemandStreamMode switches a stream PROVISIONED -> ON_DEMAND ->
// PROVISIONED and checks AWS's limit of two capacity-mode changes in 24
// hours.
func TestOnDemandStreamMode(t *testing.T) {
	t.Parallel()
	const stateDelay = time.Second
	srv := startServer(t, "--state-delay", stateDelay.String())
	c := srv.client(exactWrites)
	ctx := context.Background()
	const name = "modes"
	createStream(t, c, name, 2)
	arn := aws.String(streamARN(name))
	setMode := func(m types.StreamMode) error {
		_, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
			StreamModeDetails: &types.StreamModeDetails{StreamMode: m}})
		return err
	}
	split := func() error {
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(shardID(0)),
			NewStartingHashKey: aws.String("1000")})
		return err
	}
	if m := onDemandMode(onDemandSummary(t, c, name)); m != types.StreamModeProvisioned {
		t.Fatalf("new stream's mode %q, want PROVISIONED", m)
	}

	changeStart := time.Now()
	if err := setMode(types.StreamModeOnDemand); err != nil {
		t.Fatalf("UpdateStreamMode ON_DEMAND: %v", err)
	}
	// The change takes the stream through UPDATING, like other updates
	// (unless the machine was too slow to look within the state delay).
	if st := onDemandSummary(t, c, name).StreamStatus; st != types.StreamStatusUpdating {
		if took := time.Since(changeStart); took < stateDelay {
			t.Errorf("%v after UpdateStreamMode the stream is %s, want UPDATING (state delay %v)", took, st, stateDelay)
		} else {
			t.Logf("the stream is %s %v after UpdateStreamMode; too late to see UPDATING", st, took)
		}
	}
	reshardWaitActive(t, c, name)
	sum := onDemandSummary(t, c, name)
	if onDemandMode(sum) != types.StreamModeOnDemand || aws.ToInt32(sum.OpenShardCount) != 2 {
		t.Errorf("after UpdateStreamMode ON_DEMAND: mode %q, %d open shards; want ON_DEMAND, shards unchanged (2)",
			onDemandMode(sum), aws.ToInt32(sum.OpenShardCount))
	}
	apiErr(t, split(), "ValidationException")

	if err := setMode(types.StreamModeProvisioned); err != nil {
		t.Fatalf("UpdateStreamMode PROVISIONED: %v", err)
	}
	reshardWaitActive(t, c, name)
	if m := onDemandMode(onDemandSummary(t, c, name)); m != types.StreamModeProvisioned {
		t.Errorf("after UpdateStreamMode PROVISIONED: mode %q", m)
	}
	// A provisioned stream can be resharded again.
	if err := split(); err != nil {
		t.Errorf("SplitShard after switching back to PROVISIONED: %v", err)
	}
	reshardWaitActive(t, c, name)

	// A third change within 24 hours is over AWS's limit of two.
	ae := apiErr(t, setMode(types.StreamModeOnDemand), "LimitExceededException")
	t.Logf("third UpdateStreamMode: %s", ae.ErrorMessage())
	if m := onDemandMode(onDemandSummary(t, c, name)); m != types.StreamModeProvisioned {
		t.Errorf("a refused UpdateStreamMode changed the mode to %q", m)
	}

	// Other streams have their own count; an ON_DEMAND stream can go to
	// PROVISIONED and keeps its 4 shards.
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("od2"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatalf("CreateStream ON_DEMAND: %v", err)
	}
	reshardWaitActive(t, c, "od2")
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: aws.String(streamARN("od2")),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}}); err != nil {
		t.Fatalf("UpdateStreamMode od2 PROVISIONED: %v", err)
	}
	reshardWaitActive(t, c, "od2")
	sum = onDemandSummary(t, c, "od2")
	if onDemandMode(sum) != types.StreamModeProvisioned || aws.ToInt32(sum.OpenShardCount) != 4 {
		t.Errorf("od2 after PROVISIONED: mode %q, %d open shards; want PROVISIONED with 4", onDemandMode(sum), aws.ToInt32(sum.OpenShardCount))
	}

	// An unknown stream.
	_, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: aws.String(streamARN("nosuch")),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nosuch"))
}

// TestOnDemandAfterModeSwitch checks that a provisioned stream switched to
// ON_DEMAND splits its hot shard too.
func TestOnDemandAfterModeSwitch(t *testing.T) {
	t.Parallel()
	srv := startServerAWSLimits(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	const name = "switched"
	createStream(t, c, name, 1)
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: aws.String(streamARN(name)),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatalf("UpdateStreamMode: %v", err)
	}
	reshardWaitActive(t, c, name)

	// About 2,000 records/s under one key, by one client, until the
	// stream has a second open shard or 30 s pass.
	deadline := time.Now().Add(30 * time.Second)
	var open int32
	refused := 0
	for next := time.Now(); time.Now().Before(deadline); next = next.Add(100 * time.Millisecond) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		for b := 0; b < 2; b++ {
			entries := make([]types.PutRecordsRequestEntry, 100)
			for i := range entries {
				entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("one-key"), Data: []byte("x")}
			}
			out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
			if err != nil {
				t.Fatalf("PutRecords: %v", err)
			}
			refused += int(aws.ToInt32(out.FailedRecordCount))
		}
		if open = aws.ToInt32(onDemandSummary(t, c, name).OpenShardCount); open > 1 {
			break
		}
	}
	if open <= 1 {
		t.Fatalf("stream switched to ON_DEMAND still has %d open shard after 30 s of load (%d records refused)", open, refused)
	}
	shards := listAllShards(t, c, name)
	var kids []string
	parentClosed := false
	for _, s := range shards {
		if aws.ToString(s.ParentShardId) == shardID(0) {
			kids = append(kids, aws.ToString(s.ShardId))
		}
		if aws.ToString(s.ShardId) == shardID(0) {
			parentClosed = !shardOpen(s)
		}
	}
	if len(kids) != 2 || !parentClosed {
		t.Errorf("after growing: ListShards %v; want %s closed with two children, got children %v", shardIDs(shards), shardID(0), kids)
	}
}

// TestOnDemandStreamCountLimit checks AWS's default limit of 50 ON_DEMAND
// streams per account, which DescribeLimits reports: neither CreateStream
// nor UpdateStreamMode may pass it.
func TestOnDemandStreamCountLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	lim, err := c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil {
		t.Fatalf("DescribeLimits: %v", err)
	}
	odLimit := int(aws.ToInt32(lim.OnDemandStreamCountLimit))
	if odLimit != 50 {
		t.Errorf("DescribeLimits OnDemandStreamCountLimit %d, want AWS's default 50", odLimit)
	}
	if odLimit <= 0 || odLimit > 200 {
		t.Fatalf("OnDemandStreamCountLimit %d; cannot test it", odLimit)
	}
	createOD := func(name string) error {
		_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name),
			StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
		return err
	}
	for i := 0; i < odLimit; i++ {
		if err := createOD(fmt.Sprintf("od%02d", i)); err != nil {
			t.Fatalf("CreateStream ON_DEMAND %d of %d: %v", i+1, odLimit, err)
		}
	}
	lim, err = c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil {
		t.Fatalf("DescribeLimits: %v", err)
	}
	if got := int(aws.ToInt32(lim.OnDemandStreamCount)); got != odLimit {
		t.Errorf("DescribeLimits OnDemandStreamCount %d after creating %d ON_DEMAND streams", got, odLimit)
	}
	createStream(t, c, "prov", 1)
	// Switching one more stream to ON_DEMAND is refused ...
	_, err = c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: aws.String(streamARN("prov")),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	ae := apiErr(t, err, "LimitExceededException")
	t.Logf("UpdateStreamMode over the limit: %s", ae.ErrorMessage())
	// ... and so is creating one.
	err = createOD("one-too-many")
	if err == nil {
		t.Errorf("CreateStream of ON_DEMAND stream %d succeeded; DescribeLimits says the limit is %d (AWS answers LimitExceededException)", odLimit+1, odLimit)
		lim, lerr := c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
		if lerr == nil {
			t.Logf("DescribeLimits now: OnDemandStreamCount %d, OnDemandStreamCountLimit %d",
				aws.ToInt32(lim.OnDemandStreamCount), aws.ToInt32(lim.OnDemandStreamCountLimit))
		}
	} else {
		apiErr(t, err, "LimitExceededException")
	}
}
