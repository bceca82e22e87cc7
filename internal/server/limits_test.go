package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/kinesis"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/testwait"
	"github.com/sluicedata/sluice/internal/vfs"
)

const (
	ctJSON = "application/x-amz-json-1.1"
	ctCBOR = "application/x-amz-cbor-1.1"
	// waitLimit bounds every wait on a condition in these tests; the
	// limits under test are far shorter.
	waitLimit = 20 * time.Second
)

// liveServer is a Server listening on a loopback port, stopped at the
// end of the test.
type liveServer struct {
	*Server
	eng  *engine.Engine
	addr string
}

func startLive(t testing.TB, cfg Config) *liveServer {
	t.Helper()
	return startLiveStorage(t, cfg, storage.Options{})
}

// startLiveStorage is startLive with storage options.
func startLiveStorage(t testing.TB, cfg Config, sopts storage.Options) *liveServer {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	sopts.Logger = quiet
	st, err := storage.Open(vfs.Default(), dir, sopts)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Open(engine.Config{Logger: quiet}, st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	cfg.AccountID = "000000000000"
	srv := New(cfg, kinesis.New(eng, quiet))
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		eng.EndSubscriptions()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		eng.Close()
		st.Close()
	})
	return &liveServer{Server: srv, eng: eng, addr: srv.Addr().String()}
}

// dial opens a raw connection that fails the test's reads after waitLimit.
func (l *liveServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	return c
}

// rawHead is the request line and headers of a Kinesis call.
func rawHead(op, contentType string, extra ...string) string {
	h := "POST / HTTP/1.1\r\nHost: sluice\r\nContent-Type: " + contentType +
		"\r\nX-Amz-Target: Kinesis_20131202." + op + "\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n"
}

// awsError is a decoded error answer.
type awsError struct {
	status  int
	typ     string
	message string
	header  http.Header
}

// readAWSError reads one response from br and decodes its AWS error body
// in the given content type.
func readAWSError(t *testing.T, br *bufio.Reader, contentType string) awsError {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return decodeAWSError(t, resp.StatusCode, resp.Header, body, contentType)
}

func decodeAWSError(t *testing.T, status int, h http.Header, body []byte, contentType string) awsError {
	t.Helper()
	if got := h.Get("Content-Type"); got != contentType {
		t.Errorf("status %d: Content-Type %q, want %q; body %q", status, got, contentType, body)
	}
	var m map[string]string
	var err error
	if contentType == ctCBOR {
		err = cbor.Unmarshal(body, &m)
	} else {
		err = json.Unmarshal(body, &m)
	}
	if err != nil {
		t.Fatalf("status %d: error body %q is not a %s map: %v", status, body, contentType, err)
	}
	e := awsError{status: status, typ: m["__type"], message: m["message"], header: h}
	if e.typ == "" || h.Get("X-Amzn-ErrorType") != e.typ {
		t.Errorf("status %d: __type %q, X-Amzn-ErrorType %q", status, e.typ, h.Get("X-Amzn-ErrorType"))
	}
	return e
}

