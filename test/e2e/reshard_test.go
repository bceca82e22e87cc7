package e2e

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// reshardKeys is how many partition keys the resharding producer writes.
const reshardKeys = 50

// reshardStateDelay is how long the resharding test's server keeps a
// stream UPDATING: long enough that a call right after a reshard finds it
// UPDATING even on a loaded machine.
const reshardStateDelay = 2 * time.Second

// reshardAck is one record the server acknowledged.
type reshardAck struct {
	key     string
	counter int
	seq     string
	shardID string
}

// reshardProducer writes records "key:counter" for reshardKeys partition
// keys until stopped, alternating PutRecords batches (one record per key)
// with single PutRecord calls, and remembers every acknowledged record. It
// is the only writer, so put order per key is the order of its calls.
type reshardProducer struct {
	c      *kinesis.Client
	stream string

	acked atomic.Int64 // acknowledged records so far

	mu      sync.Mutex
	acks    map[string]reshardAck // by payload
	errs    []error               // call errors (AWS accepts writes while resharding)
	unknown map[string]bool       // payloads of calls that failed as a whole
}

func reshardKey(i int) string { return fmt.Sprintf("pk-%02d", i) }

func (p *reshardProducer) run(ctx context.Context) {
	counters := make([]int, reshardKeys)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if round%5 == 4 {
			// A single PutRecord for one key.
			k := round % reshardKeys
			counters[k]++
			payload := fmt.Sprintf("%s:%d", reshardKey(k), counters[k])
			out, err := p.c.PutRecord(context.Background(), &kinesis.PutRecordInput{
				StreamName: aws.String(p.stream), PartitionKey: aws.String(reshardKey(k)), Data: []byte(payload),
			}, noRetries)
			p.mu.Lock()
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("PutRecord %s: %w", payload, err))
				p.unknown[payload] = true
			} else {
				p.acks[payload] = reshardAck{reshardKey(k), counters[k], aws.ToString(out.SequenceNumber), aws.ToString(out.ShardId)}
				p.acked.Add(1)
			}
			p.mu.Unlock()
			continue
		}
		entries := make([]types.PutRecordsRequestEntry, reshardKeys)
		payloads := make([]string, reshardKeys)
		for k := range entries {
			counters[k]++
			payloads[k] = fmt.Sprintf("%s:%d", reshardKey(k), counters[k])
			entries[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String(reshardKey(k)), Data: []byte(payloads[k])}
		}
		out, err := p.c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(p.stream), Records: entries}, noRetries)
		p.mu.Lock()
		switch {
		case err != nil:
			p.errs = append(p.errs, fmt.Errorf("PutRecords: %w", err))
			for _, pl := range payloads {
				p.unknown[pl] = true
			}
		case len(out.Records) != len(entries):
			p.errs = append(p.errs, fmt.Errorf("PutRecords: %d results for %d entries", len(out.Records), len(entries)))
			for _, pl := range payloads {
				p.unknown[pl] = true
			}
		default:
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					// Not written; with --shard-limits off nothing should fail.
					p.errs = append(p.errs, fmt.Errorf("PutRecords entry %s: %s %s", payloads[i], aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
					continue
				}
				k, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(payloads[i], ":", 2)[0], "pk-"))
				p.acks[payloads[i]] = reshardAck{reshardKey(k), counters[k], aws.ToString(r.SequenceNumber), aws.ToString(r.ShardId)}
				p.acked.Add(1)
			}
		}
		p.mu.Unlock()
	}
}

