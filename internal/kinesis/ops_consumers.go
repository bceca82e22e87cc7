package kinesis

import (
	"regexp"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
)

func init() {
	register(map[string]handler{
		"RegisterStreamConsumer":   (*Service).registerStreamConsumer,
		"DeregisterStreamConsumer": (*Service).deregisterStreamConsumer,
		"DescribeStreamConsumer":   (*Service).describeStreamConsumer,
		"ListStreamConsumers":      (*Service).listStreamConsumers,
	})
}

var (
	consumerARNPattern = regexp.MustCompile(`^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`)
	ruleConsumerARN    = strRule{min: 1, max: 2048, pattern: consumerARNPattern, patText: `^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`}
	ruleConsumerName   = strRule{min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"}
)

type consumerOut struct {
	ConsumerName              string             `json:"ConsumerName"`
	ConsumerARN               string             `json:"ConsumerARN"`
	ConsumerStatus            string             `json:"ConsumerStatus"`
	ConsumerCreationTimestamp awsproto.Timestamp `json:"ConsumerCreationTimestamp"`
	StreamARN                 string             `json:"StreamARN,omitempty"`
}

type registerConsumerInput struct {
	StreamARN    *string           `json:"StreamARN,omitempty"`
	ConsumerName *string           `json:"ConsumerName,omitempty"`
	Tags         map[string]string `json:"Tags,omitempty"`
}

type consumerRefInput struct {
	StreamARN    *string `json:"StreamARN,omitempty"`
	ConsumerName *string `json:"ConsumerName,omitempty"`
	ConsumerARN  *string `json:"ConsumerARN,omitempty"`
}

type listConsumersInput struct {
	StreamARN               *string             `json:"StreamARN,omitempty"`
	NextToken               *string             `json:"NextToken,omitempty"`
	MaxResults              *int32              `json:"MaxResults,omitempty"`
	StreamCreationTimestamp *awsproto.Timestamp `json:"StreamCreationTimestamp,omitempty"`
}

// consumerOutput shapes a consumer; withStream adds StreamARN, as
// ConsumerDescription has it and Consumer does not.
func (s *Service) consumerOutput(r *Request, c engine.ConsumerInfo, withStream bool) consumerOut {
	out := consumerOut{ConsumerName: c.Name, ConsumerARN: s.regionalARN(r, c.ARN), ConsumerStatus: c.Status,
		ConsumerCreationTimestamp: awsproto.Timestamp{Millis: c.CreatedMillis / 1000 * 1000}}
	if withStream {
		out.StreamARN = s.regionalARN(r, c.StreamARN)
	}
	return out
}

// regionalARN rewrites an ARN of the server's region into the request's.
func (s *Service) regionalARN(r *Request, arn string) string {
	from := ":" + s.eng.Region() + ":"
	if r.Region == "" || r.Region == s.eng.Region() {
		return arn
	}
	for i := 0; i+len(from) <= len(arn); i++ {
		if arn[i:i+len(from)] == from {
			return arn[:i] + ":" + r.Region + ":" + arn[i+len(from):]
		}
	}
	return arn
}

func (s *Service) registerStreamConsumer(r *Request) (any, error) {
	var in registerConsumerInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("streamARN", in.StreamARN, strRule{required: true, min: 1, max: 2048, pattern: streamARNPattern, patText: ruleStreamARN.patText})
	v.str("consumerName", in.ConsumerName, strRule{required: true, min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"})
	v.tagMap("tags", in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	stream, err := s.parseStreamARN(r, *in.StreamARN)
	if err != nil {
		return nil, err
	}
	c, err := s.eng.RegisterStreamConsumer(stream, *in.ConsumerName, in.Tags)
	if err != nil {
		return nil, err
	}
	return map[string]consumerOut{"Consumer": s.consumerOutput(r, c, false)}, nil
}

// consumerRef validates and resolves a ConsumerARN, or StreamARN plus
// ConsumerName.
func (s *Service) consumerRef(r *Request, in *consumerRefInput) (engine.ConsumerRef, error) {
	var v validator
	v.str("streamARN", in.StreamARN, ruleStreamARN)
	v.str("consumerName", in.ConsumerName, ruleConsumerName)
	v.str("consumerARN", in.ConsumerARN, ruleConsumerARN)
	if err := v.err(); err != nil {
		return engine.ConsumerRef{}, err
	}
	var ref engine.ConsumerRef
	if in.StreamARN != nil {
		stream, err := s.parseStreamARN(r, *in.StreamARN)
		if err != nil {
			return ref, err
		}
		ref.Stream = stream
	}
	ref.Name, ref.ARN = deref(in.ConsumerName), deref(in.ConsumerARN)
	if ref.ARN == "" && (ref.Stream == "" || ref.Name == "") {
		return ref, awsproto.Errorf("InvalidArgumentException", "Either ConsumerARN or both StreamARN and ConsumerName must be provided.")
	}
	return ref, nil
}

func (s *Service) deregisterStreamConsumer(r *Request) (any, error) {
	var in consumerRefInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ref, err := s.consumerRef(r, &in)
	if err != nil {
		return nil, err
	}
	return nil, s.eng.DeregisterStreamConsumer(ref)
}

func (s *Service) describeStreamConsumer(r *Request) (any, error) {
	var in consumerRefInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ref, err := s.consumerRef(r, &in)
	if err != nil {
		return nil, err
	}
	c, err := s.eng.DescribeStreamConsumer(ref)
	if err != nil {
		return nil, err
	}
	return map[string]consumerOut{"ConsumerDescription": s.consumerOutput(r, c, true)}, nil
}

type listConsumersOutput struct {
	Consumers []consumerOut `json:"Consumers"`
	NextToken string        `json:"NextToken,omitempty"`
}

func (s *Service) listStreamConsumers(r *Request) (any, error) {
	var in listConsumersInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("streamARN", in.StreamARN, strRule{required: true, min: 1, max: 2048, pattern: streamARNPattern, patText: ruleStreamARN.patText})
	v.str("nextToken", in.NextToken, ruleNextToken)
	v.int("maxResults", in.MaxResults, intRule{min: 1, max: 10000})
	if err := v.err(); err != nil {
		return nil, err
	}
	stream, err := s.parseStreamARN(r, *in.StreamARN)
	if err != nil {
		return nil, err
	}
	p := engine.ListConsumersParams{Stream: stream, NextToken: deref(in.NextToken)}
	if in.MaxResults != nil {
		p.MaxResults = int(*in.MaxResults)
	}
	if in.StreamCreationTimestamp != nil {
		p.StreamCreatedMillis = &in.StreamCreationTimestamp.Millis
	}
	cs, next, err := s.eng.ListStreamConsumers(p)
	if err != nil {
		return nil, err
	}
	out := listConsumersOutput{Consumers: make([]consumerOut, 0, len(cs)), NextToken: next}
	for _, c := range cs {
		out.Consumers = append(out.Consumers, s.consumerOutput(r, c, false))
	}
	return out, nil
}
