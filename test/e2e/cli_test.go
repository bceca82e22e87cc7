package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI runs Debian's AWS CLI v2 (/usr/bin/aws) against one endpoint,
// with the same isolated environment as TestAWSCLI: a private HOME and
// config, dummy credentials, no pager and no retries.
type awsCLI struct {
	t        *testing.T
	bin      string
	endpoint string
	env      []string
}

// findAWSCLIv2 returns /usr/bin/aws or the first `aws` on PATH that is a
// working CLI v2, and its version.
func findAWSCLIv2() (string, string) {
	candidates := []string{"/usr/bin/aws"}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		candidates = append(candidates, filepath.Join(dir, "aws"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err != nil || st.IsDir() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, c, "--version").CombinedOutput()
		cancel()
		if v := strings.TrimSpace(string(out)); err == nil && strings.HasPrefix(v, "aws-cli/2.") {
			return c, v
		}
	}
	return "", ""
}

func newAWSCLI(t *testing.T, bin, endpoint string) *awsCLI {
	home := t.TempDir()
	return &awsCLI{t: t, bin: bin, endpoint: endpoint, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=AKIDSLUICECLI",
		"AWS_SECRET_ACCESS_KEY=sluice-cli-secret",
		"AWS_DEFAULT_REGION=" + testRegion,
		"AWS_REGION=" + testRegion,
		"AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"LC_ALL=C.UTF-8",
	}}
}

// exec runs `aws kinesis args... --endpoint-url E --output json` and
// returns its stdout, stderr and whether it succeeded.
func (a *awsCLI) exec(args ...string) (stdout, stderr string, ok bool) {
	a.t.Helper()
	full := append(append([]string{"kinesis"}, args...), "--endpoint-url", a.endpoint, "--output", "json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, full...)
	cmd.Env = a.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		a.t.Fatalf("aws %s: no exit within 60s", strings.Join(full, " "))
	}
	return o.String(), e.String(), err == nil
}

