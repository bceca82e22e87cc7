package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/eventstream"
	"github.com/sluicedata/sluice/internal/storage"
)

// BenchmarkSubscribeEvent measures one enhanced fan-out event end to end
// in one process: an append of a batch of 100-byte records to a
// one-shard stream (through the engine, not HTTP, without fsync), then the
// SubscribeToShard event that carries it, read off an h2c connection.
// ns/op is the round trip from the append's start to the event's last
// byte; cpu-us/op is the process's CPU time (user and system) per round
// trip, the client's decoding included.
func BenchmarkSubscribeEvent(b *testing.B) {
	for _, n := range []int{1, 125} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			// Without fsync: the disk's sync is not what this measures.
			l := startLiveStorage(b, Config{}, storage.Options{NoSync: true})
			if err := l.eng.CreateStream(engine.CreateStreamParams{Name: "s", ShardCount: 1}); err != nil {
				b.Fatal(err)
			}
			c, err := l.eng.RegisterStreamConsumer("s", "c", nil)
			if err != nil {
				b.Fatal(err)
			}
			entries := make([]engine.PutEntry, n)
			data := bytes.Repeat([]byte("d"), 100)
			for i := range entries {
				entries[i] = engine.PutEntry{PartitionKey: fmt.Sprintf("k%d", i), Data: data}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			body := fmt.Sprintf(`{"ConsumerARN":%q,"ShardId":"shardId-000000000000","StartingPosition":{"Type":"LATEST"}}`, c.ARN)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.addr+"/", strings.NewReader(body))
			req.Header.Set("Content-Type", ctJSON)
			req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			tr := &http.Transport{Protocols: &p}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
				b.Fatalf("SubscribeToShard: %s over %s", resp.Status, resp.Proto)
			}
			dec := eventstream.NewDecoder(resp.Body)
			// next reads events until one carries records; heartbeats
			// and the first, empty, event are skipped.
			next := func() {
				for {
					m, err := dec.Decode()
					if err != nil {
						b.Fatalf("event stream: %v", err)
					}
					if typ, _ := m.Header(eventstream.HeaderEventType); typ.String() != "SubscribeToShardEvent" {
						b.Fatalf("event %q: %s", typ, m.Payload)
					}
					if !bytes.Contains(m.Payload, []byte(`"Records":[]`)) {
						return
					}
				}
			}
			// initial-response, then the first event, which fixes LATEST:
			// append only after it.
			for _, want := range []string{"initial-response", "SubscribeToShardEvent"} {
				m, err := dec.Decode()
				if err != nil {
					b.Fatalf("%s: %v", want, err)
				}
				if typ, _ := m.Header(eventstream.HeaderEventType); typ.String() != want {
					b.Fatalf("event %q, want %s: %s", typ, want, m.Payload)
				}
			}
			cpu0 := processCPU(b)
			for b.Loop() {
				if _, err := l.eng.PutRecords("s", entries); err != nil {
					b.Fatal(err)
				}
				next()
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

// processCPU is the process's user and system time so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
