package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
	hc          *http.Client
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
// events' continuations.
func (s *subscriber) once(ctx context.Context, pos *startingPosition, ready func(error)) error {
	proto := s.k.c.proto
	body, err := awsproto.Marshal(proto, subscribeInput{ConsumerARN: s.consumerARN, ShardId: s.shard, StartingPosition: *pos})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := s.k.request(sctx, "SubscribeToShard", body, []string{s.k.ct})
	if err != nil {
		return err
	}
	timer := time.AfterFunc(subscribeAnswerWithin, cancel)
	resp, err := s.hc.Do(req)
	if !timer.Stop() && ctx.Err() == nil {
		if err == nil {
			resp.Body.Close()
		}
		return fmt.Errorf("no answer within %v", subscribeAnswerWithin)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := readAll(io.LimitReader(resp.Body, 1<<20), nil)
		return errorFromBody(proto, resp.StatusCode, b)
	}
	// The server chose the position before it answered; kinesis-mock
	// sends no initial-response event, so the answer itself says ready.
	s.started = true
	ready(nil)
	dec := eventstream.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		m, err := dec.DecodeShared() // event is done with m before the next
		if errors.Is(err, io.EOF) {
			return nil // the subscription's lifetime ended
		}
		if err != nil {
			return err
		}
		if err := s.event(m, pos); err != nil {
			return err
		}
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
