package e2e

// The protocol fuzzer's seed corpus: a valid request for every Kinesis
// operation, built by hand against fixture streams that the fuzzer keeps
// in place, so that mutations start from requests that reach deep into
// each handler.

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// pfOperations are the 40 operations of the Kinesis model the server
// implements, then the five channel operations it names but does not
// implement.
var pfOperations = []string{
	"CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary", "ListStreams", "ListShards",
	"PutRecord", "PutRecords", "GetShardIterator", "GetRecords",
	"SplitShard", "MergeShards", "UpdateShardCount",
	"IncreaseStreamRetentionPeriod", "DecreaseStreamRetentionPeriod", "UpdateStreamMode",
	"RegisterStreamConsumer", "DeregisterStreamConsumer", "DescribeStreamConsumer", "ListStreamConsumers",
	"AddTagsToStream", "RemoveTagsFromStream", "ListTagsForStream",
	"TagResource", "UntagResource", "ListTagsForResource",
	"PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy",
	"EnableEnhancedMonitoring", "DisableEnhancedMonitoring",
	"StartStreamEncryption", "StopStreamEncryption",
	"DescribeLimits", "DescribeAccountSettings", "UpdateAccountSettings",
	"UpdateMaxRecordSize", "UpdateStreamWarmThroughput", "UpdateStreamRecordDistributionStrategy",
	"SubscribeToShard",
	"CreateChannel", "DeleteChannel", "DescribeChannel", "ListChannels", "UpdateChannel",
}

// pfImplemented is the number of implemented operations at the head of
// pfOperations.
const pfImplemented = 40

// Fixture names. Read-only operations aim at pfStream; operations that
// change or remove a stream aim at pfScratch. The janitor puts both back.
const (
	pfStream   = "pf-fixture"
	pfScratch  = "pf-scratch"
	pfConsumer = "pf-consumer"
)

// pfNames is a snapshot of the fixtures' names and live values (shards,
// iterators, sequence numbers) that seeds refer to.
type pfNames struct {
	streamARN, scratchARN, consumerARN string
	shards                             []string // pfStream's shard ids
	iterators                          []string
	seqs                               []string
	created                            time.Time
}

func pfARN(name string) string { return streamARN(name) }

// substitutes are the strings a mutation may swap in for any string.
func (n *pfNames) substitutes() []string {
	s := []string{pfStream, pfScratch, "pf-missing", n.streamARN, n.scratchARN, n.consumerARN,
		pfARN("pf-missing"), "arn:aws:kinesis:eu-west-1:000000000000:stream/" + pfStream,
		"arn:aws:kinesis:us-east-1:111111111111:stream/" + pfStream, "arn:aws:kinesis:us-east-1:000000000000:stream/",
		n.streamARN + "/consumer/" + pfConsumer + ":1", n.consumerARN + "x", "arn:aws:kinesis:us-east-1:000000000000:deliverystream/x",
		"shardId-000000000000", "shardId-000000000001", "shardId-000000000099", "shardId-999999999999", "shardId--1",
		"shardId-0000000000000", "0", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456",
		"-1", "01", "49590338271490256608559692538361571095921575989136588898", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP",
		"AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER", "trim_horizon", "ON_DEMAND", "PROVISIONED", "UNIFORM_SCALING",
		"KMS", "NONE", "alias/aws/kinesis", "ALL", "IncomingBytes", "ENABLED", "DISABLED", "AUTO", "USER_PARTITION_KEY"}
	s = append(s, n.shards...)
	s = append(s, n.iterators...)
	s = append(s, n.seqs...)
	return s
}

// pfPick returns one of xs.
func pfPick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// streamRef names a stream by name, ARN or both.
func pfStreamRef(rng *rand.Rand, name string) pfObj {
	switch rng.IntN(4) {
	case 0:
		return pfObj{{"StreamARN", pfARN(name)}}
	case 1:
		return pfObj{{"StreamName", name}, {"StreamARN", pfARN(name)}}
	}
	return pfObj{{"StreamName", name}}
}

func (n *pfNames) shard(rng *rand.Rand) string {
	if len(n.shards) == 0 {
		return "shardId-000000000000"
	}
	return pfPick(rng, n.shards...)
}

func (n *pfNames) iterator(rng *rand.Rand) string {
	if len(n.iterators) == 0 {
		return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	}
	return pfPick(rng, n.iterators...)
}

func (n *pfNames) seq(rng *rand.Rand) string {
	if len(n.seqs) == 0 {
		return "49590338271490256608559692538361571095921575989136588898"
	}
	return pfPick(rng, n.seqs...)
}

