package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
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

// TestProtocolErrors checks protocol-level answers to raw JSON requests.
func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	hc := rawHTTPClient(t)

	t.Run("healthz", func(t *testing.T) {
		resp, err := hc.Get(srv.endpoint() + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/healthz status %d", resp.StatusCode)
		}
	})

	t.Run("UnknownOperation", func(t *testing.T) {
		r := rawCall(t, hc, srv.endpoint(), "NoSuchOperation", ctJSON, []byte(`{}`))
		expectJSONError(t, r, 400, "UnknownOperationException")
	})

	t.Run("MalformedJSON", func(t *testing.T) {
		r := rawCall(t, hc, srv.endpoint(), "ListStreams", ctJSON, []byte(`{"Limit": 5,`))
		expectJSONError(t, r, 400, "SerializationException")
	})

	t.Run("WrongJSONType", func(t *testing.T) {
		r := rawCall(t, hc, srv.endpoint(), "ListStreams", ctJSON, []byte(`{"Limit": "five"}`))
		expectJSONError(t, r, 400, "SerializationException")
	})

	t.Run("SuccessHeaders", func(t *testing.T) {
		r, m := jsonCall(t, hc, srv.endpoint(), "ListStreams", map[string]any{})
		if r.Status != 200 {
			t.Fatalf("ListStreams status %d: %s", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != ctJSON {
			t.Errorf("Content-Type %q, want %s", ct, ctJSON)
		}
		if r.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("no x-amzn-RequestId")
		}
		if _, ok := m["StreamNames"]; !ok {
			t.Errorf("ListStreams body %s has no StreamNames", r.Body)
		}
		if v, ok := m["HasMoreStreams"]; !ok || v != false {
			t.Errorf("ListStreams HasMoreStreams = %v", v)
		}
	})

	t.Run("JSONErrorShape", func(t *testing.T) {
		r, _ := jsonCall(t, hc, srv.endpoint(), "DescribeStream", map[string]any{"StreamName": "ghost"})
		if msg := expectJSONError(t, r, 400, "ResourceNotFoundException"); msg != notFoundMsg("ghost") {
			t.Errorf("message %q", msg)
		}
	})

	t.Run("JSONTimestampsAndBlobs", func(t *testing.T) {
		r, _ := jsonCall(t, hc, srv.endpoint(), "CreateStream", map[string]any{"StreamName": "rawjson", "ShardCount": 1})
		if r.Status != 200 {
			t.Fatalf("CreateStream: %d %s", r.Status, r.Body)
		}
		waitActive(t, srv.client(), "rawjson")
		data := []byte{0, 1, 2, 0xff}
		r, m := jsonCall(t, hc, srv.endpoint(), "PutRecord", map[string]any{
			"StreamName": "rawjson", "PartitionKey": "k", "Data": base64.StdEncoding.EncodeToString(data)})
		if r.Status != 200 {
			t.Fatalf("PutRecord: %d %s", r.Status, r.Body)
		}
		// AT_TIMESTAMP as epoch seconds with a fraction, as SDKs send it.
		ts := float64(time.Now().Add(-time.Minute).UnixMilli()) / 1000
		r, m = jsonCall(t, hc, srv.endpoint(), "GetShardIterator", map[string]any{
			"StreamName": "rawjson", "ShardId": shardID(0), "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts})
		if r.Status != 200 {
			t.Fatalf("GetShardIterator: %d %s", r.Status, r.Body)
		}
		r, m = jsonCall(t, hc, srv.endpoint(), "GetRecords", map[string]any{"ShardIterator": m["ShardIterator"]})
		if r.Status != 200 {
			t.Fatalf("GetRecords: %d %s", r.Status, r.Body)
		}
		recs, _ := m["Records"].([]any)
		if len(recs) != 1 {
			t.Fatalf("GetRecords: %s", r.Body)
		}
		rec := recs[0].(map[string]any)
		if rec["Data"] != base64.StdEncoding.EncodeToString(data) {
			t.Errorf("Data %v, want base64 %s", rec["Data"], base64.StdEncoding.EncodeToString(data))
		}
		arr, ok := rec["ApproximateArrivalTimestamp"].(float64)
		if !ok {
			t.Fatalf("ApproximateArrivalTimestamp %v is not a JSON number", rec["ApproximateArrivalTimestamp"])
		}
		if d := time.Since(time.UnixMilli(int64(arr * 1000))); d < -5*time.Second || d > time.Minute {
			t.Errorf("ApproximateArrivalTimestamp %v is not epoch seconds near now", arr)
		}
	})

	t.Run("BodyTooLarge", func(t *testing.T) {
		if _, err := srv.client().CreateStream(context.Background(), &kinesis.CreateStreamInput{
			StreamName: aws.String("big"), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatalf("CreateStream: %v", err)
		}
		waitActive(t, srv.client(), "big")
		// A well-formed PutRecord whose body (about 43 MiB) is far over any
		// sensible request limit.
		const n = 32 << 20
		prefix := `{"StreamName":"big","PartitionKey":"k","Data":"`
		suffix := `"}`
		b64len := base64.StdEncoding.EncodedLen(n)
		body := io.MultiReader(strings.NewReader(prefix), &repeatReader{b: 'A', n: int64(b64len)}, strings.NewReader(suffix))
		req, _ := http.NewRequest(http.MethodPost, srv.endpoint()+"/", body)
		req.ContentLength = int64(len(prefix) + b64len + len(suffix))
		now := time.Now()
		req.Header.Set("Content-Type", ctJSON)
		req.Header.Set("X-Amz-Target", targetBase+"PutRecord")
		req.Header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
		req.Header.Set("Authorization", fakeSigV4(now))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("oversize POST: %v (the server should answer 413 or an AWS error, not drop the connection)", err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusRequestEntityTooLarge:
		case http.StatusBadRequest:
			expectJSONError(t, rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: rb}, 400, "ValidationException")
		default:
			t.Errorf("oversize body: status %d %q, want 413 or a 400 AWS error", resp.StatusCode, truncate(rb, 300))
		}
		// The server is still healthy.
		if err := waitHealthy(srv.endpoint(), nil, 5*time.Second); err != nil {
			t.Errorf("after oversize body: %v", err)
		}
	})
}

// repeatReader yields n copies of byte b.
type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// waitActive waits for a stream to be ACTIVE with the SDK waiter.
func waitActive(t testing.TB, c *kinesis.Client, name string) {
	t.Helper()
	if err := kinesis.NewStreamExistsWaiter(c, waiterFast).Wait(context.Background(),
		&kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("wait for %s ACTIVE: %v", name, err)
	}
}

// TestH2C talks HTTP/2 with prior knowledge (no TLS, no Upgrade), as the
// Java SDK's Netty client does on http:// endpoints.
func TestH2C(t *testing.T) {
	t.Parallel()
	srv := startServer(t)

	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: protos}
	transportsMu.Lock()
	transports = append(transports, tr)
	transportsMu.Unlock()
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	r := rawCall(t, hc, srv.endpoint(), "ListStreams", ctJSON, []byte(`{}`))
	if r.Status != 200 || r.Proto != "HTTP/2.0" {
		t.Fatalf("ListStreams over h2c: status %d proto %s body %s", r.Status, r.Proto, r.Body)
	}

	// The SDK over h2c, end to end.
	c := newKinesisClient(t, srv.endpoint(), func(o *kinesis.Options) { o.HTTPClient = hc })
	createStream(t, c, "h2c", 1)
	out, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("h2c"), PartitionKey: aws.String("k"), Data: []byte("over h2")})
	if err != nil {
		t.Fatalf("PutRecord over h2c: %v", err)
	}
	recs := readShard(t, c, "h2c", shardID(0))
	if len(recs) != 1 || string(recs[0].Data) != "over h2" || aws.ToString(recs[0].SequenceNumber) != aws.ToString(out.SequenceNumber) {
		t.Errorf("read back over h2c: %+v", recs)
	}

	// Concurrent streams on one connection.
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func(i int) {
			_, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("h2c"),
				PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte("x")})
			errs <- err
		}(i)
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent PutRecord over h2c: %v", err)
		}
	}
}

