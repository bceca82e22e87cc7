package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// Enhanced fan-out settings (AWS's values).
const (
	// subscriptionTakeoverAfter: a second SubscribeToShard for the same
	// consumer and shard within this time is refused; after it, the new one
	// takes over and the old one ends with ResourceInUseException.
	subscriptionTakeoverAfter = 5 * time.Second
	// subscribeEventBytes bounds the record bytes in one event.
	subscribeEventBytes = 1 << 20
	// subscribeEventRecords bounds the records in one event.
	subscribeEventRecords = 10000
)

// notifier wakes everyone waiting for a shard's next append. Waiting costs
// nothing while nobody waits: the channel exists only when asked for.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel that is closed at the next broadcast.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// subRegistry tracks the live subscription of each (consumer, shard).
type subRegistry struct {
	mu     sync.Mutex
	active map[string]*Subscription
}

// endConsumer ends every subscription whose key starts with prefix.
func (r *subRegistry) endConsumer(prefix string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.active {
		if strings.HasPrefix(k, prefix) {
			s.end(nil)
			delete(r.active, k)
		}
	}
}

func (e *Engine) consumerKeyPrefix(stream, consumer string) string {
	return stream + "\x00" + consumer + "\x00"
}

// StartingPosition says where a subscription starts, as GetShardIterator's
// iterator types do.
type StartingPosition struct {
	Type            string
	SequenceNumber  string
	TimestampMillis *int64
}

// Subscription is one SubscribeToShard stream. Next may be called from one
// goroutine at a time; Close from any.
type Subscription struct {
	e          *Engine
	key        string
	stream     string
	shardIndex uint32
	startedAt  time.Time
	expiresAt  time.Time

	offset uint64 // the next record to send
	first  bool   // the first event goes out at once, even if empty
	budget bucket // the consumer's read budget on this shard

	done    chan struct{}
	endOnce sync.Once
	endErr  *Error // why it ended early; nil for a normal end

	// scratch holds the records of the last event Next returned, given
	// back to readScratches at the next poll (or left to the garbage
	// collector if there is none).
	scratch *readScratch
}

// ErrSubscriptionEnded is returned by Next once the subscription's
// lifetime is over: the stream closes cleanly and the client subscribes
// again.
var ErrSubscriptionEnded = errors.New("subscription lifetime ended")

func (s *Subscription) end(err *Error) {
	s.endOnce.Do(func() {
		s.endErr = err
		close(s.done)
	})
}

// Close releases the subscription.
func (s *Subscription) Close() {
	s.end(nil)
	r := &s.e.subs
	r.mu.Lock()
	if r.active[s.key] == s {
		delete(r.active, s.key)
	}
	r.mu.Unlock()
}

// SubscribeToShard opens a subscription for an ACTIVE consumer on a shard.
func (e *Engine) SubscribeToShard(consumerARN, shardID string, pos StartingPosition) (*Subscription, error) {
	region, account, streamName, consumer, sec, ok := ParseConsumerARN(consumerARN)
	if !ok || account != e.cfg.AccountID || region == "" {
		return nil, e.consumerNotFound(consumerARN)
	}
	sub := &Subscription{e: e, stream: streamName, first: true, done: make(chan struct{})}
	err := e.viewStream(streamName, func(st *stream, now int64) error {
		c := st.findConsumerLocked(consumer, now)
		if c == nil || c.CreatedMillis/1000 != sec {
			return e.consumerNotFound(consumerARN)
		}
		if c.statusAt(now) != consumerStatusActive {
			return errorf(CodeResourceInUse, "Consumer %s with creation timestamp %d under stream: %s , account %s is not in ACTIVE status.",
				consumer, sec, streamName, e.cfg.AccountID)
		}
		idx, ok := parseShardID(shardID)
		sh := st.shardByIndex(idx)
		if !ok || sh == nil || st.expiredLocked(sh, now) {
			return errorf(CodeResourceNotFound, "Shard %s in stream %s under account %s does not exist", shardID, streamName, e.cfg.AccountID)
		}
		off, err := e.iteratorOffset(IteratorParams{
			Stream: streamName, ShardID: sh.id, Type: pos.Type, StartingSequence: pos.SequenceNumber, TimestampMillis: pos.TimestampMillis,
		}, st, sh)
		if err != nil {
			return err
		}
		sub.shardIndex, sub.offset = idx, off
		sub.key = e.consumerKeyPrefix(streamName, consumer) + sh.id
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sub, e.subs.register(sub, e.now(), e.cfg.SubscriptionLifetime, consumerARN, ShardID(sub.shardIndex))
}

func (r *subRegistry) register(sub *Subscription, now time.Time, lifetime time.Duration, consumerARN, shardID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		r.active = map[string]*Subscription{}
	}
	if old := r.active[sub.key]; old != nil {
		select {
		case <-old.done:
		default:
			if now.Sub(old.startedAt) < subscriptionTakeoverAfter {
				return errorf(CodeResourceInUse, "Another active subscription exists for this consumer: %s and shard: %s", consumerARN, shardID)
			}
			old.end(errorf(CodeResourceInUse, "Another active subscription took over for this consumer: %s and shard: %s", consumerARN, shardID))
		}
	}
	sub.startedAt, sub.expiresAt = now, now.Add(lifetime)
	r.active[sub.key] = sub
	return nil
}

// SubscribeEvent is one SubscribeToShardEvent. At the end of a closed shard
// ContinuationSequenceNumber is "" and ChildShards is set; it is the last.
type SubscribeEvent struct {
	Records                    []Record
	ContinuationSequenceNumber string
	MillisBehindLatest         int64
	ChildShards                []ChildShard
}

// Next waits for the next event: records as soon as they are durable, an
// empty event after heartbeat of quiet, or the shard's end. It returns
// ErrSubscriptionEnded when the lifetime is over, an *Error when the
// subscription was taken over or the stream went away, or ctx's error.
// The event's records, their data and texts, are good until the next call.
func (s *Subscription) Next(ctx context.Context, heartbeat time.Duration) (SubscribeEvent, error) {
	timer := time.NewTimer(heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			if s.endErr != nil {
				return SubscribeEvent{}, s.endErr
			}
			return SubscribeEvent{}, ErrSubscriptionEnded
		default:
		}
		now := s.e.now()
		if !now.Before(s.expiresAt) {
			return SubscribeEvent{}, ErrSubscriptionEnded
		}
		ev, wake, wait, err := s.poll(now.UnixMilli())
		if err != nil || ev != nil {
			if ev != nil {
				return *ev, err
			}
			return SubscribeEvent{}, err
		}
		life := time.NewTimer(s.expiresAt.Sub(now))
		var pace <-chan time.Time
		if wait > 0 {
			pace = time.After(wait)
			wake = nil // over budget: wait for it, not for records
		}
		select {
		case <-ctx.Done():
			life.Stop()
			return SubscribeEvent{}, ctx.Err()
		case <-s.done:
		case <-wake:
		case <-pace:
		case <-life.C:
		case <-timer.C:
			life.Stop()
			return s.heartbeat()
		}
		life.Stop()
	}
}

