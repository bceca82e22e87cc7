package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestConsumers(t *testing.T) {
	h := newHarness(t, Config{StateDelay: time.Second})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := h.eng.RegisterStreamConsumer("s", "c1", nil)
	wantCode(t, err, CodeResourceInUse) // the stream is CREATING
	h.clock.Advance(time.Second)
	c, err := h.eng.RegisterStreamConsumer("s", "c1", nil)
	if err != nil || c.Status != "CREATING" || c.ARN != fmt.Sprintf("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c1:%d", c.CreatedMillis/1000) {
		t.Fatalf("register: %+v %v", c, err)
	}
	_, err = h.eng.RegisterStreamConsumer("s", "c1", nil)
	wantCode(t, err, CodeResourceInUse)
	_, err = h.eng.SubscribeToShard(c.ARN, "shardId-000000000000", StartingPosition{Type: IteratorLatest})
	wantCode(t, err, CodeResourceInUse) // not ACTIVE yet
	h.clock.Advance(time.Second)
	got, err := h.eng.DescribeStreamConsumer(ConsumerRef{ARN: c.ARN})
	if err != nil || got.Status != "ACTIVE" || got.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/s" {
		t.Fatalf("describe: %+v %v", got, err)
	}
	for i := 2; i <= 5; i++ {
		if _, err := h.eng.RegisterStreamConsumer("s", fmt.Sprint("c", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	page, next, err := h.eng.ListStreamConsumers(ListConsumersParams{Stream: "s", MaxResults: 3})
	if err != nil || len(page) != 3 || next == "" {
		t.Fatalf("list: %+v %q %v", page, next, err)
	}
	rest, next, _ := h.eng.ListStreamConsumers(ListConsumersParams{NextToken: next})
	if len(rest) != 2 || next != "" || rest[1].Name != "c5" {
		t.Fatalf("list page 2: %+v", rest)
	}
	info, _ := h.eng.DescribeStream("s")
	if info.ConsumerCount != 5 {
		t.Fatalf("ConsumerCount %d", info.ConsumerCount)
	}
	wantCode(t, h.eng.DeleteStream("s", false), CodeResourceInUse)
	if err := h.eng.DeregisterStreamConsumer(ConsumerRef{Stream: "s", Name: "c2"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	_, err = h.eng.DescribeStreamConsumer(ConsumerRef{Stream: "s", Name: "c2"})
	wantCode(t, err, CodeResourceNotFound)
	if err := h.eng.DeleteStream("s", true); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribe(t *testing.T) {
	h := newHarness(t, Config{SubscriptionLifetime: time.Hour})
	if err := h.eng.CreateStream(CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	c, err := h.eng.RegisterStreamConsumer("s", "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := h.put("s", "k", "0")
	sub, err := h.eng.SubscribeToShard(c.ARN, "shardId-000000000000", StartingPosition{Type: IteratorTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx, time.Minute)
	if err != nil || len(ev.Records) != 1 || ev.Records[0].SequenceNumber != first.SequenceNumber || ev.ContinuationSequenceNumber != first.SequenceNumber {
		t.Fatalf("first event: %+v %v", ev, err)
	}
	// A record put while the subscriber waits wakes it.
	got := make(chan SubscribeEvent, 1)
	go func() {
		ev, err := sub.Next(ctx, time.Minute)
		if err != nil {
			t.Error(err)
		}
		got <- ev
	}()
	second := h.put("s", "k", "1")
	ev = <-got
	if len(ev.Records) != 1 || ev.Records[0].SequenceNumber != second.SequenceNumber {
		t.Fatalf("pushed event: %+v", ev)
	}
	// Quiet: an empty event after the heartbeat interval.
	ev, err = sub.Next(ctx, 20*time.Millisecond)
	if err != nil || len(ev.Records) != 0 || ev.ContinuationSequenceNumber != second.SequenceNumber {
		t.Fatalf("heartbeat: %+v %v", ev, err)
	}
	// A second subscription within 5 seconds is refused; after, it takes over.
	_, err = h.eng.SubscribeToShard(c.ARN, "0", StartingPosition{Type: IteratorLatest})
	wantCode(t, err, CodeResourceInUse)
	h.clock.Advance(6 * time.Second)
	sub2, err := h.eng.SubscribeToShard(c.ARN, "0", StartingPosition{Type: IteratorAfterSequence, SequenceNumber: first.SequenceNumber})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	_, err = sub.Next(ctx, time.Minute)
	wantCode(t, err, CodeResourceInUse)
	ev, _ = sub2.Next(ctx, time.Minute)
	if len(ev.Records) != 1 || string(ev.Records[0].Data) != "1" {
		t.Fatalf("resumed after sequence number: %+v", ev)
	}
	// A split ends the shard: the last event names the children.
	h.put("s", "k", "2")
	if err := h.eng.SplitShard("s", "0", evenRanges(2)[1].Start.String()); err != nil {
		t.Fatal(err)
	}
	var last SubscribeEvent
	for last.ChildShards == nil {
		if last, err = sub2.Next(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if len(last.ChildShards) != 2 || last.ContinuationSequenceNumber != "" {
		t.Fatalf("shard end: %+v", last)
	}
	// The lifetime ends the subscription cleanly.
	h.clock.Advance(2 * time.Hour)
	if _, err := sub2.Next(ctx, time.Minute); !errors.Is(err, ErrSubscriptionEnded) {
		t.Fatalf("after lifetime: %v", err)
	}
}
