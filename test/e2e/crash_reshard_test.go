package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// This file holds the parts of TestCrashDurability that follow the shard
// graph: the per-stream resharder and its model of the open shards, the
// SubscribeToShard reader that follows ChildShards during a round, and the
// check after a restart that reads each stream parents before children.

const (
	// crashMaxOpen bounds a data stream's open shards; crashMinOpen is 1.
	crashMaxOpen = 8
	// crashMaxConsumers bounds the consumers a stream's churn registers.
	crashMaxConsumers = 3
	// crashReaderConsumer is the consumer of the SubscribeToShard reader.
	crashReaderConsumer = "crash-reader"
	// crashMaxProblems bounds the problems reported per check.
	crashMaxProblems = 40
)

// crashKeyHashes are the partition keys' hash keys.
var crashKeyHashes = func() []*big.Int {
	h := make([]*big.Int, len(crashKeys))
	for i, k := range crashKeys {
		h[i] = hashKey(k)
	}
	return h
}()

// crashShard is an open shard as the test's model of a stream knows it;
// id is "" for a shard an acknowledged reshard created that has not been
// listed since.
type crashShard struct {
	id     string
	lo, hi *big.Int
}

// crashLayout is a stream's open shards in hash-key order.
type crashLayout []crashShard

func (l crashLayout) String() string {
	parts := make([]string, len(l))
	for i, s := range l {
		id := s.id
		if id == "" {
			id = "?"
		}
		parts[i] = fmt.Sprintf("%s[%s..%s]", strings.TrimPrefix(id, "shardId-"), abbrevKey(s.lo), abbrevKey(s.hi))
	}
	return strings.Join(parts, " ")
}

// abbrevKey shortens a hash key for messages: its first digits and length.
func abbrevKey(k *big.Int) string {
	s := k.String()
	if len(s) <= 8 {
		return s
	}
	return fmt.Sprintf("%s..e%d", s[:6], len(s)-1)
}

// matches reports whether l and o have the same ranges, and the same ids
// where both know them.
func (l crashLayout) matches(o crashLayout) bool {
	if len(l) != len(o) {
		return false
	}
	for i := range l {
		if l[i].lo.Cmp(o[i].lo) != 0 || l[i].hi.Cmp(o[i].hi) != 0 || (l[i].id != "" && o[i].id != "" && l[i].id != o[i].id) {
			return false
		}
	}
	return true
}

// evenLayout is UpdateShardCount's UNIFORM_SCALING result for n shards.
func evenLayout(n int) crashLayout {
	var l crashLayout
	for _, r := range evenRanges(n) {
		l = append(l, crashShard{lo: r[0], hi: r[1]})
	}
	return l
}

// replaceShards returns l with l[i:j] replaced by with.
func (l crashLayout) replace(i, j int, with ...crashShard) crashLayout {
	out := append(crashLayout{}, l[:i]...)
	out = append(out, with...)
	return append(out, l[j:]...)
}

// listOpenLayout lists a stream's open shards (ListShards AT_LATEST).
func listOpenLayout(ctx context.Context, c *kinesis.Client, name string) (crashLayout, error) {
	var l crashLayout
	in := &kinesis.ListShardsInput{StreamName: aws.String(name), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, s := range out.Shards {
			lo, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
			hi, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("shard %s has hash key range %+v", aws.ToString(s.ShardId), s.HashKeyRange)
			}
			l = append(l, crashShard{aws.ToString(s.ShardId), lo, hi})
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	sort.Slice(l, func(i, j int) bool { return l[i].lo.Cmp(l[j].lo) < 0 })
	return l, nil
}

// waitStreamStatus polls DescribeStreamSummary until the stream has the
// status want, the kill starts (false), or crashWaitMax passes (a failure).
// Failures go to failed with killing, which is nil where no kill is coming.
func waitStreamStatus(ctx context.Context, c *kinesis.Client, name string, want types.StreamStatus, killing *atomic.Bool,
	failed func(what string, err error, killing *atomic.Bool)) bool {
	deadline := time.Now().Add(crashWaitMax)
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			failed("DescribeStreamSummary "+name, err, killing)
			return false
		}
		st := out.StreamDescriptionSummary.StreamStatus
		if st == want {
			return true
		}
		if time.Now().After(deadline) {
			failed("wait for "+name+" "+string(want), fmt.Errorf("still %s after %v", st, crashWaitMax), killing)
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(crashPoll):
		}
	}
}

// crashPending is a reshard whose request was sent and not answered.
type crashPending struct {
	what          string
	before, after crashLayout
}

// crashStreamStats counts acknowledged changes.
type crashStreamStats struct {
	splits, merges, updates, updatesRefused, retention, consumers int
}

// Consumer states in a stream's model.
const (
	consumerLive   = iota // registration acknowledged
	consumerGone          // deregistration acknowledged
	consumerUnsure        // a request was sent and not answered
)

