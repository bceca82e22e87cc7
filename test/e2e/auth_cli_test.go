package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigMismatchMsg is AWS's text for a signature that does not verify.
const sigMismatchMsg = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// signatureExpiredRE matches AWS's "Signature expired" text and captures
// the signing time, the earliest time accepted, the server's time and the
// window.
var signatureExpiredRE = regexp.MustCompile(`Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - (\d+ (?:min|sec))\.\)`)

// cliError matches the line the AWS CLI prints on stderr for an AWS error
// whose message starts with msg. botocore puts the retry count, when it
// has a retry config (AWS_MAX_ATTEMPTS), between the operation and the
// message: "... when calling the ListStreams operation (reached max
// retries: 0): ...".
func cliError(code, operation, msg string) *regexp.Regexp {
	return regexp.MustCompile(`An error occurred \(` + regexp.QuoteMeta(code) + `\) when calling the ` + regexp.QuoteMeta(operation) +
		` operation(?: \(reached max retries: \d+\))?: ` + regexp.QuoteMeta(msg))
}

// withEnv returns a copy of the CLI runner with environment variables
// replaced or added (KEY=VALUE).
func (a *awsCLI) withEnv(kvs ...string) *awsCLI {
	c := *a
	c.env = append([]string(nil), a.env...)
	for _, kv := range kvs {
		key, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range c.env {
			if strings.HasPrefix(old, key+"=") {
				c.env[i], replaced = kv, true
			}
		}
		if !replaced {
			c.env = append(c.env, kv)
		}
	}
	return &c
}

// withEndpoint returns a copy of the CLI runner that talks to endpoint.
func (a *awsCLI) withEndpoint(endpoint string) *awsCLI {
	c := *a
	c.endpoint = endpoint
	return &c
}

// underFaketime returns a copy of the CLI runner whose clock is offset,
// by running it under Debian's faketime (`faketime -f offset aws ...`).
// It fails the test under CI and scripts/test.sh when faketime is missing
// (scripts/test.sh installs it), and skips it elsewhere.
func (a *awsCLI) underFaketime(t *testing.T, offset string) *awsCLI {
	t.Helper()
	ft, err := exec.LookPath("faketime")
	if err != nil {
		if inCI() {
			t.Fatalf("faketime not found (Debian package faketime; scripts/test.sh installs it): %v", err)
		}
		t.Skip("faketime not found; install Debian's faketime package (scripts/test.sh does)")
	}
	// exec keeps the CLI's stdout, stderr and exit status as they are.
	wrapper := filepath.Join(t.TempDir(), "aws-faketime")
	script := "#!/bin/sh\nexec " + ft + " -f '" + offset + "' " + a.bin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := *a
	c.bin = wrapper
	return &c
}

// tamperingProxy is a reverse proxy in front of target that, in every
// request body containing from, replaces its first occurrence with to (of
// the same length) after the client signed it. It keeps the Host header the
// client signed. tampered counts the bodies it changed.
type tamperingProxy struct {
	URL      string
	tampered atomic.Int64
}

func newTamperingProxy(t *testing.T, target string, from, to []byte) *tamperingProxy {
	t.Helper()
	if len(from) != len(to) {
		t.Fatalf("tamperingProxy: %q and %q differ in length", from, to)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &tamperingProxy{}
	tr := newTransport()
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // as signed
			if pr.In.Body == nil {
				return
			}
			body, err := io.ReadAll(pr.In.Body)
			if err != nil {
				// The upstream request then fails on its short body.
				return
			}
			if i := bytes.Index(body, from); i >= 0 {
				copy(body[i:], to)
				p.tampered.Add(1)
			}
			pr.Out.Body = io.NopCloser(bytes.NewReader(body))
			pr.Out.ContentLength = int64(len(body))
		},
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(func() {
		ts.Close()
		tr.CloseIdleConnections()
	})
	p.URL = ts.URL
	return p
}

