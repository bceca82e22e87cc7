package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Consumer limits (AWS's defaults).
const (
	maxConsumersPerStream   = 20
	maxConsumersCreating    = 5
	DefaultListConsumers    = 100
	consumerStatusCreating  = "CREATING"
	consumerStatusActive    = "ACTIVE"
	consumerStatusDeleting  = "DELETING"
	cursorListConsumers     = "ListStreamConsumers"
	consumerARNStreamMarker = ":stream/"
)

// consumerMeta is an enhanced fan-out consumer's part of the stream's
// catalog record.
type consumerMeta struct {
	Name          string            `json:"name"`
	CreatedMillis int64             `json:"created"`
	Status        string            `json:"status"`
	Transition    *transition       `json:"transition,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Policy        string            `json:"policy,omitempty"`
}

func (c *consumerMeta) statusAt(now int64) string {
	if t := c.Transition; t != nil && t.AtMillis <= now {
		return t.To
	}
	return c.Status
}

// ConsumerInfo describes a consumer.
type ConsumerInfo struct {
	Name          string
	ARN           string
	Status        string
	CreatedMillis int64
	StreamARN     string
}

// ConsumerARN returns the ARN AWS gives a consumer: the stream's ARN, the
// consumer's name and its creation time in epoch seconds.
func (e *Engine) consumerARN(streamName string, c *consumerMeta) string {
	return fmt.Sprintf("%s/consumer/%s:%d", e.streamARN(streamName), c.Name, c.CreatedMillis/1000)
}

func (e *Engine) consumerInfo(streamName string, c *consumerMeta, now int64) ConsumerInfo {
	return ConsumerInfo{Name: c.Name, ARN: e.consumerARN(streamName, c), Status: c.statusAt(now), CreatedMillis: c.CreatedMillis, StreamARN: e.streamARN(streamName)}
}

// ParseConsumerARN splits a consumer ARN that passed the model's pattern
// into its region, account, stream, consumer name and creation second.
func ParseConsumerARN(arn string) (region, account, stream, consumer string, createdSec int64, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "kinesis" {
		return "", "", "", "", 0, false
	}
	rest, found := strings.CutPrefix(parts[5], "stream/")
	if !found {
		return "", "", "", "", 0, false
	}
	stream, tail, found := strings.Cut(rest, "/consumer/")
	if !found {
		return "", "", "", "", 0, false
	}
	i := strings.LastIndexByte(tail, ':')
	if i <= 0 {
		return "", "", "", "", 0, false
	}
	sec, err := strconv.ParseInt(tail[i+1:], 10, 64)
	if err != nil {
		return "", "", "", "", 0, false
	}
	return parts[3], parts[4], stream, tail[:i], sec, true
}

// findConsumerLocked returns the live consumer called name, or nil.
func (st *stream) findConsumerLocked(name string, now int64) *consumerMeta {
	for i := range st.meta.Consumers {
		c := &st.meta.Consumers[i]
		if c.Name == name && c.statusAt(now) != "" {
			return c
		}
	}
	return nil
}

// liveConsumersLocked drops consumers whose deletion is due and returns
// the rest.
func (st *stream) liveConsumersLocked(now int64) []consumerMeta {
	var out []consumerMeta
	for _, c := range st.meta.Consumers {
		if c.statusAt(now) != "" {
			out = append(out, c)
		}
	}
	return out
}

// RegisterStreamConsumer registers an enhanced fan-out consumer; it is
// CREATING for the state delay, then ACTIVE.
func (e *Engine) RegisterStreamConsumer(streamName, name string, tags map[string]string) (ConsumerInfo, error) {
	var out ConsumerInfo
	err := e.updateStream(streamName, false, func(st *stream, now int64) (bool, error) {
		if s := st.meta.Status; s != StatusActive && s != StatusUpdating {
			return false, errorf(CodeResourceInUse, "Stream %s under account %s not ACTIVE or UPDATING, instead in state %s", streamName, e.cfg.AccountID, s)
		}
		live := st.liveConsumersLocked(now)
		creating := 0
		for i := range live {
			if live[i].Name == name {
				return false, errorf(CodeResourceInUse, "Consumer %s under stream %s already exists for account %s.", name, streamName, e.cfg.AccountID)
			}
			if live[i].statusAt(now) == consumerStatusCreating {
				creating++
			}
		}
		if len(live) >= maxConsumersPerStream {
			return false, errorf(CodeLimitExceeded, "Stream %s under account %s has reached the limit of %d registered consumers.", streamName, e.cfg.AccountID, maxConsumersPerStream)
		}
		if creating >= maxConsumersCreating {
			return false, errorf(CodeLimitExceeded, "Stream %s under account %s already has %d consumers in CREATING state.", streamName, e.cfg.AccountID, creating)
		}
		// Consumer ARNs carry the creation second, so a consumer that is
		// registered again gets a new ARN only in a later second.
		created := now
		for _, c := range st.meta.Consumers {
			if c.Name == name && c.CreatedMillis/1000 >= created/1000 {
				created = (c.CreatedMillis/1000 + 1) * 1000
			}
		}
		c := consumerMeta{Name: name, CreatedMillis: created, Status: consumerStatusActive, Tags: tags}
		if e.cfg.StateDelay > 0 {
			c.Status = consumerStatusCreating
			c.Transition = &transition{To: consumerStatusActive, AtMillis: now + e.cfg.StateDelay.Milliseconds()}
		}
		st.meta.Consumers = append(live, c)
		out = e.consumerInfo(streamName, &c, now)
		return false, nil
	})
	return out, err
}

// ConsumerRef names a consumer by ARN, or by stream and name.
type ConsumerRef struct {
	ARN    string
	Stream string
	Name   string
}

// resolveConsumer finds the stream and consumer name a ref points to.
func (e *Engine) resolveConsumer(ref ConsumerRef) (streamName, name string, createdSec int64, err error) {
	if ref.ARN == "" {
		return ref.Stream, ref.Name, -1, nil
	}
	region, account, streamName, name, sec, ok := ParseConsumerARN(ref.ARN)
	if !ok || account != e.cfg.AccountID || region == "" {
		return "", "", 0, e.consumerNotFound(ref.ARN)
	}
	if (ref.Stream != "" && ref.Stream != streamName) || (ref.Name != "" && ref.Name != name) {
		return "", "", 0, errorf(CodeInvalidArgument, "ConsumerARN %s does not match the given StreamARN and ConsumerName.", ref.ARN)
	}
	return streamName, name, sec, nil
}

func (e *Engine) consumerNotFound(what string) *Error {
	return errorf(CodeResourceNotFound, "Consumer %s under account %s not found.", what, e.cfg.AccountID)
}

// DescribeStreamConsumer describes one consumer.
func (e *Engine) DescribeStreamConsumer(ref ConsumerRef) (ConsumerInfo, error) {
	streamName, name, sec, err := e.resolveConsumer(ref)
	if err != nil {
		return ConsumerInfo{}, err
	}
	var out ConsumerInfo
	err = e.viewStream(streamName, func(st *stream, now int64) error {
		c := st.findConsumerLocked(name, now)
		if c == nil || (sec >= 0 && c.CreatedMillis/1000 != sec) {
			return e.consumerNotFound(name)
		}
		out = e.consumerInfo(streamName, c, now)
		return nil
	})
	if err != nil && ref.ARN != "" {
		if ee, ok := err.(*Error); ok && ee.Code == CodeResourceNotFound {
			return ConsumerInfo{}, e.consumerNotFound(ref.ARN)
		}
	}
	return out, err
}

// DeregisterStreamConsumer moves a consumer to DELETING; after the state
// delay it is gone, and its subscriptions end.
func (e *Engine) DeregisterStreamConsumer(ref ConsumerRef) error {
	streamName, name, sec, err := e.resolveConsumer(ref)
	if err != nil {
		return err
	}
	err = e.updateStream(streamName, false, func(st *stream, now int64) (bool, error) {
		c := st.findConsumerLocked(name, now)
		if c == nil || (sec >= 0 && c.CreatedMillis/1000 != sec) {
			return false, e.consumerNotFound(name)
		}
		c.Status = consumerStatusDeleting
		c.Transition = &transition{To: "", AtMillis: now + e.cfg.StateDelay.Milliseconds()}
		st.meta.Consumers = st.liveConsumersLocked(now)
		return false, nil
	})
	if err == nil {
		e.subs.endConsumer(e.consumerKeyPrefix(streamName, name))
	}
	return err
}

// ListConsumersParams are ListStreamConsumers' inputs after validation.
type ListConsumersParams struct {
	Stream              string
	NextToken           string
	MaxResults          int
	StreamCreatedMillis *int64
}

type listConsumersCursor struct {
	Kind          string `json:"k"`
	Stream        string `json:"s"`
	StreamCreated int64  `json:"c"`
	After         string `json:"a"`
	Issued        int64  `json:"i"`
}

// ListStreamConsumers lists a stream's consumers in name order.
func (e *Engine) ListStreamConsumers(p ListConsumersParams) ([]ConsumerInfo, string, error) {
	cur := listConsumersCursor{Kind: cursorListConsumers, Stream: p.Stream}
	if p.NextToken != "" {
		if err := e.openCursor(p.NextToken, cursorListConsumers, &cur); err != nil {
			return nil, "", err
		}
	} else if p.StreamCreatedMillis != nil {
		cur.StreamCreated = *p.StreamCreatedMillis
	}
	limit := p.MaxResults
	if limit <= 0 {
		limit = DefaultListConsumers
	}
	var out []ConsumerInfo
	var next string
	err := e.viewStream(cur.Stream, func(st *stream, now int64) error {
		if cur.StreamCreated != 0 && cur.StreamCreated != st.meta.CreatedMillis {
			return e.streamNotFound(cur.Stream)
		}
		live := st.liveConsumersLocked(now)
		sort.Slice(live, func(i, j int) bool { return live[i].Name < live[j].Name })
		for i := range live {
			if live[i].Name <= cur.After {
				continue
			}
			if len(out) == limit {
				cur.StreamCreated, cur.After, cur.Issued = st.meta.CreatedMillis, out[len(out)-1].Name, now
				next = e.sealCursor(cur)
				break
			}
			out = append(out, e.consumerInfo(cur.Stream, &live[i], now))
		}
		return nil
	})
	return out, next, err
}

// consumerCountLocked counts a stream's live consumers.
func (st *stream) consumerCountLocked(now int64) int { return len(st.liveConsumersLocked(now)) }