// waitAcked waits until the producer has acknowledged at least n records.
func (p *reshardProducer) waitAcked(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.acked.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("producer acknowledged only %d records, waiting for %d", p.acked.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reshardWaitActive polls DescribeStreamSummary until the stream is ACTIVE.
func reshardWaitActive(t testing.TB, c *kinesis.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStreamSummary %s: %v", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s still %s after 30s", name, out.StreamDescriptionSummary.StreamStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bigOf(t testing.TB, s *string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(aws.ToString(s), 10)
	if !ok {
		t.Fatalf("not a decimal number: %q", aws.ToString(s))
	}
	return v
}

func shardOpen(s types.Shard) bool {
	return s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil
}

// openShardsSorted lists a stream's open shards in hash-key order and checks
// that they cover the hash-key space without gaps or overlaps.
func openShardsSorted(t testing.TB, c *kinesis.Client, name string) []types.Shard {
	t.Helper()
	var open []types.Shard
	for _, s := range listAllShards(t, c, name) {
		if shardOpen(s) {
			open = append(open, s)
		}
	}
	sort.Slice(open, func(i, j int) bool {
		return bigOf(t, open[i].HashKeyRange.StartingHashKey).Cmp(bigOf(t, open[j].HashKeyRange.StartingHashKey)) < 0
	})
	next := big.NewInt(0)
	for _, s := range open {
		lo, hi := bigOf(t, s.HashKeyRange.StartingHashKey), bigOf(t, s.HashKeyRange.EndingHashKey)
		if lo.Cmp(next) != 0 || hi.Cmp(lo) < 0 {
			t.Fatalf("open shards do not tile the hash-key space: %s covers %s..%s, expected to start at %s",
				aws.ToString(s.ShardId), lo, hi, next)
		}
		next = new(big.Int).Add(hi, big.NewInt(1))
	}
	if len(open) > 0 && next.Cmp(new(big.Int).Add(maxHashKey, big.NewInt(1))) != 0 {
		t.Fatalf("open shards end at %s, not 2^128-1", new(big.Int).Sub(next, big.NewInt(1)))
	}
	return open
}

func shardIDs(shards []types.Shard) []string {
	var ids []string
	for _, s := range shards {
		ids = append(ids, aws.ToString(s.ShardId))
	}
	return ids
}

// TestReshardingReadEveryRecordOnce reshards a stream (SplitShard,
// MergeShards, UpdateShardCount 2 -> 4 -> 5 -> 3) under a continuous producer,
// then reads it as the KCL does, parents before children, and checks that
// every acknowledged record is read exactly once and in put order per key.
func TestReshardingReadEveryRecordOnce(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--state-delay", reshardStateDelay.String())
	c := srv.client()
	const name = "reshard"
	createStream(t, c, name, 2)
	ctx := context.Background()

	// h2c without retries (exactWrites): a failed call is an error here,
	// and Go's HTTP/1.1 client can close a connection under an answer it
	// is reading (aws/aws-sdk-go-v2#2737).
	p := &reshardProducer{c: srv.client(exactWrites), stream: name, acks: map[string]reshardAck{}, unknown: map[string]bool{}}
	pctx, stop := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		p.run(pctx)
	}()
	// A tailing reader runs through the whole resharding, as a KCL worker
	// would.
	tl := &reshardTailer{c: srv.client(), stream: name, producerDone: make(chan struct{})}
	var twg sync.WaitGroup
	twg.Add(1)
	go func() {
		defer twg.Done()
		tl.run([]string{shardID(0), shardID(1)})
	}()
	stopped := false
	stopProducer := func() {
		if !stopped {
			stopped = true
			stop()
			pwg.Wait()
			close(tl.producerDone)
		}
	}
	defer twg.Wait()
	defer stopProducer()

	// Records land in every generation of shards before the next step.
	more := func() { p.waitAcked(t, p.acked.Load()+500) }
	more()

	// 1. Split the first open shard in the middle of its range.
	open := openShardsSorted(t, c, name)
	if len(open) != 2 {
		t.Fatalf("new stream has open shards %v, want 2", shardIDs(open))
	}
	lo, hi := bigOf(t, open[0].HashKeyRange.StartingHashKey), bigOf(t, open[0].HashKeyRange.EndingHashKey)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	splitStart := time.Now()
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName: aws.String(name), ShardToSplit: open[0].ShardId, NewStartingHashKey: aws.String(mid.String()),
	}); err != nil {
		t.Fatalf("SplitShard %s at %s: %v", aws.ToString(open[0].ShardId), mid, err)
	}
	// While the stream is UPDATING (reshardStateDelay from the split),
	// AWS refuses a second reshard with ResourceInUseException.
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName: aws.String(name), ShardToSplit: open[1].ShardId,
		NewStartingHashKey: aws.String(new(big.Int).Rsh(new(big.Int).Add(bigOf(t, open[1].HashKeyRange.StartingHashKey), maxHashKey), 1).String()),
	})
	if took := time.Since(splitStart); err == nil {
		t.Fatalf("SplitShard %v after another SplitShard succeeded; while the stream is UPDATING (%v) AWS answers ResourceInUseException",
			took.Round(time.Millisecond), reshardStateDelay)
	} else if took < reshardStateDelay {
		apiErr(t, err, "ResourceInUseException")
	}
	reshardWaitActive(t, c, name)
	more()

	open = openShardsSorted(t, c, name)
	if len(open) != 3 {
		t.Fatalf("after SplitShard open shards are %v, want 3", shardIDs(open))
	}
	if got := bigOf(t, open[1].HashKeyRange.StartingHashKey); got.Cmp(mid) != 0 {
		t.Errorf("upper child of the split starts at %s, want NewStartingHashKey %s", got, mid)
	}

	// 2. Merge two adjacent open shards: the upper child and its neighbour.
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{
		StreamName: aws.String(name), ShardToMerge: open[1].ShardId, AdjacentShardToMerge: open[2].ShardId,
	}); err != nil {
		t.Fatalf("MergeShards %s %s: %v", aws.ToString(open[1].ShardId), aws.ToString(open[2].ShardId), err)
	}
	reshardWaitActive(t, c, name)
	more()
	open = openShardsSorted(t, c, name)
	if len(open) != 2 {
		t.Fatalf("after MergeShards open shards are %v, want 2", shardIDs(open))
	}

	// 3. UpdateShardCount 2 -> 5 -> 3. AWS refuses more than double in one
	// call (TestReshardErrors checks 2 -> 5), so 5 is reached through 4.
	for _, step := range []struct{ from, to int32 }{{2, 4}, {4, 5}, {5, 3}} {
		out, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
			StreamName: aws.String(name), TargetShardCount: aws.Int32(step.to), ScalingType: types.ScalingTypeUniformScaling,
		})
		if err != nil {
			t.Fatalf("UpdateShardCount %d -> %d: %v", step.from, step.to, err)
		}
		if aws.ToInt32(out.CurrentShardCount) != step.from || aws.ToInt32(out.TargetShardCount) != step.to ||
			aws.ToString(out.StreamName) != name || aws.ToString(out.StreamARN) != streamARN(name) {
			t.Errorf("UpdateShardCount %d -> %d answered Current %d Target %d StreamName %q StreamARN %q", step.from, step.to,
				aws.ToInt32(out.CurrentShardCount), aws.ToInt32(out.TargetShardCount), aws.ToString(out.StreamName), aws.ToString(out.StreamARN))
		}
		reshardWaitActive(t, c, name)
		more()
		open = openShardsSorted(t, c, name)
		if len(open) != int(step.to) {
			t.Fatalf("after UpdateShardCount to %d open shards are %v", step.to, shardIDs(open))
		}
		// UNIFORM_SCALING: evenly spaced ranges.
		for i, r := range evenRanges(int(step.to)) {
			if bigOf(t, open[i].HashKeyRange.StartingHashKey).Cmp(r[0]) != 0 || bigOf(t, open[i].HashKeyRange.EndingHashKey).Cmp(r[1]) != 0 {
				t.Errorf("after UpdateShardCount to %d, open shard %s covers %s..%s, want %s..%s", step.to,
					aws.ToString(open[i].ShardId), aws.ToString(open[i].HashKeyRange.StartingHashKey),
					aws.ToString(open[i].HashKeyRange.EndingHashKey), r[0], r[1])
			}
		}
		sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStreamSummary: %v", err)
		}
		if got := aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount); got != step.to {
			t.Errorf("OpenShardCount %d after UpdateShardCount to %d", got, step.to)
		}
	}

	stopProducer()
	p.mu.Lock()
	for _, err := range p.errs {
		t.Errorf("producer: %v", err)
	}
	acks, unknown := p.acks, p.unknown
	p.mu.Unlock()
	t.Logf("producer: %d records acknowledged, %d in failed calls", len(acks), len(unknown))

	// The shard graph as ListShards reports it.
	all := listAllShards(t, c, name)
	byID := map[string]types.Shard{}
	children := map[string][]string{}
	var roots []string
	for _, s := range all {
		id := aws.ToString(s.ShardId)
		if _, dup := byID[id]; dup {
			t.Fatalf("ListShards lists %s twice", id)
		}
		byID[id] = s
		if s.ParentShardId == nil {
			if s.AdjacentParentShardId != nil {
				t.Errorf("shard %s has an AdjacentParentShardId but no ParentShardId", id)
			}
			roots = append(roots, id)
		}
	}
	for _, s := range all {
		for _, par := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if par == nil {
				continue
			}
			if _, ok := byID[*par]; !ok {
				t.Fatalf("shard %s has parent %s, which ListShards does not list", aws.ToString(s.ShardId), *par)
			}
			children[*par] = append(children[*par], aws.ToString(s.ShardId))
		}
	}
	if len(roots) != 2 {
		t.Errorf("shards without parents: %v, want the 2 original shards", roots)
	}
	nOpen := 0
	for _, s := range all {
		if shardOpen(s) {
			nOpen++
			if len(children[aws.ToString(s.ShardId)]) != 0 {
				t.Errorf("open shard %s has children %v", aws.ToString(s.ShardId), children[aws.ToString(s.ShardId)])
			}
		} else {
			kids := children[aws.ToString(s.ShardId)]
			if len(kids) < 1 || len(kids) > 2 {
				t.Errorf("closed shard %s has children %v, want one or two", aws.ToString(s.ShardId), kids)
			}
		}
	}
	t.Logf("ListShards: %d shards, %d open", len(all), nOpen)

	// Paging through the resharded stream, with ListShards' MaxResults and
	// DescribeStream's Limit, gives the same shards in the same order.
	var paged []types.Shard
	lsIn := &kinesis.ListShardsInput{StreamName: aws.String(name), MaxResults: aws.Int32(4)}
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatalf("ListShards MaxResults 4: more than %d pages", len(all))
		}
		out, err := c.ListShards(ctx, lsIn)
		if err != nil {
			t.Fatalf("ListShards MaxResults 4: %v", err)
		}
		if len(out.Shards) > 4 {
			t.Errorf("ListShards MaxResults 4 returned %d shards", len(out.Shards))
		}
		paged = append(paged, out.Shards...)
		if out.NextToken == nil {
			break
		}
		lsIn = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(4)}
	}
	if got, want := strings.Join(shardIDs(paged), ","), strings.Join(shardIDs(all), ","); got != want {
		t.Errorf("ListShards in pages of 4:\n%s\nin one call:\n%s", got, want)
	}
	var described []types.Shard
	dsIn := &kinesis.DescribeStreamInput{StreamName: aws.String(name), Limit: aws.Int32(5)}
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatalf("DescribeStream Limit 5: more than %d pages", len(all))
		}
		out, err := c.DescribeStream(ctx, dsIn)
		if err != nil {
			t.Fatalf("DescribeStream Limit 5: %v", err)
		}
		sd := out.StreamDescription
		described = append(described, sd.Shards...)
		if !aws.ToBool(sd.HasMoreShards) || len(sd.Shards) == 0 {
			break
		}
		dsIn.ExclusiveStartShardId = sd.Shards[len(sd.Shards)-1].ShardId
	}
	if got, want := strings.Join(shardIDs(described), ","), strings.Join(shardIDs(all), ","); got != want {
		t.Errorf("DescribeStream in pages of 5:\n%s\nListShards:\n%s", got, want)
	}

	// Read parents before children, discovering children from ChildShards
	// as the KCL does; a child with two parents starts when both are done.
	done := map[string]bool{}
	started := map[string]bool{}
	queue := append([]string{}, roots...)
	for _, r := range roots {
		started[r] = true
	}
	seen := map[string]bool{}       // payloads read
	lastCounter := map[string]int{} // per key
	read := 0
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		s := byID[id]
		for _, par := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if par != nil && !done[*par] {
				t.Fatalf("reader started %s before its parent %s was read to its end", id, *par)
			}
		}
		recs, kids := reshardReadShard(t, c, name, s)
		for _, r := range recs {
			payload := string(r.Data)
			if seen[payload] {
				t.Errorf("record %q read twice (shard %s, sequence %s)", payload, id, aws.ToString(r.SequenceNumber))
				continue
			}
			seen[payload] = true
			read++
			a, ok := acks[payload]
			if !ok {
				if !unknown[payload] {
					t.Errorf("shard %s holds record %q that was never acknowledged nor in a failed call", id, payload)
				}
				continue
			}
			if aws.ToString(r.PartitionKey) != a.key || aws.ToString(r.SequenceNumber) != a.seq || a.shardID != id {
				t.Errorf("record %q read from %s as key %q sequence %s; put answered shard %s sequence %s", payload, id,
					aws.ToString(r.PartitionKey), aws.ToString(r.SequenceNumber), a.shardID, a.seq)
			}
			if a.counter <= lastCounter[a.key] {
				t.Errorf("key %s: counter %d read after %d (shard %s); put order lost", a.key, a.counter, lastCounter[a.key], id)
			}
			lastCounter[a.key] = a.counter
			h := hashKey(a.key)
			if h.Cmp(bigOf(t, s.HashKeyRange.StartingHashKey)) < 0 || h.Cmp(bigOf(t, s.HashKeyRange.EndingHashKey)) > 0 {
				t.Errorf("record %q (hash key %s) is in shard %s, whose range %s..%s does not hold it", payload, h, id,
					aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
			}
		}
		done[id] = true

		if shardOpen(s) {
			continue
		}
		// ChildShards at the end of a closed shard must match ListShards.
		var got []string
		for _, k := range kids {
			kid := aws.ToString(k.ShardId)
			got = append(got, kid)
			ls, ok := byID[kid]
			if !ok {
				t.Errorf("ChildShards of %s names %s, which ListShards does not list", id, kid)
				continue
			}
			var wantParents []string
			for _, par := range []*string{ls.ParentShardId, ls.AdjacentParentShardId} {
				if par != nil {
					wantParents = append(wantParents, *par)
				}
			}
			gotParents := append([]string{}, k.ParentShards...)
			sort.Strings(wantParents)
			sort.Strings(gotParents)
			if strings.Join(gotParents, ",") != strings.Join(wantParents, ",") {
				t.Errorf("ChildShards of %s: %s has ParentShards %v; ListShards says %v", id, kid, k.ParentShards, wantParents)
			}
			if k.HashKeyRange == nil || aws.ToString(k.HashKeyRange.StartingHashKey) != aws.ToString(ls.HashKeyRange.StartingHashKey) ||
				aws.ToString(k.HashKeyRange.EndingHashKey) != aws.ToString(ls.HashKeyRange.EndingHashKey) {
				t.Errorf("ChildShards of %s: %s has HashKeyRange %+v; ListShards says %+v", id, kid, k.HashKeyRange, ls.HashKeyRange)
			}
			if started[kid] {
				continue
			}
			ready := true
			for _, par := range wantParents {
				ready = ready && done[par]
			}
			if ready {
				started[kid] = true
				queue = append(queue, kid)
			}
		}
		want := append([]string{}, children[id]...)
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("ChildShards at the end of %s: %v; ListShards children: %v", id, got, want)
		}
	}
	for _, s := range all {
		if !done[aws.ToString(s.ShardId)] {
			t.Errorf("shard %s was never reached through ChildShards", aws.ToString(s.ShardId))
		}
	}

	// Every acknowledged record was read.
	missing := 0
	for payload := range acks {
		if !seen[payload] {
			if missing < 10 {
				t.Errorf("acknowledged record %q (shard %s, sequence %s) was not read", payload, acks[payload].shardID, acks[payload].seq)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged records were not read", missing, len(acks))
	}
	t.Logf("read %d records from %d shards", read, len(done))

	// The tailing reader saw the same: every acknowledged record once, in
	// put order per key, from every shard.
	twg.Wait()
	for _, p := range tl.problems {
		t.Errorf("tailing reader: %s", p)
	}
	reshardVerify(t, "tailing reader", tl.reads, acks, unknown)
	for _, s := range all {
		if id := aws.ToString(s.ShardId); !shardOpen(s) && !tl.done[id] {
			t.Errorf("tailing reader never reached the end of closed shard %s", id)
		}
	}
	t.Logf("tailing reader: %d records from %d finished shards", len(tl.reads), len(tl.done))
}

// reshardReadShard reads one shard from TRIM_HORIZON: a closed shard until
// GetRecords answers without NextShardIterator (returning its ChildShards),
// an open one until it has caught up. It checks the AWS rules for a
// shard's end and that every record of a child sorts above its parents'
// EndingSequenceNumber.
func reshardReadShard(t *testing.T, c *kinesis.Client, stream string, s types.Shard) ([]types.Record, []types.ChildShard) {
	t.Helper()
	id := aws.ToString(s.ShardId)
	it := iterator(t, c, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	closed := !shardOpen(s)
	var recs []types.Record
	var kids []types.ChildShard
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("shard %s (closed %v) not read to its end within 60s (%d records)", id, closed, len(recs))
		}
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			t.Fatalf("GetRecords %s: %v", id, err)
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			if !closed {
				t.Fatalf("GetRecords on open shard %s answered without NextShardIterator", id)
			}
			if len(out.ChildShards) == 0 {
				t.Errorf("GetRecords at the end of closed shard %s: no ChildShards", id)
			}
			kids = out.ChildShards
			break
		}
		if len(out.ChildShards) != 0 {
			t.Errorf("GetRecords on %s answered ChildShards %v with a NextShardIterator", id, out.ChildShards)
		}
		if !closed && len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			break
		}
		it = aws.ToString(out.NextShardIterator)
	}
	checkOrdered(t, recs)

	start := checkSeq(t, s.SequenceNumberRange.StartingSequenceNumber)
	var end *big.Int
	if closed {
		end = checkSeq(t, s.SequenceNumberRange.EndingSequenceNumber)
	}
	for _, r := range recs {
		v := checkSeq(t, r.SequenceNumber)
		if v.Cmp(start) < 0 || (end != nil && v.Cmp(end) > 0) {
			t.Errorf("shard %s: record sequence %s outside the shard's range %s..%v", id, v, start, end)
		}
	}
	return recs, kids
}

