package e2e

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestConcurrentTail runs writers and tailing readers at the same time: each
// reader follows one shard from TRIM_HORIZON with NextShardIterator while
// the writers put records. Every reader must see exactly the records
// acknowledged on its shard, each once, in sequence-number order, with no
// record appearing after a later one was already returned.
func TestConcurrentTail(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	// The writers must know each call's outcome exactly: a retried
	// PutRecords could be applied twice.
	wc := srv.client(exactWrites)
	const (
		name      = "tail"
		shards    = 4
		writers   = 4
		perWriter = 2000
		batchSize = 100
	)
	createStream(t, c, name, shards)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	acked := map[string]map[string]string{} // shard -> data -> seq
	for i := 0; i < shards; i++ {
		acked[shardID(i)] = map[string]string{}
	}
	writesDone := make(chan struct{})
	var wwg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wwg.Add(1)
		go func(w int) {
			defer wwg.Done()
			for b := 0; b < perWriter/batchSize; b++ {
				var entries []types.PutRecordsRequestEntry
				for i := 0; i < batchSize; i++ {
					id := fmt.Sprintf("w%d-%d", w, b*batchSize+i)
					entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(id), Data: []byte(id)})
				}
				out, err := wc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
				if err != nil {
					t.Errorf("writer %d: PutRecords: %v", w, err)
					return
				}
				mu.Lock()
				for i, r := range out.Records {
					if r.ErrorCode != nil {
						t.Errorf("writer %d: entry failed: %s", w, aws.ToString(r.ErrorCode))
						continue
					}
					acked[aws.ToString(r.ShardId)][string(entries[i].Data)] = aws.ToString(r.SequenceNumber)
				}
				mu.Unlock()
			}
		}(w)
	}
	go func() {
		wwg.Wait()
		close(writesDone)
	}()

	type result struct {
		shard string
		recs  []types.Record
		err   error
	}
	results := make(chan result, shards)
	for i := 0; i < shards; i++ {
		go func(shard string) {
			out, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name),
				ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				results <- result{shard, nil, err}
				return
			}
			it := out.ShardIterator
			var recs []types.Record
			finished := false
			for {
				select {
				case <-writesDone:
					finished = true
				default:
				}
				page, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(250)})
				if err != nil {
					results <- result{shard, recs, err}
					return
				}
				recs = append(recs, page.Records...)
				it = page.NextShardIterator
				// Once the writers are done (checked before this read), an
				// empty page at the tip means everything was seen.
				if finished && len(page.Records) == 0 && aws.ToInt64(page.MillisBehindLatest) == 0 {
					results <- result{shard, recs, nil}
					return
				}
				if len(page.Records) == 0 {
					time.Sleep(5 * time.Millisecond) // polling interval of a tailing consumer
				}
			}
		}(shardID(i))
	}

	for i := 0; i < shards; i++ {
		r := <-results
		if r.err != nil {
			t.Errorf("reader %s: %v", r.shard, r.err)
			continue
		}
		mu.Lock()
		want := acked[r.shard]
		mu.Unlock()
		seen := map[string]bool{}
		var prev *big.Int
		for j, rec := range r.recs {
			seq := aws.ToString(rec.SequenceNumber)
			v, ok := new(big.Int).SetString(seq, 10)
			if !ok {
				t.Errorf("%s record %d: bad sequence number %q", r.shard, j, seq)
				continue
			}
			if prev != nil && prev.Cmp(v) >= 0 {
				t.Errorf("%s record %d: sequence number %s after %s", r.shard, j, seq, prev)
			}
			prev = v
			d := string(rec.Data)
			if seen[d] {
				t.Errorf("%s: %s read twice", r.shard, d)
			}
			seen[d] = true
			if ws, ok := want[d]; !ok {
				t.Errorf("%s: read %s, which was not acknowledged on this shard", r.shard, d)
			} else if ws != seq {
				t.Errorf("%s: %s acknowledged as %s, read as %s", r.shard, d, ws, seq)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s: tailing reader saw %d records, %d were acknowledged", r.shard, len(seen), len(want))
		}
	}
	total := 0
	for _, m := range acked {
		total += len(m)
	}
	if total != writers*perWriter {
		t.Errorf("%d records acknowledged, want %d", total, writers*perWriter)
	}
}
