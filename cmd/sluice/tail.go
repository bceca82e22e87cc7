package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// tailConfig is the settings of `sluice tail`.
type tailConfig struct {
	Endpoint  string
	Region    string
	From      string
	Timestamp string
	Base64    bool
	Consumer  string
	Poll      time.Duration
}

func (c *tailConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Endpoint, "endpoint", envOr("SLUICE_ENDPOINT", "http://127.0.0.1:4567"), "Kinesis endpoint (env SLUICE_ENDPOINT)")
	fs.StringVar(&c.Region, "region", envOr("AWS_REGION", "us-east-1"), "region to sign requests for")
	fs.StringVar(&c.From, "from", "latest", "where to start: trim-horizon, latest or timestamp")
	fs.StringVar(&c.Timestamp, "timestamp", "", "with --from timestamp: an RFC 3339 time")
	fs.BoolVar(&c.Base64, "base64", false, "print data as base64 instead of text")
	fs.StringVar(&c.Consumer, "consumer", "", "read through this enhanced fan-out consumer (registered if missing) instead of polling")
	fs.DurationVar(&c.Poll, "poll", time.Second, "how often a caught-up shard is polled with GetRecords")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// tail follows every shard of a stream, children after their parents, and
// prints one record per line until interrupted.
func tail(args []string, stdout, stderr io.Writer) int {
	var cfg tailConfig
	fs := flag.NewFlagSet("sluice tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sluice tail [flags] STREAM")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	t, err := newTailer(cfg, fs.Arg(0), stdout)
	if err != nil {
		fmt.Fprintln(stderr, "sluice tail:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := t.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "sluice tail:", err)
		return 1
	}
	return 0
}

type tailer struct {
	cfg    tailConfig
	stream string
	opts   kinesis.Options
	client *kinesis.Client
	start  types.StartingPosition

	outMu sync.Mutex
	out   io.Writer

	mu       sync.Mutex
	shards   map[string]types.Shard
	started  map[string]bool
	finished map[string]bool
	wg       sync.WaitGroup
	errs     chan error
}

func newTailer(cfg tailConfig, stream string, out io.Writer) (*tailer, error) {
	t := &tailer{cfg: cfg, stream: stream, out: out, shards: map[string]types.Shard{}, started: map[string]bool{},
		finished: map[string]bool{}, errs: make(chan error, 1)}
	switch cfg.From {
	case "trim-horizon":
		t.start.Type = types.ShardIteratorTypeTrimHorizon
	case "latest":
		t.start.Type = types.ShardIteratorTypeLatest
	case "timestamp":
		ts, err := time.Parse(time.RFC3339, cfg.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("--timestamp: %w", err)
		}
		t.start = types.StartingPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(ts)}
	default:
		return nil, fmt.Errorf("--from must be trim-horizon, latest or timestamp, not %q", cfg.From)
	}
	t.opts = kinesis.Options{
		Region: cfg.Region, BaseEndpoint: aws.String(cfg.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: envOr("AWS_ACCESS_KEY_ID", "sluice"), SecretAccessKey: envOr("AWS_SECRET_ACCESS_KEY", "sluice"),
				SessionToken: os.Getenv("AWS_SESSION_TOKEN")}, nil
		}),
	}
	t.client = kinesis.New(t.opts)
	return t, nil
}

func (t *tailer) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := t.refreshShards(ctx); err != nil {
		return err
	}
	consumerARN := ""
	if t.cfg.Consumer != "" {
		arn, err := t.ensureConsumer(ctx)
		if err != nil {
			return err
		}
		consumerARN = arn
	}
	t.mu.Lock()
	for id, sh := range t.shards {
		if t.isRootLocked(sh) {
			t.startLocked(ctx, id, consumerARN, t.start)
		}
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case err := <-t.errs:
		cancel()
		<-done
		return err
	case <-done:
		return ctx.Err()
	}
}

// isRootLocked: a shard is read from the start when it has no parent that
// is still listed (parents past retention are gone). With --from latest,
// only open shards are roots.
func (t *tailer) isRootLocked(sh types.Shard) bool {
	if t.start.Type == types.ShardIteratorTypeLatest {
		return sh.SequenceNumberRange.EndingSequenceNumber == nil
	}
	for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
		if p != nil {
			if _, listed := t.shards[*p]; listed {
				return false
			}
		}
	}
	return true
}

