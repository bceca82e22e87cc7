package e2e

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// tagMap turns a tag list into a map, failing on a nil key.
func tagMap(t testing.TB, tags []types.Tag) map[string]string {
	t.Helper()
	m := make(map[string]string, len(tags))
	for _, tag := range tags {
		if tag.Key == nil {
			t.Fatalf("tag without a key in %v", tags)
		}
		m[*tag.Key] = aws.ToString(tag.Value)
	}
	return m
}

func TestAttrTags(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "tagged"
	arn := streamARN(name)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(1), Tags: map[string]string{"team": "data"},
	}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	waitActive(t, c, name)

	if _, err := c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{
		StreamName: aws.String(name), Tags: map[string]string{"env": "test", "cost center": "a/b=c+d-e%f@g_h.i", "empty": ""},
	}); err != nil {
		t.Fatalf("AddTagsToStream: %v", err)
	}
	out, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListTagsForStream: %v", err)
	}
	want := map[string]string{"team": "data", "env": "test", "cost center": "a/b=c+d-e%f@g_h.i", "empty": ""}
	if got := tagMap(t, out.Tags); !reflect.DeepEqual(got, want) || aws.ToBool(out.HasMoreTags) {
		t.Fatalf("ListTagsForStream = %v, HasMoreTags %v", got, aws.ToBool(out.HasMoreTags))
	}
	// Pages sorted by key: cost center, empty | env, team.
	page, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamARN: aws.String(arn), Limit: aws.Int32(2)})
	if err != nil || len(page.Tags) != 2 || aws.ToString(page.Tags[0].Key) != "cost center" || aws.ToString(page.Tags[1].Key) != "empty" || !aws.ToBool(page.HasMoreTags) {
		t.Fatalf("first page: %+v %v", page, err)
	}
	page, err = c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{
		StreamName: aws.String(name), Limit: aws.Int32(2), ExclusiveStartTagKey: page.Tags[1].Key,
	})
	if err != nil || len(page.Tags) != 2 || aws.ToString(page.Tags[0].Key) != "env" || aws.ToString(page.Tags[1].Key) != "team" || aws.ToBool(page.HasMoreTags) {
		t.Fatalf("second page: %+v %v", page, err)
	}

	if _, err := c.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{
		StreamName: aws.String(name), TagKeys: []string{"empty", "cost center", "never-there"},
	}); err != nil {
		t.Fatalf("RemoveTagsFromStream: %v", err)
	}

	// The same tags through the ARN-addressed operations.
	if _, err := c.TagResource(ctx, &kinesis.TagResourceInput{ResourceARN: aws.String(arn), Tags: map[string]string{"owner": "me"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResource(ctx, &kinesis.UntagResourceInput{ResourceARN: aws.String(arn), TagKeys: []string{"env"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	res, err := c.ListTagsForResource(ctx, &kinesis.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListTagsForResource: %v", err)
	}
	if got := tagMap(t, res.Tags); !reflect.DeepEqual(got, map[string]string{"team": "data", "owner": "me"}) {
		t.Fatalf("ListTagsForResource = %v", got)
	}

	_, err = c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: map[string]string{"bad*key": "v"}})
	expectErr(t, err, "InvalidArgumentException",
		"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.")
	_, err = c.TagResource(ctx, &kinesis.TagResourceInput{ResourceARN: aws.String(arn), Tags: map[string]string{"aws:owner": "v"}})
	expectErr(t, err, "InvalidArgumentException",
		"Failed to add tags to stream tagged under account 000000000000 because some tag keys start with the reserved prefix 'aws:'.")
	many := map[string]string{}
	for i := range 49 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	_, err = c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: many})
	expectErr(t, err, "InvalidArgumentException",
		"Failed to add tags to stream tagged under account 000000000000 because a given stream cannot have more than 50 tags associated with it.")
	_, err = c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name), Limit: aws.Int32(51)})
	expectErr(t, err, "ValidationException",
		"1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50")
	_, err = c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("nope")})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nope"))
	consumer := arn + "/consumer/c:1700000000"
	_, err = c.ListTagsForResource(ctx, &kinesis.ListTagsForResourceInput{ResourceARN: aws.String(consumer)})
	expectErr(t, err, "ResourceNotFoundException", "Consumer "+consumer+" under account 000000000000 not found.")

	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String("tagged2"), ShardCount: aws.Int32(1), Tags: map[string]string{"": "v"},
	})
	expectErr(t, err, "ValidationException",
		"1 validation error detected: Value '{=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
}