// TestStartupFailures checks that sluice refuses to start, with one clear
// line on stderr and a non-zero exit, when its port is taken or its data
// directory is unusable.
func TestStartupFailures(t *testing.T) {
	t.Parallel()

	checkOneLine := func(t *testing.T, stderr string, mentions ...string) {
		t.Helper()
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 {
			t.Errorf("want exactly one line on stderr, got %d:\n%s", len(lines), stderr)
		}
		for _, m := range mentions {
			if !strings.Contains(stderr, m) {
				t.Errorf("stderr %q does not mention %q", stderr, m)
			}
		}
	}

	t.Run("PortInUse", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addr := l.Addr().String()
		code, _, stderr := runSluice(t, 30*time.Second, "serve", "--listen", addr, "--data-dir", t.TempDir())
		if code == 0 {
			t.Errorf("sluice exited 0 with %s in use", addr)
		}
		checkOneLine(t, stderr, addr)
	})

	t.Run("DataDirUnderFile", func(t *testing.T) {
		// Running as root ignores permission bits, so make the data
		// directory impossible to create: its parent is a regular file.
		file := filepath.Join(t.TempDir(), "not-a-dir")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(file, "data")
		code, _, stderr := runSluice(t, 30*time.Second, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--data-dir", dir)
		if code == 0 {
			t.Errorf("sluice exited 0 with data dir %s", dir)
		}
		checkOneLine(t, stderr, file)
	})

	t.Run("DataDirIsFile", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "plain-file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runSluice(t, 30*time.Second, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--data-dir", file)
		if code == 0 {
			t.Errorf("sluice exited 0 with a regular file as data dir")
		}
		checkOneLine(t, stderr, file)
	})

	t.Run("IncompatibleDataDir", func(t *testing.T) {
		// docs/format/README.md: VERSION holds "sluice-storage-format <N>";
		// a directory from another format version is refused.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("sluice-storage-format 999\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runSluice(t, 30*time.Second, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--data-dir", dir)
		if code == 0 {
			t.Errorf("sluice exited 0 on a data dir of format version 999")
		}
		checkOneLine(t, stderr, dir)
	})

	t.Run("DataDirInUse", func(t *testing.T) {
		// A second server on the same data directory must refuse to start
		// rather than corrupt the first one's files.
		srv := startServer(t)
		code, _, stderr := runSluice(t, 10*time.Second, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--data-dir", srv.dataDir)
		if code == 0 {
			t.Errorf("second sluice on %s exited 0", srv.dataDir)
		}
		checkOneLine(t, stderr)
	})
}