// TestReshardChildSequenceNumbers checks ParentShardId and
// AdjacentParentShardId after a split and a merge, and that a child's
// sequence numbers sort above its parents' EndingSequenceNumber.
func TestReshardChildSequenceNumbers(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	const name = "seqs"
	createStream(t, c, name, 2)
	ctx := context.Background()
	put := func(key string) {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte(key)}, noRetries); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
	}
	for i := 0; i < 20; i++ {
		put(reshardKey(i))
	}
	ranges := evenRanges(2)
	mid := new(big.Int).Rsh(ranges[0][1], 1)
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(shardID(0)),
		NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	reshardWaitActive(t, c, name)
	for i := 0; i < 20; i++ {
		put(reshardKey(i))
	}
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(name), ShardToMerge: aws.String(shardID(3)),
		AdjacentShardToMerge: aws.String(shardID(1))}); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	reshardWaitActive(t, c, name)
	for i := 0; i < 20; i++ {
		put(reshardKey(i))
	}

	all := listAllShards(t, c, name)
	byID := map[string]types.Shard{}
	for _, s := range all {
		byID[aws.ToString(s.ShardId)] = s
	}
	want := map[string][2]string{ // child -> parent, adjacent parent
		shardID(2): {shardID(0), ""}, shardID(3): {shardID(0), ""}, shardID(4): {shardID(3), shardID(1)},
	}
	if len(all) != 5 {
		t.Fatalf("ListShards: %v, want 5 shards", shardIDs(all))
	}
	for child, parents := range want {
		s, ok := byID[child]
		if !ok {
			t.Fatalf("ListShards has no %s", child)
		}
		gotP, gotA := aws.ToString(s.ParentShardId), aws.ToString(s.AdjacentParentShardId)
		if gotP != parents[0] || gotA != parents[1] {
			// AWS names the shard given as ShardToMerge as ParentShardId.
			t.Errorf("%s: ParentShardId %q AdjacentParentShardId %q, want %q %q", child, gotP, gotA, parents[0], parents[1])
		}
		childRecs := readShard(t, c, name, child)
		if len(childRecs) == 0 {
			t.Errorf("%s holds no records", child)
		}
		for _, par := range parents {
			if par == "" {
				continue
			}
			ps := byID[par]
			if shardOpen(ps) {
				t.Fatalf("parent %s is still open", par)
			}
			end := checkSeq(t, ps.SequenceNumberRange.EndingSequenceNumber)
			if st := checkSeq(t, s.SequenceNumberRange.StartingSequenceNumber); st.Cmp(end) <= 0 {
				t.Errorf("%s StartingSequenceNumber %s is not above parent %s EndingSequenceNumber %s", child, st, par, end)
			}
			for _, r := range childRecs {
				if v := checkSeq(t, r.SequenceNumber); v.Cmp(end) <= 0 {
					t.Errorf("%s record %s is not above parent %s EndingSequenceNumber %s", child, v, par, end)
				}
			}
			for _, r := range readShard(t, c, name, par) {
				if v := checkSeq(t, r.SequenceNumber); v.Cmp(end) > 0 {
					t.Errorf("parent %s record %s is above its EndingSequenceNumber %s", par, v, end)
				}
			}
		}
	}
}