func TestAttrResourcePolicy(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "guarded", 1)
	arn := streamARN("guarded")

	got, err := c.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: aws.String(arn)})
	if err != nil || aws.ToString(got.Policy) != "{}" {
		t.Fatalf("GetResourcePolicy without a policy: %v %v", aws.ToString(got.Policy), err)
	}
	policy := `{"Version":"2012-10-17","Id":"writePolicy","Statement":[{"Sid":"write","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["kinesis:PutRecord","kinesis:PutRecords"],"Resource":"` + arn + `"}]}`
	if _, err := c.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(arn), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("PutResourcePolicy: %v", err)
	}
	got, err = c.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: aws.String(arn)})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Fatalf("GetResourcePolicy: %q %v", aws.ToString(got.Policy), err)
	}
	if _, err := c.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteResourcePolicy: %v", err)
	}
	_, err = c.DeleteResourcePolicy(ctx, &kinesis.DeleteResourcePolicyInput{ResourceARN: aws.String(arn)})
	expectErr(t, err, "ResourceNotFoundException", "No resource policy found for resource ARN "+arn+".")

	for _, c2 := range []struct{ policy, msg string }{
		{`{"Version":"2012-10-17","Statement":`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":[{"Action":"kinesis:*","Resource":"*"}]}`, "Missing required field Effect"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, "Policy statement must contain actions."},
	} {
		_, err = c.PutResourcePolicy(ctx, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(arn), Policy: aws.String(c2.policy)})
		expectErr(t, err, "InvalidArgumentException", c2.msg)
	}
	_, err = c.GetResourcePolicy(ctx, &kinesis.GetResourcePolicyInput{ResourceARN: aws.String(streamARN("nope"))})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nope"))
}

func TestAttrEnhancedMonitoring(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "watched", 1)
	all := []types.MetricsName{
		types.MetricsNameIncomingBytes, types.MetricsNameIncomingRecords, types.MetricsNameOutgoingBytes, types.MetricsNameOutgoingRecords,
		types.MetricsNameWriteProvisionedThroughputExceeded, types.MetricsNameReadProvisionedThroughputExceeded, types.MetricsNameIteratorAgeMilliseconds,
	}
	on, err := c.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{
		StreamName: aws.String("watched"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameAll},
	})
	if err != nil {
		t.Fatalf("EnableEnhancedMonitoring: %v", err)
	}
	if aws.ToString(on.StreamName) != "watched" || aws.ToString(on.StreamARN) != streamARN("watched") ||
		len(on.CurrentShardLevelMetrics) != 0 || !reflect.DeepEqual(on.DesiredShardLevelMetrics, all) {
		t.Fatalf("EnableEnhancedMonitoring = %+v", on)
	}
	off, err := c.DisableEnhancedMonitoring(ctx, &kinesis.DisableEnhancedMonitoringInput{
		StreamARN: aws.String(streamARN("watched")), ShardLevelMetrics: []types.MetricsName{types.MetricsNameIncomingBytes, types.MetricsNameOutgoingBytes},
	})
	if err != nil {
		t.Fatalf("DisableEnhancedMonitoring: %v", err)
	}
	rest := []types.MetricsName{all[1], all[3], all[4], all[5], all[6]}
	if !reflect.DeepEqual(off.CurrentShardLevelMetrics, all) || !reflect.DeepEqual(off.DesiredShardLevelMetrics, rest) {
		t.Fatalf("DisableEnhancedMonitoring = %+v", off)
	}
	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("watched")})
	if err != nil || len(d.StreamDescription.EnhancedMonitoring) != 1 || !reflect.DeepEqual(d.StreamDescription.EnhancedMonitoring[0].ShardLevelMetrics, rest) {
		t.Fatalf("DescribeStream EnhancedMonitoring: %+v %v", d.StreamDescription.EnhancedMonitoring, err)
	}
	_, err = c.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{
		StreamName: aws.String("watched"), ShardLevelMetrics: []types.MetricsName{"Bogus"},
	})
	expectErrPrefix(t, err, "ValidationException",
		"1 validation error detected: Value '[Bogus]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes,")
	_, err = c.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{
		StreamName: aws.String("nope"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameAll},
	})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nope"))
}

