package e2e

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// cliShard is a shard as the CLI prints it.
type cliShard struct {
	ShardId               string
	ParentShardId         *string
	AdjacentParentShardId *string
	HashKeyRange          struct{ StartingHashKey, EndingHashKey string }
	SequenceNumberRange   struct {
		StartingSequenceNumber string
		EndingSequenceNumber   *string
	}
}

type cliSummary struct {
	StreamDescriptionSummary struct {
		StreamName, StreamARN, StreamStatus string
		RetentionPeriodHours                int
		OpenShardCount                      int
		StreamModeDetails                   struct{ StreamMode string }
	}
}

// TestAWSCLIControlPlane drives resharding, tags and retention with the
// AWS CLI v2.
func TestAWSCLIControlPlane(t *testing.T) {
	t.Parallel()
	bin, version := findAWSCLIv2()
	if bin == "" {
		if inCI() {
			t.Fatalf("AWS CLI v2 not found (expected /usr/bin/aws from Debian's awscli; scripts/test.sh installs it)")
		}
		t.Skip("AWS CLI v2 not found; install Debian's awscli package (scripts/test.sh does)")
	}
	t.Logf("using %s (%s)", bin, version)
	srv := startServerAWSLimits(t)
	cli := newAWSCLI(t, bin, srv.endpoint())
	const name = "ctl"

	cli.run(nil, "create-stream", "--stream-name", name, "--shard-count", "2")
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)

	listShards := func() map[string]cliShard {
		t.Helper()
		var out struct{ Shards []cliShard }
		cli.run(&out, "list-shards", "--stream-name", name)
		m := map[string]cliShard{}
		for _, s := range out.Shards {
			m[s.ShardId] = s
		}
		if len(m) != len(out.Shards) {
			t.Fatalf("list-shards lists a shard twice: %+v", out.Shards)
		}
		return m
	}
	summary := func() cliSummary {
		t.Helper()
		var s cliSummary
		cli.run(&s, "describe-stream-summary", "--stream-name", name)
		return s
	}
	ranges := evenRanges(2)

	// split-shard prints nothing; the shard closes and two children appear.
	mid := new(big.Int).Rsh(ranges[0][1], 1)
	if out := cli.run(nil, "split-shard", "--stream-name", name, "--shard-to-split", shardID(0),
		"--new-starting-hash-key", mid.String()); strings.TrimSpace(out) != "" {
		t.Errorf("split-shard printed %q, want nothing", out)
	}
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)
	shards := listShards()
	if len(shards) != 4 {
		t.Fatalf("after split-shard list-shards shows %d shards, want 4", len(shards))
	}
	if shards[shardID(0)].SequenceNumberRange.EndingSequenceNumber == nil {
		t.Errorf("split shard %s has no EndingSequenceNumber", shardID(0))
	}
	for i, want := range [][2]string{{"0", new(big.Int).Sub(mid, big.NewInt(1)).String()}, {mid.String(), ranges[0][1].String()}} {
		s := shards[shardID(2+i)]
		if s.ParentShardId == nil || *s.ParentShardId != shardID(0) || s.AdjacentParentShardId != nil ||
			s.HashKeyRange.StartingHashKey != want[0] || s.HashKeyRange.EndingHashKey != want[1] {
			t.Errorf("split child %s = %+v, want parent %s, range %s..%s", shardID(2+i), s, shardID(0), want[0], want[1])
		}
	}

	// merge-shards prints nothing; the merged child spans both parents.
	if out := cli.run(nil, "merge-shards", "--stream-name", name, "--shard-to-merge", shardID(3),
		"--adjacent-shard-to-merge", shardID(1)); strings.TrimSpace(out) != "" {
		t.Errorf("merge-shards printed %q, want nothing", out)
	}
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)
	shards = listShards()
	m, ok := shards[shardID(4)]
	if len(shards) != 5 || !ok {
		t.Fatalf("after merge-shards list-shards shows %d shards, want 5 with %s", len(shards), shardID(4))
	}
	if m.ParentShardId == nil || *m.ParentShardId != shardID(3) || m.AdjacentParentShardId == nil || *m.AdjacentParentShardId != shardID(1) ||
		m.HashKeyRange.StartingHashKey != mid.String() || m.HashKeyRange.EndingHashKey != maxHashKey.String() {
		t.Errorf("merged shard = %+v, want parents %s and %s, range %s..%s", m, shardID(3), shardID(1), mid, maxHashKey)
	}
	for _, id := range []string{shardID(1), shardID(3)} {
		if shards[id].SequenceNumberRange.EndingSequenceNumber == nil {
			t.Errorf("merged parent %s has no EndingSequenceNumber", id)
		}
	}
	// AWS's error for shards that are not adjacent comes through the CLI.
	stderr := cli.runFail("merge-shards", "--stream-name", name, "--shard-to-merge", shardID(2), "--adjacent-shard-to-merge", shardID(2))
	if !strings.Contains(stderr, "InvalidArgumentException") {
		t.Errorf("merge-shards of a shard with itself: stderr %q", stderr)
	}

	// update-shard-count prints the counts.
	var usc struct {
		StreamName                          string
		CurrentShardCount, TargetShardCount int
		StreamARN                           *string
	}
	cli.run(&usc, "update-shard-count", "--stream-name", name, "--target-shard-count", "4", "--scaling-type", "UNIFORM_SCALING")
	if usc.StreamName != name || usc.CurrentShardCount != 2 || usc.TargetShardCount != 4 {
		t.Errorf("update-shard-count printed %+v, want StreamName %s CurrentShardCount 2 TargetShardCount 4", usc, name)
	}
	if usc.StreamARN != nil && *usc.StreamARN != streamARN(name) {
		t.Errorf("update-shard-count StreamARN %q", *usc.StreamARN)
	}
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)
	if s := summary(); s.StreamDescriptionSummary.OpenShardCount != 4 {
		t.Errorf("describe-stream-summary OpenShardCount %d after update-shard-count 4", s.StreamDescriptionSummary.OpenShardCount)
	}
	var open []cliShard
	for _, s := range listShards() {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	if len(open) != 4 {
		t.Errorf("list-shards shows %d open shards after update-shard-count 4", len(open))
	}
	for _, r := range evenRanges(4) {
		found := false
		for _, s := range open {
			found = found || (s.HashKeyRange.StartingHashKey == r[0].String() && s.HashKeyRange.EndingHashKey == r[1].String())
		}
		if !found {
			t.Errorf("no open shard covers %s..%s after UNIFORM_SCALING to 4", r[0], r[1])
		}
	}
	stderr = cli.runFail("update-shard-count", "--stream-name", name, "--target-shard-count", "9", "--scaling-type", "UNIFORM_SCALING")
	if !strings.Contains(stderr, "LimitExceededException") ||
		!strings.Contains(stderr, "UpdateShardCount cannot scale up over double your current open shard count.") {
		t.Errorf("update-shard-count beyond double: stderr %q", stderr)
	}

	// Tags.
	cli.run(nil, "add-tags-to-stream", "--stream-name", name, "--tags", "team=data,env=test")
	cli.run(nil, "add-tags-to-stream", "--stream-name", name, "--tags", "env=prod")
	var tags struct {
		Tags        []struct{ Key, Value string }
		HasMoreTags bool
	}
	cli.run(&tags, "list-tags-for-stream", "--stream-name", name)
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[tg.Key] = tg.Value
	}
	if len(tags.Tags) != 2 || got["team"] != "data" || got["env"] != "prod" || tags.HasMoreTags {
		t.Errorf("list-tags-for-stream = %+v, want env=prod team=data and HasMoreTags false", tags)
	}
	cli.run(nil, "remove-tags-from-stream", "--stream-name", name, "--tag-keys", "team")
	tags.Tags = nil
	cli.run(&tags, "list-tags-for-stream", "--stream-name", name)
	if len(tags.Tags) != 1 || tags.Tags[0].Key != "env" || tags.Tags[0].Value != "prod" {
		t.Errorf("list-tags-for-stream after remove-tags-from-stream = %+v, want env=prod only", tags.Tags)
	}

	// Retention.
	if s := summary(); s.StreamDescriptionSummary.RetentionPeriodHours != 24 {
		t.Errorf("new stream's RetentionPeriodHours %d, want 24", s.StreamDescriptionSummary.RetentionPeriodHours)
	}
	if out := cli.run(nil, "increase-stream-retention-period", "--stream-name", name, "--retention-period-hours", "168"); strings.TrimSpace(out) != "" {
		t.Errorf("increase-stream-retention-period printed %q, want nothing", out)
	}
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)
	s := summary()
	if s.StreamDescriptionSummary.RetentionPeriodHours != 168 || s.StreamDescriptionSummary.StreamStatus != "ACTIVE" {
		t.Errorf("describe-stream-summary after increase: RetentionPeriodHours %d status %s, want 168 ACTIVE",
			s.StreamDescriptionSummary.RetentionPeriodHours, s.StreamDescriptionSummary.StreamStatus)
	}
	if s.StreamDescriptionSummary.StreamName != name || s.StreamDescriptionSummary.StreamARN != streamARN(name) ||
		s.StreamDescriptionSummary.StreamModeDetails.StreamMode != "PROVISIONED" {
		t.Errorf("describe-stream-summary = %+v", s.StreamDescriptionSummary)
	}
	// "Increasing" to less than the current period is refused.
	if stderr := cli.runFail("increase-stream-retention-period", "--stream-name", name, "--retention-period-hours", "48"); !strings.Contains(stderr, "InvalidArgumentException") ||
		!strings.Contains(stderr, "Requested retention period (48 hours) for stream ctl can not be shorter than existing retention period (168 hours). Use DecreaseRetentionPeriod API.") {
		t.Errorf("increase-stream-retention-period below the current period: stderr %q", stderr)
	}
	cli.run(nil, "decrease-stream-retention-period", "--stream-name", name, "--retention-period-hours", "48")
	cli.run(nil, "wait", "stream-exists", "--stream-name", name)
	if s := summary(); s.StreamDescriptionSummary.RetentionPeriodHours != 48 {
		t.Errorf("describe-stream-summary after decrease: RetentionPeriodHours %d, want 48", s.StreamDescriptionSummary.RetentionPeriodHours)
	}
	// Below AWS's minimum of 24 hours.
	if stderr := cli.runFail("decrease-stream-retention-period", "--stream-name", name, "--retention-period-hours", "12"); !strings.Contains(stderr, "InvalidArgumentException") ||
		!strings.Contains(stderr, "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.") {
		t.Errorf("decrease-stream-retention-period to 12 hours: stderr %q", stderr)
	}
	if s := summary(); s.StreamDescriptionSummary.RetentionPeriodHours != 48 {
		t.Errorf("refused decrease changed RetentionPeriodHours to %d", s.StreamDescriptionSummary.RetentionPeriodHours)
	}
}