// TestReshardErrors checks AWS's errors for SplitShard, MergeShards and
// UpdateShardCount.
func TestReshardErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "three", 3)
	createStream(t, c, "two", 2)
	ranges := evenRanges(3)
	acct := testAccount

	split := func(stream, shard, key string) error {
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String(shard), NewStartingHashKey: aws.String(key)})
		return err
	}
	merge := func(stream, a, b string) error {
		_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(stream), ShardToMerge: aws.String(a), AdjacentShardToMerge: aws.String(b)})
		return err
	}
	updateCount := func(stream string, n int32) error {
		_, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(stream), TargetShardCount: aws.Int32(n), ScalingType: types.ScalingTypeUniformScaling})
		return err
	}
	badKey := func(key string, shard int) string {
		return fmt.Sprintf("NewStartingHashKey %s used in SplitShard() on shard %s in stream three under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			key, shardID(shard), acct, ranges[shard][0], ranges[shard][1])
	}

	t.Run("split bad hash key", func(t *testing.T) {
		for _, tc := range []struct {
			key   string
			shard int
		}{
			{ranges[1][0].String(), 1},                                  // the shard's own start
			{new(big.Int).Add(ranges[1][0], big.NewInt(1)).String(), 1}, // start + 1
			{ranges[1][1].String(), 1},                                  // the shard's end
			{ranges[2][0].String(), 1},                                  // in the next shard
			{"0", 2},                                                    // below the shard
			{new(big.Int).Add(maxHashKey, big.NewInt(1)).String(), 2},   // 2^128
		} {
			expectErr(t, split("three", shardID(tc.shard), tc.key), "InvalidArgumentException", badKey(tc.key, tc.shard))
		}
		// start + 2 is the lowest key AWS accepts.
		if err := split("three", shardID(0), new(big.Int).Add(ranges[0][0], big.NewInt(2)).String()); err != nil {
			t.Errorf("SplitShard at StartingHashKey+2: %v", err)
		}
		reshardWaitActive(t, c, "three")
		// Not a decimal number: the request fails validation.
		expectErrPrefix(t, split("three", shardID(1), "12ab"), "ValidationException",
			"1 validation error detected: Value '12ab' at 'newStartingHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern")
	})

	t.Run("closed shard", func(t *testing.T) {
		if err := split("two", shardID(0), new(big.Int).Rsh(evenRanges(2)[0][1], 1).String()); err != nil {
			t.Fatalf("SplitShard: %v", err)
		}
		reshardWaitActive(t, c, "two")
		msg := "Shard " + shardID(0) + " in stream two under account " + acct +
			" has already been merged or split, and thus is not eligible for merging or splitting."
		expectErr(t, split("two", shardID(0), "12345"), "ResourceInUseException", msg)
		// shardId-000000000001 and the closed shardId-000000000000 were adjacent.
		expectErr(t, merge("two", shardID(0), shardID(1)), "ResourceInUseException", msg)
	})

	t.Run("merge not adjacent", func(t *testing.T) {
		// After the split above, "three" has four open shards in hash-key
		// order; only neighbours in that order are adjacent.
		open := openShardsSorted(t, c, "three")
		if len(open) != 4 {
			t.Fatalf("open shards %v, want 4", shardIDs(open))
		}
		for _, pair := range [][2]int{{0, 2}, {1, 3}, {3, 0}} {
			a, b := aws.ToString(open[pair[0]].ShardId), aws.ToString(open[pair[1]].ShardId)
			expectErr(t, merge("three", a, b), "InvalidArgumentException",
				fmt.Sprintf("Shards %s and %s in stream three under account %s are not an adjacent pair of shards eligible for merging", a, b, acct))
		}
		// A shard is not adjacent to itself.
		apiErr(t, merge("three", aws.ToString(open[1].ShardId), aws.ToString(open[1].ShardId)), "InvalidArgumentException")
	})

	t.Run("unknown shard", func(t *testing.T) {
		msg := "Could not find shard shardId-000000000099 in stream three under account " + acct + "."
		expectErr(t, split("three", "shardId-000000000099", "12345"), "ResourceNotFoundException", msg)
		expectErr(t, merge("three", shardID(1), "shardId-000000000099"), "ResourceNotFoundException", msg)
		expectErr(t, split("nosuch", shardID(0), "12345"), "ResourceNotFoundException", notFoundMsg("nosuch"))
		expectErr(t, merge("nosuch", shardID(0), shardID(1)), "ResourceNotFoundException", notFoundMsg("nosuch"))
		expectErr(t, updateCount("nosuch", 2), "ResourceNotFoundException", notFoundMsg("nosuch"))
	})

	t.Run("update shard count limits", func(t *testing.T) {
		createStream(t, c, "scale", 2)
		expectErr(t, updateCount("scale", 5), "LimitExceededException",
			"UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 2, Target shard count: 5")
		createStream(t, c, "scale6", 6)
		expectErr(t, updateCount("scale6", 2), "LimitExceededException",
			"UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 6, Target shard count: 2")
		// Rejected calls do not count; ten successful ones in 24 hours do.
		for i := 0; i < 10; i++ {
			target := int32(3)
			if i%2 == 1 {
				target = 2
			}
			if err := updateCount("scale", target); err != nil {
				t.Fatalf("UpdateShardCount call %d (to %d): %v", i+1, target, err)
			}
			reshardWaitActive(t, c, "scale")
		}
		apiErr(t, updateCount("scale", 3), "LimitExceededException")
		if n := len(openShardsSorted(t, c, "scale")); n != 2 {
			t.Errorf("after 10 updates ending at 2, %d open shards", n)
		}
	})

	t.Run("on-demand stream", func(t *testing.T) {
		if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("od"),
			StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
			t.Fatalf("CreateStream ON_DEMAND: %v", err)
		}
		reshardWaitActive(t, c, "od")
		open := openShardsSorted(t, c, "od")
		if len(open) != 4 {
			t.Fatalf("ON_DEMAND stream has open shards %v, want 4", shardIDs(open))
		}
		mid := new(big.Int).Rsh(new(big.Int).Add(bigOf(t, open[0].HashKeyRange.StartingHashKey), bigOf(t, open[0].HashKeyRange.EndingHashKey)), 1)
		for what, err := range map[string]error{
			"SplitShard":       split("od", aws.ToString(open[0].ShardId), mid.String()),
			"MergeShards":      merge("od", aws.ToString(open[0].ShardId), aws.ToString(open[1].ShardId)),
			"UpdateShardCount": updateCount("od", 5),
		} {
			ae := apiErr(t, err, "ValidationException")
			if !strings.Contains(ae.ErrorMessage(), "ON_DEMAND") {
				t.Errorf("%s on an ON_DEMAND stream: message %q does not name the capacity mode", what, ae.ErrorMessage())
			}
		}
		if n := len(openShardsSorted(t, c, "od")); n != 4 {
			t.Errorf("refused operations changed the ON_DEMAND stream to %d open shards", n)
		}
	})
}

