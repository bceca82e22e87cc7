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
	Logger          *slog.Logger // nil means slog.Default()
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
}

// New returns a server that answers Kinesis requests with k.
func New(cfg Config, k *kinesis.Service) *Server {
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, kinesis: k, log: cfg.Logger}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler:           s,
		Protocols:         &protocols,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if cfg.TLSListen != "" {
		var tlsProtocols http.Protocols
		tlsProtocols.SetHTTP1(true)
		tlsProtocols.SetHTTP2(true)
		s.https = &http.Server{
			Handler:           s,
			Protocols:         &tlsProtocols,
			TLSConfig:         cfg.TLS,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       5 * time.Minute,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug), // handshake noise
		}
	}
	return s
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
		s.ln = ln
	}
	if s.https != nil {
		tl, err := net.Listen("tcp", s.cfg.TLSListen)
		if err != nil {
			if s.ln != nil {
				s.ln.Close()
			}
			return fmt.Errorf("listen on %s: %w", s.cfg.TLSListen, err)
		}
		s.tlsLn = tls.NewListener(tl, s.cfg.TLS)
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
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	proto, ok := awsproto.ParseContentType(r.Header.Get("Content-Type"))
	target := r.Header.Get("X-Amz-Target")
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
		writeTooLarge(w)
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeTooLarge(w)
			return
		}
		s.log.Debug("read request body", "err", err)
		return
	}
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

// readBody reads a request body whose declared length (-1 if unknown,
// already checked against the limit) sizes the buffer once: io.ReadAll's
// doubling from 512 bytes copied a 5 MiB PutRecords body a dozen times.
// net/http ends the body at its Content-Length.
func readBody(r io.Reader, declared int64) ([]byte, error) {
	if declared < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, declared)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
}

func writeXMLError(w http.ResponseWriter, status int, typ, msg string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "<%s>\n  <Message>%s</Message>\n</%s>\n", typ, msg, typ)
}

// credentialRegion returns the region in the request's SigV4 credential
// scope (header or presigned query), or "".
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
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return ""
	}
	return parts[2]
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
func (s *Server) serveSubscription(w http.ResponseWriter, r *http.Request, req *kinesis.Request) {
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(w)}
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

// eventWriter is a kinesis.EventWriter over an HTTP response.
type eventWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	enc   *eventstream.Encoder
	begun bool
}

func (e *eventWriter) Begin() error {
	e.w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	e.w.WriteHeader(http.StatusOK)
	e.begun = true
	return e.rc.Flush()
}

func (e *eventWriter) Write(m *eventstream.Message) error {
	if err := e.enc.Encode(m); err != nil {
		return err
	}
	return e.rc.Flush()
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
