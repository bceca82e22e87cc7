package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// throttleMsg is AWS's message for a shard over its throughput.
func throttleMsg(stream, shard string) string {
	return "Rate exceeded for shard " + shard + " in stream " + stream + " under account " + testAccount + "."
}

// writeLoadResult counts the per-record results of an offered load.
type writeLoadResult struct {
	offered, accepted, rejected int
	window                      time.Duration // the measured window's length
	// maxGap is the longest time between two calls' starts in the
	// window, over all workers: a pause of the whole load (a stalled
	// machine) past the bucket's one second wastes refill.
	maxGap time.Duration
}

// offerWriteLoad sends PutRecords batches of small records to one stream
// from several goroutines at a fixed total rate for warmup+window, and
// counts the per-record results of the batches sent during window (the
// warm-up drains the shard's initial burst allowance). Every goroutine
// stops by itself when its schedule ends. Rejected entries must carry
// AWS's throttling code and message; anything else fails the test.
func offerWriteLoad(t *testing.T, c *kinesis.Client, stream string, perSecond int, warmup, window time.Duration) writeLoadResult {
	t.Helper()
	const (
		workers = 4
		batch   = 50
	)
	// Each worker sends one batch every interval.
	interval := time.Duration(float64(time.Second) * float64(workers*batch) / float64(perSecond))
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(window)
	wantMsg := throttleMsg(stream, shardID(0))

	var mu sync.Mutex
	var res writeLoadResult
	var problems []string
	var lastStart time.Time
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Workers are staggered across the interval to spread the load.
			next := start.Add(interval * time.Duration(w) / workers)
			for seq := 0; next.Before(end); seq++ {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				sentAt := time.Now()
				next = next.Add(interval)
				mu.Lock()
				if !sentAt.Before(measureFrom) && !lastStart.IsZero() {
					res.maxGap = max(res.maxGap, sentAt.Sub(lastStart))
				}
				lastStart = sentAt
				mu.Unlock()
				entries := make([]types.PutRecordsRequestEntry, batch)
				for i := range entries {
					entries[i] = types.PutRecordsRequestEntry{
						PartitionKey: aws.String(fmt.Sprintf("w%d", w)),
						Data:         []byte(fmt.Sprintf("w%d-%d-%d", w, seq, i)),
					}
				}
				out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries}, noRetries)
				counted := !sentAt.Before(measureFrom)
				mu.Lock()
				if err != nil {
					problems = append(problems, fmt.Sprintf("PutRecords: %v", err))
					mu.Unlock()
					continue
				}
				failed := 0
				for _, r := range out.Records {
					if r.ErrorCode == nil {
						if r.SequenceNumber == nil || aws.ToString(r.ShardId) != shardID(0) {
							problems = append(problems, fmt.Sprintf("accepted entry: ShardId %q SequenceNumber %v", aws.ToString(r.ShardId), r.SequenceNumber))
						}
						if counted {
							res.accepted++
						}
						continue
					}
					failed++
					if counted {
						res.rejected++
					}
					if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" || aws.ToString(r.ErrorMessage) != wantMsg ||
						r.SequenceNumber != nil || r.ShardId != nil {
						problems = append(problems, fmt.Sprintf("rejected entry: ErrorCode %q ErrorMessage %q SequenceNumber %v ShardId %v; want %q %q and no sequence number or shard",
							aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage), r.SequenceNumber, r.ShardId,
							"ProvisionedThroughputExceededException", wantMsg))
					}
				}
				if got := int(aws.ToInt32(out.FailedRecordCount)); got != failed {
					problems = append(problems, fmt.Sprintf("FailedRecordCount %d, but %d entries failed", got, failed))
				}
				if counted {
					res.offered += batch
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.window = window
	if elapsed := time.Since(measureFrom); elapsed > window+2*time.Second {
		t.Logf("the load's last calls finished %v after the window began (window %v); the machine is slow", elapsed, window)
	}
	// Report each kind of problem a few times only.
	seen := map[string]int{}
	for _, p := range problems {
		if seen[p]++; seen[p] <= 3 {
			t.Error(p)
		}
	}
	return res
}

