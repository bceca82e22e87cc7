// Package server runs Sluice's HTTP listener: it routes requests by
// X-Amz-Target to the service that owns them, bounds request bodies, stamps
// request ids, and serves /healthz. HTTP/1.1 and HTTP/2 without TLS (h2c
// with prior knowledge, as the Java SDK's async client speaks it) share one
// port.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedata/sluice/internal/auth"
	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/eventstream"
	"github.com/sluicedata/sluice/internal/kinesis"
)

// DefaultMaxRequestBytes bounds a request body: a PutRecords of 10 MiB of
// records in base64 JSON with keys and framing fits under it.
const DefaultMaxRequestBytes = 16 << 20

// Config holds the server's settings.
type Config struct {
	// Listen is the address of the plain port, host:port (HTTP/1.1 and
	// h2c); "" means none (a TLS-only server).
	Listen string
	// TLSListen is the address of the TLS port; "" means none.
	TLSListen string
	// TLS is the TLS port's configuration (see TLSConfig); required with
	// TLSListen.
	TLS *tls.Config
	// MaxRequestBytes bounds request bodies; zero means
	// DefaultMaxRequestBytes. Larger bodies get HTTP 413.
	MaxRequestBytes int64
	// MaxHeaderBytes bounds a request's headers; zero means
	// DefaultMaxHeaderBytes. Larger header blocks get HTTP 431.
	MaxHeaderBytes int
	// MaxConnections bounds the open connections of both ports together;
	// zero means DefaultMaxConnections. Connections beyond it are closed
	// when accepted.
	MaxConnections int
	// BodyTimeout is how long a request body may take to arrive, and a
	// response body to be taken, beyond what MinBodyBytesPerSecond allows
	// for its size; zero means DefaultBodyTimeout. A request body that
	// arrives too slowly gets HTTP 408 and the connection is closed.
	// SubscribeToShard's event stream is bounded per event.
	BodyTimeout time.Duration
	// MinBodyBytesPerSecond is the slowest rate a body may be sent or
	// taken at once BodyTimeout has passed; zero means
	// DefaultMinBodyBytesPerSecond.
	MinBodyBytesPerSecond int64
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	Logger      *slog.Logger // nil means slog.Default()
	// Verifier checks SigV4 signatures; nil accepts any request (--auth none).
	Verifier *auth.Verifier
	// AccountID names the account in IAM principal ARNs.
	AccountID string
}

// Server is the HTTP front end.
type Server struct {
	cfg     Config
	kinesis *kinesis.Service
	log     *slog.Logger
	http    *http.Server // the plain port
	https   *http.Server // the TLS port, when configured
	ln      net.Listener
	tlsLn   net.Listener
	conns   *connLimiter // both ports' connections
}

// New returns a server that answers Kinesis requests with k.
func New(cfg Config, k *kinesis.Service) *Server {
	cfg.fillDefaults()
	s := &Server{cfg: cfg, kinesis: k, log: cfg.Logger,
		conns: &connLimiter{max: int64(cfg.MaxConnections), log: cfg.Logger}}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler:           s,
		Protocols:         &protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          newErrorLog(cfg.Logger),
	}
	if cfg.TLSListen != "" {
		var tlsProtocols http.Protocols
		tlsProtocols.SetHTTP1(true)
		tlsProtocols.SetHTTP2(true)
		s.https = &http.Server{
			Handler:           s,
			Protocols:         &tlsProtocols,
			TLSConfig:         cfg.TLS,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			ErrorLog:          newErrorLog(cfg.Logger),
		}
	}
	return s
}

