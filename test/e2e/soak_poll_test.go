package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// soakPollInterval is how often a polling consumer calls GetRecords: AWS's
// five reads a second per shard. (The KCL waits a second by default; the
// soak reads at the limit to load the server.)
const soakPollInterval = 200 * time.Millisecond

// soakPoller is one polling consumer of one shard, as a KCL worker runs
// it: GetShardIterator, then GetRecords following NextShardIterator every
// soakPollInterval. Every lifetime it drops its iterator and starts again
// AFTER_SEQUENCE_NUMBER its last record, as a worker does when it takes
// over a lease from its checkpoint, so that GetShardIterator too is called
// all through the run.
type soakPoller struct {
	shard  int
	client *kinesis.Client
	// seqs, reads and restarts are written by run only; read them after
	// it returns.
	seqs     []byte // sequence numbers received, 56 digits each, in order
	count    atomic.Int64
	reads    int // GetRecords calls answered
	restarts int // GetShardIterator calls after the first
}

// run polls until ctx ends. Records must arrive in strictly increasing
// order, across iterator restarts too: a duplicate is an error, and so is
// the end of the shard (there is no resharding here).
func (p *soakPoller) run(ctx context.Context, lifetime time.Duration) error {
	tick := time.NewTicker(soakPollInterval)
	defer tick.Stop()
	var last string
	for {
		in := &kinesis.GetShardIteratorInput{StreamName: aws.String("soak"), ShardId: aws.String(shardID(p.shard)),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
		if last != "" {
			in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
			in.StartingSequenceNumber = aws.String(last)
		}
		out, err := p.client.GetShardIterator(ctx, in)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("GetShardIterator %s after %d restarts: %w", in.ShardIteratorType, p.restarts, err)
		}
		it := out.ShardIterator
		for restartAt := time.Now().Add(lifetime); time.Now().Before(restartAt); {
			if it == nil {
				return fmt.Errorf("shard closed (no NextShardIterator) after %d reads: no resharding here", p.reads)
			}
			if err := p.read(ctx, &it, &last); err != nil || ctx.Err() != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		p.restarts++
	}
}

// read makes one GetRecords call with *it, checks and keeps its records,
// and moves *it and *last on.
func (p *soakPoller) read(ctx context.Context, it **string, last *string) error {
	out, err := p.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: *it})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("GetRecords after %d reads: %w", p.reads, err)
	}
	p.reads++
	for _, r := range out.Records {
		seq := aws.ToString(r.SequenceNumber)
		if len(seq) != 56 {
			return fmt.Errorf("sequence number %q is not 56 digits", seq)
		}
		if seq <= *last {
			return fmt.Errorf("record %s after %s: duplicate or out of order", seq, *last)
		}
		if err := checkSoakData(r.Data); err != nil {
			return fmt.Errorf("record %s: %w", seq, err)
		}
		*last = seq
		p.seqs = append(p.seqs, seq...)
	}
	p.count.Add(int64(len(out.Records)))
	*it = out.NextShardIterator
	return nil
}