// crashStream is one data stream and the test's model of it: what the
// acknowledged control calls made it, and what a call the kill cut off
// may or may not have done.
type crashStream struct {
	index       int
	name        string
	initial     int // shards at creation
	consumerARN string

	mu               sync.Mutex
	layout           crashLayout   // open shards after the last acknowledged reshard
	pending          *crashPending // the reshard the kill cut off, if any
	shardCount       int           // shards listed after the last restart
	lastReshardSent  time.Time     // when the last acknowledged reshard was sent
	noMoreUpdates    bool          // UpdateShardCount's daily limit was reached
	retention        int           // acknowledged retention, hours
	pendingRetention int           // retention asked by a call the kill cut off, or 0
	consumers        map[string]int
	nextConsumer     int
	stats, reported  crashStreamStats
	genuine          []string // errors before the kill
}

func newCrashStream(index int, name string, shards int) *crashStream {
	return &crashStream{index: index, name: name, initial: shards, retention: 24, consumers: map[string]int{}}
}

// failed records an error unless the kill explains it. killing is nil
// where no kill is coming.
func (s *crashStream) failed(what string, err error, killing *atomic.Bool) {
	if (killing != nil && killing.Load()) || errors.Is(err, context.Canceled) {
		return
	}
	s.mu.Lock()
	s.genuine = append(s.genuine, what+": "+err.Error())
	s.mu.Unlock()
}

// churn changes the stream until the kill: mostly reshards, each as soon
// as the previous one's UPDATING is over, and now and then a retention or
// consumer change.
func (s *crashStream) churn(ctx context.Context, c *kinesis.Client, rng *rand.Rand, round int, killing *atomic.Bool) {
	for ctx.Err() == nil && !killing.Load() {
		if !waitStreamStatus(ctx, c, s.name, types.StreamStatusActive, killing, s.failed) {
			return
		}
		var ok bool
		switch p := rng.IntN(100); {
		case p < 10:
			ok = s.changeRetention(ctx, c, rng, killing)
		case p < 20:
			ok = s.changeConsumers(ctx, c, rng, round, killing)
		default:
			ok = s.reshard(ctx, c, rng, killing)
		}
		if !ok {
			return
		}
	}
}

// crashOp is a planned reshard.
type crashOp struct {
	kind  string // SplitShard, MergeShards, UpdateShardCount
	what  string
	after crashLayout
	call  func(ctx context.Context, c *kinesis.Client) error
}

// planLocked picks a reshard of the current layout at random.
func (s *crashStream) planLocked(rng *rand.Rand) crashOp {
	n := len(s.layout)
	var kinds []string
	if n < crashMaxOpen {
		kinds = append(kinds, "SplitShard", "SplitShard")
	}
	if n > 1 {
		kinds = append(kinds, "MergeShards", "MergeShards")
	}
	if !s.noMoreUpdates {
		kinds = append(kinds, "UpdateShardCount")
	}
	switch kinds[rng.IntN(len(kinds))] {
	case "SplitShard":
		return s.planSplit(rng.IntN(n), randomFraction(rng))
	case "MergeShards":
		return s.planMerge(rng.IntN(n-1), rng.IntN(2) == 0)
	}
	lo, hi := (n+1)/2, min(2*n, crashMaxOpen)
	target := lo + rng.IntN(hi-lo+1)
	if target == n {
		target = hi
		if target == n {
			target = lo
		}
	}
	return s.planUpdate(target)
}

// randomFraction is a fraction in [1/4, 3/4) as a numerator over 2^64.
func randomFraction(rng *rand.Rand) *big.Int {
	return new(big.Int).SetUint64(1<<62 + rng.Uint64N(1<<63))
}

// planSplit splits open shard i at lo + (hi-lo)*frac/2^64.
func (s *crashStream) planSplit(i int, frac *big.Int) crashOp {
	sh := s.layout[i]
	at := new(big.Int).Sub(sh.hi, sh.lo)
	at.Mul(at, frac).Rsh(at, 64).Add(at, sh.lo)
	if min := new(big.Int).Add(sh.lo, big.NewInt(2)); at.Cmp(min) < 0 {
		at = min // the lowest key AWS accepts; shards here are far wider
	}
	name, id, key := s.name, sh.id, at.String()
	return crashOp{
		kind: "SplitShard", what: fmt.Sprintf("SplitShard %s at %s", id, abbrevKey(at)),
		after: s.layout.replace(i, i+1, crashShard{lo: sh.lo, hi: new(big.Int).Sub(at, big.NewInt(1))}, crashShard{lo: at, hi: sh.hi}),
		call: func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(id),
				NewStartingHashKey: aws.String(key)}, noRetries)
			return err
		},
	}
}

// planMerge merges open shards i and i+1, the upper one given first if
// upperFirst.
func (s *crashStream) planMerge(i int, upperFirst bool) crashOp {
	a, b := s.layout[i], s.layout[i+1]
	first, second := a.id, b.id
	if upperFirst {
		first, second = second, first
	}
	name := s.name
	return crashOp{
		kind: "MergeShards", what: fmt.Sprintf("MergeShards %s %s", first, second),
		after: s.layout.replace(i, i+2, crashShard{lo: a.lo, hi: b.hi}),
		call: func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(name), ShardToMerge: aws.String(first),
				AdjacentShardToMerge: aws.String(second)}, noRetries)
			return err
		},
	}
}

func (s *crashStream) planUpdate(target int) crashOp {
	name := s.name
	return crashOp{
		kind: "UpdateShardCount", what: fmt.Sprintf("UpdateShardCount %d -> %d", len(s.layout), target),
		after: evenLayout(target),
		call: func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(name),
				TargetShardCount: aws.Int32(int32(target)), ScalingType: types.ScalingTypeUniformScaling}, noRetries)
			return err
		},
	}
}

