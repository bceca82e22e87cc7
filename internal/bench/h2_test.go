package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicedata/sluice/internal/eventstream"
	"github.com/sluicedata/sluice/internal/testwait"
)

// h2Server is an HTTP/2 (h2c) server, Go's own, answering with handler.
func h2Server(t *testing.T, maxStreams uint32, handler http.HandlerFunc) *client {
	t.Helper()
	ts := httptest.NewUnstartedServer(handler)
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	if maxStreams > 0 {
		ts.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: int(maxStreams)}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return newTestClient(t, ts.URL, false)
}

// h2Open opens a SubscribeToShard stream with body on pool.
func h2Open(t *testing.T, c *client, pool *h2Pool, body []byte, onEvent func(*eventstream.Message) error) *h2Stream {
	t.Helper()
	k := c.caller()
	req, err := k.request(context.Background(), "SubscribeToShard", body, []string{k.ct})
	if err != nil {
		t.Fatal(err)
	}
	st, err := pool.open(context.Background(), req, body, onEvent)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitDone waits for st to end and returns why.
func waitDone(t *testing.T, st *h2Stream) error {
	t.Helper()
	select {
	case <-st.done:
		return st.result()
	case <-time.After(testDeadline):
		t.Fatal("stream did not end")
		return nil
	}
}

// numbered is an event whose payload is n, 8 bytes, then pad bytes.
func numbered(n uint64, pad int) []byte {
	p := make([]byte, 8+pad)
	binary.BigEndian.PutUint64(p, n)
	for i := range pad {
		p[8+i] = byte(n + uint64(i))
	}
	b, err := eventstream.AppendMessage(nil, eventstream.EventMessage("SubscribeToShardEvent", p))
	if err != nil {
		panic(err)
	}
	return b
}

// TestH2PoolDeliversPastTheWindows streams far more than the connection's
// and the streams' windows on two streams at once: the server's writes
// block unless the client returns credit. Every event arrives whole and in
// order, and each stream ends cleanly. The server also sees the request
// as sent.
func TestH2PoolDeliversPastTheWindows(t *testing.T) {
	const events, pad = 160, 64 << 10 // 10 MiB a stream
	body := []byte(`{"ShardId":"shardId-000000000000"}`)
	c := h2Server(t, 0, func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != targetPrefix+"SubscribeToShard" ||
			r.ContentLength != int64(len(body)) || !bytes.Equal(got, body) || r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "request %s %s target %q length %d body %q", r.Method, r.URL.Path, r.Header.Get("X-Amz-Target"), r.ContentLength, got)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		for n := range uint64(events) {
			if _, err := w.Write(numbered(n, pad)); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	type seen struct {
		next uint64
		bad  error
	}
	var streams [2]*h2Stream
	var got [2]seen
	for i := range streams {
		s := &got[i]
		streams[i] = h2Open(t, c, pool, body, func(m *eventstream.Message) error {
			want := numbered(s.next, pad)
			if b, _ := eventstream.AppendMessage(nil, m); !bytes.Equal(b, want) && s.bad == nil {
				s.bad = fmt.Errorf("event %d differs", s.next)
			}
			s.next++
			return nil
		})
	}
	for i, st := range streams {
		if err := waitDone(t, st); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if st.status != http.StatusOK {
			t.Fatalf("stream %d: status %d: %s", i, st.status, st.errBody)
		}
		st.cancel()
		if got[i].bad != nil || got[i].next != events {
			t.Fatalf("stream %d: %d of %d events, %v", i, got[i].next, events, got[i].bad)
		}
	}
	if len(pool.conns) != 1 {
		t.Fatalf("%d connections, want both streams on one", len(pool.conns))
	}
}

// TestH2PoolErrorAnswer keeps a non-200 answer's status and body, and
// calls no handler for it.
func TestH2PoolErrorAnswer(t *testing.T) {
	const answer = `{"__type":"ResourceNotFoundException","message":"no such consumer"}`
	c := h2Server(t, 0, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, answer)
	})
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	var calls atomic.Int32
	st := h2Open(t, c, pool, []byte(`{}`), func(*eventstream.Message) error { calls.Add(1); return nil })
	if err := waitDone(t, st); err != nil {
		t.Fatal(err)
	}
	if st.status != http.StatusBadRequest || string(st.errBody) != answer || calls.Load() != 0 {
		t.Fatalf("status %d body %q handler calls %d", st.status, st.errBody, calls.Load())
	}
	ce := errorFromBody(c.proto, st.status, st.errBody)
	if ce.Type != "ResourceNotFoundException" || ce.Message != "no such consumer" {
		t.Fatalf("error %+v", ce)
	}
}

// TestH2PoolAnswerCutInsideAMessage reports an answer that ends inside an
// event-stream message, after handling the whole ones before it.
func TestH2PoolAnswerCutInsideAMessage(t *testing.T) {
	c := h2Server(t, 0, func(w http.ResponseWriter, r *http.Request) {
		w.Write(numbered(0, 100))
		b := numbered(1, 100)
		w.Write(b[:len(b)-5])
	})
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	var calls atomic.Int32
	st := h2Open(t, c, pool, []byte(`{}`), func(*eventstream.Message) error { calls.Add(1); return nil })
	if err := waitDone(t, st); !errors.Is(err, io.ErrUnexpectedEOF) || calls.Load() != 1 {
		t.Fatalf("err %v after %d events, want io.ErrUnexpectedEOF after 1", err, calls.Load())
	}
}