// TestShardWriteLimit offers about 2,000 records/s to one shard for 10
// seconds: with --shard-limits aws about 1,000 records/s are accepted and
// every other entry is refused with AWS's per-record error; with
// --shard-limits off every record is accepted.
func TestShardWriteLimit(t *testing.T) {
	t.Parallel()
	const (
		offer  = 2000
		window = 10 * time.Second
		warmup = time.Second
	)
	t.Run("aws", func(t *testing.T) {
		t.Parallel()
		srv := startServerAWSLimits(t)
		c := srv.client(h2c)
		const name = "limited"
		createStream(t, c, name, 1)
		// A window in which the whole load paused 800 ms or more (the
		// bucket holds one second) says nothing of the limit: measure
		// again, up to 3 windows.
		var r writeLoadResult
		for attempt := 1; ; attempt++ {
			r = offerWriteLoad(t, c, name, offer, warmup, window)
			if r.maxGap < 800*time.Millisecond {
				break
			}
			if attempt == 3 {
				t.Fatalf("the load paused %v between calls in each of %d windows; the limit could not be measured", r.maxGap, attempt)
			}
			t.Logf("window %d: the load paused %v between calls; measuring again", attempt, r.maxGap)
		}
		rate := float64(r.accepted) / window.Seconds()
		t.Logf("--shard-limits aws: offered %d records (%.0f/s), accepted %d (%.0f records/s), rejected %d in %v; longest pause between calls %v",
			r.offered, float64(r.offered)/window.Seconds(), r.accepted, rate, r.rejected, window, r.maxGap)
		if r.offered < offer*int(window.Seconds())*8/10 {
			t.Fatalf("only %d records offered in %v; the load generator fell behind", r.offered, window)
		}
		if rate < 900 || rate > 1100 {
			t.Errorf("accepted %.0f records/s on one shard; AWS's limit is 1,000 records/s (allowed 900..1100)", rate)
		}
		if r.rejected == 0 {
			t.Errorf("no entry was rejected at twice the shard's limit")
		}
		if r.accepted+r.rejected != r.offered {
			t.Errorf("accepted %d + rejected %d != offered %d", r.accepted, r.rejected, r.offered)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, "--shard-limits", "off")
		c := srv.client(h2c)
		const name = "unlimited"
		createStream(t, c, name, 1)
		r := offerWriteLoad(t, c, name, offer, warmup, window)
		t.Logf("--shard-limits off: offered %d records, accepted %d (%.0f records/s), rejected %d in %v",
			r.offered, r.accepted, float64(r.accepted)/window.Seconds(), r.rejected, window)
		if r.rejected != 0 || r.accepted != r.offered || r.offered == 0 {
			t.Errorf("--shard-limits off: accepted %d, rejected %d of %d offered; want all accepted", r.accepted, r.rejected, r.offered)
		}
	})
}

