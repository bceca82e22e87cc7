package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"

	"github.com/sluicedata/sluice/internal/auth"
	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/kinesis"
	"github.com/sluicedata/sluice/internal/server"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

// TestMain fails the package if a run leaves a goroutine behind: Run owns
// every goroutine and connection it starts.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testDeadline bounds one run in the tests; a run that hangs fails
// instead of stalling the suite.
const testDeadline = 2 * time.Minute

// testServer is the real request path (HTTP/1.1 and h2c, SigV4, the
// kinesis handler, the engine, storage with fsync) in-process.
type testServer struct {
	url string
	sdk *sdk.Client
}

type serverOptions struct {
	limits engine.ShardLimits
	sigv4  bool
}

func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(vfs.Default(), t.TempDir(), storage.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Open(engine.Config{Logger: quiet, ShardLimits: o.limits}, st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	cfg := server.Config{Logger: quiet, AccountID: "000000000000"}
	if o.sigv4 {
		cfg.Verifier = auth.NewVerifier(&auth.CredentialsFile{Users: []auth.User{{
			Name:       "bench",
			AccessKeys: []auth.AccessKey{{AccessKeyID: DummyCredentials.AccessKeyID, SecretAccessKey: DummyCredentials.SecretAccessKey}},
			Policies: []json.RawMessage{json.RawMessage(
				`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}`)},
		}}}, nil)
	}
	ts := httptest.NewUnstartedServer(server.New(cfg, kinesis.New(eng, quiet)))
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetHTTP1(true)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
		eng.Close()
		st.Close()
	})
	client := sdk.New(sdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), HTTPClient: &http.Client{Transport: tr},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: DummyCredentials.AccessKeyID, SecretAccessKey: DummyCredentials.SecretAccessKey}, nil
		}),
	})
	return &testServer{url: ts.URL, sdk: client}
}