// reshard runs one random reshard and checks the open shards it leaves. It
// returns false when the churn should stop.
func (s *crashStream) reshard(ctx context.Context, c *kinesis.Client, rng *rand.Rand, killing *atomic.Bool) bool {
	s.mu.Lock()
	op := s.planLocked(rng)
	s.pending = &crashPending{what: op.what, before: s.layout, after: op.after}
	sent := time.Now()
	s.mu.Unlock()

	err := op.call(ctx, c)
	s.mu.Lock()
	if err != nil {
		var ae smithy.APIError
		if op.kind == "UpdateShardCount" && errors.As(err, &ae) && ae.ErrorCode() == "LimitExceededException" &&
			strings.Contains(ae.ErrorMessage(), "at most 10 times in a rolling 24-hour period") {
			// AWS's limit, reached after 10 calls on this stream: a refusal
			// that changed nothing.
			s.pending = nil
			s.noMoreUpdates = true
			s.stats.updatesRefused++
			s.mu.Unlock()
			return true
		}
		// Whether it happened is unknown: pending stays.
		s.mu.Unlock()
		s.failed(op.what, err, killing)
		return false
	}
	s.pending = nil
	s.layout = op.after
	s.lastReshardSent = sent
	switch op.kind {
	case "SplitShard":
		s.stats.splits++
	case "MergeShards":
		s.stats.merges++
	default:
		s.stats.updates++
	}
	s.mu.Unlock()

	got, err := listOpenLayout(ctx, c, s.name)
	if err != nil {
		s.failed("ListShards after "+op.what, err, killing)
		return false
	}
	if !got.matches(op.after) {
		s.failed(op.what, fmt.Errorf("acknowledged, then the open shards are %v, want %v", got, op.after), nil)
		return false
	}
	s.mu.Lock()
	s.layout = got
	s.mu.Unlock()
	return true
}

// changeRetention raises or lowers the retention period to a random
// value between 24 and 72 hours.
func (s *crashStream) changeRetention(ctx context.Context, c *kinesis.Client, rng *rand.Rand, killing *atomic.Bool) bool {
	s.mu.Lock()
	cur := s.retention
	h := 24 + rng.IntN(49)
	if h == cur {
		h++
	}
	s.pendingRetention = h
	s.mu.Unlock()
	var err error
	if h > cur {
		_, err = c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String(s.name),
			RetentionPeriodHours: aws.Int32(int32(h))}, noRetries)
	} else {
		_, err = c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String(s.name),
			RetentionPeriodHours: aws.Int32(int32(h))}, noRetries)
	}
	if err != nil {
		s.failed(fmt.Sprintf("retention %d -> %d hours", cur, h), err, killing)
		return false
	}
	s.mu.Lock()
	s.retention, s.pendingRetention = h, 0
	s.stats.retention++
	s.mu.Unlock()
	return true
}

// changeConsumers registers a new consumer, or deregisters one.
func (s *crashStream) changeConsumers(ctx context.Context, c *kinesis.Client, rng *rand.Rand, round int, killing *atomic.Bool) bool {
	s.mu.Lock()
	var live []string
	for name, st := range s.consumers {
		if st != consumerGone {
			live = append(live, name)
		}
	}
	slices.Sort(live)
	register := len(live) < 1 || (len(live) < crashMaxConsumers && rng.IntN(2) == 0)
	var name string
	if register {
		name = fmt.Sprintf("r%d-%d", round, s.nextConsumer)
		s.nextConsumer++
	} else {
		name = live[rng.IntN(len(live))]
	}
	s.consumers[name] = consumerUnsure
	s.mu.Unlock()

	var err error
	if register {
		_, err = c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN(s.name)),
			ConsumerName: aws.String(name)}, noRetries)
	} else {
		_, err = c.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: aws.String(streamARN(s.name)),
			ConsumerName: aws.String(name)}, noRetries)
	}
	if err != nil {
		s.failed(fmt.Sprintf("register %v consumer %s", register, name), err, killing)
		return false
	}
	s.mu.Lock()
	s.consumers[name] = consumerLive
	if !register {
		s.consumers[name] = consumerGone
	}
	s.stats.consumers++
	s.mu.Unlock()
	return true
}

// settle waits after a restart until the stream is ACTIVE, and reports
// whether it was still UPDATING when first asked.
func (s *crashStream) settle(t *testing.T, c *kinesis.Client) (wasUpdating bool) {
	t.Helper()
	out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		t.Errorf("DescribeStreamSummary %s after restart: %v", s.name, err)
		return false
	}
	switch st := out.StreamDescriptionSummary.StreamStatus; st {
	case types.StreamStatusActive:
		return false
	case types.StreamStatusUpdating:
		wasUpdating = true
	default:
		t.Errorf("stream %s is %s after restart", s.name, st)
	}
	waitStreamStatus(context.Background(), c, s.name, types.StreamStatusActive, nil,
		func(what string, err error, _ *atomic.Bool) { t.Errorf("after restart: %s: %v", what, err) })
	return wasUpdating
}

