package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/eventstream"
	"github.com/sluicedata/sluice/internal/kinesis"
	"github.com/sluicedata/sluice/internal/testwait"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// subscribeH2C opens a SubscribeToShard stream over h2c whose client
// accepts at most window bytes of the stream unread (0: Go's default),
// and reads its initial-response.
func subscribeH2C(t *testing.T, l *liveServer, consumerARN, position string, window int) (*eventstream.Decoder, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	body := fmt.Sprintf(`{"ConsumerARN":%q,"ShardId":"shardId-000000000000","StartingPosition":{"Type":%q}}`, consumerARN, position)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.addr+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: window}}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	closeAll := func() {
		cancel()
		resp.Body.Close()
		tr.CloseIdleConnections()
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		closeAll()
		t.Fatalf("SubscribeToShard: %s over %s", resp.Status, resp.Proto)
	}
	dec := eventstream.NewDecoder(resp.Body)
	if m, err := dec.Decode(); err != nil {
		closeAll()
		t.Fatalf("initial-response: %v", err)
	} else if typ, _ := m.Header(eventstream.HeaderEventType); typ.String() != "initial-response" {
		closeAll()
		t.Fatalf("first message %q, want initial-response", typ)
	}
	return dec, closeAll
}

// TestSubscriptionWriteDeadline: a subscription's write deadline moves
// with its events. A quiet subscription outlives BodyTimeout many times
// over on its heartbeats, and one whose client stops reading is ended
// once an event has waited BodyTimeout (plus the heartbeat's quiet time)
// to be taken.
func TestSubscriptionWriteDeadline(t *testing.T) {
	logs := &syncBuffer{}
	l := startLive(t, Config{BodyTimeout: 300 * time.Millisecond, MinBodyBytesPerSecond: 1 << 30,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := l.eng.CreateStream(engine.CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	quiet, err := l.eng.RegisterStreamConsumer("s", "quiet", nil)
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := l.eng.RegisterStreamConsumer("s", "stalled", nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("quiet", func(t *testing.T) {
		dec, done := subscribeH2C(t, l, quiet.ARN, "LATEST", 0)
		defer done()
		start := time.Now()
		// The first event, then two heartbeats: over four seconds, more
		// than ten times BodyTimeout, with nothing else written.
		for i := range 3 {
			m, err := dec.Decode()
			if err != nil {
				t.Fatalf("event %d after %v: %v", i, time.Since(start), err)
			}
			if typ, _ := m.Header(eventstream.HeaderEventType); typ.String() != "SubscribeToShardEvent" {
				t.Fatalf("event %d: %q: %s", i, typ, m.Payload)
			}
		}
		if took := time.Since(start); took < kinesis.SubscribeHeartbeat {
			t.Fatalf("two heartbeats in %v, want at least %v", took, kinesis.SubscribeHeartbeat)
		}
	})

	t.Run("stalled", func(t *testing.T) {
		// 4 MiB of records, far more than the 64 KiB the client takes
		// unread: the server's writes block on HTTP/2 flow control.
		data := bytes.Repeat([]byte("d"), 1<<20-16)
		for i := range 4 {
			if _, err := l.eng.PutRecords("s", []engine.PutEntry{{PartitionKey: fmt.Sprintf("k%d", i), Data: data}}); err != nil {
				t.Fatal(err)
			}
		}
		before := len(logs.String()) // the quiet subscription's lines
		_, done := subscribeH2C(t, l, stalled.ARN, "TRIM_HORIZON", 64<<10)
		defer done()
		testwait.Until(t, waitLimit, "the stalled subscription to end", func() bool {
			return strings.Contains(logs.String()[before:], "subscription ended")
		})
		if got := logs.String()[before:]; !strings.Contains(got, "timeout") {
			t.Errorf("the stalled subscription ended, but not on its write deadline: %s", got)
		}
	})
}
