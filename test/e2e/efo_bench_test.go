package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Put-to-consumer latency benchmarks: one shard, a producer putting
// benchRecords records at benchRate with PutRecord, each record carrying
// its index and the wall-clock time its PutRecord call began; the consumer
// takes the time each record reaches it minus that send time. They report
// p50-ms, p99-ms and max-ms of that latency; put-p50-ms and put-p99-ms of
// the PutRecord calls themselves (fsync included: the server acknowledges
// and publishes a record only once it is durable); ack-to-recv-p50-ms and
// -p99-ms, receive time minus PutRecord's return, which is what delivery
// adds; and put-rec/s, the producer's achieved rate, which falls below
// benchRate when the machine cannot keep up. Run them with
//
//	go test -run '^$' -bench PutTo -benchtime 1x ./test/e2e/
//
// Each b.N iteration is one full run of benchRecords records.
const (
	benchRecords = 5000
	benchRate    = 1000 // records per second
	// benchProducers is the number of PutRecord callers the ticker feeds,
	// so that one slow call (an fsync that takes a few milliseconds) does
	// not lower the offered rate.
	benchProducers = 16
	// benchRecordBytes is each record's data size: index, send time, padding.
	benchRecordBytes = 100
	// benchDrainTimeout bounds how long the consumer may take to see the
	// last record after the producer finished.
	benchDrainTimeout = 30 * time.Second
)

// latencyRun is the measurements of one benchmark run, indexed by record
// index. The producer writes sentAt and ackedAt, the consumer recvAt (once
// per record, guarded by seen); both are read after the run, ordered by the
// producer's WaitGroup and the consumer's count.
type latencyRun struct {
	sentAt  []int64 // UnixNano when PutRecord was called
	ackedAt []int64 // UnixNano when PutRecord returned
	recvAt  []int64 // UnixNano when the consumer got the record
	seen    []atomic.Bool
	count   atomic.Int64  // records received
	elapsed time.Duration // producer's first call to last return
}

func newLatencyRun(n int) *latencyRun {
	return &latencyRun{sentAt: make([]int64, n), ackedAt: make([]int64, n), recvAt: make([]int64, n), seen: make([]atomic.Bool, n)}
}

// benchRecord encodes record i with its send time.
func benchRecord(i int, sentNanos int64) []byte {
	data := make([]byte, benchRecordBytes)
	binary.BigEndian.PutUint64(data[0:8], uint64(i))
	binary.BigEndian.PutUint64(data[8:16], uint64(sentNanos))
	return data
}

// receive records one record's arrival at now. A record that is not one of
// ours, or that arrives twice, fails the benchmark.
func (r *latencyRun) receive(b *testing.B, data []byte, now int64) {
	if len(data) != benchRecordBytes {
		b.Errorf("record of %d bytes, want %d", len(data), benchRecordBytes)
		return
	}
	i := int(binary.BigEndian.Uint64(data[0:8]))
	if i < 0 || i >= len(r.seen) {
		b.Errorf("record index %d out of range", i)
		return
	}
	if r.seen[i].Swap(true) {
		b.Errorf("record %d received twice", i)
		return
	}
	if sent := int64(binary.BigEndian.Uint64(data[8:16])); sent != r.sentAt[i] {
		b.Errorf("record %d carries send time %d, the producer's was %d", i, sent, r.sentAt[i])
	}
	r.recvAt[i] = now
	r.count.Add(1)
}

// produce puts n records at benchRate. A ticker paces the sends; a pool of
// benchProducers goroutines makes the calls.
func (r *latencyRun) produce(b *testing.B, c *kinesis.Client, stream string) {
	n := len(r.sentAt)
	work := make(chan int, n)
	var wg sync.WaitGroup
	for range benchProducers {
		wg.Go(func() {
			for i := range work {
				sent := time.Now().UnixNano()
				r.sentAt[i] = sent
				_, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{
					StreamName: aws.String(stream), PartitionKey: aws.String("bench"), Data: benchRecord(i, sent),
				}, noRetries)
				r.ackedAt[i] = time.Now().UnixNano()
				if err != nil {
					b.Errorf("PutRecord %d: %v", i, err)
				}
			}
		})
	}
	// A ticker drops ticks when its reader is late, which on a busy
	// machine would lower the rate; so each tick sends every record that
	// is due by then (record i is due at start + i/benchRate).
	interval := time.Second / benchRate
	tick := time.NewTicker(interval)
	start := time.Now()
	for next := 0; next < n; {
		<-tick.C
		due := min(int(time.Since(start)/interval)+1, n)
		for ; next < due; next++ {
			work <- next
		}
	}
	tick.Stop()
	close(work)
	wg.Wait()
	r.elapsed = time.Since(start)
}

