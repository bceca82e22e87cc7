package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// BenchmarkVerifyPutRecords verifies the signature of a PutRecords request
// with a 50 KB body (500 records of 100 B), as the server does for every
// call under --auth sigv4: hash the body, rebuild the canonical request,
// derive the signing key, compare.
func BenchmarkVerifyPutRecords(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 500*100+500*40)
	v := NewVerifier(&CredentialsFile{Users: []User{{Name: "bench",
		AccessKeys: []AccessKey{{AccessKeyID: "AKIABENCH", SecretAccessKey: "bench-secret"}}}}}, nil)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4567/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIABENCH", SecretAccessKey: "bench-secret"},
		req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(req, body); err != nil {
			b.Fatal(err)
		}
	}
}
