package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// TestAccountAndRegion checks --account-id, its SLUICE_ACCOUNT_ID
// environment form, and that ARNs take the region of the request's SigV4
// credential scope.
func TestAccountAndRegion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("flag", func(t *testing.T) {
		srv := startServer(t, "--account-id", "123456789012")
		c := srv.client()
		createStream(t, c, "acct", 1)
		sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("acct")})
		if err != nil {
			t.Fatalf("DescribeStreamSummary: %v", err)
		}
		if got, want := aws.ToString(sum.StreamDescriptionSummary.StreamARN), "arn:aws:kinesis:us-east-1:123456789012:stream/acct"; got != want {
			t.Errorf("StreamARN %q, want %q", got, want)
		}
		_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("ghost")})
		expectErr(t, err, "ResourceNotFoundException", "Stream ghost under account 123456789012 not found.")
		// An ARN in another account names a stream that does not exist here.
		_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{
			StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/acct")})
		apiErr(t, err, "ResourceNotFoundException")
	})

	t.Run("env", func(t *testing.T) {
		srv := startServerEnv(t, t.TempDir(), []string{"SLUICE_ACCOUNT_ID=111122223333", "SLUICE_STATE_DELAY=1s"})
		c := srv.client()
		if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("envy"), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatalf("CreateStream: %v", err)
		}
		sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("envy")})
		if err != nil {
			t.Fatalf("DescribeStreamSummary: %v", err)
		}
		ss := sum.StreamDescriptionSummary
		if got, want := aws.ToString(ss.StreamARN), "arn:aws:kinesis:us-east-1:111122223333:stream/envy"; got != want {
			t.Errorf("StreamARN %q, want %q (SLUICE_ACCOUNT_ID)", got, want)
		}
		if ss.StreamStatus != types.StreamStatusCreating {
			t.Errorf("status %s right after CreateStream with SLUICE_STATE_DELAY=1s, want CREATING", ss.StreamStatus)
		}
		waitActive(t, c, "envy")
	})

	t.Run("credentialRegion", func(t *testing.T) {
		srv := startServer(t)
		eu := srv.client(func(o *kinesis.Options) { o.Region = "eu-west-1" })
		createStream(t, eu, "euro", 1)
		sum, err := eu.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{
			StreamARN: aws.String("arn:aws:kinesis:eu-west-1:000000000000:stream/euro")})
		if err != nil {
			t.Fatalf("DescribeStreamSummary by eu-west-1 ARN: %v", err)
		}
		if got, want := aws.ToString(sum.StreamDescriptionSummary.StreamARN), "arn:aws:kinesis:eu-west-1:000000000000:stream/euro"; got != want {
			t.Errorf("StreamARN %q, want %q (region from the credential scope)", got, want)
		}
		ls, err := eu.ListStreams(ctx, &kinesis.ListStreamsInput{})
		if err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
		for _, s := range ls.StreamSummaries {
			if aws.ToString(s.StreamName) == "euro" && aws.ToString(s.StreamARN) != "arn:aws:kinesis:eu-west-1:000000000000:stream/euro" {
				t.Errorf("ListStreams summary ARN %q", aws.ToString(s.StreamARN))
			}
		}
	})
}

