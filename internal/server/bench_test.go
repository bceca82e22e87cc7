package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluicedata/sluice/internal/auth"
	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/keyring"
	"github.com/sluicedata/sluice/internal/kinesis"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

// benchDir is where the benchmark's data directories go: a tmpfs such as
// /dev/shm takes the disk's fsync out, leaving the CPU cost.
var benchDir = flag.String("bench-dir", "", "parent of the benchmark data directories (default: the test temp dir)")

// putRecordsBody is a PutRecords request of n records of size bytes each,
// spread over partition keys.
func putRecordsBody(stream string, n, size int) []byte {
	type entry struct {
		Data         string
		PartitionKey string
	}
	in := struct {
		StreamName string
		Records    []entry
	}{StreamName: stream}
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("r"), size))
	for i := range n {
		in.Records = append(in.Records, entry{Data: data, PartitionKey: fmt.Sprintf("pk-%d", i)})
	}
	b, _ := json.Marshal(in)
	return b
}

// benchServer is the whole request path (HTTP handler, SigV4, IAM,
// protocol, engine, storage with fsync) on a real directory, without a
// network in between.
func benchServer(b *testing.B, sigv4, encrypt bool) (*Server, func() *http.Request) {
	return benchServerShards(b, sigv4, encrypt, 1)
}

// benchServerShards is benchServer with a stream of shards shards.
func benchServerShards(b *testing.B, sigv4, encrypt bool, shards int) (*Server, func() *http.Request) {
	b.Helper()
	dir := b.TempDir()
	if *benchDir != "" {
		var err error
		if dir, err = os.MkdirTemp(*benchDir, "sluice-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sopts := storage.Options{Logger: quiet}
	ecfg := engine.Config{Logger: quiet}
	if encrypt {
		ring, err := keyring.Open(dir, bytes.Repeat([]byte{1}, 32), keyring.Options{Region: "us-east-1", AccountID: "000000000000"})
		if err != nil {
			b.Fatal(err)
		}
		sopts.DataKeys, ecfg.Keys = ring, ring
	}
	st, err := storage.Open(vfs.Default(), dir, sopts)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.Open(ecfg, st)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		eng.Close()
		st.Close()
	})
	if err := eng.CreateStream(engine.CreateStreamParams{Name: "bench", ShardCount: shards}); err != nil {
		b.Fatal(err)
	}
	if encrypt {
		if err := eng.StartStreamEncryption("bench", keyring.DefaultAlias); err != nil {
			b.Fatal(err)
		}
	}
	cfg := Config{Logger: quiet, AccountID: "000000000000"}
	if sigv4 {
		cfg.Verifier = auth.NewVerifier(&auth.CredentialsFile{Users: []auth.User{{
			Name:       "bench",
			AccessKeys: []auth.AccessKey{{AccessKeyID: "AKIABENCH", SecretAccessKey: "bench-secret"}},
			Policies: []json.RawMessage{json.RawMessage(
				`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"arn:aws:kinesis:*:*:stream/bench"}]}`)},
		}}}, nil)
	}
	srv := New(cfg, kinesis.New(eng, quiet))
	body := putRecordsBody("bench", 500, 100)
	header := http.Header{}
	header.Set("Content-Type", "application/x-amz-json-1.1")
	header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	if sigv4 {
		// Signed once: the benchmark measures verification, not signing.
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4567/", bytes.NewReader(body))
		req.Header = header.Clone()
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIABENCH", SecretAccessKey: "bench-secret"},
			req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		header = req.Header
	}
	return srv, func() *http.Request {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4567/", bytes.NewReader(body))
		req.Header = header.Clone()
		return req
	}
}

// BenchmarkPutRecordsSecurity measures one PutRecords call of 500 x 100 B
// through the handler with and without SigV4 verification (plus the IAM
// check) and encryption at rest. Compare the variants' ns/op (benchstat)
// for the cost of each as a ratio.
func BenchmarkPutRecordsSecurity(b *testing.B) {
	for _, v := range []struct {
		name           string
		sigv4, encrypt bool
	}{{"plain", false, false}, {"sigv4", true, false}, {"encrypted", false, true}, {"sigv4+encrypted", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			srv, newReq := benchServer(b, v.sigv4, v.encrypt)
			b.SetBytes(500 * 100)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, newReq())
				if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"FailedRecordCount":1`)) ||
					!bytes.Contains(w.Body.Bytes(), []byte(`"FailedRecordCount":0`)) {
					b.Fatalf("PutRecords: %d %s", w.Code, w.Body.Bytes()[:min(300, w.Body.Len())])
				}
			}
			b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPutRecordsShards is the plain PutRecords call on a stream of 4
// shards, as `sluice bench put` runs it: four batches appended in
// parallel per call.
func BenchmarkPutRecordsShards(b *testing.B) {
	srv, newReq := benchServerShards(b, false, false, 4)
	b.SetBytes(500 * 100)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, newReq())
		if w.Code != http.StatusOK || !bytes.HasPrefix(w.Body.Bytes(), []byte(`{"FailedRecordCount":0,`)) {
			b.Fatalf("PutRecords: %d %s", w.Code, w.Body.Bytes()[:min(300, w.Body.Len())])
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "records/s")
}
