package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
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
)

const targetPrefix = "Kinesis_20131202."

// client is what every goroutine of a run shares: the endpoint, one
// keep-alive HTTP/1.1 transport for unary calls, and the settings of
// request signing. Each goroutine makes its own caller from it.
type client struct {
	endpoint *url.URL
	proto    awsproto.Protocol
	region   string
	creds    Credentials
	insecure bool
	tr       *http.Transport
	hc       *http.Client
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
	c := &client{endpoint: u, proto: proto, region: cfg.Region, creds: cfg.Credentials, insecure: cfg.Insecure}
	c.tr = c.transport(false)
	// Every goroutine that calls holds one connection at a time; a few
	// spare keep the control plane off the data connections.
	c.tr.MaxIdleConnsPerHost = cfg.Producers + max(cfg.Readers, cfg.Shards) + cfg.Shards*cfg.Consumers + 8
	c.hc = &http.Client{Transport: c.tr, Timeout: callTimeout}
	return c, nil
}

// transport returns an HTTP transport for the endpoint: HTTP/1.1 with
// keep-alives, or with h2 HTTP/2 only (h2c, prior knowledge, for http://).
func (c *client) transport(h2 bool) *http.Transport {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit over all hosts; the per-host one applies
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	if c.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
	}
	if h2 {
		tr.Protocols = new(http.Protocols)
		if c.endpoint.Scheme == "http" {
			tr.Protocols.SetUnencryptedHTTP2(true)
		} else {
			tr.Protocols.SetHTTP2(true)
		}
	}
	return tr
}

// close releases the idle connections, so that no goroutine outlives the run.
func (c *client) close() { c.tr.CloseIdleConnections() }

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

// caller makes calls for one goroutine, reusing its signer's cache and its
// response buffer between calls.
type caller struct {
	c   *client
	sig *signer
	buf []byte
	ct  []string // Content-Type, shared by every request
}

var unsignedPayloadHeader = []string{unsignedPayload}

func (c *client) caller() *caller {
	return &caller{c: c, sig: newSigner(c.creds, c.region, c.endpoint.Host), ct: []string{c.proto.ContentType()}}
}

// request builds a signed POST of body to op. The header map is built
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

// call sends body to op and returns the response body on HTTP 200, valid
// until the next call. Any other answer is a *callError. The response is
// read to its end, which also tells net/http that the request body has
// been written in full, so the caller may change it afterwards.
func (k *caller) call(ctx context.Context, op string, body []byte) ([]byte, error) {
	req, err := k.request(ctx, op, body, k.ct)
	if err != nil {
		return nil, err
	}
	resp, err := k.c.hc.Do(req)
	if err != nil {
		return nil, &callError{Message: err.Error()}
	}
	k.buf, err = readAll(resp.Body, k.buf[:0])
	resp.Body.Close()
	if err != nil {
		return nil, &callError{Status: resp.StatusCode, Message: "read response: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorFromBody(k.c.proto, resp.StatusCode, k.buf)
	}
	return k.buf, nil
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