// TestAWSCLIAuth runs the server with --auth sigv4 and drives it with the
// AWS CLI v2, configured only by AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_REGION: the CLI's signed requests pass, and a wrong secret, an
// unknown key, a request signed 20 minutes ago (faketime), a body changed
// after signing (a proxy), an unsigned request and calls the user's
// policies do not allow each get AWS's error, as the CLI prints it.
func TestAWSCLIAuth(t *testing.T) {
	t.Parallel()
	bin, version := findAWSCLIv2()
	if bin == "" {
		if inCI() {
			t.Fatalf("AWS CLI v2 not found (expected /usr/bin/aws from Debian's awscli; scripts/test.sh installs it)")
		}
		t.Skip("AWS CLI v2 not found; install Debian's awscli package (scripts/test.sh does)")
	}
	t.Logf("using %s (%s)", bin, version)

	const name = "guarded"
	arn := streamARN(name)
	creds := filepath.Join(t.TempDir(), "credentials.json")
	// admin holds the keys newAWSCLI configures.
	writeCredentials(t, creds, `{"users":[
		{"name":"admin","accessKeys":[{"accessKeyId":"AKIDSLUICECLI","secretAccessKey":"sluice-cli-secret"}],"policies":[`+allowAll+`]},
		{"name":"reader","accessKeys":[{"accessKeyId":"AKIDCLIREADER","secretAccessKey":"reader-secret"}],"policies":[
			{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:GetRecords","Resource":"`+arn+`"}]}]},
		{"name":"nowrite","accessKeys":[{"accessKeyId":"AKIDCLINOWRITE","secretAccessKey":"nowrite-secret"}],"policies":[`+allowAll+`,
			{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kinesis:Put*","Resource":"arn:aws:kinesis:*:*:stream/guard*"}]}]}
	]}`)
	srv := startServer(t, "--auth", "sigv4", "--credentials-file", creds)
	admin := newAWSCLI(t, bin, srv.endpoint())

	// The right key and secret: create-stream, put-record, list-streams.
	admin.run(nil, "create-stream", "--stream-name", name, "--shard-count", "1")
	admin.run(nil, "wait", "stream-exists", "--stream-name", name)
	var put struct{ ShardId, SequenceNumber string }
	admin.run(&put, "put-record", "--stream-name", name, "--partition-key", "admin", "--data", "eA==")
	if put.ShardId != shardID(0) || !seqRE.MatchString(put.SequenceNumber) {
		t.Fatalf("put-record printed %+v", put)
	}
	var list struct{ StreamNames []string }
	admin.run(&list, "list-streams")
	if len(list.StreamNames) != 1 || list.StreamNames[0] != name {
		t.Fatalf("list-streams StreamNames = %v, want [%s]", list.StreamNames, name)
	}

	// readKeys returns the partition keys of the stream's records, read
	// by admin from the start.
	readKeys := func(t *testing.T) []string {
		t.Helper()
		var it struct{ ShardIterator string }
		admin.run(&it, "get-shard-iterator", "--stream-name", name, "--shard-id", shardID(0), "--shard-iterator-type", "TRIM_HORIZON")
		var recs struct {
			Records []struct{ PartitionKey string }
		}
		admin.run(&recs, "get-records", "--shard-iterator", it.ShardIterator)
		var keys []string
		for _, r := range recs.Records {
			keys = append(keys, r.PartitionKey)
		}
		return keys
	}
	expectStderr := func(t *testing.T, stderr string, want *regexp.Regexp) {
		t.Helper()
		if !want.MatchString(stderr) {
			t.Errorf("stderr does not match %s:\n%s", want, stderr)
		}
	}

	t.Run("wrong secret", func(t *testing.T) {
		stderr := admin.withEnv("AWS_SECRET_ACCESS_KEY=not-the-secret").runFail("list-streams")
		expectStderr(t, stderr, cliError("InvalidSignatureException", "ListStreams", sigMismatchMsg))
	})

	t.Run("unknown access key", func(t *testing.T) {
		stderr := admin.withEnv("AWS_ACCESS_KEY_ID=AKIDMALLORY", "AWS_SECRET_ACCESS_KEY=x").runFail("list-streams")
		expectStderr(t, stderr, cliError("UnrecognizedClientException", "ListStreams", "The security token included in the request is invalid."))
	})

	t.Run("signed 20 minutes ago", func(t *testing.T) {
		stale := admin.underFaketime(t, "-20m")
		before := time.Now().UTC()
		stderr := stale.runFail("list-streams")
		after := time.Now().UTC()
		expectStderr(t, stderr, cliError("InvalidSignatureException", "ListStreams", "Signature expired: "))
		m := signatureExpiredRE.FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no 'Signature expired: ...' text in stderr:\n%s", stderr)
		}
		parse := func(s string) time.Time {
			ts, err := time.Parse("20060102T150405Z", s)
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}
		signedAt, earliest, serverNow := parse(m[1]), parse(m[2]), parse(m[3])
		// Whole seconds on the wire: allow one second either side.
		within := func(ts, lo, hi time.Time) bool {
			return !ts.Before(lo.Add(-time.Second)) && !ts.After(hi.Add(time.Second))
		}
		if !within(signedAt, before.Add(-20*time.Minute), after.Add(-20*time.Minute)) ||
			!within(serverNow, before, after) || !earliest.Equal(serverNow.Add(-15*time.Minute)) || m[4] != "15 min" {
			t.Errorf("signed %s, earliest %s, now %s, window %q; want signed 20 minutes before now and the earliest 15 minutes before (test ran %s..%s)",
				signedAt, earliest, serverNow, m[4], before.Format(time.RFC3339), after.Format(time.RFC3339))
		}
	})

	t.Run("body changed after signing", func(t *testing.T) {
		proxy := newTamperingProxy(t, srv.endpoint(), []byte("tamper-a"), []byte("tamper-b"))
		viaProxy := admin.withEndpoint(proxy.URL)
		// The proxy itself keeps signatures intact ...
		viaProxy.run(nil, "put-record", "--stream-name", name, "--partition-key", "proxied", "--data", "eA==")
		// ... so this one fails on the byte it changed.
		stderr := viaProxy.runFail("put-record", "--stream-name", name, "--partition-key", "tamper-a", "--data", "eA==")
		expectStderr(t, stderr, cliError("InvalidSignatureException", "PutRecord", sigMismatchMsg))
		if n := proxy.tampered.Load(); n != 1 {
			t.Errorf("the proxy changed %d request bodies, want 1", n)
		}
		keys := strings.Join(readKeys(t), ",")
		if !strings.Contains(keys, "proxied") || strings.Contains(keys, "tamper-") {
			t.Errorf("partition keys in the stream: %s; want the proxied record and no tampered one", keys)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		stderr := admin.runFail("list-streams", "--no-sign-request")
		expectStderr(t, stderr, cliError("MissingAuthenticationTokenException", "ListStreams", "Missing Authentication Token"))
	})

	t.Run("policy allows only GetRecords", func(t *testing.T) {
		reader := admin.withEnv("AWS_ACCESS_KEY_ID=AKIDCLIREADER", "AWS_SECRET_ACCESS_KEY=reader-secret")
		stderr := reader.runFail("put-record", "--stream-name", name, "--partition-key", "reader", "--data", "eA==")
		expectStderr(t, stderr, cliError("AccessDeniedException", "PutRecord",
			"User: arn:aws:iam::"+testAccount+":user/reader is not authorized to perform: kinesis:PutRecord on resource: "+arn+
				" because no identity-based policy allows the kinesis:PutRecord action"))
		stderr = reader.runFail("list-streams")
		expectStderr(t, stderr, cliError("AccessDeniedException", "ListStreams",
			"User: arn:aws:iam::"+testAccount+":user/reader is not authorized to perform: kinesis:ListStreams on resource: "))
		// What the policy allows works: GetRecords with an iterator admin
		// got (GetShardIterator is not the reader's to call).
		var it struct{ ShardIterator string }
		admin.run(&it, "get-shard-iterator", "--stream-name", name, "--shard-id", shardID(0), "--shard-iterator-type", "TRIM_HORIZON")
		var recs struct {
			Records []struct{ PartitionKey, Data string }
		}
		reader.run(&recs, "get-records", "--shard-iterator", it.ShardIterator)
		if len(recs.Records) == 0 || recs.Records[0].PartitionKey != "admin" || recs.Records[0].Data != "eA==" {
			t.Errorf("reader get-records = %+v, want the admin record first", recs.Records)
		}
		if strings.Contains(strings.Join(readKeys(t), ","), "reader") {
			t.Errorf("the denied put-record was written")
		}
	})

	t.Run("explicit deny", func(t *testing.T) {
		nowrite := admin.withEnv("AWS_ACCESS_KEY_ID=AKIDCLINOWRITE", "AWS_SECRET_ACCESS_KEY=nowrite-secret")
		stderr := nowrite.runFail("put-record", "--stream-name", name, "--partition-key", "nowrite", "--data", "eA==")
		expectStderr(t, stderr, cliError("AccessDeniedException", "PutRecord",
			"User: arn:aws:iam::"+testAccount+":user/nowrite is not authorized to perform: kinesis:PutRecord on resource: "+arn+
				" with an explicit deny in an identity-based or resource-based policy"))
		var shards struct{ Shards []struct{ ShardId string } }
		nowrite.run(&shards, "list-shards", "--stream-name", name)
		if len(shards.Shards) != 1 || shards.Shards[0].ShardId != shardID(0) {
			t.Errorf("nowrite list-shards = %+v", shards.Shards)
		}
	})
}