// fillDefaults replaces zero settings with their defaults.
func (c *Config) fillDefaults() {
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.MinBodyBytesPerSecond == 0 {
		c.MinBodyBytesPerSecond = DefaultMinBodyBytesPerSecond
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Listen binds the configured addresses. It fails if a port is in use.
func (s *Server) Listen() error {
	if s.cfg.Listen == "" && s.https == nil {
		return errors.New("no port to listen on: give a plain or a TLS address")
	}
	if s.cfg.Listen != "" {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
		}
		s.ln = &limitListener{Listener: ln, lim: s.conns}
	}
	if s.https != nil {
		tl, err := net.Listen("tcp", s.cfg.TLSListen)
		if err != nil {
			if s.ln != nil {
				s.ln.Close()
			}
			return fmt.Errorf("listen on %s: %w", s.cfg.TLSListen, err)
		}
		// Counted before the handshake, so that connections over the
		// limit cost none.
		s.tlsLn = tls.NewListener(&limitListener{Listener: tl, lim: s.conns}, s.cfg.TLS)
	}
	return nil
}

// Addr is the plain port's bound address, or nil if there is none (TLS
// only); valid after Listen.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// TLSAddr is the TLS port's bound address, or nil; valid after Listen.
func (s *Server) TLSAddr() net.Addr {
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// Serve answers requests on every port until Shutdown. It returns nil
// after a clean shutdown.
func (s *Server) Serve() error {
	errs := make(chan error, 2)
	n := 0
	if s.ln != nil {
		n++
		go func() { errs <- s.http.Serve(s.ln) }()
	}
	if s.https != nil {
		n++
		go func() { errs <- s.https.Serve(s.tlsLn) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
			s.Shutdown(context.Background()) // one port failing stops the other
		}
	}
	return first
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish, or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if s.https != nil {
		err = errors.Join(err, s.https.Shutdown(ctx))
	}
	return err
}

// ServeHTTP routes one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		// Answers that never read the body are bounded too: net/http
		// reads up to 256 KiB of an unread HTTP/1.1 body after the
		// handler, to keep the connection. readBody moves the deadline
		// on as the body arrives.
		_ = http.NewResponseController(w).SetReadDeadline(transferDeadline(time.Now(),
			max(r.ContentLength, 0), s.cfg.BodyTimeout, s.cfg.MinBodyBytesPerSecond))
	}
	h := w.Header()
	h.Set("x-amzn-RequestId", newRequestID())
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "x-amzn-RequestId,x-amzn-ErrorType,x-amz-id-2")
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	case r.Method == http.MethodOptions && r.Header.Get("Origin") != "":
		h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
		h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		h.Set("Access-Control-Max-Age", "172800")
		return
	case r.Method != http.MethodPost:
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "Unable to determine service/operation name to be authorized")
		return
	}
	s.serveAPI(w, r)
}

// serveAPI handles a POST: protocol, target, body, then the service.
func (s *Server) serveAPI(rw http.ResponseWriter, r *http.Request) {
	w := &deadlineWriter{ResponseWriter: rw, rc: http.NewResponseController(rw),
		grace: s.cfg.BodyTimeout, rate: s.cfg.MinBodyBytesPerSecond}
	proto, ok := awsproto.ParseContentType(r.Header.Get("Content-Type"))
	// HTTP/1.1 parsing drops the blanks around a header value; HTTP/2
	// leaves them to the server (Go passes them on), and a target must
	// name the same operation over both.
	target := strings.TrimSpace(r.Header.Get("X-Amz-Target"))
	service, op, _ := strings.Cut(target, ".")
	if !ok {
		// AWS answers a foreign content type before it looks at the body.
		if op == "" {
			writeXMLError(w, http.StatusForbidden, "AccessDeniedException", "Unable to determine service/operation name to be authorized")
		} else {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<UnknownOperationException/>\n")
		}
		return
	}
	if r.ContentLength > s.cfg.MaxRequestBytes {
		s.writeTooLarge(w, r, proto)
		return
	}
	// net/http's own writer: MaxBytesReader tells it when the limit is
	// hit, and it then closes the connection gently (FIN, a pause, close)
	// so that the client reads the 413 rather than a reset.
	body, err := s.readBody(rw, r)
	if err != nil {
		s.writeBodyError(w, r, proto, err)
		return
	}
	// Nothing keeps the body past the answer (kinesis.Request.Body).
	defer releaseBody(body)
	if service != kinesis.TargetPrefix || !kinesis.IsOperation(op) {
		awsproto.WriteError(w, proto, awsproto.Errorf("UnknownOperationException", ""))
		return
	}
	if len(body) == 0 {
		// AWS answers an empty body, even for operations without input
		// members, with a bare SerializationException.
		awsproto.WriteError(w, proto, awsproto.Errorf("SerializationException", ""))
		return
	}
	req := &kinesis.Request{Operation: op, Protocol: proto, Body: body, Region: credentialRegion(r)}
	if s.cfg.Verifier != nil {
		p, aerr := s.cfg.Verifier.Verify(r, body)
		if aerr != nil {
			awsproto.WriteError(w, proto, aerr)
			return
		}
		req.Authorize = s.authorizer(r, p)
	}
	if op == "SubscribeToShard" {
		s.serveSubscription(w, r, req)
		return
	}
	out, err := s.kinesis.Handle(req)
	if err != nil {
		var ae *awsproto.Error
		if !errors.As(err, &ae) {
			ae = awsproto.Errorf("InternalFailure", "")
		}
		awsproto.WriteError(w, proto, ae)
		return
	}
	if err := awsproto.WriteResponse(w, proto, out); err != nil {
		s.log.Warn("write response", "op", op, "err", err)
	}
}