// TestH2PoolHandlerErrorEndsTheStream ends a stream whose handler failed,
// with that error, calls the handler no more, and resets the stream at the
// server.
func TestH2PoolHandlerErrorEndsTheStream(t *testing.T) {
	serverSaw := make(chan error, 1)
	c := h2Server(t, 0, func(w http.ResponseWriter, r *http.Request) {
		for n := uint64(0); ; n++ {
			if _, err := w.Write(numbered(n, 100)); err != nil {
				serverSaw <- err
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				serverSaw <- r.Context().Err()
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	bad := errors.New("bad event")
	var calls atomic.Int32
	st := h2Open(t, c, pool, []byte(`{}`), func(*eventstream.Message) error {
		if calls.Add(1) == 3 {
			return bad
		}
		return nil
	})
	if err := waitDone(t, st); !errors.Is(err, bad) {
		t.Fatalf("err %v, want %v", err, bad)
	}
	select {
	case <-serverSaw:
	case <-time.After(testDeadline):
		t.Fatal("the server's handler went on after the reset")
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler called %d times, want 3", n)
	}
}

// TestH2PoolCancel stops a stream from the caller's side: once cancel
// returns, the handler is not running and is never called again, the
// server sees the stream reset, and the connection carries the next
// stream.
func TestH2PoolCancel(t *testing.T) {
	var reset atomic.Int32
	c := h2Server(t, 0, func(w http.ResponseWriter, r *http.Request) {
		for n := uint64(0); ; n++ {
			if _, err := w.Write(numbered(n, 1000)); err != nil {
				reset.Add(1)
				return
			}
			w.(http.Flusher).Flush()
			if r.Context().Err() != nil {
				reset.Add(1)
				return
			}
		}
	})
	ignoreServer := goleak.IgnoreCurrent()
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	for round := range 2 {
		var calls, after atomic.Int32
		var cancelled atomic.Bool
		st := h2Open(t, c, pool, []byte(`{}`), func(*eventstream.Message) error {
			if cancelled.Load() {
				after.Add(1)
			}
			calls.Add(1)
			return nil
		})
		testwait.Until(t, testDeadline, "events", func() bool { return calls.Load() >= 10 })
		st.cancel()
		cancelled.Store(true)
		if err := waitDone(t, st); !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: err %v, want context.Canceled", round, err)
		}
		testwait.Until(t, testDeadline, "the server's handler to end", func() bool { return reset.Load() == int32(round+1) })
		if after.Load() != 0 {
			t.Fatalf("round %d: handler called %d times after cancel", round, after.Load())
		}
	}
	if len(pool.conns) != 1 {
		t.Fatalf("%d connections, want the first reused", len(pool.conns))
	}
	// close leaves no goroutine of the pool's behind (the server's own,
	// started before this point or ending with its connections, aside).
	pool.close()
	if err := goleak.Find(ignoreServer); err != nil {
		t.Fatal(err)
	}
}

// TestH2PoolStreamLimit dials another connection when the server's
// SETTINGS_MAX_CONCURRENT_STREAMS is reached, instead of waiting.
func TestH2PoolStreamLimit(t *testing.T) {
	release := make(chan struct{})
	var wg sync.WaitGroup
	c := h2Server(t, 1, func(w http.ResponseWriter, r *http.Request) {
		wg.Done()
		w.Write(numbered(0, 10))
		w.(http.Flusher).Flush()
		<-release
	})
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	const n = 3
	wg.Add(n)
	var streams []*h2Stream
	for range n {
		st := h2Open(t, c, pool, []byte(`{}`), func(*eventstream.Message) error { return nil })
		streams = append(streams, st)
		// The connection learns the limit from the server's SETTINGS,
		// which come before the first stream's answer.
		select {
		case <-st.header:
		case <-time.After(testDeadline):
			t.Fatal("no answer")
		}
	}
	wg.Wait() // every handler runs at once
	close(release)
	for _, st := range streams {
		if err := waitDone(t, st); err != nil || st.status != http.StatusOK {
			t.Fatalf("status %d err %v", st.status, err)
		}
	}
	if len(pool.conns) != n {
		t.Fatalf("%d connections for %d streams with a limit of 1", len(pool.conns), n)
	}
}

// TestH2PoolOneConnectionForSubscriptionsStartedTogether dials once for
// subscriptions that start at the same moment, as one application's
// client would.
func TestH2PoolOneConnectionForSubscriptionsStartedTogether(t *testing.T) {
	c := h2Server(t, 0, func(w http.ResponseWriter, r *http.Request) {
		w.Write(numbered(0, 10))
	})
	pool := c.h2Pool(16 << 10)
	defer pool.close()
	const n = 8
	streams := make(chan *h2Stream, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			k := c.caller()
			req, err := k.request(context.Background(), "SubscribeToShard", []byte(`{}`), []string{k.ct})
			if err != nil {
				t.Error(err)
				return
			}
			st, err := pool.open(context.Background(), req, []byte(`{}`), func(*eventstream.Message) error { return nil })
			if err != nil {
				t.Error(err)
				return
			}
			streams <- st
		})
	}
	wg.Wait()
	close(streams)
	for st := range streams {
		if err := waitDone(t, st); err != nil || st.status != http.StatusOK {
			t.Fatalf("status %d err %v", st.status, err)
		}
	}
	if len(pool.conns) != 1 {
		t.Fatalf("%d connections for %d subscriptions started together", len(pool.conns), n)
	}
}
