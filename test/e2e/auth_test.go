package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

func writeCredentials(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSigV4 runs the server with --auth sigv4: the SDK's signed requests
// pass, a wrong secret, an unknown key and an unsigned request get AWS's
// errors, and SIGHUP reloads the credentials file.
func TestSigV4(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials.json")
	writeCredentials(t, creds, `{"users":[{"name":"alice","accessKeys":[{"accessKeyId":"AKIDSLUICETEST","secretAccessKey":"sluice-test-secret"}]}]}`)
	srv := startServer(t, "--auth", "sigv4", "--credentials-file", creds)
	ctx := context.Background()
	c := srv.client() // signs with AKIDSLUICETEST / sluice-test-secret
	createStream(t, c, "signed", 1)
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("signed"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	withKey := func(akid, secret string) *kinesis.Client {
		return srv.client(func(o *kinesis.Options) {
			o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, nil
			})
		})
	}
	_, err := withKey("AKIDSLUICETEST", "wrong").ListStreams(ctx, &kinesis.ListStreamsInput{})
	expectErr(t, err, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	_, err = withKey("AKIDMALLORY", "x").ListStreams(ctx, &kinesis.ListStreamsInput{})
	expectErr(t, err, "UnrecognizedClientException", "The security token included in the request is invalid.")
	_, err = srv.client(func(o *kinesis.Options) { o.Credentials = aws.AnonymousCredentials{} }).ListStreams(ctx, &kinesis.ListStreamsInput{})
	expectErr(t, err, "MissingAuthenticationTokenException", "Missing Authentication Token")

	// A new key is accepted after SIGHUP, and the removed one is not.
	writeCredentials(t, creds, `{"users":[{"name":"bob","accessKeys":[{"accessKeyId":"AKIDBOB","secretAccessKey":"bob-secret"}]}]}`)
	srv.mu.Lock()
	proc := srv.cmd.Process
	srv.mu.Unlock()
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := withKey("AKIDBOB", "bob-secret").ListStreams(ctx, &kinesis.ListStreamsInput{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new key not accepted after SIGHUP: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = c.ListStreams(ctx, &kinesis.ListStreamsInput{})
	apiErr(t, err, "UnrecognizedClientException")
}

// TestAnonymousOnlyOnLoopback: --auth none refuses a non-loopback address
// unless --insecure-allow-anonymous is given.
func TestAnonymousOnlyOnLoopback(t *testing.T) {
	code, _, stderr := runSluice(t, 30*time.Second, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "refusing to serve 0.0.0.0:0 without authentication") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