// TestShardWriteLimitPutRecord checks that PutRecord is throttled as a
// whole call when the shard's write budget is spent, and that the refused
// record is not stored.
func TestShardWriteLimitPutRecord(t *testing.T) {
	t.Parallel()
	srv := startServerAWSLimits(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	const name = "putrecord"
	createStream(t, c, name, 1)

	// A record of 1 MiB (key plus data) takes the whole second's byte
	// budget; a second one sent less than a second after the first was
	// sent must be refused. On a machine so slow that the two calls span a
	// second, the attempt proves nothing and is repeated.
	key := "k"
	big := bytes.Repeat([]byte{'a'}, 1<<20-len(key))
	putBig := func() error {
		_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: big})
		return err
	}
	bigStored := 0
	conclusive := false
	for attempt := 0; attempt < 5 && !conclusive; attempt++ {
		var sent time.Time
		for deadline := time.Now().Add(10 * time.Second); ; {
			sent = time.Now()
			err := putBig()
			if err == nil {
				break
			}
			expectErr(t, err, "ProvisionedThroughputExceededException", throttleMsg(name, shardID(0)))
			if time.Now().After(deadline) {
				t.Fatalf("1 MiB PutRecord refused for 10s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		bigStored++
		err := putBig()
		span := time.Since(sent)
		switch {
		case err != nil:
			expectErr(t, err, "ProvisionedThroughputExceededException", throttleMsg(name, shardID(0)))
			conclusive = true
		case span < time.Second:
			bigStored++
			t.Errorf("two 1 MiB PutRecords within %v were both accepted; 1 MiB/s allows one", span)
			conclusive = true
		default:
			bigStored++
			t.Logf("two 1 MiB PutRecords took %v; too slow to tell, trying again", span)
		}
	}
	if !conclusive {
		t.Fatalf("two 1 MiB PutRecords never fit in one second in 5 attempts; the machine is too slow for this test")
	}

	// Small records: 1,000 a second. Two clients keep the records budget
	// spent with PutRecords batches of 500 while six call PutRecord as
	// fast as they can, until a PutRecord is refused: as a whole-call
	// error with the same message.
	var mu sync.Mutex
	ok, refused, offered := 0, 0, 0
	stop := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return !time.Now().Before(deadline)
		}
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				entries := make([]types.PutRecordsRequestEntry, 500)
				for j := range entries {
					entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte("s")}
				}
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
				mu.Lock()
				offered += len(entries)
				if err != nil {
					t.Errorf("PutRecords: %v", err)
				} else {
					ok += len(entries) - int(aws.ToInt32(out.FailedRecordCount))
				}
				mu.Unlock()
			}
		}()
	}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte("s")})
				mu.Lock()
				offered++
				if err == nil {
					ok++
				} else {
					refused++
					if ae := asThrottleErr(err); ae != "" {
						t.Errorf("PutRecord: %s", ae)
					}
					once.Do(func() { close(stop) })
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("PutRecord: %d small records offered and %d accepted in %v; %d PutRecord calls refused", offered, ok, elapsed.Round(time.Millisecond), refused)
	if refused == 0 {
		t.Errorf("no PutRecord was refused in %v while %d records were offered (%.0f/s) to a shard that takes 1,000/s",
			elapsed.Round(time.Millisecond), offered, float64(offered)/elapsed.Seconds())
	}

	// The refused records were not stored: the shard holds the first big
	// record and the accepted small ones.
	var got []types.Record
	it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(0)),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	for readDeadline := time.Now().Add(60 * time.Second); time.Now().Before(readDeadline); {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			apiErr(t, err, "ProvisionedThroughputExceededException")
			time.Sleep(100 * time.Millisecond)
			continue
		}
		got = append(got, out.Records...)
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			break
		}
		it = aws.ToString(out.NextShardIterator)
	}
	if len(got) != bigStored+ok {
		t.Errorf("shard holds %d records, want %d (%d big + %d small accepted)", len(got), bigStored+ok, bigStored, ok)
	}
	bigCount := 0
	for _, r := range got {
		if len(r.Data) == len(big) {
			bigCount++
		}
	}
	if bigCount != bigStored {
		t.Errorf("shard holds %d big records, want the %d accepted (a throttled one must not be stored)", bigCount, bigStored)
	}
}