func pfPolicy(arn string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},` +
		`"Action":["kinesis:GetRecords","kinesis:DescribeStreamSummary"],"Resource":"` + arn + `"}]}`
}

// pfSeed returns a valid request body for op.
func (n *pfNames) seed(rng *rand.Rand, op string) pfObj {
	with := func(ref pfObj, kvs ...pfKV) pfObj { return append(append(pfObj{}, ref...), kvs...) }
	read := func() pfObj { return pfStreamRef(rng, pfStream) }
	scratch := func() pfObj { return pfStreamRef(rng, pfScratch) }
	switch op {
	case "CreateStream":
		o := pfObj{{"StreamName", fmt.Sprintf("pf-new-%d", rng.IntN(1000))}}
		if rng.IntN(3) == 0 {
			o = append(o, pfKV{"StreamModeDetails", pfObj{{"StreamMode", "ON_DEMAND"}}})
		} else {
			o = append(o, pfKV{"ShardCount", int64(1 + rng.IntN(3))})
		}
		if rng.IntN(3) == 0 {
			o = append(o, pfKV{"Tags", pfObj{{"team", "fuzz"}}})
		}
		return o
	case "DeleteStream":
		return with(scratch(), pfKV{"EnforceConsumerDeletion", rng.IntN(2) == 0})
	case "DescribeStream":
		return with(read(), pfKV{"Limit", int64(1 + rng.IntN(100))}, pfKV{"ExclusiveStartShardId", "shardId-000000000000"})
	case "DescribeStreamSummary", "ListTagsForStream", "DescribeLimits", "DescribeAccountSettings":
		if op == "DescribeLimits" || op == "DescribeAccountSettings" {
			return pfObj{}
		}
		return read()
	case "ListStreams":
		return pfObj{{"Limit", int64(1 + rng.IntN(10))}, {"ExclusiveStartStreamName", "pf-a"}}
	case "ListShards":
		switch rng.IntN(3) {
		case 0:
			return with(read(), pfKV{"MaxResults", int64(1 + rng.IntN(1000))})
		case 1:
			return with(read(), pfKV{"ShardFilter", pfObj{{"Type", "AT_TIMESTAMP"}, {"Timestamp", pfTime(float64(time.Now().Unix()))}}})
		}
		return with(read(), pfKV{"ExclusiveStartShardId", n.shard(rng)}, pfKV{"StreamCreationTimestamp", pfTime(float64(n.created.UnixMilli()) / 1000)})
	case "PutRecord":
		return with(read(), pfKV{"PartitionKey", "pk-" + strconv.Itoa(rng.IntN(100))}, pfKV{"Data", pfBlob(pfRandBytes(rng, rng.IntN(64)))},
			pfKV{"ExplicitHashKey", pfPick(rng, "0", "170141183460469231731687303715884105728")}, pfKV{"SequenceNumberForOrdering", n.seq(rng)})
	case "PutRecords":
		var recs []any
		for i := range 1 + rng.IntN(4) {
			recs = append(recs, pfObj{{"Data", pfBlob(pfRandBytes(rng, rng.IntN(32)))}, {"PartitionKey", "pk-" + strconv.Itoa(i)}})
		}
		return with(read(), pfKV{"Records", recs})
	case "GetShardIterator":
		switch rng.IntN(3) {
		case 0:
			return with(read(), pfKV{"ShardId", n.shard(rng)}, pfKV{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}, pfKV{"StartingSequenceNumber", n.seq(rng)})
		case 1:
			return with(read(), pfKV{"ShardId", n.shard(rng)}, pfKV{"ShardIteratorType", "AT_TIMESTAMP"}, pfKV{"Timestamp", pfTime(float64(time.Now().Add(-time.Minute).Unix()))})
		}
		return with(read(), pfKV{"ShardId", n.shard(rng)}, pfKV{"ShardIteratorType", pfPick(rng, "TRIM_HORIZON", "LATEST")})
	case "GetRecords":
		o := pfObj{{"ShardIterator", n.iterator(rng)}, {"Limit", int64(1 + rng.IntN(100))}}
		if rng.IntN(2) == 0 {
			o = append(o, pfKV{"StreamARN", n.streamARN})
		}
		return o
	case "SplitShard":
		return with(scratch(), pfKV{"ShardToSplit", "shardId-000000000000"}, pfKV{"NewStartingHashKey", "85070591730234615865843651857942052864"})
	case "MergeShards":
		return with(scratch(), pfKV{"ShardToMerge", "shardId-000000000000"}, pfKV{"AdjacentShardToMerge", "shardId-000000000001"})
	case "UpdateShardCount":
		return with(scratch(), pfKV{"TargetShardCount", int64(1 + rng.IntN(4))}, pfKV{"ScalingType", "UNIFORM_SCALING"})
	case "IncreaseStreamRetentionPeriod":
		return with(scratch(), pfKV{"RetentionPeriodHours", int64(24 + rng.IntN(48))})
	case "DecreaseStreamRetentionPeriod":
		return with(scratch(), pfKV{"RetentionPeriodHours", int64(24)})
	case "UpdateStreamMode":
		return pfObj{{"StreamARN", n.scratchARN}, {"StreamModeDetails", pfObj{{"StreamMode", pfPick(rng, "ON_DEMAND", "PROVISIONED")}}}}
	case "RegisterStreamConsumer":
		return pfObj{{"StreamARN", pfPick(rng, n.streamARN, n.scratchARN)}, {"ConsumerName", fmt.Sprintf("pf-c-%d", rng.IntN(20))}}
	case "DeregisterStreamConsumer":
		if rng.IntN(2) == 0 {
			return pfObj{{"StreamARN", n.scratchARN}, {"ConsumerName", fmt.Sprintf("pf-c-%d", rng.IntN(20))}}
		}
		return pfObj{{"ConsumerARN", n.scratchARN + "/consumer/pf-c-1:1"}}
	case "DescribeStreamConsumer":
		if rng.IntN(2) == 0 {
			return pfObj{{"StreamARN", n.streamARN}, {"ConsumerName", pfConsumer}}
		}
		return pfObj{{"ConsumerARN", n.consumerARN}}
	case "ListStreamConsumers":
		return pfObj{{"StreamARN", n.streamARN}, {"MaxResults", int64(1 + rng.IntN(100))}}
	case "AddTagsToStream":
		return with(scratch(), pfKV{"Tags", pfObj{{"k" + strconv.Itoa(rng.IntN(10)), "v"}}})
	case "RemoveTagsFromStream":
		return with(scratch(), pfKV{"TagKeys", []any{"k1", "k2"}})
	case "TagResource":
		return pfObj{{"ResourceARN", pfPick(rng, n.scratchARN, n.consumerARN)}, {"Tags", pfObj{{"k", "v"}}}}
	case "UntagResource":
		return pfObj{{"ResourceARN", pfPick(rng, n.scratchARN, n.consumerARN)}, {"TagKeys", []any{"k"}}}
	case "ListTagsForResource", "GetResourcePolicy":
		return pfObj{{"ResourceARN", pfPick(rng, n.streamARN, n.consumerARN)}}
	case "PutResourcePolicy":
		return pfObj{{"ResourceARN", n.scratchARN}, {"Policy", pfPolicy(n.scratchARN)}}
	case "DeleteResourcePolicy":
		return pfObj{{"ResourceARN", n.scratchARN}}
	case "EnableEnhancedMonitoring", "DisableEnhancedMonitoring":
		return with(scratch(), pfKV{"ShardLevelMetrics", []any{pfPick(rng, "IncomingBytes", "ALL", "IteratorAgeMilliseconds")}})
	case "StartStreamEncryption":
		return with(scratch(), pfKV{"EncryptionType", "KMS"}, pfKV{"KeyId", "alias/aws/kinesis"})
	case "StopStreamEncryption":
		return with(scratch(), pfKV{"EncryptionType", "KMS"}, pfKV{"KeyId", "alias/aws/kinesis"})
	case "UpdateAccountSettings":
		return pfObj{{"MinimumThroughputBillingCommitment", pfObj{{"Status", pfPick(rng, "ENABLED", "DISABLED")}}}}
	case "UpdateMaxRecordSize":
		return pfObj{{"StreamARN", n.scratchARN}, {"MaxRecordSizeInKiB", int64(pfPick(rng, 1024, 2048, 10240))}}
	case "UpdateStreamWarmThroughput":
		return with(scratch(), pfKV{"WarmThroughputMiBps", int64(rng.IntN(10))})
	case "UpdateStreamRecordDistributionStrategy":
		return pfObj{{"StreamARN", n.scratchARN}, {"RecordDistributionStrategy", pfPick(rng, "AUTO", "USER_PARTITION_KEY")}}
	case "SubscribeToShard":
		sp := pfObj{{"Type", pfPick(rng, "LATEST", "TRIM_HORIZON")}}
		switch rng.IntN(3) {
		case 0:
			sp = pfObj{{"Type", "AT_SEQUENCE_NUMBER"}, {"SequenceNumber", n.seq(rng)}}
		case 1:
			sp = pfObj{{"Type", "AT_TIMESTAMP"}, {"Timestamp", pfTime(float64(time.Now().Add(-time.Minute).Unix()))}}
		}
		return pfObj{{"ConsumerARN", n.consumerARN}, {"ShardId", n.shard(rng)}, {"StartingPosition", sp}}
	case "CreateChannel", "UpdateChannel":
		return pfObj{{"ChannelName", "pf-channel"}}
	case "DeleteChannel", "DescribeChannel":
		return pfObj{{"ChannelARN", "arn:aws:kinesis:us-east-1:000000000000:channel/pf-channel"}}
	case "ListChannels":
		return pfObj{{"MaxResults", int64(10)}}
	}
	panic("protofuzz: no seed for " + op)
}