// TestSigV4Presigned sends a DescribeStreamSummary presigned by the Go
// SDK's signer (PresignHTTP; a POST with the JSON body and X-Amz-Target
// signed as a header) with net/http: it succeeds, and fails with AWS's
// errors once its query is tampered with or its X-Amz-Expires has passed.
func TestSigV4Presigned(t *testing.T) {
	t.Parallel()
	creds := filepath.Join(t.TempDir(), "credentials.json")
	writeCredentials(t, creds, `{"users":[{"name":"alice","accessKeys":[{"accessKeyId":"AKIDSLUICETEST","secretAccessKey":"sluice-test-secret"}],"policies":[`+allowAll+`]}]}`)
	srv := startServer(t, "--auth", "sigv4", "--credentials-file", creds)
	const name = "presigned"
	createStream(t, srv.client(), name, 1)

	body := []byte(`{"StreamName":"` + name + `"}`)
	presign := func(at time.Time, expires string) (string, http.Header) {
		t.Helper()
		req, err := http.NewRequest("POST", srv.endpoint()+"/?X-Amz-Expires="+expires, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary")
		key := aws.Credentials{AccessKeyID: "AKIDSLUICETEST", SecretAccessKey: "sluice-test-secret"}
		// Without header hoisting X-Amz-Target stays a (signed) header,
		// where the server looks for it, instead of moving to the query.
		u, h, err := v4.NewSigner().PresignHTTP(context.Background(), key, req, "UNSIGNED-PAYLOAD", "kinesis", testRegion, at,
			func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(u, "X-Amz-Signature=") || h.Get("X-Amz-Target") == "" {
			t.Fatalf("presigned URL %s with signed headers %v", u, h)
		}
		return u, h
	}
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: sdkCallTimeout}
	send := func(u string, h http.Header) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest("POST", u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			if k != "Host" {
				req.Header[k] = vs
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	expectAWSError := func(status int, b []byte, code string, msg *regexp.Regexp) {
		t.Helper()
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &e); err != nil || status != http.StatusBadRequest || e.Type != code || !msg.MatchString(e.Message) {
			t.Errorf("got %d %s, want 400 %s with a message matching %s", status, b, code, msg)
		}
	}

	u, h := presign(time.Now(), "300")
	status, b := send(u, h)
	var out struct {
		StreamDescriptionSummary struct{ StreamName, StreamARN, StreamStatus string }
	}
	if status != http.StatusOK {
		t.Fatalf("presigned DescribeStreamSummary: %d %s", status, b)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if s := out.StreamDescriptionSummary; s.StreamName != name || s.StreamARN != streamARN(name) || s.StreamStatus != "ACTIVE" {
		t.Errorf("presigned DescribeStreamSummary = %+v", s)
	}

	// The same URL with one signed query value changed.
	tampered := strings.Replace(u, "X-Amz-Expires=300", "X-Amz-Expires=301", 1)
	if tampered == u {
		t.Fatalf("no X-Amz-Expires=300 in %s", u)
	}
	status, b = send(tampered, h)
	expectAWSError(status, b, "InvalidSignatureException", regexp.MustCompile("^"+regexp.QuoteMeta(sigMismatchMsg)+"$"))

	// Signed 10 minutes ago for 60 seconds.
	signedAt := time.Now().UTC().Add(-10 * time.Minute)
	u, h = presign(signedAt, "60")
	status, b = send(u, h)
	expectAWSError(status, b, "InvalidSignatureException",
		regexp.MustCompile(`^Signature expired: `+signedAt.Format("20060102T150405Z")+` is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 1 min\.\)$`))
}