// TestShardReadLimit checks GetRecords (5 calls/s and 2 MiB/s per shard)
// and GetShardIterator (5 calls/s per shard) throttling.
func TestShardReadLimit(t *testing.T) {
	t.Parallel()
	srv := startServerAWSLimits(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	const name = "reads"
	createStream(t, c, name, 2)
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("a"),
		ExplicitHashKey: aws.String("0"), Data: []byte("hello")}); err != nil {
		t.Fatalf("PutRecord: %v", err)
	}

	// burst makes up to six calls in a row and returns how many succeeded
	// before the first refusal (or 6), that refusal, and the time from the
	// first call's request to the last call's answer. Five calls a second
	// with a full budget of five: six calls within 200 ms cannot all
	// succeed.
	burst := func(call func() error) (ok int, err error, span time.Duration) {
		start := time.Now()
		for ok < 6 {
			if err = call(); err != nil {
				break
			}
			ok++
		}
		return ok, err, time.Since(start)
	}
	checkBurst := func(t *testing.T, what, shard string, call func() error) {
		t.Helper()
		for attempt := 0; attempt < 5; attempt++ {
			if attempt > 0 {
				time.Sleep(1100 * time.Millisecond) // the budget refills in one second
			}
			ok, err, span := burst(call)
			switch {
			case err != nil:
				expectErr(t, err, "ProvisionedThroughputExceededException", throttleMsg(name, shard))
				if ok != 5 {
					t.Errorf("%s: call %d of 6 in a row refused; with a full budget the first 5 succeed", what, ok+1)
				}
				return
			case span < 200*time.Millisecond:
				t.Errorf("%s: 6 calls in a row within %v all succeeded; AWS allows 5 a second", what, span)
				return
			default:
				t.Logf("%s: 6 calls took %v; too slow to tell, trying again", what, span)
			}
		}
		t.Fatalf("%s: 6 calls never fit in 200 ms in 5 attempts; the machine is too slow for this test", what)
	}

	t.Run("GetRecords calls", func(t *testing.T) {
		it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(0)),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		checkBurst(t, "GetRecords", shardID(0), func() error {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
			if err == nil {
				it = aws.ToString(out.NextShardIterator)
			}
			return err
		})

		// The other shard has its own budget.
		it1 := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(1)),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if _, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it1)}); err != nil {
			t.Errorf("GetRecords on the other shard: %v", err)
		}

		// The iterator stays valid, and the shard serves reads again once
		// its budget refills.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
			if err == nil {
				break
			}
			apiErr(t, err, "ProvisionedThroughputExceededException")
			if time.Now().After(deadline) {
				t.Fatalf("GetRecords still throttled 5s after 6 calls")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("GetShardIterator calls", func(t *testing.T) {
		// Shard 0's iterator budget has been used once; a second later it
		// is full again (the budget cannot be observed, only waited out).
		time.Sleep(1100 * time.Millisecond)
		in := &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(0)), ShardIteratorType: types.ShardIteratorTypeLatest}
		checkBurst(t, "GetShardIterator", shardID(0), func() error {
			_, err := c.GetShardIterator(ctx, in)
			return err
		})
	})

	t.Run("GetRecords bytes", func(t *testing.T) {
		// 6 MiB in shard 1, written at the write limit (1 MiB/s).
		const mib = 6
		payload := bytes.Repeat([]byte{'b'}, 1<<20-1)
		for i := 0; i < mib; i++ {
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("b"),
					ExplicitHashKey: aws.String(maxHashKey.String()), Data: payload})
				if err == nil {
					break
				}
				apiErr(t, err, "ProvisionedThroughputExceededException")
				if time.Now().After(deadline) {
					t.Fatalf("1 MiB PutRecord %d throttled for 10s", i)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		// Reading 6 MiB from a budget of at most 2 MiB leaves a debt of at
		// least 4 MiB, repaid at 2 MiB/s: a GetRecords within 2 s of the
		// big read's request must be refused. A machine so slow that the
		// two calls span 2 s proves nothing, and the read is repeated.
		retry := func(what string, call func() error) {
			t.Helper()
			deadline := time.Now().Add(15 * time.Second)
			for {
				err := call()
				if err == nil {
					return
				}
				apiErr(t, err, "ProvisionedThroughputExceededException")
				if time.Now().After(deadline) {
					t.Fatalf("%s throttled for 15s", what)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		conclusive := false
		for attempt := 0; attempt < 4 && !conclusive; attempt++ {
			var it string
			retry("GetShardIterator", func() error {
				out, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(1)),
					ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				if err == nil {
					it = aws.ToString(out.ShardIterator)
				}
				return err
			})
			var first *kinesis.GetRecordsOutput
			var sent time.Time
			retry("GetRecords", func() error {
				sent = time.Now()
				out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
				first = out
				return err
			})
			if len(first.Records) != mib {
				t.Fatalf("GetRecords returned %d records, want all %d (%d MiB is under the 10 MiB per call)", len(first.Records), mib, mib)
			}
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: first.NextShardIterator})
			span := time.Since(sent)
			switch {
			case err != nil:
				expectErr(t, err, "ProvisionedThroughputExceededException", throttleMsg(name, shardID(1)))
				conclusive = true
			case span < 2*time.Second:
				t.Errorf("GetRecords %v after a %d MiB read succeeded; 2 MiB/s refuses reads for about %d s", span, mib, mib/2-1)
				conclusive = true
			default:
				t.Logf("the %d MiB read and the next call took %v; too slow to tell, trying again", mib, span)
			}
		}
		if !conclusive {
			t.Fatalf("a %d MiB GetRecords and the next call never fit in 2 s in 4 attempts; the machine is too slow for this test", mib)
		}
	})
}

// asThrottleErr describes err unless it is ProvisionedThroughputExceededException
// with AWS's message for shardId-000000000000 of stream "putrecord".
func asThrottleErr(err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Sprintf("%T %v, want ProvisionedThroughputExceededException", err, err)
	}
	if ae.ErrorCode() != "ProvisionedThroughputExceededException" || ae.ErrorMessage() != throttleMsg("putrecord", shardID(0)) {
		return fmt.Sprintf("%s %q, want ProvisionedThroughputExceededException %q", ae.ErrorCode(), ae.ErrorMessage(), throttleMsg("putrecord", shardID(0)))
	}
	return ""
}

