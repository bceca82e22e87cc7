package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/eventstream"
)

// resubscribeAfter is the wait before subscribing again after a
// subscription failed (AWS answers ResourceInUseException to a
// subscription that comes too soon after the last).
const resubscribeAfter = 200 * time.Millisecond

// subscribeAnswerWithin bounds the wait for a subscription's answer to
// begin: a peer that does not speak HTTP/2 would otherwise hang the run.
const subscribeAnswerWithin = 20 * time.Second

type (
	startingPosition struct {
		Type           string `json:"Type"`
		SequenceNumber string `json:"SequenceNumber,omitempty"`
	}
	subscribeInput struct {
		ConsumerARN      string           `json:"ConsumerARN"`
		ShardId          string           `json:"ShardId"`
		StartingPosition startingPosition `json:"StartingPosition"`
	}
	exceptionPayload struct {
		Message  string `json:"message"`
		MessageC string `json:"Message"`
	}
)

// subscriber reads one shard through SubscribeToShard over HTTP/2 (h2c for
// http:// endpoints), subscribing again from the last continuation each
// time a subscription ends. It speaks the run's protocol, as the SDKs do:
// with CBOR (the AWS SDK for Java's default for Kinesis) the request and
// every event's payload are CBOR, whose record data is raw bytes rather
// than base64 text.
type subscriber struct {
	k           *caller
	pool        *h2Pool
	consumerARN string
	shard       string
	d           *delivery
	e2e         Histogram
	sink        latencySink
	started     bool // the first subscription has begun
}

func (s *subscriber) latencies() *Histogram { return &s.e2e }

func (s *subscriber) run(ctx context.Context, ready func(error)) {
	s.sink.hist, s.sink.from = &s.e2e, &s.d.measureFrom
	pos := startingPosition{Type: "LATEST"}
	for ctx.Err() == nil {
		err := s.once(ctx, &pos, ready)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !s.started {
				// The run cannot measure a consumer that never read.
				ready(fmt.Errorf("SubscribeToShard %s: %w", s.shard, err))
				return
			}
			s.d.ctr.fail(fmt.Sprintf("SubscribeToShard %s: %v", s.shard, err))
		}
		if sleepCtx(ctx, resubscribeAfter) != nil {
			return
		}
	}
}

// once runs one subscription until it ends, moving pos along with the
// events' continuations. The events are handled on the connection's
// goroutine; once returns only after the last of them.
func (s *subscriber) once(ctx context.Context, pos *startingPosition, ready func(error)) error {
	proto := s.k.c.proto
	body, err := awsproto.Marshal(proto, subscribeInput{ConsumerARN: s.consumerARN, ShardId: s.shard, StartingPosition: *pos})
	if err != nil {
		return err
	}
	req, err := s.k.request(ctx, "SubscribeToShard", body, []string{s.k.ct})
	if err != nil {
		return err
	}
	st, err := s.pool.open(ctx, req, body, func(m *eventstream.Message) error { return s.event(m, pos) })
	if err != nil {
		return err
	}
	defer st.cancel()
	timer := time.NewTimer(subscribeAnswerWithin)
	defer timer.Stop()
	select {
	case <-st.header:
	case <-timer.C:
		return fmt.Errorf("no answer within %v", subscribeAnswerWithin)
	case <-ctx.Done():
		return nil
	}
	if st.status == 0 {
		return st.result() // ended before its answer
	}
	if st.status != http.StatusOK {
		select {
		case <-st.done:
		case <-ctx.Done():
			return nil
		}
		if err := st.result(); err != nil {
			return err
		}
		return errorFromBody(proto, st.status, st.errBody)
	}
	// The server chose the position before it answered; kinesis-mock
	// sends no initial-response event, so the answer itself says ready.
	s.started = true
	ready(nil)
	select {
	case <-st.done:
		return st.result() // nil: the subscription's lifetime ended
	case <-ctx.Done():
		return nil
	}
}

// event handles one event-stream message.
func (s *subscriber) event(m *eventstream.Message, pos *startingPosition) error {
	mt, _ := m.Header(eventstream.HeaderMessageType)
	switch mt.String() {
	case eventstream.MessageTypeEvent:
	case eventstream.MessageTypeException:
		typ, _ := m.Header(eventstream.HeaderExceptionType)
		var p exceptionPayload
		awsproto.Unmarshal(s.k.c.proto, m.Payload, &p)
		return &callError{Type: typ.String(), Message: p.Message + p.MessageC}
	default:
		code, _ := m.Header(eventstream.HeaderErrorCode)
		msg, _ := m.Header(eventstream.HeaderErrorMessage)
		return &callError{Type: code.String(), Message: msg.String()}
	}
	et, _ := m.Header(eventstream.HeaderEventType)
	switch et.String() {
	case "SubscribeToShardEvent":
		s.sink.now = time.Now().UnixNano()
		a, err := parseRecords(s.k.c.proto, m.Payload, "ContinuationSequenceNumber", &s.sink)
		if err != nil {
			return err
		}
		s.d.add(a.records)
		// A null continuation marks a closed shard's end; bench streams
		// are not resharded, so the subscriber just keeps its position.
		if a.next != "" {
			*pos = startingPosition{Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: a.next}
		}
	}
	return nil
}