// verifyControl checks after a restart that acknowledged retention and
// consumer changes survived, and adopts what a cut-off call did.
func (s *crashStream) verifyControl(t *testing.T, c *kinesis.Client) bool {
	t.Helper()
	ctx := context.Background()
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		t.Errorf("DescribeStreamSummary %s: %v", s.name, err)
		return false
	}
	ok := true
	s.mu.Lock()
	defer s.mu.Unlock()
	got := int(aws.ToInt32(sum.StreamDescriptionSummary.RetentionPeriodHours))
	if got != s.retention && (s.pendingRetention == 0 || got != s.pendingRetention) {
		t.Errorf("%s: retention %d hours after restart; acknowledged %d, unanswered %d", s.name, got, s.retention, s.pendingRetention)
		ok = false
	}
	s.retention, s.pendingRetention = got, 0
	if n := int(aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount)); n != len(s.layout) {
		t.Errorf("%s: OpenShardCount %d, ListShards lists %d open shards", s.name, n, len(s.layout))
		ok = false
	}
	out, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(streamARN(s.name))})
	if err != nil {
		t.Errorf("ListStreamConsumers %s: %v", s.name, err)
		return false
	}
	if out.NextToken != nil {
		t.Errorf("ListStreamConsumers %s: more than one page for %d consumers", s.name, len(out.Consumers))
		ok = false
	}
	return s.checkConsumersLocked(t, out.Consumers) && ok
}

func (s *crashStream) checkConsumersLocked(t *testing.T, listed []types.Consumer) bool {
	ok := true
	status := map[string]types.ConsumerStatus{}
	for _, cs := range listed {
		status[aws.ToString(cs.ConsumerName)] = cs.ConsumerStatus
	}
	if st := status[crashReaderConsumer]; st != types.ConsumerStatusActive {
		t.Errorf("%s: consumer %s is %q after restart", s.name, crashReaderConsumer, st)
		ok = false
	}
	delete(status, crashReaderConsumer)
	for name, want := range s.consumers {
		st, found := status[name]
		switch {
		case want == consumerLive && (!found || st == types.ConsumerStatusDeleting):
			t.Errorf("%s: acknowledged RegisterStreamConsumer %s undone by the crash: %q", s.name, name, st)
			ok = false
		case want == consumerGone && found && st != types.ConsumerStatusDeleting:
			t.Errorf("%s: acknowledged DeregisterStreamConsumer %s undone by the crash: %s", s.name, name, st)
			ok = false
		}
		switch {
		case !found:
			delete(s.consumers, name)
		case st == types.ConsumerStatusDeleting:
			s.consumers[name] = consumerGone
		default:
			s.consumers[name] = consumerLive
		}
		delete(status, name)
	}
	for name, st := range status {
		t.Errorf("%s: consumer %s (%s) was never registered", s.name, name, st)
		ok = false
	}
	return ok
}

// crashVerifier collects what a check after a restart read. The caller
// holds ledger.mu.
type crashVerifier struct {
	ledger   *crashLedger
	seen     map[int64]ack
	read     int
	problems []string
}

func (v *crashVerifier) report(format string, args ...any) {
	if len(v.problems) < crashMaxProblems {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	} else if len(v.problems) == crashMaxProblems {
		v.problems = append(v.problems, "...")
	}
}

// crashGraph is a stream's shards as ListShards lists them.
type crashGraph struct {
	shards   []types.Shard
	byID     map[string]types.Shard
	lo, hi   map[string]*big.Int
	start    map[string]*big.Int // StartingSequenceNumber
	end      map[string]*big.Int // EndingSequenceNumber; absent while open
	parents  map[string][]string
	children map[string][]string
}

func parseDec(s *string) (*big.Int, bool) {
	if s == nil {
		return nil, false
	}
	return new(big.Int).SetString(*s, 10)
}

// buildCrashGraph indexes shards and reports malformed entries.
func buildCrashGraph(shards []types.Shard, report func(string, ...any)) *crashGraph {
	g := &crashGraph{shards: shards, byID: map[string]types.Shard{}, lo: map[string]*big.Int{}, hi: map[string]*big.Int{},
		start: map[string]*big.Int{}, end: map[string]*big.Int{}, parents: map[string][]string{}, children: map[string][]string{}}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if _, dup := g.byID[id]; dup {
			report("ListShards lists %s twice", id)
			continue
		}
		g.byID[id] = s
		lo, ok1 := parseDec(s.HashKeyRange.StartingHashKey)
		hi, ok2 := parseDec(s.HashKeyRange.EndingHashKey)
		if !ok1 || !ok2 || lo.Sign() < 0 || hi.Cmp(lo) < 0 || hi.Cmp(maxHashKey) > 0 {
			report("%s has hash key range %s..%s", id, aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
			lo, hi = big.NewInt(0), big.NewInt(0)
		}
		g.lo[id], g.hi[id] = lo, hi
		if s.SequenceNumberRange == nil || !seqRE.MatchString(aws.ToString(s.SequenceNumberRange.StartingSequenceNumber)) {
			report("%s has sequence number range %+v", id, s.SequenceNumberRange)
			g.start[id] = big.NewInt(0)
			continue
		}
		g.start[id], _ = parseDec(s.SequenceNumberRange.StartingSequenceNumber)
		if e := s.SequenceNumberRange.EndingSequenceNumber; e != nil {
			if v, ok := parseDec(e); ok && seqRE.MatchString(*e) && v.Cmp(g.start[id]) >= 0 {
				g.end[id] = v
			} else {
				report("%s has EndingSequenceNumber %q below its StartingSequenceNumber or malformed", id, *e)
			}
		}
	}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if s.ParentShardId == nil && s.AdjacentParentShardId != nil {
			report("%s has an AdjacentParentShardId but no ParentShardId", id)
		}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p == nil {
				continue
			}
			if _, ok := g.byID[*p]; !ok {
				report("%s has parent %s, which ListShards does not list", id, *p)
				continue
			}
			g.parents[id] = append(g.parents[id], *p)
			g.children[*p] = append(g.children[*p], id)
		}
	}
	return g
}

