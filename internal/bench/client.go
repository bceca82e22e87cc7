package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// Bounds on what the client reads and waits for.
const (
	// maxResponseBytes bounds one response body: GetRecords answers at
	// most 10 MiB of data, which is 13.4 MiB as base64 in JSON.
	maxResponseBytes = 64 << 20
	// callTimeout bounds one unary call, so a stuck server ends the run
	// with errors instead of hanging it.
	callTimeout = 60 * time.Second
	// errorSampleBytes bounds the error message kept as a sample.
	errorSampleBytes = 300
	// dialTimeout bounds opening a connection, TLS included.
	dialTimeout = 10 * time.Second
)

const targetPrefix = "Kinesis_20131202."

// client is what every goroutine of a run shares: the endpoint, the
// settings of request signing, and the connections its callers opened,
// closed at the end of the run. Each goroutine makes its own caller from
// it.
type client struct {
	endpoint *url.URL
	addr     string // host:port to dial
	proto    awsproto.Protocol
	region   string
	creds    Credentials
	insecure bool

	mu struct {
		sync.Mutex
		conns  map[*conn]struct{} // open
		closed bool
	}
}

func newClient(cfg *Config) (*client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want http://host:port or https://host:port", cfg.Endpoint)
	}
	proto := awsproto.JSON
	if cfg.Protocol == "cbor" {
		proto = awsproto.CBOR
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	c := &client{endpoint: u, addr: addr, proto: proto, region: cfg.Region, creds: cfg.Credentials, insecure: cfg.Insecure}
	c.mu.conns = make(map[*conn]struct{})
	return c, nil
}

// tlsConfig is the TLS configuration of https:// connections offering
// protos by ALPN.
func (c *client) tlsConfig(protos ...string) *tls.Config {
	return &tls.Config{
		ServerName:         c.endpoint.Hostname(),
		NextProtos:         protos,
		InsecureSkipVerify: c.insecure, //nolint:gosec // --insecure asks for it
	}
}

// close closes every connection the run's callers opened; a caller that
// calls after it fails.
func (c *client) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.closed = true
	for cn := range c.mu.conns {
		cn.nc.Close()
	}
	clear(c.mu.conns)
}

// callError is a call that did not succeed: an AWS error envelope
// (Type set), another HTTP status, or a transport failure (Status 0).
type callError struct {
	Status  int
	Type    string
	Message string
}

func (e *callError) Error() string {
	switch {
	case e.Type != "":
		return fmt.Sprintf("%s: %s", e.Type, e.Message)
	case e.Status != 0:
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return e.Message
}

// throttled reports whether err is ProvisionedThroughputExceededException.
func throttled(err error) bool {
	var ce *callError
	return errors.As(err, &ce) && ce.Type == "ProvisionedThroughputExceededException"
}

// isType reports whether err is the AWS error typ.
func isType(err error, typ string) bool {
	var ce *callError
	return errors.As(err, &ce) && ce.Type == typ
}

// caller makes calls for one goroutine on a keep-alive HTTP/1.1
// connection of its own, reusing its signer's cache, its request head and
// its response buffer between calls.
type caller struct {
	c    *client
	sig  *signer
	ct   string // Content-Type
	cn   *conn  // nil until the first call, and after a failed one
	head []byte
	buf  []byte
}

func (c *client) caller() *caller {
	return &caller{c: c, sig: newSigner(c.creds, c.region, c.endpoint.Host), ct: c.proto.ContentType()}
}

// conn is a caller's connection. A call writes its request and reads the
// answer on the calling goroutine: net/http's Transport hands each request
// to a goroutine that writes it and the answer to one that reads it, and
// on a loaded machine every such hand-off waits for a processor.
type conn struct {
	nc     net.Conn
	br     *bufio.Reader
	reused bool // an answer was read on it
}

// alive reports whether the connection is still open and has nothing
// unread, as net/http's reading goroutine would have noticed between
// calls.
func (cn *conn) alive() bool { return cn.br.Buffered() == 0 && !peerClosed(cn.nc) }

// dial opens the caller's connection.
func (k *caller) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if k.c.endpoint.Scheme == "https" {
		nc, err = (&tls.Dialer{NetDialer: d, Config: k.c.tlsConfig("http/1.1")}).DialContext(ctx, "tcp", k.c.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", k.c.addr)
	}
	if err != nil {
		return err
	}
	cn := &conn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	if k.c.mu.closed {
		nc.Close()
		return errors.New("client closed")
	}
	k.c.mu.conns[cn] = struct{}{}
	k.cn = cn
	return nil
}

// drop closes the caller's connection after a failure or a
// Connection: close.
func (k *caller) drop() {
	k.c.mu.Lock()
	delete(k.c.mu.conns, k.cn)
	k.c.mu.Unlock()
	k.cn.nc.Close()
	k.cn = nil
}

// call sends body to op and returns the response body on HTTP 200, valid
// until the next call. Any other answer is a *callError. A connection the
// server closed while it was idle is replaced before the call, and a
// request that could not be written in full on a reused connection is sent
// once more on a new one, since the server cannot have acted on it; a
// request written but not answered is never sent again (net/http does not
// retry a POST either).
func (k *caller) call(ctx context.Context, op string, body []byte) ([]byte, error) {
	for {
		out, stale, err := k.try(ctx, op, body)
		if !stale || ctx.Err() != nil {
			return out, err
		}
	}
}

// try makes one attempt of call; stale reports a request not written in
// full on a reused connection.
func (k *caller) try(ctx context.Context, op string, body []byte) (out []byte, stale bool, err error) {
	if k.cn != nil && !k.cn.alive() {
		k.drop()
	}
	if k.cn == nil {
		if err := k.dial(ctx); err != nil {
			return nil, false, &callError{Message: err.Error()}
		}
	}
	cn := k.cn
	// Cancelling ctx ends a call in flight, and its connection is not
	// reused: a deadline in the past may land on it after the call.
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && k.cn == cn {
			k.drop()
		}
	}()
	if err := cn.nc.SetDeadline(time.Now().Add(callTimeout)); err != nil {
		k.drop()
		return nil, false, &callError{Message: err.Error()}
	}
	k.head = k.appendHead(k.head[:0], op, len(body))
	bufs := net.Buffers{k.head, body}
	if _, err := bufs.WriteTo(cn.nc); err != nil {
		k.drop()
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		return nil, cn.reused && !timedOut, &callError{Message: "write request: " + err.Error()}
	}
	resp, err := http.ReadResponse(cn.br, nil)
	if err == nil {
		k.buf, err = readAll(resp.Body, k.buf[:0])
	}
	if err != nil {
		k.drop()
		return nil, false, &callError{Message: "read response: " + err.Error()}
	}
	if resp.Close {
		k.drop()
	} else {
		cn.reused = true
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, errorFromBody(k.c.proto, resp.StatusCode, k.buf)
	}
	return k.buf, false, nil
}

