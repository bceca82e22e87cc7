package bench

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Control-plane shapes: only the members the benchmark reads.
type (
	streamNameInput struct {
		StreamName string `json:"StreamName"`
	}
	createStreamInput struct {
		StreamName string `json:"StreamName"`
		ShardCount int    `json:"ShardCount"`
	}
	deleteStreamInput struct {
		StreamName              string `json:"StreamName"`
		EnforceConsumerDeletion bool   `json:"EnforceConsumerDeletion"`
	}
	describeSummaryOutput struct {
		StreamDescriptionSummary struct {
			StreamARN    string
			StreamStatus string
		}
	}
	listShardsInput struct {
		StreamName string `json:"StreamName,omitempty"`
		NextToken  string `json:"NextToken,omitempty"`
	}
	listShardsOutput struct {
		Shards []struct {
			ShardId      string
			HashKeyRange struct {
				StartingHashKey string
				EndingHashKey   string
			}
			SequenceNumberRange struct {
				EndingSequenceNumber *string
			}
		}
		NextToken *string
	}
	registerConsumerInput struct {
		StreamARN    string `json:"StreamARN"`
		ConsumerName string `json:"ConsumerName"`
	}
	describeConsumerInput struct {
		StreamARN    string `json:"StreamARN,omitempty"`
		ConsumerName string `json:"ConsumerName,omitempty"`
		ConsumerARN  string `json:"ConsumerARN,omitempty"`
	}
	consumerOutput struct {
		Consumer            consumerDescription
		ConsumerDescription consumerDescription
	}
	consumerDescription struct {
		ConsumerARN    string
		ConsumerStatus string
	}
	shardIteratorInput struct {
		StreamName        string `json:"StreamName"`
		ShardId           string `json:"ShardId"`
		ShardIteratorType string `json:"ShardIteratorType"`
	}
	shardIteratorOutput struct {
		ShardIterator string
	}
)

// shardInfo is an open shard and its hash key range, inclusive, as
// 128-bit big-endian numbers.
type shardInfo struct {
	id     string
	lo, hi [16]byte
}

// pollEvery is how often the benchmark asks whether a stream or consumer
// has become ACTIVE.
const pollEvery = 50 * time.Millisecond

// createStream creates the stream and waits until it is ACTIVE.
func (k *caller) createStream(ctx context.Context, name string, shards int) error {
	if err := k.control(ctx, "CreateStream", createStreamInput{StreamName: name, ShardCount: shards}, nil); err != nil {
		return err
	}
	_, err := k.waitActive(ctx, name)
	return err
}

// waitActive waits until the stream is ACTIVE and returns its ARN.
func (k *caller) waitActive(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, streamReadyWithin)
	defer cancel()
	for {
		var out describeSummaryOutput
		if err := k.control(ctx, "DescribeStreamSummary", streamNameInput{StreamName: name}, &out); err != nil {
			return "", err
		}
		if s := out.StreamDescriptionSummary; s.StreamStatus == "ACTIVE" {
			return s.StreamARN, nil
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return "", fmt.Errorf("stream %s: not ACTIVE: %w", name, err)
		}
	}
}

func (k *caller) deleteStream(ctx context.Context, name string) error {
	return k.control(ctx, "DeleteStream", deleteStreamInput{StreamName: name, EnforceConsumerDeletion: true}, nil)
}

// listOpenShards returns the stream's open shards.
func (k *caller) listOpenShards(ctx context.Context, name string) ([]shardInfo, error) {
	var shards []shardInfo
	in := listShardsInput{StreamName: name}
	for {
		var out listShardsOutput
		if err := k.control(ctx, "ListShards", in, &out); err != nil {
			return nil, err
		}
		for _, sh := range out.Shards {
			if sh.SequenceNumberRange.EndingSequenceNumber != nil {
				continue
			}
			info := shardInfo{id: sh.ShardId}
			if !hashKey(sh.HashKeyRange.StartingHashKey, &info.lo) || !hashKey(sh.HashKeyRange.EndingHashKey, &info.hi) {
				return nil, fmt.Errorf("ListShards: shard %s: bad hash key range %q..%q", sh.ShardId,
					sh.HashKeyRange.StartingHashKey, sh.HashKeyRange.EndingHashKey)
			}
			shards = append(shards, info)
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in = listShardsInput{NextToken: *out.NextToken}
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("stream %s has no open shard", name)
	}
	return shards, nil
}

// hashKey parses a decimal 128-bit hash key into 16 big-endian bytes.
func hashKey(s string, out *[16]byte) bool {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || n.BitLen() > 128 {
		return false
	}
	n.FillBytes(out[:])
	return true
}

// shardIterator returns an iterator of type typ for a shard.
func (k *caller) shardIterator(ctx context.Context, stream, shard, typ string) (string, error) {
	var out shardIteratorOutput
	err := k.control(ctx, "GetShardIterator", shardIteratorInput{StreamName: stream, ShardId: shard, ShardIteratorType: typ}, &out)
	return out.ShardIterator, err
}

// registerConsumer registers an enhanced fan-out consumer (or finds it
// registered) and waits until it is ACTIVE; it returns its ARN.
func (k *caller) registerConsumer(ctx context.Context, streamARN, name string) (string, error) {
	var reg consumerOutput
	err := k.control(ctx, "RegisterStreamConsumer", registerConsumerInput{StreamARN: streamARN, ConsumerName: name}, &reg)
	if err != nil && !isType(err, "ResourceInUseException") {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, streamReadyWithin)
	defer cancel()
	for {
		var out consumerOutput
		in := describeConsumerInput{StreamARN: streamARN, ConsumerName: name}
		if err := k.control(ctx, "DescribeStreamConsumer", in, &out); err != nil {
			return "", err
		}
		if d := out.ConsumerDescription; d.ConsumerStatus == "ACTIVE" {
			return d.ConsumerARN, nil
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return "", fmt.Errorf("consumer %s: not ACTIVE: %w", name, err)
		}
	}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errStreamExists is returned when the run would create a stream that is
// already there: it might be someone's data, so the run neither writes
// into it nor deletes it.
var errStreamExists = errors.New("stream exists: pick another --stream, or use it as it is with --create=false")