// waitStatus polls DescribeStreamSummary until the stream has status, or
// fails after a deadline.
func waitStatus(t testing.TB, c *kinesis.Client, name string, status types.StreamStatus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStreamSummary %s: %v", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s still %s, want %s", name, out.StreamDescriptionSummary.StreamStatus, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAttrStreamEncryption(t *testing.T) {
	t.Parallel()
	keyFile := writeMasterKey(t)
	srv := startServer(t, "--state-delay", "300ms", "--master-key-file", keyFile)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "secret", 1)
	// The default key, by its ARN.
	var key string
	for _, k := range listRingKeys(t, srv.dataDir, keyFile) {
		if slices.Contains(k.Aliases, "alias/aws/kinesis") {
			key = k.Arn
		}
	}
	if !strings.HasPrefix(key, "arn:aws:kms:us-east-1:000000000000:key/") {
		t.Fatalf("default key ARN %q", key)
	}

	_, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
		StreamName: aws.String("secret"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key),
	})
	expectErr(t, err, "InvalidArgumentException", "Stream secret under account 000000000000 is not encrypted.")
	if _, err := c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{
		StreamName: aws.String("secret"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key),
	}); err != nil {
		t.Fatalf("StartStreamEncryption: %v", err)
	}
	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if sd := d.StreamDescription; sd.StreamStatus != types.StreamStatusUpdating || sd.EncryptionType != types.EncryptionTypeKms || aws.ToString(sd.KeyId) != key {
		t.Fatalf("after StartStreamEncryption: %s %s %s", sd.StreamStatus, sd.EncryptionType, aws.ToString(sd.KeyId))
	}
	_, err = c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
		StreamName: aws.String("secret"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key),
	})
	expectErr(t, err, "ResourceInUseException", "Stream secret under account 000000000000 not ACTIVE, instead in state UPDATING")
	waitStatus(t, c, "secret", types.StreamStatusActive)

	_, err = c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
		StreamName: aws.String("secret"), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis"),
	})
	expectErr(t, err, "InvalidArgumentException",
		"KeyId alias/aws/kinesis does not match the KeyId "+key+" that stream secret under account 000000000000 is encrypted with.")
	_, err = c.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{
		StreamName: aws.String("secret"), EncryptionType: types.EncryptionTypeNone, KeyId: aws.String(key),
	})
	expectErr(t, err, "InvalidArgumentException",
		"EncryptionType NONE is not supported by StartStreamEncryption. The only supported EncryptionType is KMS.")
	if _, err := c.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
		StreamARN: aws.String(streamARN("secret")), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key),
	}); err != nil {
		t.Fatalf("StopStreamEncryption: %v", err)
	}
	waitStatus(t, c, "secret", types.StreamStatusActive)
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("secret")})
	if err != nil || sum.StreamDescriptionSummary.EncryptionType != types.EncryptionTypeNone || sum.StreamDescriptionSummary.KeyId != nil {
		t.Fatalf("after StopStreamEncryption: %+v %v", sum.StreamDescriptionSummary, err)
	}
}

