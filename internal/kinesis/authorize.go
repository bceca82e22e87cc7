package kinesis

import (
	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
)

// Authorizer decides whether the request's caller may perform action (an
// IAM action such as kinesis:PutRecord) on resource (an ARN, or "*" for
// account-level operations). resourcePolicy is the target's resource policy
// document, "" when it has none. It returns nil to allow, or the
// AccessDeniedException to send.
type Authorizer func(action, resource, resourcePolicy string) error

// accountLevel are the operations that act on no stream: IAM checks them
// against "*".
var accountLevel = map[string]bool{
	"ListStreams": true, "DescribeLimits": true, "DescribeAccountSettings": true, "UpdateAccountSettings": true,
}

// targetRef holds every member that can name what a request acts on.
type targetRef struct {
	StreamName    *string `json:"StreamName,omitempty"`
	StreamARN     *string `json:"StreamARN,omitempty"`
	ConsumerARN   *string `json:"ConsumerARN,omitempty"`
	ConsumerName  *string `json:"ConsumerName,omitempty"`
	ResourceARN   *string `json:"ResourceARN,omitempty"`
	ShardIterator *string `json:"ShardIterator,omitempty"`
}

// authorize applies r.Authorize, when set, to the operation and the
// resource it names. A request whose resource cannot be told (a malformed
// body, a ListShards NextToken) is checked against "*", so that only a
// caller allowed on every resource passes: deny by default.
func (s *Service) authorize(r *Request) error {
	if r.Authorize == nil {
		return nil
	}
	action := "kinesis:" + r.Operation
	if accountLevel[r.Operation] {
		return r.Authorize(action, "*", "")
	}
	var t targetRef
	if err := decode(r, &t); err != nil {
		return r.Authorize(action, "*", "")
	}
	res, arn := s.target(r, &t)
	if arn == "" {
		return r.Authorize(action, "*", "")
	}
	policy := ""
	if res.Stream != "" {
		if p, err := s.eng.ResourcePolicy(res); err == nil && p != "{}" {
			policy = p
		}
	}
	return r.Authorize(action, arn, policy)
}

// target works out the resource a request names: a consumer (by ARN, or
// stream ARN plus consumer name), a stream (by ARN, name or shard
// iterator), or a ResourceARN. arn is "" when it names nothing.
func (s *Service) target(r *Request, t *targetRef) (res engine.Resource, arn string) {
	switch {
	case t.ResourceARN != nil:
		res, err := s.resolveResource(r, *t.ResourceARN)
		if err != nil {
			return engine.Resource{}, *t.ResourceARN
		}
		return res, *t.ResourceARN
	case t.ConsumerARN != nil:
		_, _, stream, consumer, _, ok := engine.ParseConsumerARN(*t.ConsumerARN)
		if !ok {
			return engine.Resource{}, ""
		}
		return engine.Resource{Stream: stream, Consumer: consumer}, *t.ConsumerARN
	case t.StreamARN != nil && t.ConsumerName != nil && r.Operation != "RegisterStreamConsumer":
		// RegisterStreamConsumer acts on the stream, as IAM has it.
		c, err := s.eng.DescribeStreamConsumer(engine.ConsumerRef{Stream: streamFromARN(*t.StreamARN), Name: *t.ConsumerName})
		if err != nil {
			return engine.Resource{Stream: streamFromARN(*t.StreamARN)}, *t.StreamARN
		}
		return engine.Resource{Stream: streamFromARN(*t.StreamARN), Consumer: *t.ConsumerName}, s.regionalARN(r, c.ARN)
	case t.StreamARN != nil:
		return engine.Resource{Stream: streamFromARN(*t.StreamARN)}, *t.StreamARN
	case t.StreamName != nil:
		return engine.Resource{Stream: *t.StreamName}, s.streamARN(r, *t.StreamName)
	case t.ShardIterator != nil:
		if name, ok := s.eng.IteratorStream(*t.ShardIterator); ok {
			return engine.Resource{Stream: name}, s.streamARN(r, name)
		}
	}
	return engine.Resource{}, ""
}

// streamFromARN is the name in a stream ARN, or "" for a malformed one.
func streamFromARN(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return ""
}

// AccessDenied builds AWS's AccessDeniedException for a denied call.
func AccessDenied(principalARN, action, resource string, explicit bool) *awsproto.Error {
	why := "because no identity-based policy allows the " + action + " action"
	if explicit {
		why = "with an explicit deny in an identity-based or resource-based policy"
	}
	return awsproto.Errorf("AccessDeniedException", "User: %s is not authorized to perform: %s on resource: %s %s", principalARN, action, resource, why)
}
