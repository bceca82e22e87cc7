package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func (h *harness) newAttrStream(name string, mode string) {
	h.t.Helper()
	if err := h.eng.CreateStream(CreateStreamParams{Name: name, ShardCount: 1, Mode: mode}); err != nil {
		h.t.Fatal(err)
	}
}

func wantAttrMessage(t *testing.T, err error, code, msg string) {
	t.Helper()
	if e := wantCode(t, err, code); e.Message != msg {
		t.Errorf("message:\n got %q\nwant %q", e.Message, msg)
	}
}

func TestTags(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("s", "")
	if err := h.eng.AddTags("s", map[string]string{"b": "2", "a": "1", "c d": "x/y=z+-%@_.", "é": ""}); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.AddTags("s", map[string]string{"a": "one"}); err != nil { // replaces
		t.Fatal(err)
	}
	tags, more, err := h.eng.ListTags("s", "", 0)
	want := []Tag{{"a", "one"}, {"b", "2"}, {"c d", "x/y=z+-%@_."}, {"é", ""}}
	if err != nil || more || !reflect.DeepEqual(tags, want) {
		t.Fatalf("ListTags = %v %v %v", tags, more, err)
	}
	tags, more, _ = h.eng.ListTags("s", "a", 2)
	if !more || !reflect.DeepEqual(tags, want[1:3]) {
		t.Fatalf("ListTags after a, limit 2 = %v %v", tags, more)
	}
	tags, more, _ = h.eng.ListTags("s", "b", 2)
	if more || !reflect.DeepEqual(tags, want[2:]) {
		t.Fatalf("ListTags after b, limit 2 = %v %v", tags, more)
	}
	if err := h.eng.RemoveTags("s", []string{"a", "nope"}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	tags, _, _ = h.eng.ListTags("s", "", 0)
	if !reflect.DeepEqual(tags, want[1:]) {
		t.Fatalf("after remove and restart: %v", tags)
	}

	invalid := "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
	reserved := "Failed to add tags to stream s under account 000000000000 because some tag keys start with the reserved prefix 'aws:'."
	for _, c := range []struct {
		tags map[string]string
		msg  string
	}{
		{map[string]string{"a#": "1"}, invalid},
		{map[string]string{"a": "x*y"}, invalid},
		{map[string]string{"a:b": "1"}, invalid},
		{map[string]string{"aws:x": "1"}, reserved},
		{map[string]string{"AWS:x": "1"}, reserved},
	} {
		wantAttrMessage(t, h.eng.AddTags("s", c.tags), CodeInvalidArgument, c.msg)
	}
	wantAttrMessage(t, h.eng.RemoveTags("s", []string{"aws:x"}), CodeInvalidArgument,
		"Failed to remove tags from stream s under account 000000000000 because some tag keys start with the reserved prefix 'aws:'.")

	// 50 tags at most, counting the ones the stream has.
	many := map[string]string{}
	for i := range 47 {
		many[fmt.Sprintf("k%02d", i)] = ""
	}
	if err := h.eng.AddTags("s", many); err != nil { // 3 + 47 = 50
		t.Fatal(err)
	}
	if err := h.eng.AddTags("s", map[string]string{"k00": "replaced"}); err != nil {
		t.Fatal(err)
	}
	wantAttrMessage(t, h.eng.AddTags("s", map[string]string{"one-more": ""}), CodeInvalidArgument,
		"Failed to add tags to stream s under account 000000000000 because a given stream cannot have more than 50 tags associated with it.")

	wantCode(t, h.eng.AddTags("nope", map[string]string{"a": "b"}), CodeResourceNotFound)
	_, _, err = h.eng.ListTags("nope", "", 0)
	wantCode(t, err, CodeResourceNotFound)
}

func TestCreateStreamTags(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.eng.CheckCreateStreamTags("s", map[string]string{"team": "data"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.eng.CheckCreateStreamTags("s", map[string]string{"aws:team": "data"}), CodeInvalidArgument)
	wantCode(t, h.eng.CheckCreateStreamTags("s", map[string]string{"team": "d&ta"}), CodeInvalidArgument)
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprint(i)] = ""
	}
	wantAttrMessage(t, h.eng.CheckCreateStreamTags("s", many), CodeInvalidArgument,
		"Failed to create stream s under account 000000000000 because a given stream cannot have more than 50 tags associated with it.")
	// Tags given at creation are the stream's tags.
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1, Tags: map[string]string{"team": "data"}}); err != nil {
		t.Fatal(err)
	}
	if tags, _, _ := h.eng.ListTags("s", "", 0); !reflect.DeepEqual(tags, []Tag{{"team", "data"}}) {
		t.Fatalf("tags %v", tags)
	}
}

