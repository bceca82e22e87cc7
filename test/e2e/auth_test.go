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

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}`

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
	writeCredentials(t, creds, `{"users":[{"name":"alice","accessKeys":[{"accessKeyId":"AKIDSLUICETEST","secretAccessKey":"sluice-test-secret"}],"policies":[`+allowAll+`]}]}`)
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
	writeCredentials(t, creds, `{"users":[{"name":"bob","accessKeys":[{"accessKeyId":"AKIDBOB","secretAccessKey":"bob-secret"}],"policies":[`+allowAll+`]}]}`)
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

// TestIAMPolicies: with --auth sigv4, each call is allowed only as the
// caller's policies and the stream's resource policy say, and a denied call
// gets AccessDeniedException naming the user, action and resource.
func TestIAMPolicies(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials.json")
	arn := streamARN("guarded")
	writeCredentials(t, creds, `{"users":[
		{"name":"admin","accessKeys":[{"accessKeyId":"AKIDSLUICETEST","secretAccessKey":"sluice-test-secret"}],"policies":[`+allowAll+`]},
		{"name":"reader","accessKeys":[{"accessKeyId":"AKIDREADER","secretAccessKey":"reader-secret"}],"policies":[
			{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["kinesis:Get*","kinesis:DescribeStream*","kinesis:ListShards"],"Resource":"`+arn+`"}}]},
		{"name":"guest","accessKeys":[{"accessKeyId":"AKIDGUEST","secretAccessKey":"guest-secret"}]},
		{"name":"nowrite","accessKeys":[{"accessKeyId":"AKIDNOWRITE","secretAccessKey":"nowrite-secret"}],"policies":[`+allowAll+`,
			{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kinesis:Put*","Resource":"arn:aws:kinesis:*:*:stream/guard*"}]}]}
	]}`)
	srv := startServer(t, "--auth", "sigv4", "--credentials-file", creds)
	ctx := context.Background()
	admin := srv.client()
	createStream(t, admin, "guarded", 1)
	as := func(akid, secret string) *kinesis.Client {
		return srv.client(func(o *kinesis.Options) {
			o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, nil
			})
		})
	}
	reader, nowrite := as("AKIDREADER", "reader-secret"), as("AKIDNOWRITE", "nowrite-secret")
	put := &kinesis.PutRecordInput{StreamName: aws.String("guarded"), PartitionKey: aws.String("k"), Data: []byte("x")}
	if _, err := admin.PutRecord(ctx, put); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("guarded")}); err != nil {
		t.Fatalf("reader DescribeStreamSummary: %v", err)
	}
	if len(readShard(t, reader, "guarded", shardID(0))) != 1 {
		t.Fatal("reader could not read the record")
	}
	_, err := reader.PutRecord(ctx, put)
	expectErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/reader is not authorized to perform: kinesis:PutRecord on resource: "+arn+" because no identity-based policy allows the kinesis:PutRecord action")
	_, err = reader.ListStreams(ctx, &kinesis.ListStreamsInput{})
	apiErr(t, err, "AccessDeniedException")
	_, err = nowrite.PutRecord(ctx, put)
	expectErr(t, err, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/nowrite is not authorized to perform: kinesis:PutRecord on resource: "+arn+" with an explicit deny in an identity-based or resource-based policy")
	if _, err := nowrite.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("guarded")}); err != nil {
		t.Fatalf("nowrite ListShards: %v", err)
	}
	// A resource policy's explicit deny applies to a caller whose own
	// policies allow everything.
	guest := as("AKIDGUEST", "guest-secret")
	_, err = guest.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("guarded")})
	apiErr(t, err, "AccessDeniedException") // no policy of its own
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/admin"},"Action":"kinesis:GetShardIterator","Resource":"` + arn + `"},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/guest"},"Action":"kinesis:DescribeStreamSummary","Resource":"` + arn + `"}]}`
	if _, err := admin.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(arn), Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("guarded"), ShardId: aws.String(shardID(0)), ShardIteratorType: "LATEST"})
	apiErr(t, err, "AccessDeniedException")
	if _, err := reader.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("guarded"), ShardId: aws.String(shardID(0)), ShardIteratorType: "LATEST"}); err != nil {
		t.Fatalf("the resource policy names admin only: %v", err)
	}
	// ... and its Allow grants the guest what its own policies do not.
	if _, err := guest.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("guarded")}); err != nil {
		t.Fatalf("resource policy grant: %v", err)
	}
	_, err = guest.PutRecord(ctx, put)
	apiErr(t, err, "AccessDeniedException")
}