// poll reads what is there. It returns an event to send, or a channel that
// closes on the shard's next append, or how long to wait for read budget.
func (s *Subscription) poll(now int64) (*SubscribeEvent, <-chan struct{}, time.Duration, error) {
	e := s.e
	var ev *SubscribeEvent
	var wake <-chan struct{}
	var wait time.Duration
	if s.scratch != nil { // the last event is encoded and sent by now
		giveScratch(s.scratch)
		s.scratch = nil
	}
	sc := takeScratch()
	defer func() {
		if ev != nil && len(ev.Records) > 0 {
			s.scratch = sc
		} else {
			giveScratch(sc)
		}
	}()
	err := e.viewStream(s.stream, func(st *stream, _ int64) error {
		sh := st.shardByIndex(s.shardIndex)
		if sh == nil || st.expiredLocked(sh, now) {
			return errorf(CodeResourceNotFound, "Shard %s in stream %s under account %s does not exist", ShardID(s.shardIndex), s.stream, e.cfg.AccountID)
		}
		lim := e.limitsLocked(st)
		paced := lim.Enabled && lim.ReadBytesPerSecond > 0
		if paced {
			s.budget.refill(now, lim.ReadBytesPerSecond)
			if s.budget.tokens < 0 {
				wait = time.Duration(-s.budget.tokens/float64(lim.ReadBytesPerSecond)*1000+1) * time.Millisecond
				return nil
			}
		}
		wake = sh.notify.wait() // before reading, so no append is missed
		r, err := e.readRecordsLocked(st, sh, s.offset, subscribeEventRecords, subscribeEventBytes, now, sc)
		if err != nil {
			return err
		}
		if len(r.records) == 0 && r.children == nil && !s.first {
			return nil
		}
		if paced {
			s.budget.tokens -= float64(r.bytes)
		}
		s.offset = r.next
		ev = &SubscribeEvent{Records: r.records, MillisBehindLatest: r.millisBehind, ChildShards: r.children}
		if r.children == nil {
			ev.ContinuationSequenceNumber = s.continuationLocked(sh)
		}
		s.first = false
		return nil
	})
	return ev, wake, wait, err
}

// continuationLocked is the sequence number to resume after what was sent:
// AFTER_SEQUENCE_NUMBER with it starts at s.offset.
func (s *Subscription) continuationLocked(sh *shard) string {
	return sh.seq(s.offset, max(sh.meta.CreatedMillis, sh.log.LastArrivalMillis())).String()
}

func (s *Subscription) heartbeat() (SubscribeEvent, error) {
	var ev SubscribeEvent
	err := s.e.viewStream(s.stream, func(st *stream, now int64) error {
		sh := st.shardByIndex(s.shardIndex)
		if sh == nil {
			return errorf(CodeResourceNotFound, "Shard %s in stream %s under account %s does not exist", ShardID(s.shardIndex), s.stream, s.e.cfg.AccountID)
		}
		ev.ContinuationSequenceNumber = s.continuationLocked(sh)
		return nil
	})
	return ev, err
}

// EndSubscriptions ends every live subscription cleanly, as at the end of
// their lifetime; the server calls it before it drains requests.
func (e *Engine) EndSubscriptions() { e.subs.endConsumer("") }
