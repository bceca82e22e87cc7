// Package kinesis implements the Kinesis Data Streams operations: it decodes
// each request, validates it against the model's constraints with AWS's
// messages, makes one call into the engine and shapes the response.
package kinesis

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
)

// TargetPrefix is the X-Amz-Target prefix of Kinesis Data Streams.
const TargetPrefix = "Kinesis_20131202"

// Request is one decoded-enough API call: the operation name (after the
// target prefix), the protocol the body is in, and the body. Region is the
// region from the request's credential scope, or "" when it had none.
type Request struct {
	Operation string
	Protocol  awsproto.Protocol
	// Body is valid until Handle or SubscribeToShard returns: the server
	// reuses its buffer for later requests, so nothing may keep a slice
	// of it (decoders copy what they keep).
	Body   []byte
	Region string
	// Authorize, when set, decides whether the caller may make the call;
	// nil allows everything (--auth none).
	Authorize Authorizer
}

// Service answers Kinesis Data Streams operations.
type Service struct {
	eng   *engine.Engine
	log   *slog.Logger
	reads *turns // GetRecords reading and encoding; turns.go
}

// New returns a Service over eng.
func New(eng *engine.Engine, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{eng: eng, log: log, reads: newTurns(readTurns())}
}

type handler func(s *Service, r *Request) (any, error)

// operations maps each implemented operation to its handler. Each ops_*.go
// file registers its own from init, so that operation families live apart.
var operations = map[string]handler{}

func register(ops map[string]handler) {
	for name, h := range ops {
		if _, dup := operations[name]; dup {
			panic("kinesis: operation registered twice: " + name)
		}
		operations[name] = h
	}
}

// modelOperations are the model's operations that are not registered
// yet; they answer with a clear error instead of UnknownOperationException
// so clients can tell the difference.
var modelOperations = []string{
	"CreateChannel", "DeleteChannel", "DescribeChannel", "ListChannels", "UpdateChannel",
}

// IsOperation reports whether op is an operation of the Kinesis model.
func IsOperation(op string) bool {
	_, ok := operations[op]
	return ok || op == "SubscribeToShard" || contains(modelOperations, op)
}

// Handle runs one operation. The error, when not nil, is an *awsproto.Error
// ready to send.
func (s *Service) Handle(r *Request) (any, error) {
	h, ok := operations[r.Operation]
	if !ok {
		if contains(modelOperations, r.Operation) {
			return nil, awsproto.Errorf("InvalidArgumentException", "Operation %s is not implemented by this server yet.", r.Operation)
		}
		return nil, awsproto.Errorf("UnknownOperationException", "")
	}
	if err := s.authorize(r); err != nil {
		return nil, s.wireError(err)
	}
	out, err := h(s, r)
	if err != nil {
		return nil, s.wireError(err)
	}
	return out, nil
}

// wireError converts an error from a handler into an AWS error envelope.
func (s *Service) wireError(err error) *awsproto.Error {
	var we *awsproto.Error
	if errors.As(err, &we) {
		return we
	}
	var ee *engine.Error
	if errors.As(err, &ee) {
		return awsproto.Errorf(ee.Code, "%s", ee.Message)
	}
	s.log.Error("unexpected error", "err", err)
	return awsproto.Errorf("InternalFailureException", "Internal service failure.")
}

// decode unmarshals the body into in.
func decode(r *Request, in any) error { return awsproto.Unmarshal(r.Protocol, r.Body, in) }

// decodeStream decodes the body into in, runs check (model validation,
// which reports through v) and resolves the stream named by ref.
func (s *Service) decodeStream(r *Request, in any, ref *streamRef, check func(v *validator)) (string, error) {
	if err := decode(r, in); err != nil {
		return "", err
	}
	return s.checkStream(r, ref, check)
}

// checkStream is decodeStream after the body was decoded.
func (s *Service) checkStream(r *Request, ref *streamRef, check func(v *validator)) (string, error) {
	var v validator
	check(&v)
	if err := v.err(); err != nil {
		return "", err
	}
	return s.resolveStream(r, ref)
}

// resolveStream turns StreamName and/or StreamARN into a stream name,
// checking that an ARN names this server's region and account and that the
// two agree when both are given. Call it after model validation.
func (s *Service) resolveStream(r *Request, ref *streamRef) (string, error) {
	var fromARN string
	if ref.StreamARN != nil {
		name, err := s.parseStreamARN(r, *ref.StreamARN)
		if err != nil {
			return "", err
		}
		fromARN = name
	}
	switch {
	case ref.StreamName != nil && ref.StreamARN != nil:
		if *ref.StreamName != fromARN {
			return "", awsproto.Errorf("InvalidArgumentException",
				"StreamARN %s and StreamName %s do not refer to the same stream.", *ref.StreamARN, *ref.StreamName)
		}
		return fromARN, nil
	case ref.StreamARN != nil:
		return fromARN, nil
	case ref.StreamName != nil:
		return *ref.StreamName, nil
	}
	return "", awsproto.Errorf("InvalidArgumentException", "Either StreamName or StreamARN should be provided.")
}

// parseStreamARN returns the stream name in arn, which has passed the model
// pattern. An ARN of another account or region names a stream this server
// cannot have.
func (s *Service) parseStreamARN(r *Request, arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "stream/") {
		return "", awsproto.Errorf("InvalidArgumentException", "Invalid StreamARN %s.", arn)
	}
	name := strings.TrimPrefix(parts[5], "stream/")
	if !streamNamePattern.MatchString(name) || len(name) > 128 {
		return "", awsproto.Errorf("InvalidArgumentException", "Invalid StreamARN %s.", arn)
	}
	if (parts[3] != s.eng.Region() && parts[3] != r.Region) || parts[4] != s.eng.AccountID() {
		return "", awsproto.Errorf("ResourceNotFoundException", "Stream %s under account %s not found.", name, parts[4])
	}
	return name, nil
}

// region is the region a request is answered in: its credential scope's,
// or the server's. Streams are shared between regions; only ARNs differ.
func (s *Service) region(r *Request) string {
	if r.Region != "" {
		return r.Region
	}
	return s.eng.Region()
}

// streamARN returns the ARN of stream name as the request sees it.
func (s *Service) streamARN(r *Request, name string) string {
	return "arn:aws:kinesis:" + s.region(r) + ":" + s.eng.AccountID() + ":stream/" + name
}