// TestControlRetention checks the retention operations' AWS errors with
// the SDK, where the CLI test checks their effect.
func TestControlRetention(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "ret"
	createStream(t, c, name, 1)
	inc := func(h int32) error {
		_, err := c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(h)})
		return err
	}
	dec := func(h int32) error {
		_, err := c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(h)})
		return err
	}
	hours := func() int32 {
		t.Helper()
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStreamSummary: %v", err)
		}
		return aws.ToInt32(out.StreamDescriptionSummary.RetentionPeriodHours)
	}
	expectErr(t, inc(8761), "InvalidArgumentException", "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.")
	expectErr(t, dec(23), "InvalidArgumentException", "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.")
	expectErr(t, dec(48), "InvalidArgumentException",
		"Requested retention period (48 hours) for stream ret can not be longer than existing retention period (24 hours). Use IncreaseRetentionPeriod API.")
	if err := inc(8760); err != nil {
		t.Fatalf("IncreaseStreamRetentionPeriod 8760: %v", err)
	}
	reshardWaitActive(t, c, name)
	if h := hours(); h != 8760 {
		t.Errorf("RetentionPeriodHours %d after increase to 8760", h)
	}
	expectErr(t, inc(100), "InvalidArgumentException",
		"Requested retention period (100 hours) for stream ret can not be shorter than existing retention period (8760 hours). Use DecreaseRetentionPeriod API.")
	if err := dec(24); err != nil {
		t.Fatalf("DecreaseStreamRetentionPeriod 24: %v", err)
	}
	reshardWaitActive(t, c, name)
	if h := hours(); h != 24 {
		t.Errorf("RetentionPeriodHours %d after decrease to 24", h)
	}
	_, err := c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("nosuch"), RetentionPeriodHours: aws.Int32(48)})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nosuch"))
}