// run runs a command that must succeed and decodes its JSON output into out
// (if non-nil). It returns the raw output.
func (a *awsCLI) run(out any, args ...string) string {
	a.t.Helper()
	stdout, stderr, ok := a.exec(args...)
	if !ok {
		a.t.Fatalf("aws kinesis %s failed:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			a.t.Fatalf("aws kinesis %s: decode output: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
	return stdout
}

// runFail runs a command that must fail and returns its stderr.
func (a *awsCLI) runFail(args ...string) string {
	a.t.Helper()
	stdout, stderr, ok := a.exec(args...)
	if ok {
		a.t.Fatalf("aws kinesis %s: expected failure, got success:\n%s", strings.Join(args, " "), stdout)
	}
	return stderr
}

func TestAWSCLI(t *testing.T) {
	t.Parallel()
	bin, version := findAWSCLIv2()
	if bin == "" {
		if inCI() {
			t.Fatalf("AWS CLI v2 not found (expected /usr/bin/aws from Debian's awscli; scripts/test.sh installs it)")
		}
		t.Skip("AWS CLI v2 not found; install Debian's awscli package (scripts/test.sh does)")
	}
	t.Logf("using %s (%s)", bin, version)

	// Default settings, AWS's shard limits included: a CLI session like
	// this one stays well within them.
	srv := startServerAWSLimits(t)
	cli := newAWSCLI(t, bin, srv.endpoint())
	const name = "s"

	cli.run(nil, "create-stream", "--stream-name", name, "--shard-count", "2")
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)

	var list struct {
		StreamNames     []string
		HasMoreStreams  bool
		StreamSummaries []struct {
			StreamName, StreamARN, StreamStatus string
		}
	}
	cli.run(&list, "list-streams")
	if len(list.StreamNames) != 1 || list.StreamNames[0] != name {
		t.Errorf("list-streams StreamNames = %v, want [%s]", list.StreamNames, name)
	}
	if list.HasMoreStreams {
		t.Errorf("list-streams HasMoreStreams = true")
	}
	// StreamSummaries exists only in newer CLI models; check it when present.
	for _, s := range list.StreamSummaries {
		if s.StreamName != name || s.StreamARN != streamARN(name) || s.StreamStatus != "ACTIVE" {
			t.Errorf("list-streams summary = %+v", s)
		}
	}

	type shard struct {
		ShardId      string
		HashKeyRange struct {
			StartingHashKey, EndingHashKey string
		}
		SequenceNumberRange struct {
			StartingSequenceNumber string
			EndingSequenceNumber   *string
		}
	}
	var desc struct {
		StreamDescription struct {
			StreamName, StreamARN, StreamStatus string
			Shards                              []shard
			HasMoreShards                       bool
			RetentionPeriodHours                int
			StreamCreationTimestamp             json.RawMessage
		}
	}
	cli.run(&desc, "describe-stream", "--stream-name", name)
	sd := desc.StreamDescription
	if sd.StreamName != name || sd.StreamARN != streamARN(name) || sd.StreamStatus != "ACTIVE" {
		t.Errorf("describe-stream: name %q arn %q status %q", sd.StreamName, sd.StreamARN, sd.StreamStatus)
	}
	if sd.HasMoreShards || sd.RetentionPeriodHours != 24 || len(sd.StreamCreationTimestamp) == 0 {
		t.Errorf("describe-stream: HasMoreShards %v RetentionPeriodHours %d StreamCreationTimestamp %s",
			sd.HasMoreShards, sd.RetentionPeriodHours, sd.StreamCreationTimestamp)
	}
	ranges := evenRanges(2)
	if len(sd.Shards) != 2 {
		t.Fatalf("describe-stream: %d shards, want 2", len(sd.Shards))
	}
	for i, s := range sd.Shards {
		if s.ShardId != shardID(i) || s.HashKeyRange.StartingHashKey != ranges[i][0].String() ||
			s.HashKeyRange.EndingHashKey != ranges[i][1].String() {
			t.Errorf("describe-stream shard %d = %+v", i, s)
		}
		if !seqRE.MatchString(s.SequenceNumberRange.StartingSequenceNumber) || s.SequenceNumberRange.EndingSequenceNumber != nil {
			t.Errorf("describe-stream shard %d SequenceNumberRange = %+v", i, s.SequenceNumberRange)
		}
	}

	// Which shard user_123 hashes to.
	h := hashKey("user_123")
	wantShard := shardID(0)
	if h.Cmp(ranges[1][0]) >= 0 {
		wantShard = shardID(1)
	}

	payloads := []string{"hello one", "hello two", "hello three \u00e9"}
	type putOut struct{ ShardId, SequenceNumber string }
	var puts []putOut
	for i, p := range payloads {
		var out putOut
		if i == 2 {
			// Raw text input, as a user would type it with the v1 behaviour.
			cli.run(&out, "put-record", "--stream-name", name, "--partition-key", "user_123",
				"--cli-binary-format", "raw-in-base64-out", "--data", p)
		} else {
			// CLI v2 takes --data as base64 by default.
			cli.run(&out, "put-record", "--stream-name", name, "--partition-key", "user_123",
				"--data", base64.StdEncoding.EncodeToString([]byte(p)))
		}
		if out.ShardId != wantShard {
			t.Errorf("put-record %d: ShardId %q, want %q (MD5 of user_123)", i, out.ShardId, wantShard)
		}
		if !seqRE.MatchString(out.SequenceNumber) {
			t.Errorf("put-record %d: SequenceNumber %q not 56 digits", i, out.SequenceNumber)
		}
		if i > 0 && !seqLess(puts[i-1].SequenceNumber, out.SequenceNumber) {
			t.Errorf("put-record %d: SequenceNumber %s not greater than %s", i, out.SequenceNumber, puts[i-1].SequenceNumber)
		}
		puts = append(puts, out)
	}

	var it struct{ ShardIterator string }
	cli.run(&it, "get-shard-iterator", "--stream-name", name, "--shard-id", puts[0].ShardId,
		"--shard-iterator-type", "TRIM_HORIZON")
	if !strings.HasPrefix(it.ShardIterator, "AAAAAAAAAAE") || len(it.ShardIterator) > 512 {
		t.Errorf("get-shard-iterator: %q does not look like an AWS iterator", it.ShardIterator)
	}

	var recs struct {
		Records []struct {
			SequenceNumber              string
			ApproximateArrivalTimestamp json.RawMessage
			Data                        string
			PartitionKey                string
		}
		NextShardIterator  string
		MillisBehindLatest *int64
	}
	cli.run(&recs, "get-records", "--shard-iterator", it.ShardIterator)
	if len(recs.Records) != len(payloads) {
		t.Fatalf("get-records: %d records, want %d: %+v", len(recs.Records), len(payloads), recs.Records)
	}
	for i, r := range recs.Records {
		data, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil {
			t.Errorf("record %d: Data %q is not base64: %v", i, r.Data, err)
		}
		if string(data) != payloads[i] {
			t.Errorf("record %d: Data %q, want %q", i, data, payloads[i])
		}
		if r.SequenceNumber != puts[i].SequenceNumber {
			t.Errorf("record %d: SequenceNumber %s, want %s", i, r.SequenceNumber, puts[i].SequenceNumber)
		}
		if r.PartitionKey != "user_123" {
			t.Errorf("record %d: PartitionKey %q", i, r.PartitionKey)
		}
		if len(r.ApproximateArrivalTimestamp) == 0 {
			t.Errorf("record %d: no ApproximateArrivalTimestamp", i)
		}
	}
	if recs.NextShardIterator == "" {
		t.Errorf("get-records: no NextShardIterator on an open shard")
	}
	if recs.MillisBehindLatest == nil || *recs.MillisBehindLatest != 0 {
		t.Errorf("get-records: MillisBehindLatest %v, want 0", recs.MillisBehindLatest)
	}

	// An AWS error comes through the CLI with its code and message.
	stderr := cli.runFail("describe-stream", "--stream-name", "nope")
	if !strings.Contains(stderr, "ResourceNotFoundException") || !strings.Contains(stderr, notFoundMsg("nope")) {
		t.Errorf("describe-stream of unknown stream: stderr %q", stderr)
	}

	cli.run(nil, "delete-stream", "--stream-name", name)
	cli.run(nil, "wait", "stream-not-exists", "--stream-name", name)
}