// checkTiling reports unless the open shards cover 0..2^128-1 exactly.
func (g *crashGraph) checkTiling(report func(string, ...any)) crashLayout {
	var open crashLayout
	for _, s := range g.shards {
		if id := aws.ToString(s.ShardId); g.end[id] == nil {
			open = append(open, crashShard{id, g.lo[id], g.hi[id]})
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].lo.Cmp(open[j].lo) < 0 })
	next := big.NewInt(0)
	for _, s := range open {
		if s.lo.Cmp(next) != 0 {
			report("open shards do not tile the hash-key space: %s starts at %s, expected %s (open: %v)", s.id, s.lo, next, open)
			return open
		}
		next = new(big.Int).Add(s.hi, big.NewInt(1))
	}
	if next.Cmp(new(big.Int).Add(maxHashKey, big.NewInt(1))) != 0 {
		report("open shards end at %s, not 2^128-1 (open: %v)", new(big.Int).Sub(next, big.NewInt(1)), open)
	}
	return open
}

// checkFamilies reports unless every closed shard was split into two
// children that tile its range or merged with an adjacent shard into one
// child covering both, every open shard is childless, every child starts
// above its parents' ends, and the roots are the stream's first shards.
func (g *crashGraph) checkFamilies(initial int, report func(string, ...any)) {
	var roots []string
	for _, s := range g.shards {
		id := aws.ToString(s.ShardId)
		kids := g.children[id]
		if len(g.parents[id]) == 0 {
			roots = append(roots, id)
		}
		for _, p := range g.parents[id] {
			if e := g.end[p]; e != nil && g.start[id].Cmp(e) <= 0 {
				report("%s StartingSequenceNumber %s is not above parent %s EndingSequenceNumber %s", id, g.start[id], p, e)
			}
		}
		switch {
		case g.end[id] == nil && len(kids) > 0:
			report("open shard %s has children %v", id, kids)
		case g.end[id] == nil:
		case len(kids) == 2:
			g.checkSplit(id, kids, report)
		case len(kids) == 1:
			g.checkMerge(kids[0], report)
		default:
			report("closed shard %s has children %v, want two (split) or one (merge)", id, kids)
		}
	}
	var want []string
	for i, r := range evenRanges(initial) {
		want = append(want, shardID(i))
		if i < len(roots) && roots[i] == shardID(i) && (g.lo[roots[i]].Cmp(r[0]) != 0 || g.hi[roots[i]].Cmp(r[1]) != 0) {
			report("root %s covers %s..%s, want %s..%s", roots[i], g.lo[roots[i]], g.hi[roots[i]], r[0], r[1])
		}
	}
	if strings.Join(roots, ",") != strings.Join(want, ",") {
		report("shards without parents are %v, want the stream's first shards %v", roots, want)
	}
}

func (g *crashGraph) checkSplit(id string, kids []string, report func(string, ...any)) {
	a, b := kids[0], kids[1]
	if g.lo[b].Cmp(g.lo[a]) < 0 {
		a, b = b, a
	}
	if len(g.parents[a]) != 1 || len(g.parents[b]) != 1 {
		report("children %s and %s of %s: a split's children have one parent each, they have %v and %v", a, b, id, g.parents[a], g.parents[b])
	}
	if g.lo[a].Cmp(g.lo[id]) != 0 || g.hi[b].Cmp(g.hi[id]) != 0 || new(big.Int).Add(g.hi[a], big.NewInt(1)).Cmp(g.lo[b]) != 0 {
		report("split of %s (%s..%s) into %s (%s..%s) and %s (%s..%s): the children do not tile the parent",
			id, g.lo[id], g.hi[id], a, g.lo[a], g.hi[a], b, g.lo[b], g.hi[b])
	}
}

func (g *crashGraph) checkMerge(kid string, report func(string, ...any)) {
	ps := g.parents[kid]
	if len(ps) != 2 {
		report("%s is the only child of %v: a merge's child has two parents", kid, ps)
		return
	}
	a, b := ps[0], ps[1]
	if g.lo[b].Cmp(g.lo[a]) < 0 {
		a, b = b, a
	}
	if g.end[a] == nil || g.end[b] == nil || len(g.children[a]) != 1 || len(g.children[b]) != 1 {
		report("merge of %s and %s into %s: parents must be closed with that one child (children %v, %v)", a, b, kid,
			g.children[a], g.children[b])
	}
	if new(big.Int).Add(g.hi[a], big.NewInt(1)).Cmp(g.lo[b]) != 0 || g.lo[kid].Cmp(g.lo[a]) != 0 || g.hi[kid].Cmp(g.hi[b]) != 0 {
		report("merge of %s (%s..%s) and %s (%s..%s) into %s (%s..%s): not adjacent, or the child is not their union",
			a, g.lo[a], g.hi[a], b, g.lo[b], g.hi[b], kid, g.lo[kid], g.hi[kid])
	}
}

