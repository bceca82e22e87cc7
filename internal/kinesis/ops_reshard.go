package kinesis

func init() {
	register(map[string]handler{
		"SplitShard":       (*Service).splitShard,
		"MergeShards":      (*Service).mergeShards,
		"UpdateShardCount": (*Service).updateShardCount,
	})
}

type splitShardInput struct {
	streamRef
	ShardToSplit       *string `json:"ShardToSplit,omitempty"`
	NewStartingHashKey *string `json:"NewStartingHashKey,omitempty"`
}

type mergeShardsInput struct {
	streamRef
	ShardToMerge         *string `json:"ShardToMerge,omitempty"`
	AdjacentShardToMerge *string `json:"AdjacentShardToMerge,omitempty"`
}

type updateShardCountInput struct {
	streamRef
	TargetShardCount *int32  `json:"TargetShardCount,omitempty"`
	ScalingType      *string `json:"ScalingType,omitempty"`
}

type updateShardCountOutput struct {
	StreamName        string `json:"StreamName"`
	CurrentShardCount int    `json:"CurrentShardCount"`
	TargetShardCount  int    `json:"TargetShardCount"`
	StreamARN         string `json:"StreamARN"`
}

var ruleRequiredShardID = strRule{required: true, min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"}

func (s *Service) splitShard(r *Request) (any, error) {
	var in splitShardInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("newStartingHashKey", in.NewStartingHashKey, strRule{required: true, pattern: hashKeyPattern, patText: ruleHashKey.patText})
		v.streamRef(&in.streamRef)
		v.str("shardToSplit", in.ShardToSplit, ruleRequiredShardID)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.SplitShard(name, *in.ShardToSplit, *in.NewStartingHashKey)
}

func (s *Service) mergeShards(r *Request) (any, error) {
	var in mergeShardsInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("shardToMerge", in.ShardToMerge, ruleRequiredShardID)
		v.str("adjacentShardToMerge", in.AdjacentShardToMerge, ruleRequiredShardID)
		v.streamRef(&in.streamRef)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.MergeShards(name, *in.ShardToMerge, *in.AdjacentShardToMerge)
}

func (s *Service) updateShardCount(r *Request) (any, error) {
	var in updateShardCountInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("scalingType", in.ScalingType, strRule{required: true, enum: []string{"UNIFORM_SCALING"}})
		v.streamRef(&in.streamRef)
		v.int("targetShardCount", in.TargetShardCount, intRule{required: true, min: 1, max: 100000})
	})
	if err != nil {
		return nil, err
	}
	target := int(*in.TargetShardCount)
	current, err := s.eng.UpdateShardCount(name, target)
	if err != nil {
		return nil, err
	}
	return updateShardCountOutput{StreamName: name, CurrentShardCount: current, TargetShardCount: target, StreamARN: s.streamARN(r, name)}, nil
}
