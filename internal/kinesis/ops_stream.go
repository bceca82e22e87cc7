package kinesis

import (
	"unicode/utf8"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
)

func init() {
	register(map[string]handler{
		"CreateStream":          (*Service).createStream,
		"DeleteStream":          (*Service).deleteStream,
		"DescribeStream":        (*Service).describeStream,
		"DescribeStreamSummary": (*Service).describeStreamSummary,
		"ListStreams":           (*Service).listStreams,
		"ListShards":            (*Service).listShards,
	})
}

func (s *Service) createStream(r *Request) (any, error) {
	var in createStreamInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.int("shardCount", in.ShardCount, intRule{min: 1, max: 100000})
	v.str("streamName", in.StreamName, strRule{required: true, min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"})
	mode := engine.ModeProvisioned
	if in.StreamModeDetails != nil {
		v.str("streamModeDetails.streamMode", in.StreamModeDetails.StreamMode, strRule{required: true, enum: enumStreamMode})
		if in.StreamModeDetails.StreamMode != nil {
			mode = *in.StreamModeDetails.StreamMode
		}
	}
	v.tagMap("tags", in.Tags)
	v.int("warmThroughputMiBps", in.WarmThroughputMiBps, intRule{min: 0, max: noMax})
	v.int("maxRecordSizeInKiB", in.MaxRecordSizeInKiB, intRule{min: 1024, max: 10240})
	v.str("recordDistributionStrategy", in.RecordDistributionStrategy, strRule{enum: enumDistribution})
	if err := v.err(); err != nil {
		return nil, err
	}
	switch {
	case mode == engine.ModeOnDemand && in.ShardCount != nil:
		return nil, awsproto.Errorf("ValidationException", "ShardCount is not expected when StreamMode=ON_DEMAND")
	case mode == engine.ModeProvisioned && in.ShardCount == nil:
		return nil, awsproto.Errorf("ValidationException", "ShardCount is required when StreamMode=PROVISIONED")
	}
	if err := s.eng.CheckCreateStreamTags(*in.StreamName, in.Tags); err != nil {
		return nil, err
	}
	p := engine.CreateStreamParams{Name: *in.StreamName, Mode: mode, Tags: in.Tags, RecordDistribution: deref(in.RecordDistributionStrategy)}
	if p.RecordDistribution == engine.DistributionAuto && mode != engine.ModeOnDemand {
		return nil, awsproto.Errorf("InvalidArgumentException",
			"RecordDistributionStrategy AUTO is only supported for streams in ON_DEMAND capacity mode.")
	}
	if in.WarmThroughputMiBps != nil {
		w := int(*in.WarmThroughputMiBps)
		p.WarmThroughputMiBps = &w
	}
	if in.ShardCount != nil {
		p.ShardCount = int(*in.ShardCount)
	}
	if in.MaxRecordSizeInKiB != nil {
		p.MaxRecordSizeKiB = int(*in.MaxRecordSizeInKiB)
	}
	return nil, s.eng.CreateStream(p)
}

// tagMap checks a TagMap member: 1..200 entries, keys 1..128 and values
// 0..256 characters.
func (v *validator) tagMap(path string, tags map[string]string) {
	if tags == nil {
		return
	}
	if len(tags) < 1 {
		v.add(awsproto.ProblemMinLen(tags, path, 1))
	} else if len(tags) > 200 {
		v.add(awsproto.ProblemMaxLen(tags, path, 200))
	}
	badKey, badValue := false, false
	for k, val := range tags {
		n := utf8.RuneCountInString(k)
		badKey = badKey || n < 1 || n > 128
		badValue = badValue || utf8.RuneCountInString(val) > 256
	}
	if badKey {
		v.add(awsproto.Problem(tags, path, awsproto.ConstraintMapKeysLen(1, 128)))
	}
	if badValue {
		v.add(awsproto.Problem(tags, path, awsproto.ConstraintMapValuesLen(0, 256)))
	}
}

func (s *Service) deleteStream(r *Request) (any, error) {
	var in deleteStreamInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.streamRef(&in.streamRef)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.DeleteStream(name, in.EnforceConsumerDeletion != nil && *in.EnforceConsumerDeletion)
}

func (s *Service) describeStream(r *Request) (any, error) {
	var in describeStreamInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.int("limit", in.Limit, intRule{min: 1, max: 10000})
		v.str("exclusiveStartShardId", in.ExclusiveStartShardId, ruleShardID)
		v.streamRef(&in.streamRef)
	})
	if err != nil {
		return nil, err
	}
	info, err := s.eng.DescribeStream(name)
	if err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	shards := info.Shards
	if in.ExclusiveStartShardId != nil {
		shards = shardsAfter(shards, *in.ExclusiveStartShardId)
	}
	d := streamDescription{
		StreamName: info.Name, StreamARN: s.streamARN(r, info.Name), StreamStatus: info.Status,
		StreamModeDetails: &streamModeDetails{StreamMode: &info.Mode}, Shards: []shardOut{},
		RetentionPeriodHours: info.RetentionHours, StreamCreationTimestamp: awsproto.Timestamp{Millis: info.CreatedMillis},
		EnhancedMonitoring: enhanced(info.ShardLevelMetrics), EncryptionType: info.EncryptionType, KeyId: info.KeyID,
	}
	for i, sh := range shards {
		if i == limit {
			d.HasMoreShards = true
			break
		}
		d.Shards = append(d.Shards, toShardOut(sh))
	}
	return describeStreamOutput{StreamDescription: d}, nil
}