// verifyGraphAndRead checks the stream's shard graph and its open layout
// against the model, then reads every shard parents before children and
// checks every record. Afterwards the model is what the server has.
func (s *crashStream) verifyGraphAndRead(t *testing.T, c *kinesis.Client, v *crashVerifier) {
	t.Helper()
	report := func(format string, args ...any) { v.report(s.name+": "+format, args...) }
	shards := listAllShards(t, c, s.name)
	g := buildCrashGraph(shards, report)
	open := g.checkTiling(report)
	g.checkFamilies(s.initial, report)

	s.mu.Lock()
	switch p := s.pending; {
	case p == nil && !open.matches(s.layout):
		report("open shards after restart %v; the last acknowledged reshard left %v", open, s.layout)
	case p != nil && !open.matches(p.before) && !open.matches(p.after):
		report("open shards after restart %v; %s was cut off by the kill, so want %v (before) or %v (after)", open, p.what, p.before, p.after)
	}
	s.layout, s.pending, s.shardCount = open, nil, len(shards)
	s.mu.Unlock()

	// Parents before children: a shard is read once every parent is.
	done := map[string]bool{}
	lastN := map[uint16]uint32{}
	var queue []string
	for _, sh := range shards {
		if len(g.parents[aws.ToString(sh.ShardId)]) == 0 {
			queue = append(queue, aws.ToString(sh.ShardId))
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		s.readAndCheck(c, g, id, lastN, v, report)
		done[id] = true
		for _, kid := range g.children[id] {
			ready := !done[kid]
			for _, p := range g.parents[kid] {
				ready = ready && done[p]
			}
			if ready && !slices.Contains(queue, kid) {
				queue = append(queue, kid)
			}
		}
	}
	for _, sh := range shards {
		if id := aws.ToString(sh.ShardId); !done[id] {
			report("shard %s is not reached from the roots through ParentShardId/AdjacentParentShardId", id)
		}
	}
}

// readAndCheck reads one shard from TRIM_HORIZON and checks its records and
// the ChildShards at its end.
func (s *crashStream) readAndCheck(c *kinesis.Client, g *crashGraph, id string, lastN map[uint16]uint32, v *crashVerifier,
	report func(string, ...any)) {
	closed := g.end[id] != nil
	recs, kids, err := crashReadShard(c, s.name, id, closed)
	if err != nil {
		report("read %s: %v", id, err)
		return
	}
	if closed {
		var got []string
		for _, k := range kids {
			got = append(got, aws.ToString(k.ShardId))
			want := slices.Clone(g.parents[aws.ToString(k.ShardId)])
			ps := slices.Clone(k.ParentShards)
			slices.Sort(want)
			slices.Sort(ps)
			if !slices.Equal(ps, want) {
				report("ChildShards at the end of %s: %s has parents %v, ListShards says %v", id, aws.ToString(k.ShardId), k.ParentShards, want)
			}
		}
		want := slices.Clone(g.children[id])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			report("ChildShards at the end of %s are %v; ListShards' children %v", id, got, want)
		}
	}
	var prev *big.Int
	for i, r := range recs {
		seq := aws.ToString(r.SequenceNumber)
		sv, ok := parseDec(r.SequenceNumber)
		if !ok || !seqRE.MatchString(seq) {
			report("%s record %d: malformed sequence number %q", id, i, seq)
			continue
		}
		if prev != nil && prev.Cmp(sv) >= 0 {
			report("%s record %d: sequence number %s not above the previous %s", id, i, seq, prev)
		}
		prev = sv
		if sv.Cmp(g.start[id]) < 0 || (closed && sv.Cmp(g.end[id]) > 0) {
			report("%s record %d: sequence number %s outside the shard's range %s..%v", id, i, seq, g.start[id], g.end[id])
		}
		s.checkRecord(g, id, r, lastN, v, report)
	}
}