// TestShardLimits checks the default per-shard limits (--shard-limits aws):
// writes over 1000 records/s to one shard fail per entry with
// ProvisionedThroughputExceededException, and more than 5 GetRecords calls
// a second are throttled. With --shard-limits off nothing is throttled.
func asAPIError(err error) smithy.APIError {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func TestShardLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	batch := func() []types.PutRecordsRequestEntry {
		var e []types.PutRecordsRequestEntry
		for i := 0; i < 500; i++ {
			e = append(e, types.PutRecordsRequestEntry{PartitionKey: aws.String("hot"), Data: []byte("x")})
		}
		return e
	}

	t.Run("aws", func(t *testing.T) {
		srv := startServerAWSLimits(t) // --shard-limits aws is the default
		c := srv.client()
		createStream(t, c, "hot", 1)

		// 10 concurrent PutRecords of 500 records each to one shard. A
		// limit of 1000 records/s (allowing a generous burst of another
		// 1000 and 500 of slack) bounds how many can be accepted in the
		// time they took.
		const calls = 10
		var mu sync.Mutex
		var wg sync.WaitGroup
		accepted, throttled := 0, 0
		start := time.Now()
		for i := 0; i < calls; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("hot"), Records: batch()})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					// A whole request may be refused too.
					var code string
					if ae := asAPIError(err); ae != nil {
						code = ae.ErrorCode()
					}
					if code != "ProvisionedThroughputExceededException" {
						t.Errorf("PutRecords: %v", err)
					}
					throttled += 500
					return
				}
				n := 0
				for _, r := range out.Records {
					if r.ErrorCode == nil {
						accepted++
						continue
					}
					n++
					if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" {
						t.Errorf("entry ErrorCode %q", aws.ToString(r.ErrorCode))
					}
					if aws.ToString(r.ErrorMessage) == "" || r.SequenceNumber != nil || r.ShardId != nil {
						t.Errorf("failed entry: message %q seq %v shard %v", aws.ToString(r.ErrorMessage), r.SequenceNumber, r.ShardId)
					}
				}
				if got := int(aws.ToInt32(out.FailedRecordCount)); got != n {
					t.Errorf("FailedRecordCount %d, but %d entries failed", got, n)
				}
				throttled += n
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		bound := 2500 + int(1000*elapsed.Seconds())
		t.Logf("%d records accepted, %d throttled in %v (bound %d)", accepted, throttled, elapsed, bound)
		if bound >= calls*500 {
			t.Logf("writes took %v; too slow to tell whether 1000 records/s is enforced", elapsed)
		} else if accepted > bound {
			t.Errorf("%d records accepted on one shard in %v; the 1000 records/s limit allows at most about %d", accepted, elapsed, bound)
		}

		// 20 GetRecords calls as fast as possible: 5 calls/s (plus a burst
		// of 5 and slack of 2) bounds the successes.
		it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String("hot"), ShardId: aws.String(shardID(0)),
			ShardIteratorType: types.ShardIteratorTypeLatest})
		ok := 0
		start = time.Now()
		for i := 0; i < 20; i++ {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
			if err != nil {
				apiErr(t, err, "ProvisionedThroughputExceededException")
				continue
			}
			ok++
			it = aws.ToString(out.NextShardIterator)
		}
		elapsed = time.Since(start)
		if rb := 12 + int(5*elapsed.Seconds()); rb < 20 && ok > rb {
			t.Errorf("%d of 20 GetRecords calls on one shard succeeded in %v; 5 calls/s allows about %d", ok, elapsed, rb)
		}
	})

	t.Run("off", func(t *testing.T) {
		srv := startServer(t, "--shard-limits", "off")
		c := srv.client()
		createStream(t, c, "cold", 1)
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("cold"), Records: batch()})
				if err == nil && aws.ToInt32(out.FailedRecordCount) != 0 {
					err = fmt.Errorf("%d entries failed with --shard-limits off: %s", aws.ToInt32(out.FailedRecordCount),
						aws.ToString(out.Records[0].ErrorCode))
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := len(readShard(t, c, "cold", shardID(0))); n != 2500 {
			t.Errorf("read %d records, want 2500", n)
		}
	})
}

// runDetached starts the binary with args and env in dir, waits until
// endpoint/healthz answers, stops it with sig and checks the exit status is
// 0. It returns the process output.
func runDetached(t *testing.T, dir, endpoint string, env []string, sig os.Signal, args ...string) string {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Dir = dir
	cmd.Env = append(serverBaseEnv(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	if err := waitHealthy(endpoint, done, healthTimeout); err != nil {
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v\n%s", err, out.String())
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("no exit within %v of %v\n%s", stopTimeout, sig, out.String())
	}
	if waitErr != nil {
		t.Errorf("exit after %v: %v\n%s", sig, waitErr, out.String())
	}
	return out.String()
}

// TestServeSettings checks the defaults of `sluice serve` (listen on
// 127.0.0.1:4567, data in ./sluice-data), the SLUICE_LISTEN and
// SLUICE_DATA_DIR environment forms, and a clean exit on SIGINT.
func TestServeSettings(t *testing.T) {
	t.Parallel()

	t.Run("env", func(t *testing.T) {
		dir := t.TempDir()
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		data := filepath.Join(dir, "from-env")
		runDetached(t, dir, "http://"+addr, []string{"SLUICE_LISTEN=" + addr, "SLUICE_DATA_DIR=" + data}, syscall.SIGINT, "serve")
		if st, err := os.Stat(data); err != nil || !st.IsDir() {
			t.Errorf("SLUICE_DATA_DIR=%s: no data directory created (%v)", data, err)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:4567")
		if err != nil {
			t.Skipf("default port 127.0.0.1:4567 is busy: %v", err)
		}
		l.Close()
		dir := t.TempDir()
		runDetached(t, dir, "http://127.0.0.1:4567", nil, syscall.SIGTERM, "serve")
		if st, err := os.Stat(filepath.Join(dir, "sluice-data")); err != nil || !st.IsDir() {
			t.Errorf("no ./sluice-data created by default (%v)", err)
		}
	})
}