// shardsAfter returns the shards whose ids sort after id, as
// ExclusiveStartShardId asks. Shard ids are zero-padded, so string order is
// index order.
func shardsAfter(shards []engine.ShardInfo, id string) []engine.ShardInfo {
	for i, sh := range shards {
		if sh.ShardID > id {
			return shards[i:]
		}
	}
	return nil
}

func enhanced(metrics []string) []enhancedMetrics {
	if metrics == nil {
		metrics = []string{}
	}
	return []enhancedMetrics{{ShardLevelMetrics: metrics}}
}

func toShardOut(sh engine.ShardInfo) shardOut {
	return shardOut{
		ShardId: sh.ShardID, ParentShardId: sh.ParentShardID, AdjacentParentShardId: sh.AdjacentParentShardID,
		HashKeyRange: hashKeyRange{StartingHashKey: sh.HashKeyRange.Start.String(), EndingHashKey: sh.HashKeyRange.End.String()},
		SequenceNumberRange: sequenceNumberRange{
			StartingSequenceNumber: sh.StartingSequence, EndingSequenceNumber: sh.EndingSequence,
		},
	}
}

func (s *Service) describeStreamSummary(r *Request) (any, error) {
	var in streamRef
	name, err := s.decodeStream(r, &in, &in, func(v *validator) {
		v.streamRef(&in)
	})
	if err != nil {
		return nil, err
	}
	info, err := s.eng.DescribeStream(name)
	if err != nil {
		return nil, err
	}
	settings, err := s.eng.StreamSettings(name)
	if err != nil {
		return nil, err
	}
	var warm *warmThroughput
	if w := settings.WarmThroughput; w != nil {
		target, current := int64(w.TargetMiBps), int64(w.CurrentMiBps)
		warm = &warmThroughput{TargetMiBps: &target, CurrentMiBps: &current}
	}
	return describeStreamSummaryOutput{StreamDescriptionSummary: streamDescriptionSummary{
		WarmThroughput: warm, RecordDistributionStrategy: settings.RecordDistribution,
		StreamName: info.Name, StreamARN: s.streamARN(r, info.Name), StreamStatus: info.Status,
		StreamModeDetails: &streamModeDetails{StreamMode: &info.Mode}, RetentionPeriodHours: info.RetentionHours,
		StreamCreationTimestamp: awsproto.Timestamp{Millis: info.CreatedMillis}, EnhancedMonitoring: enhanced(info.ShardLevelMetrics),
		EncryptionType: info.EncryptionType, KeyId: info.KeyID, OpenShardCount: info.OpenShardCount,
		ConsumerCount: info.ConsumerCount, MaxRecordSizeInKiB: info.MaxRecordSizeKiB,
	}}, nil
}

