package kinesis

import "github.com/sluicedata/sluice/internal/awsproto"

func init() {
	register(map[string]handler{
		"IncreaseStreamRetentionPeriod": (*Service).increaseRetention,
		"DecreaseStreamRetentionPeriod": (*Service).decreaseRetention,
		"UpdateStreamMode":              (*Service).updateStreamMode,
	})
}

type retentionInput struct {
	streamRef
	RetentionPeriodHours *int32 `json:"RetentionPeriodHours,omitempty"`
}

type updateStreamModeInput struct {
	StreamARN           *string            `json:"StreamARN,omitempty"`
	StreamId            *string            `json:"StreamId,omitempty"`
	StreamModeDetails   *streamModeDetails `json:"StreamModeDetails,omitempty"`
	WarmThroughputMiBps *int32             `json:"WarmThroughputMiBps,omitempty"`
}

func (s *Service) increaseRetention(r *Request) (any, error) { return s.changeRetention(r, true) }
func (s *Service) decreaseRetention(r *Request) (any, error) { return s.changeRetention(r, false) }

func (s *Service) changeRetention(r *Request, increase bool) (any, error) {
	var in retentionInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.int("retentionPeriodHours", in.RetentionPeriodHours, intRule{required: true, min: -1 << 31, max: 1<<31 - 1})
		v.streamRef(&in.streamRef)
	})
	if err != nil {
		return nil, err
	}
	hours := int(*in.RetentionPeriodHours)
	if increase {
		return nil, s.eng.IncreaseStreamRetentionPeriod(name, hours)
	}
	return nil, s.eng.DecreaseStreamRetentionPeriod(name, hours)
}

func (s *Service) updateStreamMode(r *Request) (any, error) {
	var in updateStreamModeInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("streamARN", in.StreamARN, strRule{required: true, min: 1, max: 2048, pattern: streamARNPattern, patText: ruleStreamARN.patText})
	v.str("streamId", in.StreamId, ruleStreamID)
	if in.StreamModeDetails == nil {
		v.add(awsproto.ProblemRequired("streamModeDetails"))
	} else {
		v.str("streamModeDetails.streamMode", in.StreamModeDetails.StreamMode, strRule{required: true, enum: enumStreamMode})
	}
	v.int("warmThroughputMiBps", in.WarmThroughputMiBps, intRule{min: 0, max: noMax})
	if err := v.err(); err != nil {
		return nil, err
	}
	name, err := s.parseStreamARN(r, *in.StreamARN)
	if err != nil {
		return nil, err
	}
	var warm *int
	if in.WarmThroughputMiBps != nil {
		w := int(*in.WarmThroughputMiBps)
		warm = &w
	}
	return nil, s.eng.UpdateStreamMode(name, *in.StreamModeDetails.StreamMode, warm)
}