// reshardWaitClock waits until the wall clock has passed ts by margin.
func reshardWaitClock(t testing.TB, ts time.Time, margin time.Duration) {
	t.Helper()
	deadline := time.Now().Add(margin + 5*time.Second)
	for !time.Now().After(ts.Add(margin)) {
		if time.Now().After(deadline) {
			t.Fatalf("clock did not pass %v", ts.Add(margin))
		}
		time.Sleep(time.Millisecond)
	}
}

// reshardReadToEnd reads a closed shard from it until GetRecords answers
// without NextShardIterator, and returns the records and the last answer's
// ChildShards.
func reshardReadToEnd(t testing.TB, c *kinesis.Client, it string, limit *int32) ([]types.Record, []types.ChildShard) {
	t.Helper()
	var recs []types.Record
	for i := 0; i < 1000; i++ {
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: limit})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			return recs, out.ChildShards
		}
		if len(out.ChildShards) != 0 {
			t.Errorf("GetRecords answered ChildShards with a NextShardIterator")
		}
		it = aws.ToString(out.NextShardIterator)
	}
	t.Fatalf("closed shard not read to its end in 1000 calls (%d records)", len(recs))
	return nil, nil
}

// TestReshardClosedShardEnds reads a split shard with every iterator type
// to its end, checks ListShards' filters on the resharded stream, and that
// the shard graph and the closed shard's end survive a restart.
func TestReshardClosedShardEnds(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "ends"
	createStream(t, c, name, 1)
	put := func(key string) *kinesis.PutRecordOutput {
		t.Helper()
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte(key)}, noRetries)
		if err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		return out
	}
	var before []*kinesis.PutRecordOutput
	for i := 0; i < 5; i++ {
		before = append(before, put(reshardKey(i)))
	}
	created := time.Now()
	reshardWaitClock(t, created, 50*time.Millisecond)
	tBefore := time.Now()
	reshardWaitClock(t, tBefore, 50*time.Millisecond)
	mid := new(big.Int).Rsh(maxHashKey, 1)
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(shardID(0)),
		NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	reshardWaitActive(t, c, name)
	splitDone := time.Now()
	reshardWaitClock(t, splitDone, 50*time.Millisecond)
	tAfter := time.Now()
	for i := 0; i < 5; i++ {
		put(reshardKey(i))
	}

	checkKids := func(what string, kids []types.ChildShard) {
		t.Helper()
		if len(kids) != 2 {
			t.Errorf("%s: ChildShards %+v, want %s and %s", what, kids, shardID(1), shardID(2))
			return
		}
		want := [][3]string{{shardID(1), "0", new(big.Int).Sub(mid, big.NewInt(1)).String()}, {shardID(2), mid.String(), maxHashKey.String()}}
		for i, k := range kids {
			if aws.ToString(k.ShardId) != want[i][0] || len(k.ParentShards) != 1 || k.ParentShards[0] != shardID(0) || k.HashKeyRange == nil ||
				aws.ToString(k.HashKeyRange.StartingHashKey) != want[i][1] || aws.ToString(k.HashKeyRange.EndingHashKey) != want[i][2] {
				t.Errorf("%s: ChildShards[%d] = {%s %v %+v}, want {%s [%s] %s..%s}", what, i, aws.ToString(k.ShardId), k.ParentShards,
					k.HashKeyRange, want[i][0], shardID(0), want[i][1], want[i][2])
			}
		}
	}
	last := aws.ToString(before[len(before)-1].SequenceNumber)
	check := func(stage string) {
		t.Helper()
		for _, tc := range []struct {
			what  string
			in    kinesis.GetShardIteratorInput
			limit *int32
			want  int
		}{
			{"TRIM_HORIZON", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeTrimHorizon}, nil, 5},
			{"TRIM_HORIZON, Limit 1", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeTrimHorizon}, aws.Int32(1), 5},
			{"LATEST", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeLatest}, nil, 0},
			{"AT_SEQUENCE_NUMBER last", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber,
				StartingSequenceNumber: aws.String(last)}, nil, 1},
			{"AFTER_SEQUENCE_NUMBER last", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber,
				StartingSequenceNumber: aws.String(last)}, nil, 0},
			{"AT_TIMESTAMP before the split", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp,
				Timestamp: aws.Time(created.Add(-time.Hour))}, nil, 5},
			{"AT_TIMESTAMP after the split", kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp,
				Timestamp: aws.Time(tAfter)}, nil, 0},
		} {
			in := tc.in
			in.StreamName, in.ShardId = aws.String(name), aws.String(shardID(0))
			recs, kids := reshardReadToEnd(t, c, iterator(t, c, &in), tc.limit)
			if len(recs) != tc.want {
				t.Errorf("%s: closed shard read %s: %d records, want %d", stage, tc.what, len(recs), tc.want)
			}
			if len(recs) == tc.want {
				// The shard's last tc.want records, in order.
				for i, r := range recs {
					if want := aws.ToString(before[5-tc.want+i].SequenceNumber); aws.ToString(r.SequenceNumber) != want {
						t.Errorf("%s: %s record %d sequence %s, want %s", stage, tc.what, i, aws.ToString(r.SequenceNumber), want)
					}
				}
			}
			checkKids(stage+": "+tc.what, kids)
		}

		// ListShards' filters on the resharded stream.
		for _, f := range []struct {
			what string
			f    types.ShardFilter
			want []string
		}{
			{"AT_LATEST", types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, []string{shardID(1), shardID(2)}},
			{"AT_TRIM_HORIZON", types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, []string{shardID(0)}},
			{"FROM_TRIM_HORIZON", types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, []string{shardID(0), shardID(1), shardID(2)}},
			{"AT_TIMESTAMP before the split", types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(tBefore)}, []string{shardID(0)}},
			{"AT_TIMESTAMP after the split", types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(tAfter)}, []string{shardID(1), shardID(2)}},
			{"FROM_TIMESTAMP before the split", types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(tBefore)}, []string{shardID(0), shardID(1), shardID(2)}},
			{"FROM_TIMESTAMP after the split", types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(tAfter)}, []string{shardID(1), shardID(2)}},
			{"AFTER_SHARD_ID", types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(shardID(0))}, []string{shardID(1), shardID(2)}},
		} {
			out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), ShardFilter: &f.f})
			if err != nil {
				t.Errorf("%s: ListShards %s: %v", stage, f.what, err)
				continue
			}
			if got := strings.Join(shardIDs(out.Shards), ","); got != strings.Join(f.want, ",") {
				t.Errorf("%s: ListShards %s = [%s], want %v", stage, f.what, got, f.want)
			}
		}
	}
	check("before restart")
	graph := func() string {
		var b strings.Builder
		for _, s := range listAllShards(t, c, name) {
			fmt.Fprintf(&b, "%s p=%s a=%s %s..%s seq %s..%s\n", aws.ToString(s.ShardId), aws.ToString(s.ParentShardId),
				aws.ToString(s.AdjacentParentShardId), aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey),
				aws.ToString(s.SequenceNumberRange.StartingSequenceNumber), aws.ToString(s.SequenceNumberRange.EndingSequenceNumber))
		}
		return b.String()
	}
	g := graph()
	srv.stop()
	srv.restart()
	if g2 := graph(); g2 != g {
		t.Errorf("ListShards changed across a restart:\nbefore:\n%s\nafter:\n%s", g, g2)
	}
	check("after restart")
	// New records still go to the children, above what was there.
	for _, child := range []string{shardID(1), shardID(2)} {
		recs := readShard(t, c, name, child)
		checkOrdered(t, recs)
		for _, r := range recs {
			if !seqLess(last, aws.ToString(r.SequenceNumber)) {
				t.Errorf("child %s record %s not above the parent's last %s", child, aws.ToString(r.SequenceNumber), last)
			}
		}
	}
	out := put("after-restart")
	if id := aws.ToString(out.ShardId); id != shardID(1) && id != shardID(2) {
		t.Errorf("PutRecord after restart went to %s, not a child", id)
	}
}