func TestAttrLimitsAndAccountSettings(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "prov", 3)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	}); err != nil {
		t.Fatalf("CreateStream ON_DEMAND: %v", err)
	}
	waitActive(t, c, "od")

	l, err := c.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil {
		t.Fatalf("DescribeLimits: %v", err)
	}
	if aws.ToInt32(l.ShardLimit) != 500 || aws.ToInt32(l.OpenShardCount) != 7 || aws.ToInt32(l.OnDemandStreamCount) != 1 || aws.ToInt32(l.OnDemandStreamCountLimit) != 50 {
		t.Fatalf("DescribeLimits = %d %d %d %d", aws.ToInt32(l.ShardLimit), aws.ToInt32(l.OpenShardCount), aws.ToInt32(l.OnDemandStreamCount), aws.ToInt32(l.OnDemandStreamCountLimit))
	}

	acct, err := c.DescribeAccountSettings(ctx, &kinesis.DescribeAccountSettingsInput{})
	if err != nil || acct.MinimumThroughputBillingCommitment == nil || acct.MinimumThroughputBillingCommitment.Status != types.MinimumThroughputBillingCommitmentOutputStatusDisabled {
		t.Fatalf("DescribeAccountSettings: %+v %v", acct, err)
	}
	_, err = c.UpdateStreamWarmThroughput(ctx, &kinesis.UpdateStreamWarmThroughputInput{StreamName: aws.String("od"), WarmThroughputMiBps: aws.Int32(100)})
	expectErr(t, err, "InvalidArgumentException", "Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account 000000000000.")

	before := time.Now().Add(-2 * time.Second)
	up, err := c.UpdateAccountSettings(ctx, &kinesis.UpdateAccountSettingsInput{
		MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{Status: types.MinimumThroughputBillingCommitmentInputStatusEnabled},
	})
	if err != nil {
		t.Fatalf("UpdateAccountSettings ENABLED: %v", err)
	}
	mc := up.MinimumThroughputBillingCommitment
	if mc.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabled || mc.StartedAt == nil || mc.StartedAt.Before(before) ||
		mc.EarliestAllowedEndAt == nil || mc.EarliestAllowedEndAt.Sub(*mc.StartedAt) != 24*time.Hour || mc.EndedAt != nil {
		t.Fatalf("UpdateAccountSettings ENABLED = %+v", mc)
	}
	// Disabling within the first 24 hours ends the commitment then.
	up, err = c.UpdateAccountSettings(ctx, &kinesis.UpdateAccountSettingsInput{
		MinimumThroughputBillingCommitment: &types.MinimumThroughputBillingCommitmentInput{Status: types.MinimumThroughputBillingCommitmentInputStatusDisabled},
	})
	if err != nil || up.MinimumThroughputBillingCommitment.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabledUntilEarliestAllowedEnd {
		t.Fatalf("UpdateAccountSettings DISABLED: %+v %v", up.MinimumThroughputBillingCommitment, err)
	}

	wt, err := c.UpdateStreamWarmThroughput(ctx, &kinesis.UpdateStreamWarmThroughputInput{StreamARN: aws.String(streamARN("od")), WarmThroughputMiBps: aws.Int32(100)})
	if err != nil {
		t.Fatalf("UpdateStreamWarmThroughput: %v", err)
	}
	if aws.ToString(wt.StreamName) != "od" || aws.ToString(wt.StreamARN) != streamARN("od") || wt.WarmThroughput == nil || aws.ToInt32(wt.WarmThroughput.TargetMiBps) != 100 {
		t.Fatalf("UpdateStreamWarmThroughput = %+v", wt)
	}
	_, err = c.UpdateStreamWarmThroughput(ctx, &kinesis.UpdateStreamWarmThroughputInput{StreamName: aws.String("prov"), WarmThroughputMiBps: aws.Int32(100)})
	expectErr(t, err, "InvalidArgumentException",
		"Warm throughput is only supported for streams in ON_DEMAND capacity mode. Stream prov under account 000000000000 is in PROVISIONED mode.")
	_, err = c.UpdateStreamWarmThroughput(ctx, &kinesis.UpdateStreamWarmThroughputInput{StreamName: aws.String("od"), WarmThroughputMiBps: aws.Int32(10241)})
	expectErr(t, err, "LimitExceededException",
		"Requested warm throughput (10241 MiBps) for stream od under account 000000000000 exceeds the limit of 10240 MiBps.")

	// The settings are in the catalog: they survive a restart.
	srv.stop()
	srv.restart()
	acct, err = c.DescribeAccountSettings(ctx, &kinesis.DescribeAccountSettingsInput{})
	if err != nil || acct.MinimumThroughputBillingCommitment.Status != types.MinimumThroughputBillingCommitmentOutputStatusEnabledUntilEarliestAllowedEnd {
		t.Fatalf("DescribeAccountSettings after restart: %+v %v", acct.MinimumThroughputBillingCommitment, err)
	}
}