func TestAttrsWhileCreating(t *testing.T) {
	h := newHarness(t, Config{StateDelay: time.Second})
	h.newAttrStream("s", "")
	notActive := "Stream s under account 000000000000 not ACTIVE, instead in state CREATING"
	wantAttrMessage(t, h.eng.AddTags("s", map[string]string{"a": "b"}), CodeResourceInUse, notActive)
	wantAttrMessage(t, h.eng.PutResourcePolicy(Resource{Stream: "s"}, validPolicy), CodeResourceInUse, notActive)
	_, _, err := h.eng.UpdateShardLevelMetrics("s", []string{"ALL"}, true)
	wantAttrMessage(t, err, CodeResourceInUse, notActive)
	wantAttrMessage(t, h.eng.StartStreamEncryption("s", "alias/aws/kinesis"), CodeResourceInUse, notActive)
	if _, _, err := h.eng.ListTags("s", "", 0); err != nil {
		t.Fatal(err) // reading is fine
	}
}

const validPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"w","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},` +
	`"Action":["kinesis:PutRecord","kinesis:PutRecords"],"Resource":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}]}`

func TestResourcePolicy(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("s", "")
	if p, err := h.eng.ResourcePolicy(Resource{Stream: "s"}); err != nil || p != "{}" {
		t.Fatalf("no policy: %q %v", p, err)
	}
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	wantAttrMessage(t, h.eng.DeleteResourcePolicy(Resource{Stream: "s"}, arn), CodeResourceNotFound,
		"No resource policy found for resource ARN "+arn+".")
	if err := h.eng.PutResourcePolicy(Resource{Stream: "s"}, validPolicy); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if p, _ := h.eng.ResourcePolicy(Resource{Stream: "s"}); p != validPolicy {
		t.Fatalf("policy %q", p)
	}
	if err := h.eng.DeleteResourcePolicy(Resource{Stream: "s"}, arn); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.eng.ResourcePolicy(Resource{Stream: "s"}); p != "{}" {
		t.Fatalf("after delete %q", p)
	}
	wantCode(t, h.eng.PutResourcePolicy(Resource{Stream: "nope"}, validPolicy), CodeResourceNotFound)
	_, err := h.eng.ResourcePolicy(Resource{Stream: "nope"})
	wantCode(t, err, CodeResourceNotFound)
}