// TestReshardMergeOrderAndRecreate checks MergeShards with the upper shard
// given first, DescribeStream's view of a resharded stream, and that a
// stream deleted after resharding comes back new.
func TestReshardMergeOrderAndRecreate(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "again"
	createStream(t, c, name, 2)
	for i := 0; i < 10; i++ {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(reshardKey(i)), Data: []byte("old")}, noRetries); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
	}
	// The upper shard as ShardToMerge: it becomes ParentShardId.
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(name), ShardToMerge: aws.String(shardID(1)),
		AdjacentShardToMerge: aws.String(shardID(0))}); err != nil {
		t.Fatalf("MergeShards 1, 0: %v", err)
	}
	reshardWaitActive(t, c, name)
	out, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStream: %v", err)
	}
	sd := out.StreamDescription
	if len(sd.Shards) != 3 {
		t.Fatalf("DescribeStream lists %v, want the 2 closed parents and the merged shard", shardIDs(sd.Shards))
	}
	m := sd.Shards[2]
	if aws.ToString(m.ShardId) != shardID(2) || aws.ToString(m.ParentShardId) != shardID(1) || aws.ToString(m.AdjacentParentShardId) != shardID(0) ||
		aws.ToString(m.HashKeyRange.StartingHashKey) != "0" || aws.ToString(m.HashKeyRange.EndingHashKey) != maxHashKey.String() {
		t.Errorf("merged shard %s: parent %q adjacent %q range %s..%s; want %s, %s, %s, 0..2^128-1", aws.ToString(m.ShardId),
			aws.ToString(m.ParentShardId), aws.ToString(m.AdjacentParentShardId), aws.ToString(m.HashKeyRange.StartingHashKey),
			aws.ToString(m.HashKeyRange.EndingHashKey), shardID(2), shardID(1), shardID(0))
	}
	for _, p := range sd.Shards[:2] {
		if shardOpen(p) {
			t.Errorf("DescribeStream shows merged parent %s open", aws.ToString(p.ShardId))
		}
	}
	for _, par := range []string{shardID(0), shardID(1)} {
		it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(par), ShardIteratorType: types.ShardIteratorTypeLatest})
		_, kids := reshardReadToEnd(t, c, it, nil)
		if len(kids) != 1 || aws.ToString(kids[0].ShardId) != shardID(2) ||
			strings.Join(kids[0].ParentShards, ",") != shardID(1)+","+shardID(0) && strings.Join(kids[0].ParentShards, ",") != shardID(0)+","+shardID(1) {
			t.Errorf("ChildShards at the end of %s: %+v, want %s with parents %s and %s", par, kids, shardID(2), shardID(0), shardID(1))
		}
	}

	// Delete and create again: the new stream has none of the old shards
	// or records.
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	if err := kinesis.NewStreamNotExistsWaiter(c, notExistsFast).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("wait for deletion: %v", err)
	}
	createStream(t, c, name, 1)
	shards := listAllShards(t, c, name)
	if len(shards) != 1 || aws.ToString(shards[0].ShardId) != shardID(0) || !shardOpen(shards[0]) || shards[0].ParentShardId != nil ||
		aws.ToString(shards[0].HashKeyRange.StartingHashKey) != "0" || aws.ToString(shards[0].HashKeyRange.EndingHashKey) != maxHashKey.String() {
		t.Fatalf("recreated stream's shards: %+v", shards)
	}
	if recs := readShard(t, c, name, shardID(0)); len(recs) != 0 {
		t.Errorf("recreated stream's shard holds %d records of the deleted stream", len(recs))
	}
	// It can be resharded from scratch.
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(shardID(0)),
		NewStartingHashKey: aws.String("1000")}); err != nil {
		t.Fatalf("SplitShard on the recreated stream: %v", err)
	}
	reshardWaitActive(t, c, name)
	if got := strings.Join(shardIDs(listAllShards(t, c, name)), ","); got != shardID(0)+","+shardID(1)+","+shardID(2) {
		t.Errorf("recreated stream after a split: %s", got)
	}
}