func (s *Service) listStreams(r *Request) (any, error) {
	var in listStreamsInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.int("limit", in.Limit, intRule{min: 1, max: 10000})
	v.str("exclusiveStartStreamName", in.ExclusiveStartStreamName, ruleStreamName)
	v.str("nextToken", in.NextToken, ruleNextToken)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.NextToken != nil && in.ExclusiveStartStreamName != nil {
		return nil, awsproto.Errorf("InvalidArgumentException", "NextToken and ExclusiveStartStreamName cannot be provided together.")
	}
	p := engine.ListStreamsParams{ExclusiveStartStreamName: deref(in.ExclusiveStartStreamName), NextToken: deref(in.NextToken)}
	if in.Limit != nil {
		p.Limit = int(*in.Limit)
	}
	page, err := s.eng.ListStreamsPage(p)
	if err != nil {
		return nil, err
	}
	out := listStreamsOutput{StreamNames: []string{}, StreamSummaries: []streamSummary{}, HasMoreStreams: page.HasMore, NextToken: page.NextToken}
	for _, st := range page.Streams {
		out.StreamNames = append(out.StreamNames, st.Name)
		out.StreamSummaries = append(out.StreamSummaries, streamSummary{
			StreamName: st.Name, StreamARN: s.streamARN(r, st.Name), StreamStatus: st.Status,
			StreamModeDetails: &streamModeDetails{StreamMode: &st.Mode}, StreamCreationTimestamp: awsproto.Timestamp{Millis: st.CreatedMillis},
		})
	}
	return out, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Service) listShards(r *Request) (any, error) {
	var in listShardsInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("exclusiveStartShardId", in.ExclusiveStartShardId, ruleShardID)
	v.int("maxResults", in.MaxResults, intRule{min: 1, max: 10000})
	v.str("nextToken", in.NextToken, ruleNextToken)
	v.streamRef(&in.streamRef)
	if f := in.ShardFilter; f != nil {
		v.str("shardFilter.type", f.Type, strRule{required: true, enum: enumShardFilter})
		v.str("shardFilter.shardId", f.ShardId, ruleShardID)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkListShardsArgs(&in); err != nil {
		return nil, err
	}
	p := engine.ListShardsParams{NextToken: deref(in.NextToken), ExclusiveStartShardID: deref(in.ExclusiveStartShardId)}
	if in.NextToken == nil {
		name, err := s.resolveStream(r, &in.streamRef)
		if err != nil {
			return nil, err
		}
		p.Stream = name
	}
	if in.MaxResults != nil {
		p.MaxResults = int(*in.MaxResults)
	}
	if in.StreamCreationTimestamp != nil {
		p.StreamCreatedMillis = &in.StreamCreationTimestamp.Millis
	}
	if f := in.ShardFilter; f != nil {
		p.FilterType, p.FilterShardID = *f.Type, deref(f.ShardId)
		if f.Timestamp != nil {
			p.FilterTimestampMillis = &f.Timestamp.Millis
		}
	}
	shards, next, err := s.eng.ListShards(p)
	if err != nil {
		return nil, err
	}
	out := listShardsOutput{Shards: make([]shardOut, 0, len(shards)), NextToken: next}
	for _, sh := range shards {
		out.Shards = append(out.Shards, toShardOut(sh))
	}
	return out, nil
}

// checkListShardsArgs applies ListShards' rules on which members go
// together, with AWS's messages.
func checkListShardsArgs(in *listShardsInput) error {
	if in.NextToken != nil {
		for _, c := range []struct {
			name    string
			present bool
		}{
			{"StreamName", in.StreamName != nil}, {"StreamARN", in.StreamARN != nil},
			{"ExclusiveStartShardId", in.ExclusiveStartShardId != nil},
			{"StreamCreationTimestamp", in.StreamCreationTimestamp != nil}, {"ShardFilter", in.ShardFilter != nil},
		} {
			if c.present {
				return awsproto.Errorf("InvalidArgumentException", "NextToken and %s cannot be provided together.", c.name)
			}
		}
		return nil
	}
	if in.StreamName == nil && in.StreamARN == nil {
		return awsproto.Errorf("InvalidArgumentException", "Either NextToken or StreamName should be provided.")
	}
	if f := in.ShardFilter; f != nil {
		switch *f.Type {
		case engine.FilterAfterShardID:
			if f.ShardId == nil {
				return awsproto.Errorf("InvalidArgumentException", "ShardId must be supplied in a ShardFilter with a Type of AFTER_SHARD_ID")
			}
		case engine.FilterAtTimestamp, engine.FilterFromTimestamp:
			if f.Timestamp == nil {
				return awsproto.Errorf("InvalidArgumentException", "Timestamp must be supplied in a ShardFilter with a Type of FROM_TIMESTAMP or AT_TIMESTAMP")
			}
		}
		if in.ExclusiveStartShardId != nil && *f.Type == engine.FilterAfterShardID {
			return awsproto.Errorf("InvalidArgumentException", "ExclusiveStartShardId and a ShardFilter of Type %s cannot be provided together.", *f.Type)
		}
	}
	return nil
}