func TestCheckPolicy(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":` + s + `}` }
	ok := []string{
		validPolicy,
		`{"Statement":{"Effect":"Deny","NotAction":"kinesis:*","NotResource":["*"]}}`,
		stmt(`[{"Effect":"Allow","Principal":"*","Action":"kinesis:Get*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":["1","2"]},"Bool":{"aws:SecureTransport":true}}}]`),
		`{"Version":"2008-10-17","Id":"x","Statement":[{"Effect":"Allow","NotPrincipal":{"Service":["a.amazonaws.com"]},"Action":"*","Resource":"*"}]}`,
	}
	for _, doc := range ok {
		if err := CheckPolicy(doc); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	bad := []struct{ doc, msg string }{
		{`not json`, "Syntax errors in policy."},
		{`[]`, "Syntax errors in policy."},
		{`null`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17"}`, "Missing required field Statement"},
		{stmt(`[]`), "Missing required field Statement"},
		{stmt(`"x"`), "Syntax errors in policy."},
		{stmt(`[1]`), "Syntax errors in policy."},
		{`{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "The policy must contain a valid version string"},
		{`{"Foo":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "Policy document contains an unsupported element: Foo"},
		{stmt(`{"Action":"*","Resource":"*"}`), "Missing required field Effect"},
		{stmt(`{"Effect":"Maybe","Action":"*","Resource":"*"}`), "Invalid effect: Maybe"},
		{stmt(`{"Effect":"Allow","Resource":"*"}`), "Policy statement must contain actions."},
		{stmt(`{"Effect":"Allow","Action":"*"}`), "Policy statement must contain resources."},
		{stmt(`{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}`), "Policy statement must not contain both Action and NotAction."},
		{stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), "Syntax errors in policy."},
		{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Principal":"someone"}`), "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Principal":{"Nobody":"x"}}`), "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":"x"}`), "Syntax errors in policy."},
		{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Oops":1}`), "Policy document contains an unsupported element: Oops"},
		{stmt(`[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"*","Resource":"*"}]`),
			"Statement IDs (SID) in a single policy must be unique."},
		{`{"Statement":{"Effect":"Allow","Action":"` + strings.Repeat("a", maxPolicyBytes) + `","Resource":"*"}}`,
			"Policy document exceeds the maximum size of 20480 bytes."},
	}
	for _, c := range bad {
		wantAttrMessage(t, CheckPolicy(c.doc), CodeInvalidArgument, c.msg)
	}
}

func TestEnhancedMonitoring(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("s", "")
	cases := []struct {
		metrics          []string
		enable           bool
		current, desired []string
	}{
		{[]string{"IteratorAgeMilliseconds", "IncomingBytes"}, true, []string{}, []string{"IncomingBytes", "IteratorAgeMilliseconds"}},
		{[]string{"ALL"}, true, []string{"IncomingBytes", "IteratorAgeMilliseconds"}, ShardLevelMetrics},
		{[]string{"IncomingBytes", "OutgoingBytes"}, false, ShardLevelMetrics,
			[]string{"IncomingRecords", "OutgoingRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"}},
		{[]string{"ALL"}, false, []string{"IncomingRecords", "OutgoingRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"}, []string{}},
		{[]string{"IncomingRecords"}, true, []string{}, []string{"IncomingRecords"}},
	}
	for i, c := range cases {
		cur, des, err := h.eng.UpdateShardLevelMetrics("s", c.metrics, c.enable)
		if err != nil || !reflect.DeepEqual(cur, c.current) || !reflect.DeepEqual(des, c.desired) {
			t.Fatalf("case %d: %v %v %v", i, cur, des, err)
		}
	}
	h.restart()
	if info, _ := h.eng.DescribeStream("s"); !reflect.DeepEqual(info.ShardLevelMetrics, []string{"IncomingRecords"}) {
		t.Fatalf("DescribeStream metrics %v", info.ShardLevelMetrics)
	}
	_, _, err := h.eng.UpdateShardLevelMetrics("nope", []string{"ALL"}, true)
	wantCode(t, err, CodeResourceNotFound)
}

func TestStreamEncryption(t *testing.T) {
	h := newHarness(t, Config{StateDelay: time.Second})
	h.newAttrStream("s", "")
	h.clock.Advance(time.Second)
	wantAttrMessage(t, h.eng.StopStreamEncryption("s", "alias/aws/kinesis"), CodeInvalidArgument,
		"Stream s under account 000000000000 is not encrypted.")
	if err := h.eng.StartStreamEncryption("s", "alias/aws/kinesis"); err != nil {
		t.Fatal(err)
	}
	info, _ := h.eng.DescribeStream("s")
	if info.Status != StatusUpdating || info.EncryptionType != "KMS" || info.KeyID != "alias/aws/kinesis" {
		t.Fatalf("after start: %s %s %s", info.Status, info.EncryptionType, info.KeyID)
	}
	wantCode(t, h.eng.StopStreamEncryption("s", "alias/aws/kinesis"), CodeResourceInUse)
	h.clock.Advance(time.Second)
	wantAttrMessage(t, h.eng.StopStreamEncryption("s", "alias/other"), CodeInvalidArgument,
		"KeyId alias/other does not match the KeyId alias/aws/kinesis that stream s under account 000000000000 is encrypted with.")
	if err := h.eng.StopStreamEncryption("s", "alias/aws/kinesis"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	if info, _ := h.eng.DescribeStream("s"); info.Status != StatusActive || info.EncryptionType != "NONE" || info.KeyID != "" {
		t.Fatalf("after stop: %s %s %s", info.Status, info.EncryptionType, info.KeyID)
	}
	for _, k := range []string{
		"alias/aws/kinesis", "alias/my_key-1", "1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab",
		"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:123456789012:alias/ExampleAlias", "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
	} {
		if !ValidKMSKeyRef(k) {
			t.Errorf("%s rejected", k)
		}
	}
	for _, k := range []string{"", "foo", "alias/", "alias/a b", "arn:aws:kms:us-east-1:123:key/x", "arn:aws:s3:::bucket"} {
		if ValidKMSKeyRef(k) {
			t.Errorf("%s accepted", k)
		}
	}
	wantAttrMessage(t, h.eng.StartStreamEncryption("s", "foo"), CodeInvalidArgument,
		"KeyId foo is not a valid KMS key id, key ARN, alias name or alias ARN.")
}

func TestEncryptionChangeLimit(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("s", "")
	for i := range maxEncryptionChanges {
		var err error
		if i%2 == 0 {
			err = h.eng.StartStreamEncryption("s", "alias/aws/kinesis")
		} else {
			err = h.eng.StopStreamEncryption("s", "alias/aws/kinesis")
		}
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		h.clock.Advance(time.Minute)
	}
	wantAttrMessage(t, h.eng.StopStreamEncryption("s", "alias/aws/kinesis"), CodeLimitExceeded,
		"Stream s under account 000000000000 has exceeded the limit of 25 encryption changes in a rolling 24-hour period.")
	h.restart() // the window survives a restart
	wantCode(t, h.eng.StopStreamEncryption("s", "alias/aws/kinesis"), CodeLimitExceeded)
	// The first change leaves the window 24 hours after it was made.
	h.clock.Advance(24*time.Hour - 25*time.Minute)
	if err := h.eng.StopStreamEncryption("s", "alias/aws/kinesis"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.eng.StartStreamEncryption("s", "alias/aws/kinesis"), CodeLimitExceeded)
}

func TestUpdateMaxRecordSize(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("s", "")
	if n, _ := h.eng.MaxRecordBytes("s"); n != 1<<20 {
		t.Fatalf("default %d", n)
	}
	if err := h.eng.UpdateMaxRecordSize("s", 10240); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if n, _ := h.eng.MaxRecordBytes("s"); n != 10<<20 {
		t.Fatalf("after update %d", n)
	}
	if info, _ := h.eng.DescribeStream("s"); info.MaxRecordSizeKiB != 10240 {
		t.Fatalf("DescribeStream %d", info.MaxRecordSizeKiB)
	}
	wantCode(t, h.eng.UpdateMaxRecordSize("nope", 2048), CodeResourceNotFound)
}

func TestWarmThroughput(t *testing.T) {
	h := newHarness(t, Config{StateDelay: time.Second})
	h.newAttrStream("od", ModeOnDemand)
	h.newAttrStream("pr", ModeProvisioned)
	h.clock.Advance(time.Second)
	_, err := h.eng.UpdateWarmThroughput("nope", 10)
	wantCode(t, err, CodeResourceNotFound)
	_, err = h.eng.UpdateWarmThroughput("pr", 10)
	wantAttrMessage(t, err, CodeInvalidArgument,
		"Warm throughput is only supported for streams in ON_DEMAND capacity mode. Stream pr under account 000000000000 is in PROVISIONED mode.")
	_, err = h.eng.UpdateWarmThroughput("od", 10)
	wantAttrMessage(t, err, CodeInvalidArgument,
		"Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account 000000000000.")
	if _, err := h.eng.UpdateAccountSettings(CommitmentEnabled); err != nil {
		t.Fatal(err)
	}
	_, err = h.eng.UpdateWarmThroughput("od", maxWarmThroughputMiBps+1)
	wantAttrMessage(t, err, CodeLimitExceeded,
		"Requested warm throughput (10241 MiBps) for stream od under account 000000000000 exceeds the limit of 10240 MiBps.")
	wt, err := h.eng.UpdateWarmThroughput("od", 100)
	if err != nil || wt != (WarmThroughput{TargetMiBps: 100}) {
		t.Fatalf("first update %+v %v", wt, err)
	}
	set, _ := h.eng.StreamSettings("od")
	if info, _ := h.eng.DescribeStream("od"); info.Status != StatusUpdating || *set.WarmThroughput != (WarmThroughput{TargetMiBps: 100}) {
		t.Fatalf("while updating: %s %+v", info.Status, set.WarmThroughput)
	}
	_, err = h.eng.UpdateWarmThroughput("od", 200)
	wantCode(t, err, CodeResourceInUse)
	h.clock.Advance(time.Second)
	set, _ = h.eng.StreamSettings("od")
	if *set.WarmThroughput != (WarmThroughput{TargetMiBps: 100, CurrentMiBps: 100}) || set.RecordDistribution != DistributionUserPartitionKey {
		t.Fatalf("settings %+v", set)
	}
	if wt, _ := h.eng.UpdateWarmThroughput("od", 50); wt != (WarmThroughput{TargetMiBps: 50, CurrentMiBps: 100}) {
		t.Fatalf("second update %+v", wt)
	}
}

func TestRecordDistribution(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("od", ModeOnDemand)
	h.newAttrStream("pr", ModeProvisioned)
	wantAttrMessage(t, h.eng.UpdateRecordDistribution("pr", DistributionAuto), CodeInvalidArgument,
		"RecordDistributionStrategy AUTO is only supported for streams in ON_DEMAND capacity mode. Stream pr under account 000000000000 is in PROVISIONED mode.")
	if err := h.eng.UpdateRecordDistribution("pr", DistributionUserPartitionKey); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.UpdateRecordDistribution("od", DistributionAuto); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if set, _ := h.eng.StreamSettings("od"); set.RecordDistribution != DistributionAuto || set.WarmThroughput != nil {
		t.Fatalf("settings %+v", set)
	}
	wantCode(t, h.eng.UpdateRecordDistribution("nope", DistributionAuto), CodeResourceNotFound)
}

func TestDescribeLimits(t *testing.T) {
	h := newHarness(t, Config{ShardQuota: 20})
	if l := h.eng.DescribeLimits(); l != (Limits{ShardLimit: 20, OnDemandStreamCountLimit: 50}) {
		t.Fatalf("empty account %+v", l)
	}
	h.newAttrStream("od", ModeOnDemand)
	if err := h.eng.CreateStream(CreateStreamParams{Name: "pr", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	if l := h.eng.DescribeLimits(); l != (Limits{ShardLimit: 20, OpenShardCount: 7, OnDemandStreamCount: 1, OnDemandStreamCountLimit: 50}) {
		t.Fatalf("two streams %+v", l)
	}
}

func TestAccountSettings(t *testing.T) {
	h := newHarness(t, Config{})
	t0 := h.clock.Now().UnixMilli()
	day := (24 * time.Hour).Milliseconds()
	steps := []struct {
		advance time.Duration
		update  string // "" only describes
		want    BillingCommitment
	}{
		{0, "", BillingCommitment{Status: CommitmentDisabled}},
		{0, CommitmentDisabled, BillingCommitment{Status: CommitmentDisabled}},
		{0, CommitmentEnabled, BillingCommitment{Status: CommitmentEnabled, StartedMillis: t0, EarliestAllowedEndMillis: t0 + day}},
		{time.Hour, CommitmentEnabled, BillingCommitment{Status: CommitmentEnabled, StartedMillis: t0, EarliestAllowedEndMillis: t0 + day}},
		{time.Hour, CommitmentDisabled, BillingCommitment{Status: CommitmentEnabledUntilEarliestEnd, StartedMillis: t0, EarliestAllowedEndMillis: t0 + day}},
		{time.Hour, CommitmentEnabled, BillingCommitment{Status: CommitmentEnabled, StartedMillis: t0, EarliestAllowedEndMillis: t0 + day}},
		{time.Hour, CommitmentDisabled, BillingCommitment{Status: CommitmentEnabledUntilEarliestEnd, StartedMillis: t0, EarliestAllowedEndMillis: t0 + day}},
		{20*time.Hour - time.Millisecond, "", BillingCommitment{Status: CommitmentEnabledUntilEarliestEnd, StartedMillis: t0, EarliestAllowedEndMillis: t0 + day}},
		{time.Millisecond, "", BillingCommitment{Status: CommitmentDisabled, StartedMillis: t0, EndedMillis: t0 + day}},
		{time.Hour, CommitmentEnabled, BillingCommitment{Status: CommitmentEnabled, StartedMillis: t0 + day + time.Hour.Milliseconds(),
			EarliestAllowedEndMillis: t0 + 2*day + time.Hour.Milliseconds()}},
		{25 * time.Hour, CommitmentDisabled, BillingCommitment{Status: CommitmentDisabled, StartedMillis: t0 + day + time.Hour.Milliseconds(),
			EndedMillis: t0 + 2*day + 2*time.Hour.Milliseconds()}},
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		var got BillingCommitment
		var err error
		if s.update == "" {
			got, err = h.eng.AccountSettings()
		} else {
			got, err = h.eng.UpdateAccountSettings(s.update)
		}
		if err != nil || got != s.want {
			t.Fatalf("step %d: got %+v %v\nwant %+v", i, got, err, s.want)
		}
		if i == 5 {
			h.restart() // settings are in the catalog
		}
	}
}

// TestStreamEncryptionKeys: StartStreamEncryption takes only keys the ring
// has; records written under a key read back across a restart; without a
// ring, encryption is refused with a KMS error.
func TestStreamEncryptionKeys(t *testing.T) {
	h := newHarness(t, Config{})
	h.newAttrStream("s", "")
	wantAttrMessage(t, h.eng.StartStreamEncryption("s", "alias/nope"), CodeKMSNotFound,
		"Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found.")
	wantAttrMessage(t, h.eng.StartStreamEncryption("s", "1234abcd-12ab-34cd-56ef-1234567890ab"), CodeKMSNotFound,
		"Key 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist")
	if info, _ := h.eng.DescribeStream("s"); info.EncryptionType != EncryptionNone {
		t.Fatalf("a refused key changed the stream: %s", info.EncryptionType)
	}
	h.put("s", "a", "before")
	if err := h.eng.StartStreamEncryption("s", "alias/aws/kinesis"); err != nil {
		t.Fatal(err)
	}
	h.put("s", "b", "after")
	h.restart()
	h.put("s", "c", "after restart")
	res := h.read(h.iterator("s", "shardId-000000000000", "TRIM_HORIZON", "", nil))
	var got []string
	for _, r := range res.Records {
		got = append(got, string(r.Data))
	}
	if strings.Join(got, ",") != "before,after,after restart" {
		t.Fatalf("read %q", got)
	}

	plain := newHarness(t, Config{})
	plain.noKeys = true
	plain.restart()
	plain.newAttrStream("p", "")
	wantAttrMessage(t, plain.eng.StartStreamEncryption("p", "alias/aws/kinesis"), CodeKMSInvalidState,
		"Encryption at rest is not enabled on this server: start sluice serve with --master-key-file or SLUICE_MASTER_KEY.")
}