// reshardRead is one record as a reader got it, with its shard.
type reshardRead struct {
	shard string
	rec   types.Record
}

// reshardTailer reads a stream while it is written and resharded, as a
// KCL worker does: it tails every shard it holds, round robin; at a closed
// shard's end it takes the ChildShards, and starts a child from
// TRIM_HORIZON once all of the child's parents are done. After
// producerDone is closed it stops at the first quiet round (every shard
// caught up). It runs on a goroutine the test owns and reports problems
// as text, read after it has stopped.
type reshardTailer struct {
	c            *kinesis.Client
	stream       string
	producerDone chan struct{}

	reads    []reshardRead
	problems []string
	done     map[string]bool
}

func (tl *reshardTailer) run(roots []string) {
	ctx := context.Background()
	active := map[string]string{}    // shard -> iterator
	parents := map[string][]string{} // child -> parents, from ChildShards
	started := map[string]bool{}
	tl.done = map[string]bool{}
	start := func(id string) bool {
		out, err := tl.c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(tl.stream), ShardId: aws.String(id),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			tl.problems = append(tl.problems, fmt.Sprintf("GetShardIterator %s: %v", id, err))
			return false
		}
		active[id], started[id] = aws.ToString(out.ShardIterator), true
		return true
	}
	for _, r := range roots {
		if !start(r) {
			return
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if time.Now().After(deadline) {
			tl.problems = append(tl.problems, fmt.Sprintf("tailer still running after 3 minutes with %d shards active", len(active)))
			return
		}
		final := false
		select {
		case <-tl.producerDone:
			final = true // every acknowledged record is in the stream now
		default:
		}
		quiet := true
		ids := make([]string, 0, len(active))
		for id := range active {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			out, err := tl.c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(active[id])})
			if err != nil {
				tl.problems = append(tl.problems, fmt.Sprintf("GetRecords %s: %v", id, err))
				return
			}
			for _, r := range out.Records {
				tl.reads = append(tl.reads, reshardRead{id, r})
			}
			if len(out.Records) > 0 || aws.ToInt64(out.MillisBehindLatest) > 0 {
				quiet = false
			}
			if out.NextShardIterator != nil {
				active[id] = aws.ToString(out.NextShardIterator)
				continue
			}
			// The shard's end.
			quiet = false
			delete(active, id)
			tl.done[id] = true
			if len(out.ChildShards) == 0 {
				tl.problems = append(tl.problems, fmt.Sprintf("GetRecords at the end of %s: no ChildShards", id))
			}
			for _, k := range out.ChildShards {
				kid := aws.ToString(k.ShardId)
				parents[kid] = k.ParentShards
			}
			for kid, ps := range parents {
				if started[kid] {
					continue
				}
				ready := true
				for _, p := range ps {
					ready = ready && tl.done[p]
				}
				if ready && !start(kid) {
					return
				}
			}
		}
		if final && quiet {
			return
		}
		if quiet {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// reshardVerify checks what a reader read against what the producer was
// told: every acknowledged record exactly once, from the shard and with
// the sequence number its put answered, and per key in put order.
func reshardVerify(t *testing.T, who string, reads []reshardRead, acks map[string]reshardAck, unknown map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{}
	errs := 0
	report := func(format string, args ...any) {
		if errs++; errs <= 20 {
			t.Errorf(who+": "+format, args...)
		}
	}
	for _, rd := range reads {
		payload := string(rd.rec.Data)
		if seen[payload] {
			report("record %q read twice (shard %s, sequence %s)", payload, rd.shard, aws.ToString(rd.rec.SequenceNumber))
			continue
		}
		seen[payload] = true
		a, ok := acks[payload]
		if !ok {
			if !unknown[payload] {
				report("shard %s holds record %q that was never acknowledged nor in a failed call", rd.shard, payload)
			}
			continue
		}
		if aws.ToString(rd.rec.SequenceNumber) != a.seq || a.shardID != rd.shard || aws.ToString(rd.rec.PartitionKey) != a.key {
			report("record %q read from %s as key %q sequence %s; put answered shard %s sequence %s", payload, rd.shard,
				aws.ToString(rd.rec.PartitionKey), aws.ToString(rd.rec.SequenceNumber), a.shardID, a.seq)
		}
		if a.counter <= last[a.key] {
			report("key %s: counter %d read after %d (shard %s); put order lost", a.key, a.counter, last[a.key], rd.shard)
		}
		last[a.key] = a.counter
	}
	missing := 0
	for payload, a := range acks {
		if !seen[payload] {
			if missing++; missing <= 10 {
				t.Errorf("%s: acknowledged record %q (shard %s, sequence %s) was not read", who, payload, a.shardID, a.seq)
			}
		}
	}
	if missing > 0 || errs > 0 {
		t.Errorf("%s: %d of %d acknowledged records not read, %d other problems", who, missing, len(acks), errs)
	}
}

// TestReshardRestartWhileUpdating restarts the server while a split keeps
// the stream UPDATING: afterwards the split is there and the stream
// becomes ACTIVE and can be resharded again.
func TestReshardRestartWhileUpdating(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--state-delay", "3s")
	c := srv.client()
	ctx := context.Background()
	const name = "restart"
	createStream(t, c, name, 1)
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(shardID(0)),
		NewStartingHashKey: aws.String(new(big.Int).Rsh(maxHashKey, 1).String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	srv.kill9()
	srv.restart()
	reshardWaitActive(t, c, name)
	open := openShardsSorted(t, c, name)
	if got := strings.Join(shardIDs(open), ","); got != shardID(1)+","+shardID(2) {
		t.Fatalf("after a restart during the split, open shards are %s, want %s,%s", got, shardID(1), shardID(2))
	}
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(name), ShardToMerge: aws.String(shardID(1)),
		AdjacentShardToMerge: aws.String(shardID(2))}); err != nil {
		t.Fatalf("MergeShards after the restart: %v", err)
	}
	reshardWaitActive(t, c, name)
	if got := strings.Join(shardIDs(openShardsSorted(t, c, name)), ","); got != shardID(3) {
		t.Errorf("after merging, open shards are %s, want %s", got, shardID(3))
	}
}