// TestGracefulShutdown checks that SIGTERM stops the server cleanly and the
// data is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	createStream(t, c, "durable", 2)
	out, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("durable"),
		PartitionKey: aws.String("k"), Data: []byte("kept")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	srv.stop()
	if t.Failed() {
		return
	}
	srv.restart()
	c = srv.client()
	recs := readShard(t, c, "durable", aws.ToString(out.ShardId))
	if len(recs) != 1 || string(recs[0].Data) != "kept" || aws.ToString(recs[0].SequenceNumber) != aws.ToString(out.SequenceNumber) {
		t.Fatalf("after restart: %+v", recs)
	}
	// New records continue above the old ones.
	out2, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("durable"),
		PartitionKey: aws.String("k"), Data: []byte("next")})
	if err != nil {
		t.Fatalf("PutRecord after restart: %v", err)
	}
	if !seqLess(aws.ToString(out.SequenceNumber), aws.ToString(out2.SequenceNumber)) {
		t.Errorf("sequence after restart %s not above %s", aws.ToString(out2.SequenceNumber), aws.ToString(out.SequenceNumber))
	}
	sum, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("durable")})
	if err != nil {
		t.Fatalf("DescribeStreamSummary after restart: %v", err)
	}
	if sum.StreamDescriptionSummary.StreamStatus != types.StreamStatusActive || aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount) != 2 {
		t.Errorf("after restart: %+v", sum.StreamDescriptionSummary)
	}
}
