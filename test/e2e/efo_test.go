package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// h2c makes a client speak HTTP/2 with prior knowledge on the plain port,
// as the Java and JavaScript SDKs do for SubscribeToShard.
func h2c(o *kinesis.Options) {
	tr := newTransport()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	o.HTTPClient = &http.Client{Transport: tr, Timeout: sdkCallTimeout}
}

// registerActive registers a consumer and waits until it is ACTIVE.
func registerActive(t *testing.T, c *kinesis.Client, stream, name string) string {
	t.Helper()
	ctx := context.Background()
	out, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN(stream)), ConsumerName: aws.String(name)})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer: %v", err)
	}
	arn := aws.ToString(out.Consumer.ConsumerARN)
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeStreamConsumer: %v", err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return arn
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s not ACTIVE: %s", arn, d.ConsumerDescription.ConsumerStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// subscription collects events from one SubscribeToShard stream.
type subscription struct {
	out    *kinesis.SubscribeToShardOutput
	events <-chan types.SubscribeToShardEventStream
}

func subscribe(t *testing.T, c *kinesis.Client, consumerARN, shard string, pos *types.StartingPosition) *subscription {
	t.Helper()
	out, err := c.SubscribeToShard(context.Background(), &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard), StartingPosition: pos,
	})
	if err != nil {
		t.Fatalf("SubscribeToShard: %v", err)
	}
	stream := out.GetStream()
	t.Cleanup(func() { stream.Close() })
	return &subscription{out: out, events: stream.Events()}
}

// next returns the next SubscribeToShardEvent, or nil when the stream ended.
func (s *subscription) next(t *testing.T, timeout time.Duration) *types.SubscribeToShardEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			if err := s.out.GetStream().Err(); err != nil {
				t.Fatalf("event stream: %v", err)
			}
			return nil
		}
		e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !isEvent {
			t.Fatalf("unexpected event %T", ev)
		}
		return &e.Value
	case <-time.After(timeout):
		t.Fatalf("no event within %v", timeout)
	}
	return nil
}

// TestSubscribeToShard registers a consumer, subscribes, and receives
// records put afterwards in order with the sequence numbers PutRecord gave;
// then resubscribes from the ContinuationSequenceNumber after the stream's
// lifetime ends, and sees ChildShards at a split shard's end.
func TestSubscribeToShard(t *testing.T) {
	srv := startServer(t, "--subscription-lifetime", "3s")
	c := srv.client(h2c)
	ctx := context.Background()
	createStream(t, c, "efo", 1)
	arn := registerActive(t, c, "efo", "reader")

	sub := subscribe(t, c, arn, shardID(0), &types.StartingPosition{Type: types.ShardIteratorTypeLatest})
	first := sub.next(t, 5*time.Second) // sent at once, empty
	if len(first.Records) != 0 || first.ContinuationSequenceNumber == nil {
		t.Fatalf("first event: %+v", first)
	}
	var want []string
	for i := range 20 {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("efo"), PartitionKey: aws.String("k"), Data: []byte(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, aws.ToString(out.SequenceNumber))
	}
	var got []types.Record
	var cont string
	for len(got) < len(want) {
		ev := sub.next(t, 5*time.Second)
		if ev == nil {
			t.Fatalf("stream ended after %d records", len(got))
		}
		got = append(got, ev.Records...)
		cont = aws.ToString(ev.ContinuationSequenceNumber)
	}
	for i, r := range got {
		if aws.ToString(r.SequenceNumber) != want[i] || string(r.Data) != fmt.Sprint(i) {
			t.Fatalf("record %d: %s %q, want %s", i, aws.ToString(r.SequenceNumber), r.Data, want[i])
		}
	}
	if cont != want[len(want)-1] {
		t.Fatalf("ContinuationSequenceNumber %s, want %s", cont, want[len(want)-1])
	}
	// The lifetime (3 s here, 5 minutes on AWS) ends the stream cleanly.
	for ev := sub.next(t, 10*time.Second); ev != nil; ev = sub.next(t, 10*time.Second) {
		cont = aws.ToString(ev.ContinuationSequenceNumber)
	}
	late, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("efo"), PartitionKey: aws.String("k"), Data: []byte("late")})
	if err != nil {
		t.Fatal(err)
	}
	sub = subscribe(t, c, arn, shardID(0), &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(cont)})
	ev := sub.next(t, 5*time.Second)
	if len(ev.Records) != 1 || aws.ToString(ev.Records[0].SequenceNumber) != aws.ToString(late.SequenceNumber) {
		t.Fatalf("resumed: %+v", ev)
	}
	// A split ends the shard: the last event carries ChildShards.
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("efo"), ShardToSplit: aws.String(shardID(0)),
		NewStartingHashKey: aws.String(evenRanges(2)[1][0].String())}); err != nil {
		t.Fatal(err)
	}
	for {
		ev := sub.next(t, 5*time.Second)
		if ev == nil {
			t.Fatal("stream ended without ChildShards")
		}
		if len(ev.ChildShards) > 0 {
			if len(ev.ChildShards) != 2 || ev.ContinuationSequenceNumber != nil {
				t.Fatalf("shard end: %+v", ev)
			}
			break
		}
	}
	if ev := sub.next(t, 5*time.Second); ev != nil {
		t.Fatalf("event after shard end: %+v", ev)
	}
}