func (t *tailer) refreshShards(ctx context.Context) error {
	in := &kinesis.ListShardsInput{StreamName: aws.String(t.stream)}
	for {
		page, err := t.client.ListShards(ctx, in)
		if err != nil {
			return err
		}
		t.mu.Lock()
		for _, sh := range page.Shards {
			t.shards[aws.ToString(sh.ShardId)] = sh
		}
		t.mu.Unlock()
		if page.NextToken == nil {
			return nil
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

func (t *tailer) startLocked(ctx context.Context, shardID, consumerARN string, pos types.StartingPosition) {
	if t.started[shardID] {
		return
	}
	t.started[shardID] = true
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		var children []types.ChildShard
		var err error
		if consumerARN != "" {
			children, err = t.subscribeShard(ctx, consumerARN, shardID, pos)
		} else {
			children, err = t.pollShard(ctx, shardID, pos)
		}
		if err != nil {
			select {
			case t.errs <- fmt.Errorf("shard %s: %w", shardID, err):
			default:
			}
			return
		}
		t.shardDone(ctx, shardID, children, consumerARN)
	}()
}

// shardDone starts the children whose parents are all done; children
// start from their beginning, so no record is skipped across a reshard.
func (t *tailer) shardDone(ctx context.Context, shardID string, children []types.ChildShard, consumerARN string) {
	if err := t.refreshShards(ctx); err != nil && ctx.Err() == nil {
		select {
		case t.errs <- err:
		default:
		}
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished[shardID] = true
	fromStart := types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
	for _, c := range children {
		ready := true
		for _, p := range c.ParentShards {
			ready = ready && t.finished[p]
		}
		if ready {
			t.startLocked(ctx, aws.ToString(c.ShardId), consumerARN, fromStart)
		}
	}
}

func (t *tailer) print(recs []types.Record) {
	t.outMu.Lock()
	defer t.outMu.Unlock()
	for _, r := range recs {
		if t.cfg.Base64 {
			fmt.Fprintln(t.out, base64.StdEncoding.EncodeToString(r.Data))
		} else {
			fmt.Fprintln(t.out, string(r.Data))
		}
	}
}

// pollShard reads a shard with GetRecords until its end, and returns its
// children.
func (t *tailer) pollShard(ctx context.Context, shardID string, start types.StartingPosition) ([]types.ChildShard, error) {
	it, err := t.client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(t.stream), ShardId: aws.String(shardID), ShardIteratorType: start.Type, Timestamp: start.Timestamp,
	})
	if err != nil {
		return nil, err
	}
	iter := it.ShardIterator
	for {
		out, err := t.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			var thr *types.ProvisionedThroughputExceededException
			if errors.As(err, &thr) || errors.Is(err, net.ErrClosed) {
				if err := sleepCtx(ctx, t.cfg.Poll); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		t.print(out.Records)
		if out.NextShardIterator == nil {
			return out.ChildShards, nil
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 {
			if err := sleepCtx(ctx, t.cfg.Poll); err != nil {
				return nil, err
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// ensureConsumer returns the ARN of the named consumer, registering it if
// needed, once it is ACTIVE.
func (t *tailer) ensureConsumer(ctx context.Context) (string, error) {
	desc, err := t.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(t.stream)})
	if err != nil {
		return "", err
	}
	streamARN := desc.StreamDescriptionSummary.StreamARN
	var arn string
	reg, err := t.client.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(t.cfg.Consumer)})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		arn = aws.ToString(reg.Consumer.ConsumerARN)
	case errors.As(err, &inUse):
	default:
		return "", err
	}
	for {
		in := &kinesis.DescribeStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(t.cfg.Consumer)}
		if arn != "" {
			in = &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)}
		}
		d, err := t.client.DescribeStreamConsumer(ctx, in)
		if err != nil {
			return "", err
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return aws.ToString(d.ConsumerDescription.ConsumerARN), nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// subscribeShard reads a shard through SubscribeToShard, subscribing again
// from the last ContinuationSequenceNumber each time a subscription ends,
// until the shard's end.
func (t *tailer) subscribeShard(ctx context.Context, consumerARN, shardID string, pos types.StartingPosition) ([]types.ChildShard, error) {
	// A client per shard: aws-sdk-go-v2 clients share one event-stream
	// decoder between their live SubscribeToShard streams, unsynchronised
	// (aws/smithy-go#714).
	client := kinesis.New(t.opts)
	for {
		out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shardID), StartingPosition: &pos})
		if err != nil {
			var inUse *types.ResourceInUseException
			if errors.As(err, &inUse) {
				if err := sleepCtx(ctx, time.Second); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		stream := out.GetStream()
		for ev := range stream.Events() {
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				continue
			}
			t.print(e.Value.Records)
			if len(e.Value.ChildShards) > 0 && e.Value.ContinuationSequenceNumber == nil {
				stream.Close()
				return e.Value.ChildShards, nil
			}
			if e.Value.ContinuationSequenceNumber != nil {
				pos = types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: e.Value.ContinuationSequenceNumber}
			}
		}
		err = stream.Err()
		stream.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			// A broken stream is resumed from the last continuation, like
			// one that reached its lifetime.
			fmt.Fprintf(os.Stderr, "sluice tail: shard %s: %v; subscribing again\n", shardID, err)
			if err := sleepCtx(ctx, time.Second); err != nil {
				return nil, err
			}
		}
	}
}