// readBody reads the request body: at most MaxRequestBytes, and no slower
// than BodyTimeout and MinBodyBytesPerSecond allow. A declared length
// (already checked against the limit) sizes the buffer once: io.ReadAll's
// doubling from 512 bytes copied a 5 MiB PutRecords body a dozen times.
// net/http ends the body at its Content-Length.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 {
		// No body to wait for. On HTTP/1.1 net/http is already reading
		// ahead for the next request, which a deadline would cut off.
		return nil, nil
	}
	rc := http.NewResponseController(w)
	rd := &deadlineReader{
		r:  http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes),
		rc: rc, start: time.Now(), grace: s.cfg.BodyTimeout, rate: s.cfg.MinBodyBytesPerSecond,
	}
	var b []byte
	var err error
	if r.ContentLength < 0 {
		b, err = io.ReadAll(rd)
	} else {
		b = getBody(int(r.ContentLength))
		_, err = io.ReadFull(rd, b)
	}
	if err != nil {
		// The deadline stays: net/http reads on to the end of the body
		// (up to 256 KiB) before it closes the connection, and must not
		// wait on a stalled client forever. The buffer is not reused: a
		// failed read is not known to be over with it.
		return nil, err
	}
	// net/http clears an HTTP/1.1 connection's read deadline itself when
	// the body ends; an HTTP/2 stream's lasts until cleared.
	_ = rc.SetReadDeadline(time.Time{})
	return b, nil
}

// bodyPool holds request body buffers for reuse: a PutRecords body of
// 500 records is 70 KB, and a fresh buffer of that size each call costs
// page faults, zeroing and GC work. It holds *[]byte of any capacity up
// to maxPooledBodyBytes.
var bodyPool sync.Pool

// maxPooledBodyBytes bounds the buffers kept in bodyPool, so that a 10 MiB
// PutRecords does not stay pinned for small requests.
const maxPooledBodyBytes = 1 << 20

// getBody returns a buffer of n bytes, reused when one large enough is at
// hand. Its contents are not zeroed: the caller fills all of it.
func getBody(n int) []byte {
	if n <= maxPooledBodyBytes {
		if p, ok := bodyPool.Get().(*[]byte); ok && cap(*p) >= n {
			return (*p)[:n]
		}
	}
	return make([]byte, n)
}

// releaseBody returns a body buffer for reuse; the caller must hold no
// slice of it any more.
func releaseBody(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBodyBytes {
		return
	}
	b = b[:0]
	bodyPool.Put(&b)
}

// writeBodyError answers a request whose body could not be read. The rest
// of the body is not read, so an HTTP/1.1 connection is closed after the
// answer.
func (s *Server) writeBodyError(w http.ResponseWriter, r *http.Request, proto awsproto.Protocol, err error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.writeTooLarge(w, r, proto)
	case isTimeout(err):
		closeAfter(w, r)
		awsproto.WriteError(w, proto, awsproto.Errorf("RequestTimeoutException",
			"Reading the request body timed out: it must arrive within %v plus 1 s for every %d bytes.",
			s.cfg.BodyTimeout, s.cfg.MinBodyBytesPerSecond))
	default:
		// A truncated or malformed chunked body, or a client gone away.
		// One still there gets an answer, rather than a bare close or
		// net/http's default 200.
		s.log.Debug("read request body", "err", err)
		closeAfter(w, r)
		awsproto.WriteError(w, proto, awsproto.Errorf("MalformedHttpRequestException",
			"The request body could not be read: %v.", err))
	}
}

// writeTooLarge answers a body over MaxRequestBytes. AWS's front end sends
// a bare 413 (boto3 reports its code as "413"); this one carries the AWS
// Common Errors name and the limit, in the request's protocol.
func (s *Server) writeTooLarge(w http.ResponseWriter, r *http.Request, proto awsproto.Protocol) {
	closeAfter(w, r)
	awsproto.WriteError(w, proto, awsproto.Errorf("RequestEntityTooLargeException",
		"Request body is larger than %d bytes.", s.cfg.MaxRequestBytes))
}

// closeAfter closes an HTTP/1.1 connection after this answer: the rest of
// the request's body will not be read. An HTTP/2 stream is reset on its
// own; there "Connection: close" would make Go's server send GOAWAY and
// turn away the client's other new streams on the connection, which a
// client cannot retry once it has sent their bodies.
func closeAfter(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

func writeXMLError(w http.ResponseWriter, status int, typ, msg string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "<%s>\n  <Message>%s</Message>\n</%s>\n", typ, msg, typ)
}