var unsignedPayloadHeader = []string{unsignedPayload}

// request builds a signed POST of body to op for net/http: the
// SubscribeToShard calls, which go over HTTP/2. The header map is built
// directly with canonical keys, which costs less than Header.Set.
func (k *caller) request(ctx context.Context, op string, body []byte, contentType []string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.c.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	target := targetPrefix + op
	date, auth := k.sig.sign(target, contentType[0], time.Now())
	h := http.Header{
		"Content-Type":         contentType,
		"X-Amz-Target":         {target},
		"X-Amz-Date":           {date},
		"X-Amz-Content-Sha256": unsignedPayloadHeader,
		"Authorization":        {auth},
	}
	if k.c.creds.SessionToken != "" {
		h["X-Amz-Security-Token"] = []string{k.c.creds.SessionToken}
	}
	req.Header = h
	return req, nil
}

// appendHead appends the head of a signed POST of n bytes to op.
func (k *caller) appendHead(b []byte, op string, n int) []byte {
	target := targetPrefix + op
	date, auth := k.sig.sign(target, k.ct, time.Now())
	b = append(b, "POST / HTTP/1.1\r\nHost: "...)
	b = append(b, k.c.endpoint.Host...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, k.ct...)
	b = append(b, "\r\nX-Amz-Target: "...)
	b = append(b, target...)
	b = append(b, "\r\nX-Amz-Date: "...)
	b = append(b, date...)
	b = append(b, "\r\nX-Amz-Content-Sha256: "+unsignedPayload+"\r\nAuthorization: "...)
	b = append(b, auth...)
	if tok := k.c.creds.SessionToken; tok != "" {
		b = append(b, "\r\nX-Amz-Security-Token: "...)
		b = append(b, tok...)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, "\r\n\r\n"...)
}

// readAll appends r's bytes to buf until EOF, up to maxResponseBytes.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxResponseBytes {
				return buf, fmt.Errorf("response over %d bytes", maxResponseBytes)
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// errorEnvelope is an AWS error body. Peers differ in the member's case
// and some prefix the type with a namespace ("...#ResourceNotFoundException").
type errorEnvelope struct {
	Type     string `json:"__type"`
	Message  string `json:"message"`
	MessageC string `json:"Message"`
}

func errorFromBody(p awsproto.Protocol, status int, body []byte) *callError {
	ce := &callError{Status: status}
	var env errorEnvelope
	if len(body) > 0 && awsproto.Unmarshal(p, body, &env) == nil && env.Type != "" {
		ce.Type = env.Type[strings.LastIndexByte(env.Type, '#')+1:]
		ce.Type, _, _ = strings.Cut(ce.Type, ":")
		ce.Message = env.Message
		if ce.Message == "" {
			ce.Message = env.MessageC
		}
	} else {
		ce.Message = string(body)
	}
	if len(ce.Message) > errorSampleBytes {
		ce.Message = ce.Message[:errorSampleBytes] + "..."
	}
	return ce
}

// control makes a control-plane call: in is encoded and the answer decoded
// into out (nil: ignored) with awsproto, whose reflection is fine off the
// hot path.
func (k *caller) control(ctx context.Context, op string, in, out any) error {
	body, err := awsproto.Marshal(k.c.proto, in)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	resp, err := k.call(ctx, op, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out != nil {
		if err := awsproto.Unmarshal(k.c.proto, resp, out); err != nil {
			return fmt.Errorf("%s: decode answer: %w", op, err)
		}
	}
	return nil
}