// TestShardWriteLimitBytes checks the 1 MiB/s write limit: a PutRecords of
// four 1 MiB records has exactly one accepted, and 2 MiB/s offered in
// 64 KiB records is accepted at about 1 MiB/s.
func TestShardWriteLimitBytes(t *testing.T) {
	t.Parallel()
	srv := startServerAWSLimits(t)
	c := srv.client(exactWrites)
	ctx := context.Background()
	const name = "bytes"
	createStream(t, c, name, 1)
	wantMsg := throttleMsg(name, shardID(0))

	// Four records of exactly 1 MiB (partition key plus data).
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 4; i++ {
		key := fmt.Sprintf("k%d", i)
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: bytes.Repeat([]byte{'m'}, 1<<20-len(key))})
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords of 4 MiB: %v", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 3 || out.Records[0].ErrorCode != nil {
		t.Errorf("PutRecords of four 1 MiB records: FailedRecordCount %d, first entry error %q; want the first accepted and 3 refused",
			aws.ToInt32(out.FailedRecordCount), aws.ToString(out.Records[0].ErrorCode))
	}
	for i, r := range out.Records[1:] {
		if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" || aws.ToString(r.ErrorMessage) != wantMsg {
			t.Errorf("entry %d: %q %q, want ProvisionedThroughputExceededException %q", i+1, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage), wantMsg)
		}
	}

	// 2 MiB/s offered as 64 KiB records, 4 per call every 125 ms, for a
	// 1 s warm-up and a 6 s measured window. The bucket holds one second
	// of budget, so a pause of the load generator longer than that (a
	// loaded machine under -race) wastes refill the window then cannot
	// use: such a window says nothing of the limit, and is measured again.
	for attempt := 1; ; attempt++ {
		rate, maxGap := measureWriteBytes(t, c, name, wantMsg)
		if maxGap < 800*time.Millisecond {
			if rate < 0.9 || rate > 1.1 {
				t.Errorf("accepted %.2f MiB/s on one shard; AWS's limit is 1 MiB/s (allowed 0.9..1.1)", rate)
			}
			return
		}
		if attempt == 3 {
			t.Fatalf("the load generator paused %v between calls in each of %d windows; the limit could not be measured", maxGap, attempt)
		}
		t.Logf("window %d: a %v pause between calls; measuring again", attempt, maxGap)
	}
}

// measureWriteBytes offers 2 MiB/s of 64 KiB records to the stream's one
// shard for a 1 s warm-up and a 6 s window, and returns the rate accepted
// in the window (MiB/s) and the longest time between two calls' starts.
func measureWriteBytes(t *testing.T, c *kinesis.Client, name, wantMsg string) (float64, time.Duration) {
	t.Helper()
	const (
		recSize = 64 << 10
		window  = 6 * time.Second
	)
	ctx := context.Background()
	start := time.Now()
	measureFrom := start.Add(time.Second)
	end := measureFrom.Add(window)
	acceptedBytes, offeredBytes := 0, 0
	var last time.Time
	var maxGap time.Duration
	for next := start; next.Before(end); next = next.Add(125 * time.Millisecond) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		if !last.IsZero() {
			maxGap = max(maxGap, now.Sub(last))
		}
		last = now
		counted := !now.Before(measureFrom)
		var batch []types.PutRecordsRequestEntry
		for i := 0; i < 4; i++ {
			batch = append(batch, types.PutRecordsRequestEntry{PartitionKey: aws.String("b"), Data: bytes.Repeat([]byte{'b'}, recSize-1)})
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: batch})
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		for _, r := range out.Records {
			if r.ErrorCode != nil {
				if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" || aws.ToString(r.ErrorMessage) != wantMsg {
					t.Errorf("entry: %q %q", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
				}
			} else if counted {
				acceptedBytes += recSize
			}
		}
		if counted {
			offeredBytes += 4 * recSize
		}
	}
	// The bucket refills by the wall clock: on a loaded machine the calls
	// run late, so the measured window is the time they really took.
	elapsed := time.Since(measureFrom)
	rate := float64(acceptedBytes) / elapsed.Seconds() / (1 << 20)
	t.Logf("offered %.2f MiB/s, accepted %.2f MiB/s of 64 KiB records over %v; longest pause between calls %v",
		float64(offeredBytes)/elapsed.Seconds()/(1<<20), rate, elapsed, maxGap)
	if offeredBytes < int(1.6*(1<<20)*elapsed.Seconds()) {
		t.Fatalf("only %d bytes offered in %v; the load generator fell behind", offeredBytes, elapsed)
	}
	return rate, maxGap
}
