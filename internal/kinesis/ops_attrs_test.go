package kinesis

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestAttrValidationMessages checks the model validation and semantic
// error texts of the attribute and account operations.
func TestAttrValidationMessages(t *testing.T) {
	s := newService(t)
	if _, err := call(s, "CreateStream", `{"StreamName":"s","ShardCount":1}`); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	long := strings.Repeat("k", 129)
	metricsEnum := "[IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]"
	cases := []struct {
		op, body, typ, msg string
	}{
		// Tags.
		{"AddTagsToStream", `{}`, "ValidationException",
			"1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null"},
		{"AddTagsToStream", `{"StreamName":"","Tags":{}}`, "ValidationException",
			"3 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"AddTagsToStream", `{"StreamName":"s","Tags":{"":"v"}}`, "ValidationException",
			"1 validation error detected: Value '{=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"},
		{"AddTagsToStream", `{"Tags":{"a":"b"}}`, "InvalidArgumentException", "Either StreamName or StreamARN should be provided."},
		{"AddTagsToStream", `{"StreamName":"nope","Tags":{"a":"b"}}`, "ResourceNotFoundException", "Stream nope under account 000000000000 not found."},
		{"AddTagsToStream", `{"StreamName":"s","Tags":{"a!":"b"}}`, "InvalidArgumentException",
			"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."},
		{"AddTagsToStream", `{"StreamName":"s","Tags":{"aws:a":"b"}}`, "InvalidArgumentException",
			"Failed to add tags to stream s under account 000000000000 because some tag keys start with the reserved prefix 'aws:'."},
		{"RemoveTagsFromStream", `{"StreamName":"s","TagKeys":[]}`, "ValidationException",
			"1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"RemoveTagsFromStream", `{"StreamName":"s","TagKeys":["a","` + long + `"]}`, "ValidationException",
			"1 validation error detected: Value '[a, " + long + "]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"},
		{"ListTagsForStream", `{"StreamName":"s","Limit":51,"ExclusiveStartTagKey":""}`, "ValidationException",
			"2 validation errors detected: Value '' at 'exclusiveStartTagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"TagResource", `{}`, "ValidationException",
			"2 validation errors detected: Value null at 'tags' failed to satisfy constraint: Member must not be null; Value null at 'resourceARN' failed to satisfy constraint: Member must not be null"},
		{"TagResource", `{"ResourceARN":"arn:aws:s3:::b","Tags":{"a":"b"}}`, "ValidationException",
			"1 validation error detected: Value 'arn:aws:s3:::b' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+"},
		{"UntagResource", `{"ResourceARN":"` + arn + `"}`, "ValidationException",
			"1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"},
		{"ListTagsForResource", `{"ResourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1700000000"}`, "ResourceNotFoundException",
			"Consumer arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1700000000 under account 000000000000 not found."},
		{"ListTagsForResource", `{"ResourceARN":"arn:aws:kinesis:us-east-1:111111111111:stream/s"}`, "ResourceNotFoundException",
			"Stream s under account 111111111111 not found."},
		{"ListTagsForResource", `{"ResourceARN":"arn:aws:kinesis:us-east-1:000000000000:mystream/s"}`, "InvalidArgumentException",
			"Invalid ResourceARN arn:aws:kinesis:us-east-1:000000000000:mystream/s."},
		// Policies.
		{"PutResourcePolicy", `{}`, "ValidationException",
			"2 validation errors detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not be null; Value null at 'policy' failed to satisfy constraint: Member must not be null"},
		{"PutResourcePolicy", `{"ResourceARN":"` + arn + `","Policy":"{"}`, "InvalidArgumentException", "Syntax errors in policy."},
		{"PutResourcePolicy", `{"ResourceARN":"` + arn + `","Policy":"{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\"}}"}`, "InvalidArgumentException",
			"Policy statement must contain resources."},
		{"DeleteResourcePolicy", `{"ResourceARN":"` + arn + `"}`, "ResourceNotFoundException", "No resource policy found for resource ARN " + arn + "."},
		{"GetResourcePolicy", `{"ResourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/nope"}`, "ResourceNotFoundException",
			"Stream nope under account 000000000000 not found."},
		// Enhanced monitoring.
		{"EnableEnhancedMonitoring", `{"StreamName":"s"}`, "ValidationException",
			"1 validation error detected: Value null at 'shardLevelMetrics' failed to satisfy constraint: Member must not be null"},
		{"EnableEnhancedMonitoring", `{"StreamName":"s","ShardLevelMetrics":["IncomingBytes","Bogus"]}`, "ValidationException",
			"1 validation error detected: Value '[IncomingBytes, Bogus]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: " + metricsEnum + "]"},
		{"DisableEnhancedMonitoring", `{"StreamName":"s","ShardLevelMetrics":[]}`, "ValidationException",
			"1 validation error detected: Value '[]' at 'shardLevelMetrics' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		// Encryption.
		{"StartStreamEncryption", `{"StreamName":"s"}`, "ValidationException",
			"2 validation errors detected: Value null at 'encryptionType' failed to satisfy constraint: Member must not be null; Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{"StartStreamEncryption", `{"StreamName":"s","EncryptionType":"AES","KeyId":""}`, "ValidationException",
			"2 validation errors detected: Value 'AES' at 'encryptionType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, KMS]; " +
				"Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"StartStreamEncryption", `{"StreamName":"s","EncryptionType":"NONE","KeyId":"alias/aws/kinesis"}`, "InvalidArgumentException",
			"EncryptionType NONE is not supported by StartStreamEncryption. The only supported EncryptionType is KMS."},
		{"StartStreamEncryption", `{"StreamName":"s","EncryptionType":"KMS","KeyId":"not a key"}`, "InvalidArgumentException",
			"KeyId not a key is not a valid KMS key id, key ARN, alias name or alias ARN."},
		{"StopStreamEncryption", `{"StreamName":"s","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}`, "InvalidArgumentException",
			"Stream s under account 000000000000 is not encrypted."},
		// Account, record size, warm throughput, distribution.
		{"DescribeLimits", `[]`, "SerializationException", "Start of list found where not expected"},
		{"UpdateAccountSettings", `{}`, "ValidationException",
			"1 validation error detected: Value null at 'minimumThroughputBillingCommitment' failed to satisfy constraint: Member must not be null"},
		{"UpdateAccountSettings", `{"MinimumThroughputBillingCommitment":{"Status":"ON"}}`, "ValidationException",
			"1 validation error detected: Value 'ON' at 'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"},
		{"UpdateMaxRecordSize", `{"StreamARN":"` + arn + `","MaxRecordSizeInKiB":1023}`, "ValidationException",
			"1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value greater than or equal to 1024"},
		{"UpdateMaxRecordSize", `{"MaxRecordSizeInKiB":10241}`, "ValidationException",
			"1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value less than or equal to 10240"},
		{"UpdateMaxRecordSize", `{"MaxRecordSizeInKiB":2048}`, "InvalidArgumentException", "StreamARN must be provided."},
		{"UpdateStreamWarmThroughput", `{"StreamName":"s","WarmThroughputMiBps":-1}`, "ValidationException",
			"1 validation error detected: Value '-1' at 'warmThroughputMiBps' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"UpdateStreamWarmThroughput", `{"StreamName":"s","WarmThroughputMiBps":10}`, "InvalidArgumentException",
			"Warm throughput is only supported for streams in ON_DEMAND capacity mode. Stream s under account 000000000000 is in PROVISIONED mode."},
		{"UpdateStreamRecordDistributionStrategy", `{}`, "ValidationException",
			"2 validation errors detected: Value null at 'recordDistributionStrategy' failed to satisfy constraint: Member must not be null; Value null at 'streamARN' failed to satisfy constraint: Member must not be null"},
		{"UpdateStreamRecordDistributionStrategy", `{"RecordDistributionStrategy":"RANDOM","StreamARN":"` + arn + `"}`, "ValidationException",
			"1 validation error detected: Value 'RANDOM' at 'recordDistributionStrategy' failed to satisfy constraint: Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]"},
		{"UpdateStreamRecordDistributionStrategy", `{"RecordDistributionStrategy":"AUTO","StreamARN":"` + arn + `"}`, "InvalidArgumentException",
			"RecordDistributionStrategy AUTO is only supported for streams in ON_DEMAND capacity mode. Stream s under account 000000000000 is in PROVISIONED mode."},
	}
	for _, c := range cases {
		_, err := call(s, c.op, c.body)
		if err == nil || err.Type != c.typ || err.Message != c.msg {
			t.Errorf("%s %s:\n got %v\nwant %s: %s", c.op, c.body, err, c.typ, c.msg)
		}
	}
}

// roundTrip calls op and returns its response as generic JSON.
func roundTrip(t *testing.T, s *Service, op, body string) map[string]any {
	t.Helper()
	out, err := call(s, op, body)
	if err != nil {
		t.Fatalf("%s %s: %v", op, body, err)
	}
	b, jerr := json.Marshal(out)
	if jerr != nil {
		t.Fatal(jerr)
	}
	m := map[string]any{}
	if jerr := json.Unmarshal(b, &m); jerr != nil && string(b) != "null" {
		t.Fatal(jerr)
	}
	return m
}

func TestAttrResponses(t *testing.T) {
	s := newService(t)
	roundTrip(t, s, "CreateStream", `{"StreamName":"s","ShardCount":2,"Tags":{"team":"data"}}`)
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	roundTrip(t, s, "TagResource", `{"ResourceARN":"`+arn+`","Tags":{"env":"test","cost":""}}`)
	got := roundTrip(t, s, "ListTagsForStream", `{"StreamName":"s","Limit":2}`)
	want := map[string]any{"Tags": []any{map[string]any{"Key": "cost", "Value": ""}, map[string]any{"Key": "env", "Value": "test"}}, "HasMoreTags": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListTagsForStream = %v", got)
	}
	roundTrip(t, s, "UntagResource", `{"ResourceARN":"`+arn+`","TagKeys":["cost"]}`)
	got = roundTrip(t, s, "ListTagsForResource", `{"ResourceARN":"`+arn+`"}`)
	want = map[string]any{"Tags": []any{map[string]any{"Key": "env", "Value": "test"}, map[string]any{"Key": "team", "Value": "data"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListTagsForResource = %v", got)
	}

	if got := roundTrip(t, s, "GetResourcePolicy", `{"ResourceARN":"`+arn+`"}`); got["Policy"] != "{}" {
		t.Errorf("GetResourcePolicy without a policy = %v", got)
	}

	got = roundTrip(t, s, "EnableEnhancedMonitoring", `{"StreamARN":"`+arn+`","ShardLevelMetrics":["ALL"]}`)
	if got["StreamName"] != "s" || got["StreamARN"] != arn || len(got["CurrentShardLevelMetrics"].([]any)) != 0 || len(got["DesiredShardLevelMetrics"].([]any)) != 7 {
		t.Errorf("EnableEnhancedMonitoring = %v", got)
	}
	got = roundTrip(t, s, "DescribeStreamSummary", `{"StreamName":"s"}`)
	em := got["StreamDescriptionSummary"].(map[string]any)["EnhancedMonitoring"].([]any)[0].(map[string]any)["ShardLevelMetrics"].([]any)
	if len(em) != 7 {
		t.Errorf("DescribeStreamSummary EnhancedMonitoring = %v", em)
	}

	roundTrip(t, s, "StartStreamEncryption", `{"StreamName":"s","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}`)
	d := roundTrip(t, s, "DescribeStream", `{"StreamName":"s"}`)["StreamDescription"].(map[string]any)
	if d["EncryptionType"] != "KMS" || d["KeyId"] != "alias/aws/kinesis" {
		t.Errorf("DescribeStream after StartStreamEncryption: %v %v", d["EncryptionType"], d["KeyId"])
	}

	got = roundTrip(t, s, "DescribeLimits", `{}`)
	want = map[string]any{"ShardLimit": 500.0, "OpenShardCount": 2.0, "OnDemandStreamCount": 0.0, "OnDemandStreamCountLimit": 50.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DescribeLimits = %v", got)
	}
	got = roundTrip(t, s, "DescribeAccountSettings", `{}`)
	if !reflect.DeepEqual(got, map[string]any{"MinimumThroughputBillingCommitment": map[string]any{"Status": "DISABLED"}}) {
		t.Errorf("DescribeAccountSettings = %v", got)
	}
	got = roundTrip(t, s, "UpdateAccountSettings", `{"MinimumThroughputBillingCommitment":{"Status":"ENABLED"}}`)
	c := got["MinimumThroughputBillingCommitment"].(map[string]any)
	if c["Status"] != "ENABLED" || c["StartedAt"] == nil || c["EarliestAllowedEndAt"].(float64)-c["StartedAt"].(float64) != 86400 || c["EndedAt"] != nil {
		t.Errorf("UpdateAccountSettings = %v", got)
	}

	roundTrip(t, s, "CreateStream", `{"StreamName":"od","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`)
	got = roundTrip(t, s, "UpdateStreamWarmThroughput", `{"StreamName":"od","WarmThroughputMiBps":64}`)
	want = map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/od", "StreamName": "od",
		"WarmThroughput": map[string]any{"TargetMiBps": 64.0, "CurrentMiBps": 0.0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UpdateStreamWarmThroughput = %v", got)
	}
	roundTrip(t, s, "UpdateStreamRecordDistributionStrategy", `{"RecordDistributionStrategy":"AUTO","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/od"}`)
	roundTrip(t, s, "UpdateMaxRecordSize", `{"StreamARN":"`+arn+`","MaxRecordSizeInKiB":2048}`)
	got = roundTrip(t, s, "DescribeStreamSummary", `{"StreamName":"s"}`)
	if n := got["StreamDescriptionSummary"].(map[string]any)["MaxRecordSizeInKiB"]; n != 2048.0 {
		t.Errorf("MaxRecordSizeInKiB = %v", n)
	}
}