// credentialRegion returns the region in the request's SigV4 credential
// scope (header or presigned query), or "" when there is none or it is not
// a region name: it goes into ARNs in answers, and a header may carry any
// bytes (with --auth none nothing else checks it).
func credentialRegion(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		if i := strings.Index(auth, "Credential="); i >= 0 {
			cred = auth[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || !regionName(parts[2]) {
		return ""
	}
	return parts[2]
}

// regionName reports whether s could be a region: lower-case letters,
// digits and dashes (us-east-1, us-gov-west-1, cn-north-1), at most 64.
func regionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// newRequestID returns a random UUID (version 4), as AWS request ids are.
func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return base64.RawURLEncoding.EncodeToString(b[:])
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// serveSubscription streams a SubscribeToShard response as event-stream
// messages, over HTTP/2 or chunked HTTP/1.1.
func (s *Server) serveSubscription(w *deadlineWriter, r *http.Request, req *kinesis.Request) {
	// Events go to the response without deadlineWriter's deadline per
	// write: eventWriter keeps one of its own.
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(w.ResponseWriter)}
	err := s.kinesis.SubscribeToShard(r.Context(), req, ew)
	if err == nil {
		return
	}
	var ae *awsproto.Error
	if !ew.begun && errors.As(err, &ae) {
		awsproto.WriteError(w, req.Protocol, ae)
		return
	}
	s.log.Debug("subscription ended", "err", err)
}

// eventWriter is a kinesis.EventWriter over an HTTP response. Each event
// must be taken by the client within the response write deadline:
// BodyTimeout plus its size at MinBodyBytesPerSecond, from when it is
// written. The deadline also covers the quiet time before the next event
// (at most kinesis.SubscribeHeartbeat), because on HTTP/2 a deadline that
// passes resets the stream even when nothing is being written. So it is
// never cleared, only moved forward, and only once it has fallen
// deadlineStep (or half of BodyTimeout, if less) behind: on HTTP/2 each
// change is a message to the connection's goroutine, and events come
// hundreds of times a second.
type eventWriter struct {
	w     *deadlineWriter
	rc    *http.ResponseController
	enc   *eventstream.Encoder
	begun bool
	set   time.Time // the write deadline last set
}

// eventHeadroomBytes stands for an event's prelude and headers in the
// deadline's allowance for its size.
const eventHeadroomBytes = 256

func (e *eventWriter) Begin() error {
	e.w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	e.w.WriteHeader(http.StatusOK)
	e.begun = true
	e.allow(0)
	return e.rc.Flush()
}

func (e *eventWriter) Write(m *eventstream.Message) error {
	e.allow(len(m.Payload) + eventHeadroomBytes)
	if err := e.enc.Encode(m); err != nil {
		return err
	}
	return e.rc.Flush()
}

// allow moves the write deadline so that it allows n bytes from now and
// the quiet time after them.
func (e *eventWriter) allow(n int) {
	want := transferDeadline(time.Now(), int64(n), e.w.grace+kinesis.SubscribeHeartbeat, e.w.rate)
	if want.Sub(e.set) >= min(deadlineStep, e.w.grace/2) {
		_ = e.rc.SetWriteDeadline(want)
		e.set = want
	}
}

// authorizer evaluates a verified caller's identity policies, and the
// target's resource policy, as IAM does for a call within one account.
func (s *Server) authorizer(r *http.Request, p auth.Principal) kinesis.Authorizer {
	principalARN := "arn:aws:iam::" + s.cfg.AccountID + ":user/" + p.User
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	context := map[string]string{
		"aws:SecureTransport": strconv.FormatBool(r.TLS != nil),
		"aws:SourceIp":        sourceIP,
		"aws:CurrentTime":     time.Now().UTC().Format(time.RFC3339),
		"aws:username":        p.User,
		"aws:PrincipalArn":    principalARN,
		"aws:RequestedRegion": p.Scope.Region,
	}
	return func(action, resource, resourcePolicy string) error {
		var rp *auth.Policy
		if resourcePolicy != "" {
			rp, _ = auth.ParsePolicy([]byte(resourcePolicy)) // stored policies were checked when put
		}
		req := auth.Request{Action: action, Resource: resource, PrincipalARN: principalARN, Account: s.cfg.AccountID, Context: context}
		if auth.Authorize(p.Policies, rp, req) {
			return nil
		}
		explicit := auth.EvaluateIdentity(p.Policies, req) == auth.ExplicitDeny ||
			(rp != nil && auth.EvaluateResource(rp, req) == auth.ExplicitDeny)
		return kinesis.AccessDenied(principalARN, action, resource, explicit)
	}
}