// TestReshardConcurrentStreams reshards several streams at once while
// other streams are created and deleted: each call must be answered (the
// account-wide shard count is taken across streams, a place for lock-order
// deadlocks), and every stream must end in a consistent layout.
func TestReshardConcurrentStreams(t *testing.T) {
	t.Parallel()
	t.Run("reshards only", func(t *testing.T) {
		t.Parallel()
		reshardConcurrently(t, false)
	})
	t.Run("with CreateStream, DeleteStream and DescribeLimits", func(t *testing.T) {
		t.Parallel()
		reshardConcurrently(t, true)
	})
}

func reshardConcurrently(t *testing.T, churn bool) {
	srv := startServer(t)
	c := srv.client(exactWrites)
	const (
		streams = 4
		rounds  = 25
		callMax = 10 * time.Second
	)
	for i := 0; i < streams; i++ {
		createStream(t, c, fmt.Sprintf("cc%d", i), 2)
	}
	var mu sync.Mutex
	var problems []string
	fail := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// call runs one request with a deadline, so that a deadlocked server
	// fails the test instead of hanging it.
	call := func(what string, fn func(ctx context.Context) error) bool {
		ctx, cancel := context.WithTimeout(context.Background(), callMax)
		defer cancel()
		start := time.Now()
		err := fn(ctx)
		if err != nil {
			if time.Since(start) >= callMax {
				fail("%s: no answer within %v (deadlock?): %v", what, callMax, err)
			} else {
				fail("%s: %v", what, err)
			}
			return false
		}
		return true
	}
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		name := fmt.Sprintf("cc%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				// Split the lowest open shard, then merge its two children:
				// the stream is back to two open shards.
				var shards []types.Shard
				if !call("ListShards "+name, func(ctx context.Context) error {
					out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
						ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
					if err == nil {
						shards = out.Shards
					}
					return err
				}) {
					return
				}
				if len(shards) != 2 {
					fail("%s round %d: %d open shards, want 2", name, r, len(shards))
					return
				}
				sort.Slice(shards, func(a, b int) bool {
					x, _ := new(big.Int).SetString(aws.ToString(shards[a].HashKeyRange.StartingHashKey), 10)
					y, _ := new(big.Int).SetString(aws.ToString(shards[b].HashKeyRange.StartingHashKey), 10)
					return x.Cmp(y) < 0
				})
				lo, _ := new(big.Int).SetString(aws.ToString(shards[0].HashKeyRange.StartingHashKey), 10)
				hi, _ := new(big.Int).SetString(aws.ToString(shards[0].HashKeyRange.EndingHashKey), 10)
				mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
				if !call("SplitShard "+name, func(ctx context.Context) error {
					_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: shards[0].ShardId,
						NewStartingHashKey: aws.String(mid.String())})
					return err
				}) {
					return
				}
				var kids []string
				if !call("ListShards "+name, func(ctx context.Context) error {
					out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
						ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
					if err == nil {
						for _, s := range out.Shards {
							if aws.ToString(s.ParentShardId) == aws.ToString(shards[0].ShardId) {
								kids = append(kids, aws.ToString(s.ShardId))
							}
						}
					}
					return err
				}) {
					return
				}
				if len(kids) != 2 {
					fail("%s round %d: split of %s has open children %v", name, r, aws.ToString(shards[0].ShardId), kids)
					return
				}
				if !call("MergeShards "+name, func(ctx context.Context) error {
					_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(name), ShardToMerge: aws.String(kids[0]),
						AdjacentShardToMerge: aws.String(kids[1])})
					return err
				}) {
					return
				}
			}
		}()
	}
	// Meanwhile streams come and go, and the account's limits are read.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := 0; churn && r < rounds; r++ {
			name := fmt.Sprintf("churn%d", r)
			if !call("CreateStream "+name, func(ctx context.Context) error {
				_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(3)})
				return err
			}) {
				return
			}
			if !call("DescribeLimits", func(ctx context.Context) error {
				_, err := c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
				return err
			}) {
				return
			}
			if !call("DeleteStream "+name, func(ctx context.Context) error {
				_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
				return err
			}) {
				return
			}
		}
	}()
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		return
	}
	for i := 0; i < streams; i++ {
		name := fmt.Sprintf("cc%d", i)
		if n := len(openShardsSorted(t, c, name)); n != 2 {
			t.Errorf("%s ends with %d open shards, want 2", name, n)
		}
		if n := len(listAllShards(t, c, name)); n != 2+3*rounds {
			t.Errorf("%s has %d shards, want %d", name, n, 2+3*rounds)
		}
	}
}

// TestReshardShardQuota checks the account's shard limit (DescribeLimits'
// ShardLimit, AWS's default 500) for SplitShard and UpdateShardCount.
func TestReshardShardQuota(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	lim, err := c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil {
		t.Fatalf("DescribeLimits: %v", err)
	}
	quota := aws.ToInt32(lim.ShardLimit)
	if quota < 4 || quota > 1000 {
		t.Fatalf("ShardLimit %d; cannot test it", quota)
	}
	createStream(t, c, "big", quota-2)
	createStream(t, c, "small", 1)
	// quota-1 open shards: one split fits, a second does not.
	split := func(shard, key string) error {
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("small"), ShardToSplit: aws.String(shard),
			NewStartingHashKey: aws.String(key)})
		return err
	}
	if err := split(shardID(0), "1000"); err != nil {
		t.Fatalf("SplitShard up to the shard limit: %v", err)
	}
	reshardWaitActive(t, c, "small")
	msg := func(more int) string {
		return fmt.Sprintf("This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
			testAccount, testRegion, quota, quota, more)
	}
	expectErr(t, split(shardID(2), "100000"), "LimitExceededException", msg(1))
	_, err = c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("small"), TargetShardCount: aws.Int32(4),
		ScalingType: types.ScalingTypeUniformScaling})
	expectErr(t, err, "LimitExceededException", msg(2))
	if n := len(openShardsSorted(t, c, "small")); n != 2 {
		t.Errorf("refused requests changed the stream to %d open shards", n)
	}
	// Closed shards do not count: after a merge, a split fits again.
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("small"), ShardToMerge: aws.String(shardID(1)),
		AdjacentShardToMerge: aws.String(shardID(2))}); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	reshardWaitActive(t, c, "small")
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("small"), ShardToSplit: aws.String(shardID(3)),
		NewStartingHashKey: aws.String("1000")}); err != nil {
		t.Errorf("SplitShard after a merge freed a shard: %v", err)
	}
}