// stored counts the records the server holds in stream, read back with
// aws-sdk-go-v2 rather than the benchmark's own parser.
func (s *testServer) stored(t *testing.T, stream string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	shards, err := s.sdk.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sh := range shards.Shards {
		it, err := s.sdk.GetShardIterator(ctx, &sdk.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for {
			out, err := s.sdk.GetRecords(ctx, &sdk.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			n += int64(len(out.Records))
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return n
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Mode, err)
	}
	if res.Errors != 0 {
		t.Errorf("%s: %d errors, first: %s", cfg.Mode, res.Errors, res.ErrorSample)
	}
	return res
}

func TestPutStoresWhatItCounts(t *testing.T) {
	srv := startServer(t, serverOptions{sigv4: true})
	for _, tc := range []struct {
		name, protocol, api string
		batch, size         int
	}{
		{"json", "json", "putrecords", 100, 100},
		{"cbor", "cbor", "putrecords", 50, 1024},
		{"putrecord", "json", "putrecord", 0, 20},
		{"tiny records", "cbor", "putrecords", 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := "put-" + tc.protocol + "-" + tc.api + "-" + time.Now().Format("150405.000000")
			res := run(t, Config{Mode: ModePut, Endpoint: srv.url, Stream: stream, Keep: true, Protocol: tc.protocol, API: tc.api,
				Batch: tc.batch, RecordSize: tc.size, Shards: 3, Producers: 2, Duration: 500 * time.Millisecond})
			if res.Records == 0 || res.Calls == 0 {
				t.Fatalf("no records acknowledged: %+v", res)
			}
			if got := srv.stored(t, stream); got != res.Records {
				t.Errorf("reported %d records, the stream holds %d", res.Records, got)
			}
			if res.Bytes != res.Records*int64(tc.size) {
				t.Errorf("bytes %d, want %d x %d", res.Bytes, res.Records, tc.size)
			}
			if l := res.Latency.Calls; l == nil || l.Count != res.Calls || l.P50 <= 0 || l.Max < l.P99 {
				t.Errorf("call latency %+v for %d calls", l, res.Calls)
			}
		})
	}
}

// TestPutRate checks pacing: a paced run never writes more than its rate
// allows (plus one call per producer), whatever the machine's speed.
func TestPutRate(t *testing.T) {
	srv := startServer(t, serverOptions{})
	const rate, batch, producers = 2000, 50, 2
	duration := 700 * time.Millisecond
	res := run(t, Config{Mode: ModePut, Endpoint: srv.url, Rate: rate, Batch: batch, Producers: producers, Shards: 2, Duration: duration})
	ceiling := int64(rate*duration.Seconds()) + producers*batch
	if res.Records == 0 || res.Records > ceiling {
		t.Errorf("paced at %d records/s for %v: %d records, want 1..%d", rate, duration, res.Records, ceiling)
	}
	if res.Settings.Rate != rate || res.Settings.Batch != batch {
		t.Errorf("settings %+v", res.Settings)
	}
}

// TestPutCountsThrottles runs into AWS's per-shard write limit: refused
// entries are throttles, not errors, and only acknowledged records count.
func TestPutCountsThrottles(t *testing.T) {
	limits := engine.AWSShardLimits()
	srv := startServer(t, serverOptions{limits: limits})
	stream := "throttled"
	res, err := Run(context.Background(), Config{Mode: ModePut, Endpoint: srv.url, Stream: stream, Keep: true, Shards: 1,
		Producers: 4, Batch: 500, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Throttles == 0 || res.Errors != 0 {
		t.Errorf("throttles %d errors %d (%s), want throttles and no errors", res.Throttles, res.Errors, res.ErrorSample)
	}
	if got := srv.stored(t, stream); got != res.Records {
		t.Errorf("reported %d records, the stream holds %d", res.Records, got)
	}
}

func TestGetDrainsWhatWasPut(t *testing.T) {
	srv := startServer(t, serverOptions{})
	for _, tc := range []struct {
		protocol      string
		readers, fill int
	}{{"json", 0, 3000}, {"cbor", 0, 2500}, {"json", 6, 1000}} {
		t.Run(tc.protocol, func(t *testing.T) {
			stream := "get-" + time.Now().Format("150405.000000")
			res := run(t, Config{Mode: ModeGet, Endpoint: srv.url, Stream: stream, Keep: true, Protocol: tc.protocol,
				Fill: tc.fill, Readers: tc.readers, Shards: 3, Batch: 100, Limit: 700})
			if res.Fill == nil || res.Fill.Records < int64(tc.fill) {
				t.Fatalf("fill %+v, want at least %d records", res.Fill, tc.fill)
			}
			put := res.Fill.Records
			if stored := srv.stored(t, stream); stored != put {
				t.Errorf("fill reported %d records, the stream holds %d", put, stored)
			}
			want := put // each of the 3 shards is read by readers/3 readers
			if tc.readers > 0 {
				want = put * int64(tc.readers) / 3
			}
			if res.Records != want || res.Bytes != want*100 {
				t.Errorf("drained %d records (%d bytes), want %d", res.Records, res.Bytes, want)
			}
			if res.Settings.Fill != tc.fill {
				t.Errorf("settings %+v", res.Settings)
			}
		})
	}
}

func TestE2E(t *testing.T) {
	srv := startServer(t, serverOptions{sigv4: true})
	for _, tc := range []struct {
		name      string
		mode      Mode
		consume   string
		consumers int
		protocol  string
		frameSize int // 0: the default
		size      int // record size; 0: the default
	}{
		{"poll", ModeE2E, "poll", 1, "json", 0, 0},
		{"poll cbor", ModeE2E, "poll", 2, "cbor", 0, 0},
		{"subscribe", ModeE2E, "subscribe", 1, "json", 0, 0},
		{"subscribe cbor", ModeE2E, "subscribe", 1, "cbor", 0, 0},
		{"fanout", ModeFanout, "", 3, "cbor", 0, 0},
		// Events of about 60 KB, each in one DATA frame.
		{"subscribe 1 MiB frames", ModeE2E, "subscribe", 2, "json", 1 << 20, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, Config{Mode: tc.mode, Endpoint: srv.url, Consume: tc.consume, Consumers: tc.consumers, Protocol: tc.protocol,
				Shards: 2, Producers: 2, Rate: 2000, Batch: 20, Duration: time.Second, PollInterval: 20 * time.Millisecond,
				FrameSize: tc.frameSize, RecordSize: tc.size})
			if f := res.Settings.FrameSize; tc.consume == "poll" && f != 0 || tc.consume != "poll" && f != max(tc.frameSize, 16<<10) {
				t.Errorf("settings report frame size %d", f)
			}
			want := res.Records * int64(tc.consumers)
			if res.Records == 0 || res.Delivered != want {
				t.Fatalf("put %d records, delivered %d, want %d", res.Records, res.Delivered, want)
			}
			l := res.Latency.E2E
			if l == nil || l.Count != want || l.P50 <= 0 || l.Max < l.P99 || l.P99 < l.P50 {
				t.Errorf("put-to-read latency %+v for %d deliveries", l, want)
			}
		})
	}
}

// TestE2EWarmup: the warm-up's records are written and read but not
// measured: the stream holds both phases' records, while Records,
// Delivered and the latency count only the measured phase's.
func TestE2EWarmup(t *testing.T) {
	srv := startServer(t, serverOptions{})
	for _, consume := range []string{"poll", "subscribe"} {
		t.Run(consume, func(t *testing.T) {
			res := run(t, Config{Mode: ModeE2E, Endpoint: srv.url, Consume: consume, Keep: true, Shards: 2, Producers: 2,
				Rate: 2000, Batch: 20, Warmup: 500 * time.Millisecond, Duration: 500 * time.Millisecond, PollInterval: 20 * time.Millisecond})
			if res.Settings.WarmupSec != 0.5 {
				t.Errorf("settings %+v", res.Settings)
			}
			stored := srv.stored(t, res.Settings.Stream)
			if res.Records == 0 || stored <= res.Records {
				t.Fatalf("measured %d records, the stream holds %d: want the warm-up's on top", res.Records, stored)
			}
			if res.Delivered != res.Records || res.Errors != 0 {
				t.Errorf("measured %d records, delivered %d, errors %d (%s)", res.Records, res.Delivered, res.Errors, res.ErrorSample)
			}
			if l := res.Latency.E2E; l == nil || l.Count != res.Records {
				t.Errorf("put-to-read latency %+v, want %d measured", l, res.Records)
			}
		})
	}
}

// TestExistingStream runs against a stream the run must neither create
// nor delete.
func TestExistingStream(t *testing.T) {
	srv := startServer(t, serverOptions{})
	ctx := context.Background()
	if _, err := srv.sdk.CreateStream(ctx, &sdk.CreateStreamInput{StreamName: aws.String("mine"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	res := run(t, Config{Mode: ModePut, Endpoint: srv.url, Stream: "mine", NoCreate: true, Duration: 300 * time.Millisecond, Batch: 10})
	if res.Settings.Shards != 2 {
		t.Errorf("shards %d, want the stream's 2", res.Settings.Shards)
	}
	if got := srv.stored(t, "mine"); got != res.Records {
		t.Errorf("reported %d, stream holds %d", res.Records, got)
	}
	if _, err := Run(ctx, Config{Mode: ModePut, Endpoint: srv.url, Stream: "mine", Duration: time.Millisecond}); err == nil {
		t.Error("a run that would create an existing stream did not fail")
	}
	if got := srv.stored(t, "mine"); got != res.Records {
		t.Errorf("after the refused run the stream holds %d, want %d", got, res.Records)
	}
}

func TestRunDeletesItsStream(t *testing.T) {
	srv := startServer(t, serverOptions{})
	res := run(t, Config{Mode: ModePut, Endpoint: srv.url, Duration: 100 * time.Millisecond, Batch: 10})
	_, err := srv.sdk.DescribeStreamSummary(context.Background(), &sdk.DescribeStreamSummaryInput{StreamName: aws.String(res.Settings.Stream)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("stream %s after the run: %v, want ResourceNotFoundException", res.Settings.Stream, err)
	}
}

func TestRunFailsWithoutServer(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	if _, err := Run(context.Background(), Config{Mode: ModePut, Endpoint: url}); err == nil {
		t.Error("a run against a closed port did not fail")
	}
}

func TestDisk(t *testing.T) {
	res, err := Run(context.Background(), Config{Mode: ModeDisk, Dir: t.TempDir(), DiskBytes: 1 << 20, DiskBlock: 64 << 10, DiskSyncs: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 1<<20 || res.MiBPerSec <= 0 {
		t.Errorf("bytes %d, %.1f MiB/s", res.Bytes, res.MiBPerSec)
	}
	if l := res.Latency.BlockFsync; l == nil || l.Count != 16 {
		t.Errorf("block fsync latency %+v, want 16 samples", l)
	}
	if l := res.Latency.Fsync; l == nil || l.Count != 20 {
		t.Errorf("fsync latency %+v, want 20 samples", l)
	}
}
