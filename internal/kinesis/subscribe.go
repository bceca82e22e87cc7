package kinesis

import (
	"context"
	"errors"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/eventstream"
)

// SubscribeHeartbeat is how long a caught-up subscription stays quiet
// before it sends an empty event, so that ContinuationSequenceNumber and
// MillisBehindLatest keep advancing on the client.
const SubscribeHeartbeat = 2 * time.Second

// EventWriter sends event-stream messages to a subscriber. The server
// implements it over the HTTP response: Begin sends the 200 status and
// headers, Write sends one message and flushes it.
type EventWriter interface {
	Begin() error
	Write(m *eventstream.Message) error
}

type startingPosition struct {
	Type           *string             `json:"Type,omitempty"`
	SequenceNumber *string             `json:"SequenceNumber,omitempty"`
	Timestamp      *awsproto.Timestamp `json:"Timestamp,omitempty"`
}

type subscribeInput struct {
	ConsumerARN      *string           `json:"ConsumerARN,omitempty"`
	ShardId          *string           `json:"ShardId,omitempty"`
	StartingPosition *startingPosition `json:"StartingPosition,omitempty"`
	DryRun           *bool             `json:"DryRun,omitempty"`
}

// subscribeEvent is SubscribeToShardEvent's payload. ContinuationSequenceNumber
// is null at a closed shard's end, as AWS sends it.
type subscribeEvent struct {
	Records                    []recordOut  `json:"Records"`
	ContinuationSequenceNumber *string      `json:"ContinuationSequenceNumber"`
	MillisBehindLatest         int64        `json:"MillisBehindLatest"`
	ChildShards                []childShard `json:"ChildShards,omitempty"`
	engineTexts                bool         // as getRecordsOutput's
}

// SubscribeToShard runs one SubscribeToShard call. Errors found before the
// stream starts are returned as *awsproto.Error, and w has not begun; once
// w has begun, failures are sent as exception events and the return value
// only says why the stream ended.
func (s *Service) SubscribeToShard(ctx context.Context, r *Request, w EventWriter) error {
	if err := s.authorize(r); err != nil {
		return s.wireError(err)
	}
	sub, err := s.openSubscription(r)
	if err != nil {
		return s.wireError(err)
	}
	defer sub.Close()
	if err := w.Begin(); err != nil {
		return err
	}
	// Events are encoded as the request was: the Java SDKs, and so the
	// KCL, read a CBOR call's events with their CBOR parser.
	ct, initial := eventContentType(r.Protocol)
	if err := w.Write(eventstream.EventMessageAs("initial-response", ct, initial)); err != nil {
		return err
	}
	var payload []byte   // reused once a Write has taken it
	var outs []recordOut // an event's wire records, reused likewise
	for {
		ev, err := sub.Next(ctx, SubscribeHeartbeat)
		switch {
		case errors.Is(err, engine.ErrSubscriptionEnded), errors.Is(err, context.Canceled):
			return nil
		case err != nil:
			return s.writeException(w, r.Protocol, err)
		}
		payload = awsproto.AppendSelf(r.Protocol, toSubscribeEvent(ev, &outs), payload[:0])
		if err := w.Write(eventstream.EventMessageAs("SubscribeToShardEvent", ct, payload)); err != nil {
			return err
		}
		if ev.ChildShards != nil {
			return nil // the shard's end: the last event
		}
	}
}

func (s *Service) openSubscription(r *Request) (*engine.Subscription, error) {
	var in subscribeInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("consumerARN", in.ConsumerARN, strRule{required: true, min: 1, max: 2048, pattern: consumerARNPattern, patText: ruleConsumerARN.patText})
	v.str("shardId", in.ShardId, ruleRequiredShardID)
	if in.StartingPosition == nil {
		v.add(awsproto.ProblemRequired("startingPosition"))
	} else {
		v.str("startingPosition.type", in.StartingPosition.Type, strRule{required: true, enum: enumIteratorType})
		v.str("startingPosition.sequenceNumber", in.StartingPosition.SequenceNumber, ruleSeqNum)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	pos := engine.StartingPosition{Type: *in.StartingPosition.Type, SequenceNumber: deref(in.StartingPosition.SequenceNumber)}
	if ts := in.StartingPosition.Timestamp; ts != nil {
		pos.TimestampMillis = &ts.Millis
	}
	sub, err := s.eng.SubscribeToShard(*in.ConsumerARN, *in.ShardId, pos)
	if err != nil {
		return nil, err
	}
	if in.DryRun != nil && *in.DryRun {
		sub.Close()
		return nil, dryRunError()
	}
	return sub, nil
}

// toSubscribeEvent is the wire form of ev, its records in *outs (grown as
// needed).
func toSubscribeEvent(ev engine.SubscribeEvent, outs *[]recordOut) subscribeEvent {
	out := subscribeEvent{Records: toRecordOuts(ev.Records, outs), MillisBehindLatest: ev.MillisBehindLatest, engineTexts: true}
	if ev.ContinuationSequenceNumber != "" {
		out.ContinuationSequenceNumber = &ev.ContinuationSequenceNumber
	}
	out.ChildShards = toChildShards(ev.ChildShards)
	return out
}

// eventContentType returns the :content-type of a subscription's events
// in protocol p, and the payload of its initial-response (an empty
// object).
func eventContentType(p awsproto.Protocol) (string, []byte) {
	if p == awsproto.CBOR {
		return p.ContentType(), []byte{0xa0}
	}
	return eventstream.ContentTypeJSON, []byte("{}")
}

// exceptionPayload is an exception event's payload.
type exceptionPayload struct {
	Message string `json:"message"`
}

// writeException sends err as the stream's last message: a modelled
// exception event when it is one of SubscribeToShard's, else an
// InternalFailureException; its payload is in protocol p.
func (s *Service) writeException(w EventWriter, p awsproto.Protocol, err error) error {
	ae := s.wireError(err)
	typ := ae.Type
	switch typ {
	case "ResourceNotFoundException", "ResourceInUseException", "KMSDisabledException", "KMSInvalidStateException",
		"KMSAccessDeniedException", "KMSNotFoundException", "KMSOptInRequired", "KMSThrottlingException", "InternalFailureException":
	default:
		typ = "InternalFailureException"
	}
	payload, merr := awsproto.Marshal(p, exceptionPayload{Message: ae.Message})
	if merr != nil {
		return merr
	}
	ct, _ := eventContentType(p)
	if werr := w.Write(eventstream.ExceptionMessageAs(typ, ct, payload)); werr != nil {
		return werr
	}
	return err
}