func TestAttrMaxRecordSize(t *testing.T) {
	t.Parallel()
	// Throughput limits off: this is about the record size limit, and one
	// 1.5 MiB record is more than a shard's 1 MiB/s write budget.
	srv := startServer(t, "--shard-limits", "off")
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "big", 1)
	data := make([]byte, 1536<<10)
	_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("big"), PartitionKey: aws.String("k"), Data: data})
	apiErr(t, err, "ValidationException")

	if _, err := c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String(streamARN("big")), MaxRecordSizeInKiB: aws.Int32(2048)}); err != nil {
		t.Fatalf("UpdateMaxRecordSize: %v", err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("big"), PartitionKey: aws.String("k"), Data: data}); err != nil {
		t.Fatalf("PutRecord of 1.5 MiB after UpdateMaxRecordSize 2048: %v", err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("big")})
	if err != nil || aws.ToInt32(sum.StreamDescriptionSummary.MaxRecordSizeInKiB) != 2048 {
		t.Fatalf("DescribeStreamSummary MaxRecordSizeInKiB: %v %v", aws.ToInt32(sum.StreamDescriptionSummary.MaxRecordSizeInKiB), err)
	}
	_, err = c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String(streamARN("big")), MaxRecordSizeInKiB: aws.Int32(99999)})
	expectErr(t, err, "ValidationException",
		"1 validation error detected: Value '99999' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value less than or equal to 10240")
	_, err = c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String(streamARN("nope")), MaxRecordSizeInKiB: aws.Int32(2048)})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nope"))
}

func TestAttrRecordDistribution(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "prov", 1)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	}); err != nil {
		t.Fatalf("CreateStream ON_DEMAND: %v", err)
	}
	waitActive(t, c, "od")
	if _, err := c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(streamARN("od")), RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	}); err != nil {
		t.Fatalf("UpdateStreamRecordDistributionStrategy AUTO on ON_DEMAND: %v", err)
	}
	_, err := c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(streamARN("prov")), RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	})
	expectErr(t, err, "InvalidArgumentException",
		"RecordDistributionStrategy AUTO is only supported for streams in ON_DEMAND capacity mode. Stream prov under account 000000000000 is in PROVISIONED mode.")
	_, err = c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(streamARN("nope")), RecordDistributionStrategy: types.RecordDistributionStrategyUserPartitionKey,
	})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg("nope"))
	_, err = c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(streamARN("od")), RecordDistributionStrategy: "RANDOM",
	})
	if ae := apiErr(t, err, "ValidationException"); !strings.Contains(ae.ErrorMessage(), "[AUTO, USER_PARTITION_KEY]") {
		t.Errorf("enum message %q", ae.ErrorMessage())
	}
}

// TestAttrCBOR checks that the attribute operations answer the Java SDK's
// CBOR: nested structures, lists of structures and timestamps as tag 1 +
// epoch milliseconds.
func TestAttrCBOR(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	createStream(t, srv.client(), "cbor-attrs", 1)
	before := time.Now().Add(-2 * time.Second).UnixMilli()
	cborCall(t, srv, "AddTagsToStream", mustCBOR(t, map[string]any{"StreamName": "cbor-attrs", "Tags": map[string]string{"b": "2", "a": "1"}}))
	out := cborCall(t, srv, "ListTagsForStream", mustCBOR(t, map[string]any{"StreamName": "cbor-attrs"}))
	tags := out.array(t, "Tags")
	if len(tags) != 2 || tags[0].text(t, "Key") != "a" || tags[0].text(t, "Value") != "1" || tags[1].text(t, "Key") != "b" {
		t.Fatalf("ListTagsForStream over CBOR: %v", tags)
	}
	out = cborCall(t, srv, "UpdateAccountSettings", mustCBOR(t, map[string]any{
		"MinimumThroughputBillingCommitment": map[string]string{"Status": "ENABLED"},
	}))
	raw, ok := out["MinimumThroughputBillingCommitment"]
	if !ok {
		t.Fatalf("UpdateAccountSettings over CBOR: members %v", out.keys())
	}
	mc := decodeCBORObj(t, "MinimumThroughputBillingCommitment", raw)
	if raw := mc["StartedAt"]; len(raw) == 0 || raw[0] != 0xc1 {
		t.Errorf("StartedAt is not tagged as an epoch time: % x", raw)
	}
	started := mc.millis(t, "StartedAt")
	if mc.text(t, "Status") != "ENABLED" || started < before || mc.millis(t, "EarliestAllowedEndAt")-started != 24*3600*1000 {
		t.Errorf("UpdateAccountSettings over CBOR: status %s started %d earliest end %d",
			mc.text(t, "Status"), started, mc.millis(t, "EarliestAllowedEndAt"))
	}
}