// TestStreamConsumers covers the consumer operations and their errors.
func TestStreamConsumers(t *testing.T) {
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "cons", 1)
	arn := registerActive(t, c, "cons", "a")
	_, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN("cons")), ConsumerName: aws.String("a")})
	apiErr(t, err, "ResourceInUseException")
	for i := range 3 {
		registerActive(t, c, "cons", fmt.Sprint("b", i))
	}
	page, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(streamARN("cons")), MaxResults: aws.Int32(3)})
	if err != nil || len(page.Consumers) != 3 || page.NextToken == nil {
		t.Fatalf("ListStreamConsumers: %+v %v", page, err)
	}
	rest, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(streamARN("cons")), NextToken: page.NextToken})
	if err != nil || len(rest.Consumers) != 1 {
		t.Fatalf("ListStreamConsumers page 2: %+v %v", rest, err)
	}
	d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(streamARN("cons")), ConsumerName: aws.String("a")})
	if err != nil || aws.ToString(d.ConsumerDescription.ConsumerARN) != arn || aws.ToString(d.ConsumerDescription.StreamARN) != streamARN("cons") {
		t.Fatalf("DescribeStreamConsumer: %+v %v", d, err)
	}
	// Consumers take tags and resource policies by ARN.
	if _, err := c.TagResource(ctx, &kinesis.TagResourceInput{ResourceARN: aws.String(arn), Tags: map[string]string{"team": "ingest"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, &kinesis.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" {
		t.Fatalf("ListTagsForResource on a consumer: %+v %v", tags, err)
	}
	streamTags, err := c.ListTagsForResource(ctx, &kinesis.ListTagsForResourceInput{ResourceARN: aws.String(streamARN("cons"))})
	if err != nil || len(streamTags.Tags) != 0 {
		t.Fatalf("the stream got the consumer's tags: %+v %v", streamTags, err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kinesis:SubscribeToShard","Resource":"` + arn + `"}]}`
	if _, err := c.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(arn), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: aws.String(arn)})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Fatalf("GetResourcePolicy on a consumer: %+v %v", got, err)
	}
	_, err = c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn + "9"), ShardId: aws.String(shardID(0)),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	apiErr(t, err, "ResourceNotFoundException")
	_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("cons")})
	apiErr(t, err, "ResourceInUseException")
	if _, err := c.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
	apiErr(t, err, "ResourceNotFoundException")
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("cons"), EnforceConsumerDeletion: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

// TestTLSPort serves every operation on the TLS port with a self-signed
// certificate kept in the data directory, over HTTP/2, SubscribeToShard
// included.
func TestTLSPort(t *testing.T) {
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := startServer(t, "--tls-listen", tlsAddr)
	pemBytes, err := os.ReadFile(filepath.Join(srv.dataDir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	_, hc := tlsHTTPClient(t, srv)
	resp, err := hc.Get("https://" + tlsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("healthz over TLS: %d %s", resp.StatusCode, resp.Proto)
	}
	c := newKinesisClient(t, "https://"+tlsAddr, func(o *kinesis.Options) { o.HTTPClient = hc })
	createStream(t, c, "secure", 1)
	arn := registerActive(t, c, "secure", "r")
	sub := subscribe(t, c, arn, shardID(0), &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	put, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("secure"), PartitionKey: aws.String("k"), Data: []byte("over tls")})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev := sub.next(t, 5*time.Second)
		if len(ev.Records) > 0 {
			if aws.ToString(ev.Records[0].SequenceNumber) != aws.ToString(put.SequenceNumber) {
				t.Fatalf("record %+v", ev.Records[0])
			}
			break
		}
	}
	// SIGTERM ends the live subscription and the server exits; the
	// certificate is reused after a restart.
	srv.stop()
	srv.restart()
	again, err := os.ReadFile(filepath.Join(srv.dataDir, "tls-cert.pem"))
	if err != nil || string(again) != string(pemBytes) {
		t.Fatalf("certificate changed across restart: %v", err)
	}
}

// tlsHTTPClient trusts the server's self-signed certificate (from its data
// directory) and speaks HTTP/2 over TLS.
func tlsHTTPClient(t *testing.T, srv *server) (*x509.CertPool, *http.Client) {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(srv.dataDir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bad certificate file")
	}
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	tr.ForceAttemptHTTP2 = true
	return pool, &http.Client{Transport: tr, Timeout: sdkCallTimeout}
}

// TestTLSOnly: with --tls-only the plain port is not opened, the TLS port
// serves the API, and TLS below 1.2 is refused.
func TestTLSOnly(t *testing.T) {
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := startServer(t, "--tls-listen", tlsAddr, "--tls-only")
	if conn, err := net.DialTimeout("tcp", srv.addr, 5*time.Second); err == nil {
		conn.Close()
		t.Fatalf("plain port %s accepts connections with --tls-only", srv.addr)
	}
	pool, hc := tlsHTTPClient(t, srv)
	c := newKinesisClient(t, "https://"+tlsAddr, func(o *kinesis.Options) { o.HTTPClient = hc })
	createStream(t, c, "tlsonly", 1)
	if _, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("tlsonly"),
		PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	old, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr,
		&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Fatal("TLS 1.1 handshake accepted")
	}
	code, _, stderr := runSluice(t, time.Minute, "serve", "--tls-only", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "--tls-only needs --tls-listen") {
		t.Fatalf("--tls-only without --tls-listen: exit %d: %s", code, stderr)
	}
}
