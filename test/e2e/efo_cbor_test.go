package e2e

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/fxamacker/cbor/v2"

	"github.com/sluicedata/sluice/internal/eventstream"
)

// rawSubscription is a SubscribeToShard call made by hand over HTTP/2
// with prior knowledge, as the Java SDK makes it, read message by message.
type rawSubscription struct {
	resp *http.Response
	dec  *eventstream.Decoder
}

func rawSubscribe(t *testing.T, srv *server, contentType string, body []byte) *rawSubscription {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp := postH2(t, ctx, srv, "SubscribeToShard", contentType, body)
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		t.Fatalf("SubscribeToShard: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &rawSubscription{resp: resp, dec: eventstream.NewDecoder(bufio.NewReader(resp.Body))}
}

// postH2 makes a call over HTTP/2 with prior knowledge, signed with a fake
// SigV4 header, and returns the answer unread.
func postH2(t *testing.T, ctx context.Context, srv *server, op, contentType string, body []byte) *http.Response {
	t.Helper()
	tr := newTransport()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.endpoint()+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", targetBase+op)
	req.Header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", fakeSigV4(now))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return resp
}

// rawCallH2 makes a call over HTTP/2 and returns its status, closing
// the answer unread.
func rawCallH2(t *testing.T, srv *server, op, contentType string, body []byte) int {
	t.Helper()
	resp := postH2(t, context.Background(), srv, op, contentType, body)
	resp.Body.Close()
	return resp.StatusCode
}

// next reads the next message and checks its type and content type.
func (s *rawSubscription) next(t *testing.T, messageType, wantContentType string) *eventstream.Message {
	t.Helper()
	m, err := s.dec.Decode()
	if err != nil {
		t.Fatalf("read an event: %v", err)
	}
	if mt, _ := m.Header(eventstream.HeaderMessageType); mt.String() != messageType {
		t.Fatalf(":message-type %q, want %q", mt.String(), messageType)
	}
	if ct, _ := m.Header(eventstream.HeaderContentType); ct.String() != wantContentType {
		t.Fatalf(":content-type %q, want %q", ct.String(), wantContentType)
	}
	return m
}

// TestSubscribeToShardCBOR: a subscription made in CBOR, as the Java SDK
// and the KCL make it by default, gets its events in CBOR (the SDK reads
// them with the parser of the client's protocol): the initial response an
// empty map, records with Data as a byte string and the arrival time in
// epoch milliseconds, and an exception's message. One made in JSON keeps
// JSON events.
func TestSubscribeToShardCBOR(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "efo-cbor"
	createStream(t, c, name, 1)
	arn := registerActive(t, c, name, "java-app")
	datas := [][]byte{[]byte("hello"), {0, 1, 2, 0xff, 0xfe}, bytes.Repeat([]byte{'z'}, 3000)}
	var seqs []string
	before := time.Now()
	for i, d := range datas {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), Data: d, PartitionKey: aws.String("pk" + string(rune('a'+i)))})
		if err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}

	body := indefiniteMap(t, "ConsumerARN", arn, "ShardId", "shardId-000000000000",
		"StartingPosition", map[string]any{"Type": "TRIM_HORIZON"})
	sub := rawSubscribe(t, srv, ctCBOR, body)
	init := sub.next(t, "event", ctCBOR)
	if et, _ := init.Header(eventstream.HeaderEventType); et.String() != "initial-response" {
		t.Fatalf("first event %q, want initial-response", et.String())
	}
	if m := decodeCBORObj(t, "initial-response", init.Payload); len(m) != 0 {
		t.Fatalf("initial-response payload %v, want an empty map", m)
	}
	var got []cborObj
	var cont string
	for len(got) < len(datas) {
		m := sub.next(t, "event", ctCBOR)
		if et, _ := m.Header(eventstream.HeaderEventType); et.String() != "SubscribeToShardEvent" {
			t.Fatalf("event %q, want SubscribeToShardEvent", et.String())
		}
		ev := decodeCBORObj(t, "SubscribeToShardEvent", m.Payload)
		got = append(got, ev.array(t, "Records")...)
		cont = ev.text(t, "ContinuationSequenceNumber")
		if ms := ev.int(t, "MillisBehindLatest"); ms < 0 {
			t.Fatalf("MillisBehindLatest %d", ms)
		}
	}
	for i, r := range got {
		if seq := r.text(t, "SequenceNumber"); seq != seqs[i] {
			t.Errorf("record %d: SequenceNumber %s, want %s", i, seq, seqs[i])
		}
		if d := r.bytes(t, "Data"); !bytes.Equal(d, datas[i]) {
			t.Errorf("record %d: Data % x, want % x", i, truncate(d, 16), truncate(datas[i], 16))
		}
		if pk := r.text(t, "PartitionKey"); pk != "pk"+string(rune('a'+i)) {
			t.Errorf("record %d: PartitionKey %q", i, pk)
		}
		checkMillisNear(t, "ApproximateArrivalTimestamp", r.millis(t, "ApproximateArrivalTimestamp"), before)
	}
	if cont != seqs[len(seqs)-1] {
		t.Errorf("ContinuationSequenceNumber %s, want the last record's %s", cont, seqs[len(seqs)-1])
	}

	// A subscription made in JSON (another consumer's) reads JSON events.
	other := registerActive(t, c, name, "go-app")
	jsub := rawSubscribe(t, srv, ctJSON, []byte(`{"ConsumerARN":"`+other+`","ShardId":"shardId-000000000000","StartingPosition":{"Type":"TRIM_HORIZON"}}`))
	if m := jsub.next(t, "event", "application/json"); string(m.Payload) != "{}" {
		t.Fatalf("JSON initial-response payload %q, want {}", m.Payload)
	}
	if m := jsub.next(t, "event", "application/json"); !bytes.HasPrefix(m.Payload, []byte(`{"Records":[{`)) {
		t.Fatalf("JSON event payload %q", truncate(m.Payload, 64))
	}

	// A second CBOR subscription of the same consumer and shard takes
	// over once the first is 5 s old (refused before, as AWS does): the
	// first ends with a modelled exception whose payload is CBOR too.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := rawCallH2(t, srv, "SubscribeToShard", ctCBOR, body)
		if r == http.StatusOK {
			break
		}
		if r != http.StatusBadRequest || time.Now().After(deadline) {
			t.Fatalf("second SubscribeToShard: status %d", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		m, err := sub.dec.Decode()
		if err != nil {
			t.Fatalf("no exception before the stream ended: %v", err)
		}
		mt, _ := m.Header(eventstream.HeaderMessageType)
		if mt.String() == "event" {
			continue // a heartbeat
		}
		if mt.String() != "exception" {
			t.Fatalf(":message-type %q, want exception", mt.String())
		}
		if ct, _ := m.Header(eventstream.HeaderContentType); ct.String() != ctCBOR {
			t.Fatalf("exception :content-type %q, want %s", ct.String(), ctCBOR)
		}
		typ, _ := m.Header(eventstream.HeaderExceptionType)
		var p struct {
			Message string `cbor:"message"`
		}
		if err := cbor.Unmarshal(m.Payload, &p); err != nil || p.Message == "" {
			t.Fatalf("%s payload % x: %v; want a CBOR map with a message", typ.String(), truncate(m.Payload, 64), err)
		}
		t.Logf("%s: %s", typ.String(), p.Message)
		return
	}
}
