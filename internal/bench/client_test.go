package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestClient makes a client of endpoint as a run would.
func newTestClient(t *testing.T, endpoint string, insecure bool) *client {
	t.Helper()
	cfg := Config{Endpoint: endpoint, Region: "us-east-1", Credentials: DummyCredentials, Insecure: insecure}
	c, err := newClient(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

// countingServer answers every POST with its body reversed and counts the
// connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

func echoHandler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != targetPrefix+"Echo" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || r.Header.Get("X-Amz-Date") == "" {
			t.Errorf("request %s %s, headers %v", r.Method, r.URL, r.Header)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		w.Write(b)
	}
}

func TestCallKeepsItsConnection(t *testing.T) {
	ts, conns := countingServer(t, echoHandler(t))
	k := newTestClient(t, ts.URL, false).caller()
	for i := range 5 {
		body := fmt.Sprintf(`{"call":%d,"pad":%q}`, i, strings.Repeat("x", i*40_000))
		got, err := k.call(context.Background(), "Echo", []byte(body))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if string(got) != body {
			t.Fatalf("call %d answered %d bytes, want the %d sent", i, len(got), len(body))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 calls opened %d connections, want 1", n)
	}
}

func TestCallChunkedAnswer(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for i := range 3 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
	})
	k := newTestClient(t, ts.URL, false).caller()
	for range 2 {
		got, err := k.call(context.Background(), "Echo", []byte("{}"))
		if err != nil || string(got) != "part0;part1;part2;" {
			t.Fatalf("call = %q, %v", got, err)
		}
	}
}

func TestCallErrorAnswerKeepsConnection(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Stream s under account 000000000000 not found."}`)
	})
	k := newTestClient(t, ts.URL, false).caller()
	for range 2 {
		_, err := k.call(context.Background(), "Echo", []byte("{}"))
		var ce *callError
		if !errors.As(err, &ce) || ce.Status != 400 || ce.Type != "ResourceNotFoundException" ||
			ce.Message != "Stream s under account 000000000000 not found." {
			t.Fatalf("call error = %#v", err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("2 error answers opened %d connections, want 1", n)
	}
}

func TestCallConnectionClose(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Connection", "close")
		io.WriteString(w, "{}")
	})
	c := newTestClient(t, ts.URL, false)
	k := c.caller()
	for range 3 {
		if _, err := k.call(context.Background(), "Echo", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 calls answered with Connection: close opened %d connections, want 3", n)
	}
	c.mu.Lock()
	open := len(c.mu.conns)
	c.mu.Unlock()
	if open != 0 {
		t.Errorf("client still holds %d connections the server closed", open)
	}
}

// rawServer accepts connections and gives each to serve, which owns it.
func rawServer(t *testing.T, serve func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(nc) }()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestCallReplacesClosedConnection: a server that drops a keep-alive
// connection while it is idle, without saying so, costs the next call a
// new connection, not an error, and each request is handled once.
func TestCallReplacesClosedConnection(t *testing.T) {
	var handled atomic.Int64
	closed := make(chan struct{}, 10)
	url := rawServer(t, func(nc net.Conn) {
		// One request per connection, answered as if the connection
		// stayed open, then closed.
		if req, err := http.ReadRequest(bufio.NewReader(nc)); err == nil {
			io.Copy(io.Discard, req.Body)
			handled.Add(1)
			io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}
		nc.Close()
		closed <- struct{}{}
	})
	k := newTestClient(t, url, false).caller()
	for i := range 3 {
		if got, err := k.call(context.Background(), "Echo", []byte("{}")); err != nil || string(got) != "{}" {
			t.Fatalf("call %d = %q, %v", i, got, err)
		}
		select {
		case <-closed:
		case <-time.After(testDeadline):
			t.Fatal("the server did not close the connection")
		}
	}
	if n := handled.Load(); n != 3 {
		t.Errorf("server handled %d requests for 3 calls", n)
	}
}

// TestCallNotSentTwice: a request written in full and not answered fails
// its call; it is not sent again, as the server may have acted on it.
func TestCallNotSentTwice(t *testing.T) {
	var handled atomic.Int64
	url := rawServer(t, func(nc net.Conn) {
		defer nc.Close()
		br := bufio.NewReader(nc)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if handled.Add(1) > 1 {
				return // the second request: read, then closed unanswered
			}
			io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}
	})
	k := newTestClient(t, url, false).caller()
	if _, err := k.call(context.Background(), "Echo", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.call(context.Background(), "Echo", []byte("{}")); err == nil {
		t.Fatal("a call the server never answered succeeded")
	}
	if n := handled.Load(); n != 2 {
		t.Errorf("server read %d requests for 2 calls", n)
	}
}

func TestCallCancelledInFlight(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
	})
	defer close(release) // before ts.Close, which waits for the handler
	k := newTestClient(t, ts.URL, false).caller()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := k.call(ctx, "Echo", []byte("{}"))
		done <- err
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled call succeeded")
		}
	case <-time.After(testDeadline):
		t.Fatal("a cancelled call did not return")
	}
	if k.cn != nil {
		t.Error("the cancelled call's connection is kept for reuse")
	}
}

func TestCallHTTPS(t *testing.T) {
	ts := httptest.NewTLSServer(echoHandler(t))
	t.Cleanup(ts.Close)
	k := newTestClient(t, ts.URL, true).caller()
	if got, err := k.call(context.Background(), "Echo", []byte(`{"a":1}`)); err != nil || string(got) != `{"a":1}` {
		t.Fatalf("call with --insecure = %q, %v", got, err)
	}
	// Without --insecure the test server's certificate is not trusted.
	k = newTestClient(t, ts.URL, false).caller()
	if _, err := k.call(context.Background(), "Echo", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("call without --insecure = %v, want a certificate error", err)
	}
}

func TestCallAfterClose(t *testing.T) {
	ts, _ := countingServer(t, echoHandler(t))
	c := newTestClient(t, ts.URL, false)
	k := c.caller()
	if _, err := k.call(context.Background(), "Echo", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	c.close()
	if _, err := k.call(context.Background(), "Echo", []byte("{}")); err == nil {
		t.Fatal("a call after close succeeded")
	}
	if _, err := c.caller().call(context.Background(), "Echo", []byte("{}")); err == nil {
		t.Fatal("a new caller's call after close succeeded")
	}
}
