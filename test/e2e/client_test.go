package e2e

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

const (
	testRegion  = "us-east-1"
	testAccount = "000000000000"
	// sdkCallTimeout bounds a single SDK call's HTTP exchange.
	sdkCallTimeout = 60 * time.Second
)

// maxHashKey is 2^128-1, the top of the partition-key hash space.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

var (
	transportsMu sync.Mutex
	transports   []*http.Transport
)

// newTransport returns an HTTP/1.1 transport that closeSharedTransports
// closes at the end of the run, so goleak sees no idle-connection goroutines.
func newTransport() *http.Transport {
	tr := &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	transportsMu.Lock()
	transports = append(transports, tr)
	transportsMu.Unlock()
	return tr
}

func closeSharedTransports() {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
}

// staticCreds are dummy credentials; the server accepts any SigV4 signature.
var staticCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDSLUICETEST", SecretAccessKey: "sluice-test-secret", Source: "e2e"}, nil
})

// newKinesisClient returns an aws-sdk-go-v2 Kinesis client for endpoint: a
// BaseEndpoint override, dummy static credentials, region us-east-1, and
// retries limited to closedConnRetryer's, so that every server answer
// reaches the test as it was sent.
func newKinesisClient(t testing.TB, endpoint string, optFns ...func(*kinesis.Options)) *kinesis.Client {
	t.Helper()
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	opts := kinesis.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  staticCreds,
		Retryer:      closedConnRetryer(),
		HTTPClient:   &http.Client{Transport: tr, Timeout: sdkCallTimeout},
	}
	for _, fn := range optFns {
		fn(&opts)
	}
	return kinesis.New(opts)
}

// closedConnRetryer retries only net.ErrClosed ("use of closed network
// connection"), at most twice. Go's HTTP/1.1 transport can close a
// connection under a response it has already started to read (see
// aws/aws-sdk-go-v2#2737); the SDK's default retryer retries that error
// (aws/aws-sdk-go-v2#2949), so a client that did not would fail at random
// under load. Every other error, throttling and 5xx included, reaches the
// test unretried.
func closedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			// The SDK's deserialization error does not always wrap the
			// read error, so the text is checked too.
			if errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection") {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
		o.Timeouts = nil
		o.Throttles = nil
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 20 * time.Millisecond, nil })
	})
}

// noRetries is a per-call option for writes whose outcome a test must know
// exactly: a retried write could be applied twice.
func noRetries(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

// exactWrites is noRetries for a whole client. Such a client speaks h2c,
// because Go's HTTP/1.1 client can close a connection under a response it is
// reading (aws/aws-sdk-go-v2#2737), which only a retry would hide.
func exactWrites(o *kinesis.Options) {
	noRetries(o)
	h2c(o)
}

// client is a Kinesis client for this server.
func (s *server) client(optFns ...func(*kinesis.Options)) *kinesis.Client {
	return newKinesisClient(s.t, s.endpoint(), optFns...)
}

func streamARN(name string) string {
	return "arn:aws:kinesis:" + testRegion + ":" + testAccount + ":stream/" + name
}

func notFoundMsg(name string) string {
	return "Stream " + name + " under account " + testAccount + " not found."
}

// waiterFast makes the SDK waiters poll quickly; the server's default state
// delay is zero.
func waiterFast(o *kinesis.StreamExistsWaiterOptions) {
	o.MinDelay = 50 * time.Millisecond
	o.MaxDelay = 250 * time.Millisecond
}

func notExistsFast(o *kinesis.StreamNotExistsWaiterOptions) {
	o.MinDelay = 50 * time.Millisecond
	o.MaxDelay = 250 * time.Millisecond
}

// createStream creates a provisioned stream and waits, with the SDK's
// StreamExists waiter, until it is ACTIVE.
func createStream(t testing.TB, c *kinesis.Client, name string, shards int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(shards),
	}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(c, waiterFast)
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("wait for %s ACTIVE: %v", name, err)
	}
}

// apiErr asserts that err is an AWS API error with the given code and returns it.
func apiErr(t testing.TB, err error, code string) smithy.APIError {
	t.Helper()
	if err == nil {
		t.Fatalf("expected %s, got success", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("expected API error %s, got %T: %v", code, err, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("expected error code %s, got %s (message %q)", code, ae.ErrorCode(), ae.ErrorMessage())
	}
	return ae
}

// expectErr asserts err is code with exactly message msg.
func expectErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	ae := apiErr(t, err, code)
	if ae.ErrorMessage() != msg {
		t.Errorf("%s message:\n got: %q\nwant: %q", code, ae.ErrorMessage(), msg)
	}
}

// expectErrPrefix asserts err is code with a message starting with prefix.
func expectErrPrefix(t testing.TB, err error, code, prefix string) smithy.APIError {
	t.Helper()
	ae := apiErr(t, err, code)
	if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Errorf("%s message:\n got: %q\nwant prefix: %q", code, ae.ErrorMessage(), prefix)
	}
	return ae
}