// checkRecord checks one record read back against the ledger.
func (s *crashStream) checkRecord(g *crashGraph, shard string, r types.Record, lastN map[uint16]uint32, v *crashVerifier,
	report func(string, ...any)) {
	seq := aws.ToString(r.SequenceNumber)
	v.read++
	id, ok := crashID(r.Data)
	if !ok {
		report("%s record %s: data %q is not a record the test wrote", shard, seq, truncate(r.Data, 40))
		return
	}
	if first, dup := v.seen[id]; dup {
		report("id %d read twice: %s %s and %s %s", id, first.shard, first.seq, shard, seq)
		return
	}
	v.seen[id] = ack{shard, seq}
	sent, ok := v.ledger.sent[id]
	if !ok || int(sent.stream) != s.index || crashKeys[sent.key] != aws.ToString(r.PartitionKey) {
		report("id %d on %s with key %q was never sent there (sent: %v %s)", id, shard, aws.ToString(r.PartitionKey), ok, sent.describe())
		return
	}
	if h := crashKeyHashes[sent.key]; h.Cmp(g.lo[shard]) < 0 || h.Cmp(g.hi[shard]) > 0 {
		report("id %d (key %s, hash key %s) is in %s, whose range %s..%s does not hold it", id, crashKeys[sent.key], h, shard, g.lo[shard], g.hi[shard])
	}
	if last := lastN[sent.key]; sent.n <= last {
		report("key %s: record #%d (id %d, %s %s) read after #%d: out of acknowledgement order", crashKeys[sent.key], sent.n, id, shard, seq, last)
	}
	lastN[sent.key] = sent.n
	if a, ok := v.ledger.acked[id]; ok {
		if a.shard != shard || a.seq != seq {
			report("id %d acknowledged as %s %s, read back as %s %s", id, a.shard, a.seq, shard, seq)
		}
	} else if o, ok := v.ledger.observed[id]; ok {
		if o.shard != shard || o.seq != seq {
			report("unacknowledged id %d was %s %s after an earlier restart, now %s %s", id, o.shard, o.seq, shard, seq)
		}
	} else {
		v.ledger.observed[id] = ack{v.ledger.internLocked(shard), seq}
	}
}

// crashReadShard reads a shard from TRIM_HORIZON: a closed one to its end
// (returning the ChildShards there), an open one until it has caught up.
func crashReadShard(c *kinesis.Client, stream, id string, closed bool) ([]types.Record, []types.ChildShard, error) {
	ctx := context.Background()
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(id),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		return nil, nil, err
	}
	iter := it.ShardIterator
	var recs []types.Record
	deadline := time.Now().Add(crashWaitMax)
	for {
		if time.Now().After(deadline) {
			return recs, nil, fmt.Errorf("not read to its end within %v (closed %v, %d records)", crashWaitMax, closed, len(recs))
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return recs, nil, err
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			if !closed {
				return recs, nil, fmt.Errorf("GetRecords on the open shard answered without NextShardIterator")
			}
			if len(out.ChildShards) == 0 {
				return recs, nil, fmt.Errorf("GetRecords at the closed shard's end answered no ChildShards")
			}
			return recs, out.ChildShards, nil
		}
		if len(out.ChildShards) != 0 {
			return recs, nil, fmt.Errorf("GetRecords answered ChildShards with a NextShardIterator")
		}
		if !closed && len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			return recs, nil, nil
		}
		iter = out.NextShardIterator
	}
}

// reshardAfterRestart reshards one stream synchronously after the checks
// of a restart (a split, or a merge when it has the most open shards it
// may), waits until it is ACTIVE and checks the open shards.
func (r *crashRun) reshardAfterRestart(round int) bool {
	s := r.streams[round%len(r.streams)]
	s.mu.Lock()
	var op crashOp
	if len(s.layout) < crashMaxOpen {
		op = s.planSplit(r.rng.IntN(len(s.layout)), randomFraction(r.rng))
	} else {
		op = s.planMerge(r.rng.IntN(len(s.layout)-1), r.rng.IntN(2) == 0)
	}
	s.mu.Unlock()
	ctx := context.Background()
	if err := op.call(ctx, r.c); err != nil {
		r.t.Errorf("round %d: %s: %s after the restart: %v", round, s.name, op.what, err)
		return false
	}
	if !waitStreamStatus(ctx, r.c, s.name, types.StreamStatusActive, nil,
		func(what string, err error, _ *atomic.Bool) { r.t.Errorf("round %d: %s: %v", round, what, err) }) {
		return false
	}
	got, err := listOpenLayout(ctx, r.c, s.name)
	if err != nil {
		r.t.Errorf("round %d: ListShards %s: %v", round, s.name, err)
		return false
	}
	if !got.matches(op.after) {
		r.t.Errorf("round %d: %s: after %s the open shards are %v, want %v", round, s.name, op.what, got, op.after)
		return false
	}
	s.mu.Lock()
	s.layout = got
	s.mu.Unlock()
	r.totals.afterRestart++
	return true
}

// crashSubscriber reads one stream with SubscribeToShard during a round,
// as a KCL worker with enhanced fan-out does: every shard open at the
// start from LATEST, then at each shard's end the ChildShards from
// TRIM_HORIZON once all their parents have ended. What it is given must
// be durable: after the restart each record must be where it was
// delivered from.
type crashSubscriber struct {
	ctx     context.Context
	s       *crashStream
	c       *kinesis.Client
	ledger  *crashLedger
	killing *atomic.Bool
	wg      *sync.WaitGroup // of the round: Wait returns after every subscription ended

	mu       sync.Mutex
	started  map[string]bool
	done     map[string]bool
	parents  map[string][]string
	seen     map[int64]ack
	lastN    map[uint16]uint32
	count    int
	problems []string
}

func newCrashSubscriber(ctx context.Context, s *crashStream, c *kinesis.Client, ledger *crashLedger, killing *atomic.Bool,
	wg *sync.WaitGroup) *crashSubscriber {
	return &crashSubscriber{ctx: ctx, s: s, c: c, ledger: ledger, killing: killing, wg: wg, started: map[string]bool{},
		done: map[string]bool{}, parents: map[string][]string{}, seen: map[int64]ack{}, lastN: map[uint16]uint32{}}
}