// TestSlowBody: a body trickled in slower than BodyTimeout plus
// MinBodyBytesPerSecond allow gets 408 RequestTimeoutException and the
// connection is closed; a body that keeps up is read however long it
// takes overall.
func TestSlowBody(t *testing.T) {
	l := startLive(t, Config{BodyTimeout: 200 * time.Millisecond, MinBodyBytesPerSecond: 1024})
	t.Run("trickle", func(t *testing.T) {
		c := l.dial(t)
		if _, err := io.WriteString(c, rawHead("ListStreams", ctJSON, "Content-Length: 100000")+"{"); err != nil {
			t.Fatal(err)
		}
		// One byte a tick until the server gives up; it must within
		// about 200 ms plus 1 ms a byte.
		stop := make(chan struct{})
		trickled := make(chan struct{})
		go func() {
			defer close(trickled)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		start := time.Now()
		br := bufio.NewReader(c)
		e := readAWSError(t, br, ctJSON)
		close(stop)
		<-trickled
		if e.status != http.StatusRequestTimeout || e.typ != "RequestTimeoutException" {
			t.Errorf("slow body: %d %s %q, want 408 RequestTimeoutException", e.status, e.typ, e.message)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the server took %v to give up on a trickled body", took)
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !isConnReset(err) {
			t.Errorf("after 408 the connection is still open: %v", err)
		}
	})
	t.Run("steady", func(t *testing.T) {
		// 64 KiB arriving well above the minimum rate, but over a time
		// longer than BodyTimeout.
		c := l.dial(t)
		body := `{"Limit":1,"Pad":"` + strings.Repeat("x", 64<<10) + `"}`
		if _, err := io.WriteString(c, rawHead("ListStreams", ctJSON, fmt.Sprintf("Content-Length: %d", len(body)))); err != nil {
			t.Fatal(err)
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for rest := body; rest != ""; rest = rest[min(len(rest), 2048):] {
			<-tick.C
			if _, err := io.WriteString(c, rest[:min(len(rest), 2048)]); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("steady body: status %d", resp.StatusCode)
		}
	})
	t.Run("h2c", func(t *testing.T) {
		hc := h2cClient(t)
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", pr)
		req.Header.Set("Content-Type", ctCBOR)
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
		go func() {
			pw.Write([]byte{0xbf}) // an indefinite map that never ends
		}()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol %s, want HTTP/2", resp.Proto)
		}
		e := decodeAWSError(t, resp.StatusCode, resp.Header, body, ctCBOR)
		if e.status != http.StatusRequestTimeout || e.typ != "RequestTimeoutException" {
			t.Errorf("slow h2 body: %d %s, want 408 RequestTimeoutException", e.status, e.typ)
		}
	})
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// h2cClient speaks HTTP/2 with prior knowledge.
func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// TestSlowReader: a client that stops reading a large response does not
// hold its handler and connection beyond the write deadline.
func TestSlowReader(t *testing.T) {
	l := startLive(t, Config{BodyTimeout: 300 * time.Millisecond, MinBodyBytesPerSecond: 1 << 30})
	if err := l.eng.CreateStream(engine.CreateStreamParams{Name: "big", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	// 8 MiB of records: more than loopback's socket buffers hold.
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("d"), 1<<20-16))
	for i := range 8 {
		l.call(t, "PutRecord", fmt.Sprintf(`{"StreamName":"big","PartitionKey":"k%d","Data":%q}`, i, data))
	}
	var it struct{ ShardIterator string }
	json.Unmarshal(l.call(t, "GetShardIterator", `{"StreamName":"big","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`), &it)

	c := l.dial(t)
	c.(*net.TCPConn).SetReadBuffer(4096)
	body := fmt.Sprintf(`{"ShardIterator":%q}`, it.ShardIterator)
	if _, err := io.WriteString(c, rawHead("GetRecords", ctJSON, fmt.Sprintf("Content-Length: %d", len(body)))+body); err != nil {
		t.Fatal(err)
	}
	// Read nothing: the handler blocks on a full socket until its write
	// deadline (300 ms and a few ms for the size at 1 GiB/s), then the
	// server closes the connection; what the kernel still holds drains
	// to the client, slowly, through its small window.
	testwait.Until(t, waitLimit, "the connection to be accepted", func() bool { return l.conns.open.Load() == 1 })
	testwait.Until(t, waitLimit, "the stalled connection to be closed", func() bool { return l.conns.open.Load() == 0 })
}

// call makes one JSON call through the handler and returns the body of
// a 200 answer.
func (l *liveServer) call(t *testing.T, op, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	hc := &http.Client{Timeout: waitLimit}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s %v", op, resp.StatusCode, b, err)
	}
	return b
}

// TestMaxConnections: connections beyond the limit are closed when
// accepted; a freed slot is taken by the next connection.
func TestMaxConnections(t *testing.T) {
	l := startLive(t, Config{MaxConnections: 2})
	c1, c2 := l.dial(t), l.dial(t)
	testwait.Until(t, waitLimit, "two connections to be accepted", func() bool { return l.conns.open.Load() == 2 })
	c3 := l.dial(t)
	if _, err := c3.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isConnReset(err) {
		t.Errorf("third connection: read %v, want it closed", err)
	}
	// The first two are served.
	for _, c := range []net.Conn{c1, c2} {
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz on an accepted connection: %v %v", resp, err)
		}
	}
	c1.Close()
	testwait.Until(t, waitLimit, "the closed connection's slot to be freed", func() bool { return l.conns.open.Load() == 1 })
	c4 := l.dial(t)
	io.WriteString(c4, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c4), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after a slot was freed: %v %v", resp, err)
	}
}