// expectErrOneOf asserts err is an API error with one of the codes.
func expectErrOneOf(t testing.TB, err error, codes ...string) smithy.APIError {
	t.Helper()
	if err == nil {
		t.Fatalf("expected one of %v, got success", codes)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("expected API error %v, got %T: %v", codes, err, err)
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return ae
		}
	}
	t.Fatalf("expected one of %v, got %s (%q)", codes, ae.ErrorCode(), ae.ErrorMessage())
	return nil
}

var seqRE = regexp.MustCompile(`^[0-9]{56}$`)

// checkSeq asserts a sequence number is a 56-digit decimal string and
// returns its value.
func checkSeq(t testing.TB, seq *string) *big.Int {
	t.Helper()
	if seq == nil {
		t.Fatalf("sequence number missing")
	}
	if !seqRE.MatchString(*seq) {
		t.Fatalf("sequence number %q is not a 56-digit decimal string", *seq)
	}
	v, _ := new(big.Int).SetString(*seq, 10)
	return v
}

// seqLess reports a < b for decimal sequence numbers.
func seqLess(a, b string) bool {
	x, ok1 := new(big.Int).SetString(a, 10)
	y, ok2 := new(big.Int).SetString(b, 10)
	if !ok1 || !ok2 {
		return false
	}
	return x.Cmp(y) < 0
}

// hashKey is MD5(partitionKey) as an unsigned 128-bit integer.
func hashKey(partitionKey string) *big.Int {
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:])
}

// evenRanges returns the hash-key ranges AWS gives a new stream of n shards:
// shard i starts at i*floor(2^128/n); the last one ends at 2^128-1.
func evenRanges(n int) [][2]*big.Int {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([][2]*big.Int, n)
	for i := 0; i < n; i++ {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		var end *big.Int
		if i == n-1 {
			end = new(big.Int).Set(maxHashKey)
		} else {
			end = new(big.Int).Sub(new(big.Int).Mul(step, big.NewInt(int64(i+1))), big.NewInt(1))
		}
		out[i] = [2]*big.Int{start, end}
	}
	return out
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// listAllShards returns every shard of a stream via ListShards.
func listAllShards(t testing.TB, c *kinesis.Client, name string) []types.Shard {
	t.Helper()
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(name)}
	for {
		out, err := c.ListShards(context.Background(), in)
		if err != nil {
			t.Fatalf("ListShards %s: %v", name, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// shardForKey returns the id of the shard whose hash range holds h.
func shardForKey(t testing.TB, shards []types.Shard, h *big.Int) string {
	t.Helper()
	for _, s := range shards {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed
		}
		lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if lo != nil && hi != nil && lo.Cmp(h) <= 0 && h.Cmp(hi) <= 0 {
			return aws.ToString(s.ShardId)
		}
	}
	t.Fatalf("no open shard holds hash key %s", h)
	return ""
}

// iterator gets a shard iterator.
func iterator(t testing.TB, c *kinesis.Client, in *kinesis.GetShardIteratorInput) string {
	t.Helper()
	out, err := c.GetShardIterator(context.Background(), in)
	if err != nil {
		t.Fatalf("GetShardIterator %s %s: %v", aws.ToString(in.ShardId), in.ShardIteratorType, err)
	}
	it := aws.ToString(out.ShardIterator)
	if it == "" || len(it) > 512 {
		t.Fatalf("bad shard iterator %q (length %d)", it, len(it))
	}
	return it
}

// readFrom reads a shard from an iterator until it has caught up with the
// tip (an empty page with MillisBehindLatest 0) or the shard ends.
func readFrom(t testing.TB, c *kinesis.Client, it string) []types.Record {
	t.Helper()
	var recs []types.Record
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			return recs
		}
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			return recs
		}
		it = aws.ToString(out.NextShardIterator)
	}
	t.Fatalf("shard not drained within 60s (%d records so far)", len(recs))
	return nil
}

// readShard reads a whole shard from TRIM_HORIZON.
func readShard(t testing.TB, c *kinesis.Client, stream, shard string) []types.Record {
	t.Helper()
	it := iterator(t, c, &kinesis.GetShardIteratorInput{
		StreamName:        aws.String(stream),
		ShardId:           aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	return readFrom(t, c, it)
}

// checkOrdered asserts the records' sequence numbers are well formed and
// strictly increasing.
func checkOrdered(t testing.TB, recs []types.Record) {
	t.Helper()
	var prev *big.Int
	for i, r := range recs {
		v := checkSeq(t, r.SequenceNumber)
		if prev != nil && prev.Cmp(v) >= 0 {
			t.Fatalf("record %d: sequence number %s not greater than previous %s", i, v, prev)
		}
		prev = v
	}
}

// waitClockPast blocks until the wall clock is strictly after ts plus
// margin. This is a wait on a condition (the clock), with a deadline.
func waitClockPast(t testing.TB, ts time.Time, margin time.Duration) {
	t.Helper()
	target := ts.Add(margin)
	deadline := time.Now().Add(10 * time.Second)
	for !time.Now().After(target) {
		if time.Now().After(deadline) {
			t.Fatalf("clock did not pass %v", target)
		}
		time.Sleep(time.Millisecond)
	}
}