// waitReceived waits until every record has been received or the deadline
// passes.
func (r *latencyRun) waitReceived(b *testing.B, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for r.count.Load() < int64(len(r.seen)) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d records within %v of the last put", r.count.Load(), len(r.seen), timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// latencyStats accumulates runs and reports their percentiles.
type latencyStats struct {
	lat, put, afterAck []time.Duration
	records            int
	elapsed            time.Duration
}

func (s *latencyStats) add(r *latencyRun) {
	for i := range r.sentAt {
		s.lat = append(s.lat, time.Duration(r.recvAt[i]-r.sentAt[i]))
		s.put = append(s.put, time.Duration(r.ackedAt[i]-r.sentAt[i]))
		s.afterAck = append(s.afterAck, time.Duration(r.recvAt[i]-r.ackedAt[i]))
	}
	s.records += len(r.sentAt)
	s.elapsed += r.elapsed
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s *latencyStats) report(b *testing.B) {
	slices.Sort(s.lat)
	slices.Sort(s.put)
	slices.Sort(s.afterAck)
	b.ReportMetric(ms(percentile(s.lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(s.lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(s.lat[len(s.lat)-1]), "max-ms")
	b.ReportMetric(ms(percentile(s.put, 0.50)), "put-p50-ms")
	b.ReportMetric(ms(percentile(s.put, 0.99)), "put-p99-ms")
	// Receive time minus PutRecord's return: what delivery adds once the
	// record is durable. Negative when the consumer had the record before
	// the producer had its answer.
	b.ReportMetric(ms(percentile(s.afterAck, 0.50)), "ack-to-recv-p50-ms")
	b.ReportMetric(ms(percentile(s.afterAck, 0.99)), "ack-to-recv-p99-ms")
	b.ReportMetric(float64(s.records)/s.elapsed.Seconds(), "put-rec/s")
}

// protoRecorder is an aws.HTTPClient that remembers the HTTP major version
// of the responses it saw, so a benchmark can assert it ran over HTTP/2.
type protoRecorder struct {
	c     *http.Client
	proto atomic.Int32
}

func (p *protoRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := p.c.Do(req)
	if err == nil {
		p.proto.Store(int32(resp.ProtoMajor))
	}
	return resp, err
}

// h2cClient is a Kinesis client that speaks HTTP/2 with prior knowledge
// (h2c) to a plain http:// endpoint, as the Java SDK's async client does
// for SubscribeToShard.
func h2cClient(tb testing.TB, endpoint string) (*kinesis.Client, *protoRecorder) {
	rec := h2cHTTPClient(tb)
	return newKinesisClient(tb, endpoint, func(o *kinesis.Options) { o.HTTPClient = rec }), rec
}

// h2cHTTPClient is an HTTP client that speaks only h2c, with no timeout: a
// subscription is one long response.
func h2cHTTPClient(tb testing.TB) *protoRecorder {
	tr := newTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &protoRecorder{c: &http.Client{Transport: tr}}
}

// BenchmarkPutToSubscriber measures put-to-subscriber latency over
// enhanced fan-out: aws-sdk-go-v2 SubscribeToShard over h2c.
func BenchmarkPutToSubscriber(b *testing.B) {
	srv := startServer(b)
	producer := srv.client()
	sc, proto := h2cClient(b, srv.endpoint())
	var stats latencyStats
	for iter := 0; b.Loop(); iter++ {
		stream := fmt.Sprintf("bench-efo-%d", iter)
		createStream(b, producer, stream, 1)
		arn := registerActiveTB(b, producer, stream, "bench")
		out, err := sc.SubscribeToShard(context.Background(), &kinesis.SubscribeToShardInput{
			ConsumerARN: aws.String(arn), ShardId: aws.String(shardID(0)),
			StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest},
		})
		if err != nil {
			b.Fatalf("SubscribeToShard: %v", err)
		}
		if got := proto.proto.Load(); got != 2 {
			b.Fatalf("SubscribeToShard answered over HTTP/%d, want HTTP/2 (h2c)", got)
		}
		es := out.GetStream()
		run := newLatencyRun(benchRecords)
		// The first event comes at once and fixes LATEST; put only after it.
		var first types.SubscribeToShardEventStream
		select {
		case ev, ok := <-es.Events():
			if !ok {
				b.Fatalf("subscription ended before its first event: %v", es.Err())
			}
			first = ev
		case <-time.After(10 * time.Second):
			b.Fatal("no first event within 10s")
		}
		if _, isEvent := first.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); !isEvent {
			b.Fatalf("first event %T", first)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for ev := range es.Events() {
				now := time.Now().UnixNano()
				e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
				if !isEvent {
					b.Errorf("unexpected event %T", ev)
					continue
				}
				for _, rec := range e.Value.Records {
					run.receive(b, rec.Data, now)
				}
			}
		})
		run.produce(b, producer, stream)
		run.waitReceived(b, benchDrainTimeout)
		es.Close()
		wg.Wait()
		if err := es.Err(); err != nil {
			b.Errorf("event stream: %v", err)
		}
		stats.add(run)
	}
	stats.report(b)
}

// BenchmarkPutToGetRecords is the polling comparison: a GetRecords loop
// paced like the KCL's polling consumer (one call per
// idleTimeBetweenReadsInMillis, 1,000 ms by default), and a 200 ms
// variant (AWS's limit of 5 GetRecords calls per second per shard).
func BenchmarkPutToGetRecords(b *testing.B) {
	for _, every := range []time.Duration{time.Second, 200 * time.Millisecond} {
		b.Run(fmt.Sprintf("poll=%v", every), func(b *testing.B) {
			srv := startServer(b)
			producer := srv.client()
			consumer := srv.client()
			var stats latencyStats
			for iter := 0; b.Loop(); iter++ {
				stream := fmt.Sprintf("bench-poll-%d", iter)
				createStream(b, producer, stream, 1)
				it := iterator(b, consumer, &kinesis.GetShardIteratorInput{
					StreamName: aws.String(stream), ShardId: aws.String(shardID(0)), ShardIteratorType: types.ShardIteratorTypeLatest,
				})
				run := newLatencyRun(benchRecords)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() { pollLoop(b, consumer, it, every, run, stop) })
				run.produce(b, producer, stream)
				run.waitReceived(b, benchDrainTimeout)
				close(stop)
				wg.Wait()
				stats.add(run)
			}
			stats.report(b)
		})
	}
}

// pollLoop calls GetRecords once per tick, as the KCL's polling consumer
// does, until stop closes.
func pollLoop(b *testing.B, c *kinesis.Client, it string, every time.Duration, run *latencyRun, stop <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		now := time.Now().UnixNano()
		if err != nil {
			b.Errorf("GetRecords: %v", err)
			return
		}
		for _, rec := range out.Records {
			run.receive(b, rec.Data, now)
		}
		it = aws.ToString(out.NextShardIterator)
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// registerActiveTB is registerActive for benchmarks.
func registerActiveTB(tb testing.TB, c *kinesis.Client, stream, name string) string {
	tb.Helper()
	ctx := context.Background()
	out, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN(stream)), ConsumerName: aws.String(name)})
	if err != nil {
		tb.Fatalf("RegisterStreamConsumer: %v", err)
	}
	arn := aws.ToString(out.Consumer.ConsumerARN)
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
		if err != nil {
			tb.Fatalf("DescribeStreamConsumer: %v", err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return arn
		}
		if time.Now().After(deadline) {
			tb.Fatalf("consumer %s not ACTIVE: %s", arn, d.ConsumerDescription.ConsumerStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