// TestHeaderLimit: a header block over MaxHeaderBytes gets 431.
func TestHeaderLimit(t *testing.T) {
	l := startLive(t, Config{MaxHeaderBytes: 1 << 10})
	for _, tc := range []struct {
		pad    int
		status int
	}{{100, http.StatusOK}, {8 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		c := l.dial(t)
		body := `{}`
		io.WriteString(c, rawHead("ListStreams", ctJSON, "X-Pad: "+strings.Repeat("p", tc.pad),
			fmt.Sprintf("Content-Length: %d", len(body)))+body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("header pad %d: %v", tc.pad, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("header pad %d: status %d, want %d", tc.pad, resp.StatusCode, tc.status)
		}
	}
}

// TestIdleTimeout: a keep-alive connection is closed after IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	l := startLive(t, Config{IdleTimeout: 100 * time.Millisecond})
	c := l.dial(t)
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !isConnReset(err) {
		t.Fatalf("idle connection: %v, want closed", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("idle connection closed after %v, want about 100ms", took)
	}
}

// TestBodyTooLarge: a body over MaxRequestBytes, declared or chunked,
// gets 413 with RequestEntityTooLargeException in the request's protocol.
func TestBodyTooLarge(t *testing.T) {
	l := startLive(t, Config{MaxRequestBytes: 1 << 10})
	big := `{"Pad":"` + strings.Repeat("x", 4<<10) + `"}`
	for _, ct := range []string{ctJSON, ctCBOR} {
		body := []byte(big)
		if ct == ctCBOR {
			body, _ = cbor.Marshal(map[string]string{"Pad": strings.Repeat("x", 4<<10)})
		}
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = bytes.NewReader(body)
			if chunked {
				rd = io.MultiReader(rd) // no length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", rd)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
			hc := &http.Client{Timeout: waitLimit}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s chunked=%v: %v", ct, chunked, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			hc.CloseIdleConnections()
			e := decodeAWSError(t, resp.StatusCode, resp.Header, b, ct)
			if e.status != http.StatusRequestEntityTooLarge || e.typ != "RequestEntityTooLargeException" ||
				e.message != "Request body is larger than 1024 bytes." {
				t.Errorf("%s chunked=%v: %d %s %q", ct, chunked, e.status, e.typ, e.message)
			}
		}
	}
}

// TestMalformedBody: a chunked body that breaks off, or a declared body
// cut short, is answered with an error, never with net/http's default
// empty 200.
func TestMalformedBody(t *testing.T) {
	l := startLive(t, Config{})
	for name, raw := range map[string]string{
		"bad chunk size": rawHead("ListStreams", ctJSON, "Transfer-Encoding: chunked") + "zz\r\n{}\r\n0\r\n\r\n",
		"short body":     rawHead("ListStreams", ctJSON, "Content-Length: 100") + "{}",
	} {
		c := l.dial(t)
		io.WriteString(c, raw)
		c.(*net.TCPConn).CloseWrite()
		e := readAWSError(t, bufio.NewReader(c), ctJSON)
		if e.status != http.StatusBadRequest || e.typ != "MalformedHttpRequestException" {
			t.Errorf("%s: %d %s %q, want 400 MalformedHttpRequestException", name, e.status, e.typ, e.message)
		}
	}
}

// TestRefusedBodyKeepsHTTP2Connection: a body refused over HTTP/2 (too
// large, too slow, broken) ends its stream only; the connection and the
// client's other streams on it carry on. "Connection: close" on such an
// answer made Go's HTTP/2 server send GOAWAY, and a concurrent request
// whose body was already sent failed (found by TestProtoFuzz).
func TestRefusedBodyKeepsHTTP2Connection(t *testing.T) {
	l := startLive(t, Config{MaxRequestBytes: 1 << 10})
	hc := h2cClient(t)
	do := func(body string) (int, bool) {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodPost, "http://"+l.addr+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", ctJSON)
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, reused
	}
	if status, _ := do(`{}`); status != http.StatusOK {
		t.Fatalf("ListStreams: %d", status)
	}
	if status, reused := do(`{"Pad":"` + strings.Repeat("x", 4<<10) + `"}`); status != http.StatusRequestEntityTooLarge || !reused {
		t.Fatalf("large body: status %d, reused connection %v", status, reused)
	}
	if status, reused := do(`{}`); status != http.StatusOK || !reused {
		t.Errorf("after a 413: status %d, reused connection %v; want the same HTTP/2 connection", status, reused)
	}
}

// TestTooLargeChunkedClosesGently: a chunked HTTP/1.1 body over the limit
// gets its 413 and then a FIN, not a reset that can destroy the answer
// before the client reads it, however much more the client sends.
func TestTooLargeChunkedClosesGently(t *testing.T) {
	l := startLive(t, Config{MaxRequestBytes: 1 << 10})
	c := l.dial(t)
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 8<<10, strings.Repeat("x", 8<<10))
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if _, err := io.WriteString(c, rawHead("ListStreams", ctJSON, "Transfer-Encoding: chunked")); err != nil {
			return
		}
		for range 64 { // 512 KiB, more than the server reads after its answer
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(c)
	e := readAWSError(t, br, ctJSON)
	if e.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %s", e.status, e.typ)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the 413: %v, want EOF (a FIN)", err)
	}
	c.Close()
	<-sent
}