// start subscribes to every open shard from LATEST.
func (sub *crashSubscriber) start() {
	sub.s.mu.Lock()
	open := slices.Clone(sub.s.layout)
	sub.s.mu.Unlock()
	sub.mu.Lock()
	for _, sh := range open {
		sub.started[sh.id] = true
	}
	sub.mu.Unlock()
	for _, sh := range open {
		sub.subscribe(sh.id, types.ShardIteratorTypeLatest)
	}
}

// fail notes a problem unless the kill explains it.
func (sub *crashSubscriber) fail(format string, args ...any) {
	if sub.killing.Load() || sub.ctx.Err() != nil {
		return
	}
	sub.mu.Lock()
	sub.problemLocked(format, args...)
	sub.mu.Unlock()
}

func (sub *crashSubscriber) problemLocked(format string, args ...any) {
	if len(sub.problems) < crashMaxProblems {
		sub.problems = append(sub.problems, fmt.Sprintf(format, args...))
	}
}

// subscribe reads shard id on a goroutine of the round until the shard's
// end, the kill or the round's end.
func (sub *crashSubscriber) subscribe(id string, from types.ShardIteratorType) {
	if sub.ctx.Err() != nil {
		return
	}
	// The caller is the round, before its Wait, or a subscription of it,
	// so the count is above zero.
	sub.wg.Go(func() {
		// A client of its own: one client's event-stream codec is shared,
		// unsynchronised, by all its streams (aws/smithy-go#714; see
		// TestFanOutSoak). kinesis.New gives the copy a codec of its own.
		c := kinesis.New(sub.c.Options())
		out, err := c.SubscribeToShard(sub.ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(sub.s.consumerARN),
			ShardId: aws.String(id), StartingPosition: &types.StartingPosition{Type: from}})
		if err != nil {
			sub.fail("SubscribeToShard %s from %s: %v", id, from, err)
			return
		}
		es := out.GetStream()
		defer es.Close()
		stop := context.AfterFunc(sub.ctx, func() { es.Close() })
		defer stop()
		for ev := range es.Events() {
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				sub.fail("%s: unexpected event %T", id, ev)
				continue
			}
			sub.records(id, e.Value.Records)
			if len(e.Value.ChildShards) > 0 {
				sub.shardEnded(id, e.Value.ChildShards)
				return
			}
		}
		if err := es.Err(); err != nil {
			sub.fail("event stream of %s: %v", id, err)
			return
		}
		sub.fail("event stream of %s ended before the shard's end", id)
	})
}

// records checks and notes what a subscription delivered.
func (sub *crashSubscriber) records(shard string, recs []types.Record) {
	if len(recs) == 0 {
		return
	}
	ids := make([]int64, len(recs))
	sents := make([]sentRec, len(recs))
	found := make([]bool, len(recs))
	sub.ledger.mu.Lock()
	for i, r := range recs {
		if id, ok := crashID(r.Data); ok {
			ids[i] = id
			sents[i], found[i] = sub.ledger.sent[id]
		}
	}
	sub.ledger.mu.Unlock()
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, r := range recs {
		seq := aws.ToString(r.SequenceNumber)
		switch {
		case !found[i]:
			sub.problemLocked("%s %s: data %q is not a record the test wrote", shard, seq, truncate(r.Data, 40))
			continue
		case int(sents[i].stream) != sub.s.index || crashKeys[sents[i].key] != aws.ToString(r.PartitionKey):
			sub.problemLocked("%s %s: id %d with key %q was sent as %s", shard, seq, ids[i], aws.ToString(r.PartitionKey), sents[i].describe())
			continue
		}
		if prev, dup := sub.seen[ids[i]]; dup {
			sub.problemLocked("id %d delivered twice: %s %s and %s %s", ids[i], prev.shard, prev.seq, shard, seq)
			continue
		}
		sub.seen[ids[i]] = ack{shard, seq}
		sub.count++
		if k := sents[i].key; sents[i].n <= sub.lastN[k] {
			sub.problemLocked("key %s: #%d (id %d, %s %s) delivered after #%d", crashKeys[k], sents[i].n, ids[i], shard, seq, sub.lastN[k])
		}
		sub.lastN[sents[i].key] = sents[i].n
	}
}

// shardEnded notes a shard's end and subscribes to the children whose
// parents have all ended.
func (sub *crashSubscriber) shardEnded(id string, kids []types.ChildShard) {
	sub.mu.Lock()
	sub.done[id] = true
	for _, k := range kids {
		sub.parents[aws.ToString(k.ShardId)] = k.ParentShards
	}
	var ready []string
	for kid, ps := range sub.parents {
		if sub.started[kid] {
			continue
		}
		all := true
		for _, p := range ps {
			all = all && sub.done[p]
		}
		if all {
			sub.started[kid] = true
			ready = append(ready, kid)
		}
	}
	sub.mu.Unlock()
	slices.Sort(ready)
	for _, kid := range ready {
		sub.subscribe(kid, types.ShardIteratorTypeTrimHorizon)
	}
}

func (sub *crashSubscriber) delivered() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.count
}

func (sub *crashSubscriber) problemsList() []string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return slices.Clone(sub.problems)
}
