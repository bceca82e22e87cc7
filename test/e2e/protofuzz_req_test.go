package e2e

// The protocol fuzzer's HTTP requests: generation (body, headers,
// transport), sending with a deadline, and the oracle every answer is
// held to.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/fxamacker/cbor/v2"
)

const (
	// pfMaxBody is the server's request body limit (server.DefaultMaxRequestBytes).
	pfMaxBody = 16 << 20
	// pfMaxHeader is the server's header limit (server.DefaultMaxHeaderBytes);
	// net/http allows 4 KiB over it.
	pfMaxHeader = 64 << 10
	// pfTimeout bounds one request; pfTimeoutLarge one with a body of
	// megabytes. A request past its deadline is a hang.
	pfTimeout      = 30 * time.Second
	pfTimeoutLarge = 90 * time.Second
	// pfMaxResponse bounds how much of an answer is read: GetRecords
	// answers up to 10 MiB of records, base64 in JSON.
	pfMaxResponse = 32 << 20
)

// Signing keys of the --auth sigv4 server (see pfCredentials).
var (
	pfAdminKey   = aws.Credentials{AccessKeyID: "AKIDPFADMIN", SecretAccessKey: "pf-admin-secret"}
	pfLimitedKey = aws.Credentials{AccessKeyID: "AKIDPFLIMITED", SecretAccessKey: "pf-limited-secret"}
)

// pfCredentials is the sigv4 server's credentials file: an administrator,
// and a user allowed reads of the fixture only, so that fuzzed requests
// meet both IAM answers.
const pfCredentials = `{"users":[
 {"name":"pf-admin","accessKeys":[{"accessKeyId":"AKIDPFADMIN","secretAccessKey":"pf-admin-secret"}],
  "policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}]},
 {"name":"pf-limited","accessKeys":[{"accessKeyId":"AKIDPFLIMITED","secretAccessKey":"pf-limited-secret"}],
  "policies":[{"Version":"2012-10-17","Statement":[
   {"Effect":"Allow","Action":["kinesis:Describe*","kinesis:List*","kinesis:Get*","kinesis:SubscribeToShard"],"Resource":"arn:aws:kinesis:*:*:stream/pf-fixture*"},
   {"Effect":"Deny","Action":"kinesis:DeleteStream","Resource":"*"}]}]}]}`

// pfReq is one generated HTTP request and what the oracle needs to know
// about it.
type pfReq struct {
	kind    string // how the body was made: valid, mutated, bytes, size, oversize
	variant string // header or transport variation, "" for none
	method  string
	path    string
	header  http.Header
	body    []byte
	// stream > 0 sends a body of that many bytes: body, then padding.
	stream  int64
	chunked bool // no Content-Length: Transfer-Encoding: chunked (HTTP/1.1)
	slow    bool // the body arrives in pieces with pauses
	h2      bool // HTTP/2 with prior knowledge
	tls     bool // on the TLS port: HTTP/2 by ALPN, HTTP/1.1 when chunked
	target  string
	op      string // the operation when target is Kinesis_20131202.<one of pfOperations>
	proto   string // "json", "cbor", or "" for a content type that is neither
	sign    *aws.Credentials
	region  string // the credential scope's region when signed
	hugeHdr bool   // headers over the limit: 431 expected
	// canonical: a valid seed, unchanged headers, authorized to reach the
	// handler; it must not fail to decode.
	canonical bool
}

// bodyLen is the number of body bytes sent.
func (r *pfReq) bodyLen() int64 {
	if r.stream > 0 {
		return r.stream
	}
	return int64(len(r.body))
}

func (r *pfReq) timeout() time.Duration {
	if r.bodyLen() > 1<<20 || r.slow {
		return pfTimeoutLarge
	}
	return pfTimeout
}

// pfContentTypes are Content-Type values, valid and not.
var pfContentTypes = []string{"application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/x-amz-cbor-1.1",
	"application/x-amz-json-1.1; charset=utf-8", "APPLICATION/X-AMZ-CBOR-1.1", " application/x-amz-json-1.1 ",
	"application/json", "text/plain", "", "application/x-amz-json-1.2", "application/x-amz-cbor-1.0",
	"application/x-amz-json-1.1, application/x-amz-cbor-1.1", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
	"application/x-amz-json-1.1;", ";", "application/vnd.amazon.eventstream"}

// pfProtoOf is the protocol the server reads a Content-Type as
// (awsproto.ParseContentType): parameters and case ignored.
func pfProtoOf(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "application/x-amz-json-1.1", "application/x-amz-json-1.0":
		return "json"
	case "application/x-amz-cbor-1.1":
		return "cbor"
	}
	return ""
}

func pfContentType(proto string) string {
	if proto == "cbor" {
		return ctCBOR
	}
	return ctJSON
}

// pfTargets are X-Amz-Target values that are not a plain operation.
var pfTargets = []string{"", "Kinesis_20131202", "Kinesis_20131202.", ".PutRecord", "Kinesis_20131202.putRecord",
	"Kinesis_20131202.PutRecord.Extra", "Kinesis_20131203.PutRecord", "Firehose_20150804.PutRecordBatch",
	"kinesis_20131202.ListStreams", "Kinesis_20131202.__proto__", "Kinesis_20131202.constructor", "Kinesis_20131202..",
	"Kinesis_20131202.ListStreams ", "DynamoDB_20120810.GetItem", "Kinesis_20131202." + strings.Repeat("A", 8<<10),
	"KinesisAnalytics_20150814.ListApplications", "Kinesis_20131202.Handle", "Kinesis_20131202.register"}

// gen makes one request for target tg.
func (f *pfFuzzer) gen(rng *rand.Rand, tg *pfTarget) *pfReq {
	names := tg.names.Load()
	r := &pfReq{method: http.MethodPost, path: "/", header: http.Header{}}
	r.proto = pfPick(rng, "json", "cbor")
	if rng.IntN(12) == 0 {
		r.target = pfPick(rng, pfTargets...)
	} else {
		r.op = pfOperations[rng.IntN(len(pfOperations))]
		r.target = targetBase + r.op
	}
	op := r.op
	if op == "" {
		op = pfOperations[rng.IntN(len(pfOperations))]
	}
	seed := names.seed(rng, op)
	enc := &pfEncoder{rng: rng, vary: true}
	encode := func(v any) []byte {
		if r.proto == "cbor" {
			return enc.CBOR(v)
		}
		return enc.JSON(v)
	}
	switch x := rng.IntN(100); {
	case x < 12:
		r.kind = "valid"
		r.body = encode(seed)
	case x < 57:
		r.kind = "mutated"
		r.body = encode(pfMutate(rng, seed, names.substitutes()))
	case x < 90:
		r.kind = "bytes"
		other := encode(names.seed(rng, pfOperations[rng.IntN(len(pfOperations))]))
		r.body = pfMutateBytes(rng, encode(seed), other)
	case x < 99:
		r.kind = "size"
		r.body = f.sizedBody(rng, r.proto, seed, enc)
	default:
		r.kind = "oversize"
		r.body = encode(seed)
		r.stream = pfMaxBody + 1 + rng.Int64N(1<<20)
	}
	r.header.Set("Content-Type", pfContentType(r.proto))
	if r.target != "" {
		r.header.Set("X-Amz-Target", r.target)
	}
	now := time.Now()
	r.header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
	if tg.sigv4 && rng.IntN(8) > 0 {
		r.sign = &pfAdminKey
		if rng.IntN(4) == 0 {
			r.sign = &pfLimitedKey
		}
		r.region = pfPick(rng, testRegion, testRegion, testRegion, "eu-west-1", "x", "\xff\xfe", "us-east-1\xe9", "a:b", strings.Repeat("r", 100))
	} else {
		r.header.Set("Authorization", fakeSigV4(now))
	}
	if r.proto == "cbor" {
		r.header.Set("User-Agent", "aws-sdk-java/2.25.0 Linux/6.1 Java/17 vendor/Debian io/async http/NettyNio")
	}
	if rng.IntN(6) == 0 {
		f.mutateHeaders(rng, r)
	}
	switch x := rng.IntN(100); {
	case x < 30:
		r.h2 = true
	case x < 38:
		r.chunked = true
	case x < 50 && tg.tls != nil:
		r.tls = true
	}
	if rng.IntN(40) == 0 && r.bodyLen() < 1<<20 {
		r.slow = true
	}
	r.canonical = r.kind == "valid" && r.variant == "" &&
		(!tg.sigv4 || r.sign != nil && *r.sign == pfAdminKey && r.region != "x")
	return r
}

// sizedBody is a body of a random size up to the limit: a valid request
// padded with an unknown member, or random bytes.
func (f *pfFuzzer) sizedBody(rng *rand.Rand, proto string, seed pfObj, enc *pfEncoder) []byte {
	size := int(min(float64(pfMaxBody), math.Exp2(rng.Float64()*24))) // log-uniform up to 16 MiB
	if rng.IntN(4) == 0 {
		return pfRandBytes(rng, size)
	}
	o := append(append(pfObj{}, seed...), pfKV{"Padding", strings.Repeat("p", max(0, size-200))})
	if proto == "cbor" {
		return enc.CBOR(o)
	}
	return enc.JSON(o)
}

// mutateHeaders changes the request's method, path or headers.
func (f *pfFuzzer) mutateHeaders(rng *rand.Rand, r *pfReq) {
	h := r.header
	switch rng.IntN(12) {
	case 0:
		r.variant = "content-type"
		ct := pfPick(rng, pfContentTypes...)
		h.Set("Content-Type", ct)
		if ct == "" {
			h.Del("Content-Type")
		}
		r.proto = pfProtoOf(ct)
	case 1:
		r.variant = "method"
		r.method = pfPick(rng, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodOptions, http.MethodPatch, "PROPFIND")
		if rng.IntN(2) == 0 {
			h.Set("Origin", "http://localhost:3000")
			h.Set("Access-Control-Request-Headers", "content-type,x-amz-target")
		}
	case 2:
		r.variant = "path"
		r.path = pfPick(rng, "/x", "/healthz", "//", "/?X-Amz-Credential=AKID%2F20240101%2Fus-west-2%2Fkinesis%2Faws4_request",
			"/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb", "/?X-Amz-Credential=AKID%2F20240101%2F%FF%2Fkinesis%2Faws4_request", "/%2e%2e/", "/?a=1;b=2", "/"+strings.Repeat("p", 4000))
	case 3:
		r.variant = "authorization"
		r.sign = nil
		h.Set("Authorization", pfPick(rng, "", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=/////",
			"AWS4-HMAC-SHA256 Credential=AKIDPFADMIN/20240101/"+strings.Repeat("r", 2000)+"/kinesis/aws4_request, SignedHeaders=host, Signature=00",
			"AWS4-HMAC-SHA256 Credential=AKIDPFADMIN/x/../kinesis/aws4_request, SignedHeaders=, Signature=",
			"Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256 Credential=AKIDPFADMIN/20240101/\xff\xfe/kinesis/aws4_request, SignedHeaders=host, Signature=00",
			"AWS4-HMAC-SHA256 Credential=AKIDPFADMIN/20240101/us-east-1\xe9/kinesis/aws4_request", "AWS4-HMAC-SHA256 Credential=AKIDPFADMIN/20240101/us-east-1/kinesis/aws4_request,,,, Signature=zz",
			"AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64)))
		if h.Get("Authorization") == "" {
			h.Del("Authorization")
		}
	case 4:
		r.variant = "no-date"
		h.Del("X-Amz-Date")
		if rng.IntN(2) == 0 {
			h.Set("X-Amz-Date", pfPick(rng, "yesterday", "20000101T000000Z", "99991231T235959Z", ""))
		}
	case 5:
		r.variant = "many-headers"
		for i := range 300 + rng.IntN(300) {
			h.Set("X-Pad-"+strconv.Itoa(i), "v")
		}
	case 6:
		r.variant = "huge-header"
		n := pfPick(rng, 8<<10, 60<<10, 80<<10, 200<<10)
		h.Set("X-Pad", strings.Repeat("h", n))
		r.hugeHdr = n > pfMaxHeader
	case 7:
		r.variant = "expect"
		h.Set("Expect", pfPick(rng, "100-continue", "100-continue", "bogus"))
	case 8:
		r.variant = "encoding"
		h.Set("Content-Encoding", pfPick(rng, "gzip", "deflate", "identity", "aws-chunked"))
	case 9:
		r.variant = "security-token"
		h.Set("X-Amz-Security-Token", strings.Repeat("T", rng.IntN(4096)))
	case 11:
		// Any byte a header value may hold (obs-text included, controls
		// not), in one of the headers the server reads.
		r.variant = "header-bytes"
		name := pfPick(rng, "Authorization", "X-Amz-Date", "X-Amz-Target", "Content-Type", "X-Amz-Security-Token", "Origin")
		v := []byte(pfMutateString(rng, pfHeader(h, name)))
		for i := range v {
			if v[i] < 0x20 && v[i] != '\t' || v[i] == 0x7f {
				v[i] = 0x80 | v[i]
			}
		}
		h.Del(name)
		h.Set(name, string(v))
		if name == "Authorization" {
			r.sign = nil
		}
		if name == "Content-Type" {
			r.proto = pfProtoOf(string(v))
		}
	default:
		r.variant = "target-case"
		if r.target != "" {
			h.Del("X-Amz-Target")
			if rng.IntN(2) == 0 {
				h["x-amz-target"] = []string{r.target}
			} else {
				// The server reads the first.
				h["X-Amz-Target"] = []string{r.target, "Kinesis_20131202.DeleteStream"}
			}
		}
	}
}

// pfSlowReader hands out its bytes in a few pieces with pauses, as a slow
// client sends them.
type pfSlowReader struct {
	b      []byte
	pieces int
	pause  time.Duration
	ctx    context.Context
}

func (s *pfSlowReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	select {
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	case <-time.After(s.pause):
	}
	n := min(len(p), max(1, len(s.b)/max(1, s.pieces)))
	copy(p, s.b[:n])
	s.b = s.b[n:]
	return n, nil
}

// pfAnswer is what came back for a request.
type pfAnswer struct {
	status int
	header http.Header
	body   []byte
	event  *eventstream.Message // SubscribeToShard's first event
	err    error                // transport error, or reading the body
}

// send makes the request with its deadline.
func (f *pfFuzzer) send(ctx context.Context, tg *pfTarget, r *pfReq) pfAnswer {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	var body io.Reader = bytes.NewReader(r.body)
	if r.stream > 0 {
		body = io.MultiReader(body, &repeatReader{b: ' ', n: r.stream - int64(len(r.body))})
	}
	if r.slow {
		body = &pfSlowReader{b: r.body, pieces: 2 + int(r.bodyLen()%6), pause: 40 * time.Millisecond, ctx: ctx}
	}
	if r.chunked {
		body = io.MultiReader(body) // hides the length
	}
	endpoint := tg.srv.endpoint()
	if r.tls {
		endpoint = "https://" + tg.tlsAddr
	}
	req, err := http.NewRequestWithContext(ctx, r.method, endpoint+r.path, body)
	if err != nil {
		return pfAnswer{err: err}
	}
	if !r.chunked && !r.slow {
		req.ContentLength = r.bodyLen()
	}
	if r.bodyLen() == 0 && !r.chunked {
		req.Body = http.NoBody
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.sign != nil {
		hash := pfSHA256(r.body)
		if r.stream > 0 || r.slow || r.chunked {
			hash = "UNSIGNED-PAYLOAD"
		}
		if err := v4.NewSigner().SignHTTP(ctx, *r.sign, req, hash, "kinesis", r.region, time.Now()); err != nil {
			return pfAnswer{err: err}
		}
	}
	hc := tg.h1
	switch {
	case r.h2:
		hc = tg.h2
	case r.tls:
		hc = tg.tls
	}
	resp, err := hc.Do(req)
	if err != nil {
		return pfAnswer{err: err}
	}
	defer resp.Body.Close()
	if resp.ProtoMajor == 2 {
		r.h2 = true // the TLS port chose HTTP/2
	}
	a := pfAnswer{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == "application/vnd.amazon.eventstream" {
		// A subscription streams for minutes: the first event is enough.
		m, err := eventstream.NewDecoder().Decode(resp.Body, nil)
		if err != nil {
			a.err = fmt.Errorf("first event: %w", err)
		} else {
			a.event = &m
		}
		return a
	}
	a.body, a.err = io.ReadAll(io.LimitReader(resp.Body, pfMaxResponse))
	return a
}

func pfSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// pfException is a catalogue entry (internal/awsproto/errors.json).
type pfException struct {
	Type       string `json:"type"`
	Status     int    `json:"status"`
	MessageKey string `json:"messageKey"`
}

// pfLoadCatalogue reads the server's exception catalogue: the oracle checks
// every __type against it.
func pfLoadCatalogue() (map[string]pfException, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "internal", "awsproto", "errors.json"))
	if err != nil {
		return nil, err
	}
	var file struct{ Exceptions []pfException }
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, err
	}
	m := map[string]pfException{}
	for _, e := range file.Exceptions {
		if e.MessageKey == "" {
			e.MessageKey = "message"
		}
		m[e.Type] = e
	}
	return m, nil
}

// pfDecodeMap decodes an AWS body (JSON object or CBOR map).
func pfDecodeMap(proto string, b []byte) (map[string]any, error) {
	var m map[string]any
	var err error
	if proto == "cbor" {
		err = cbor.Unmarshal(b, &m)
	} else {
		err = json.Unmarshal(b, &m)
	}
	if err == nil && m == nil {
		err = errors.New("not a map")
	}
	return m, err
}

// pfErrTransport marks answers that never came; whether that is allowed
// depends on the request.
var pfErrTransport = errors.New("no answer")

// check is the oracle: it returns "" for an acceptable answer, or what is
// wrong. The label it also returns goes into the pfHistogram.
func (f *pfFuzzer) check(r *pfReq, a pfAnswer) (label, problem string) {
	if a.err != nil && a.status == 0 {
		switch {
		case errors.Is(a.err, context.DeadlineExceeded):
			return "hang", fmt.Sprintf("no answer within %v: %v", r.timeout(), a.err)
		case strings.Contains(a.err.Error(), "header list larger than peer's advertised limit"):
			return "h2-client-refused", "" // the Go client would not send it
		case r.stream > 0 || r.hugeHdr || pfUnknownExpect(r):
			// The server may close while a body or headers it refused are
			// still being sent (RFC 9110 §15.5.14); net/http does so after
			// its 417.
			return "closed-while-sending", ""
		}
		return "transport-error", fmt.Sprintf("%v: %v", pfErrTransport, a.err)
	}
	label = strconv.Itoa(a.status)
	if a.status >= 500 {
		return label, fmt.Sprintf("status %d for client input: %q", a.status, truncate(a.body, 300))
	}
	if a.err != nil {
		return label, fmt.Sprintf("status %d, reading the answer: %v", a.status, a.err)
	}
	if r.hugeHdr {
		if a.status != http.StatusRequestHeaderFieldsTooLarge {
			return label, fmt.Sprintf("headers over %d bytes: status %d, want 431", pfMaxHeader, a.status)
		}
		return label + " 431", ""
	}
	if a.status == http.StatusRequestHeaderFieldsTooLarge {
		return label, "431 for headers under the limit"
	}
	if pfUnknownExpect(r) {
		// net/http answers an expectation it does not know itself.
		if a.status != http.StatusExpectationFailed {
			return label, fmt.Sprintf("Expect: %s: status %d, want 417", pfHeader(r.header, "Expect"), a.status)
		}
		return label + " expect", ""
	}
	if a.header.Get("x-amzn-RequestId") == "" {
		return label, "no x-amzn-RequestId"
	}
	switch {
	case r.method == http.MethodGet && strings.HasPrefix(r.path, "/healthz"):
		if a.status != http.StatusOK || string(a.body) != "ok\n" {
			return label, fmt.Sprintf("GET /healthz: %d %q", a.status, a.body)
		}
		return label + " healthz", ""
	case r.method == http.MethodOptions && r.header.Get("Origin") != "":
		if a.status != http.StatusOK || len(a.body) != 0 || a.header.Get("Access-Control-Allow-Origin") != "*" {
			return label, fmt.Sprintf("CORS preflight: %d %q", a.status, a.body)
		}
		return label + " preflight", ""
	case r.method != http.MethodPost:
		return f.checkXML(r, a, http.StatusForbidden, "AccessDeniedException")
	case r.proto == "":
		if _, op, _ := strings.Cut(pfHeader(r.header, "X-Amz-Target"), "."); op == "" {
			return f.checkXML(r, a, http.StatusForbidden, "AccessDeniedException")
		}
		return f.checkXML(r, a, http.StatusNotFound, "UnknownOperationException")
	}
	return f.checkAWS(r, a)
}

// checkXML checks one of the XML answers to requests that are not AWS
// JSON or CBOR at all.
func (f *pfFuzzer) checkXML(r *pfReq, a pfAnswer, status int, typ string) (string, string) {
	label := strconv.Itoa(a.status) + " xml " + typ
	if a.status != status {
		return label, fmt.Sprintf("status %d, want %d %s", a.status, status, typ)
	}
	if r.method == http.MethodHead {
		return label, ""
	}
	if !bytes.HasPrefix(a.body, []byte("<"+typ)) {
		return label, fmt.Sprintf("body %q, want <%s", truncate(a.body, 200), typ)
	}
	return label, ""
}

// checkAWS checks an answer to a POST in JSON or CBOR.
func (f *pfFuzzer) checkAWS(r *pfReq, a pfAnswer) (string, string) {
	ct := a.header.Get("Content-Type")
	if a.status == http.StatusOK {
		op := pfTargetOp(r)
		label := "200 " + op
		if slices.Index(pfOperations, op) < 0 || slices.Index(pfOperations, op) >= pfImplemented {
			return label, "200 for an operation that does not exist"
		}
		if a.event != nil {
			if op != "SubscribeToShard" {
				return label, "an event stream for " + op
			}
			return label, ""
		}
		if ct != pfContentType(r.proto) {
			return label, fmt.Sprintf("200 with Content-Type %q, want %q", ct, pfContentType(r.proto))
		}
		if _, err := pfDecodeMap(r.proto, a.body); err != nil {
			return label, fmt.Sprintf("200 with a body that is not a %s map: %v: %q", r.proto, err, truncate(a.body, 300))
		}
		return label, ""
	}
	if ct != pfContentType(r.proto) {
		return strconv.Itoa(a.status), fmt.Sprintf("error with Content-Type %q, want %q: %q", ct, pfContentType(r.proto), truncate(a.body, 300))
	}
	m, err := pfDecodeMap(r.proto, a.body)
	if err != nil {
		return strconv.Itoa(a.status), fmt.Sprintf("error body is not a %s map: %v: %q", r.proto, err, truncate(a.body, 300))
	}
	typ, _ := m["__type"].(string)
	label := strconv.Itoa(a.status) + " " + typ
	ex, ok := f.catalogue[typ]
	switch {
	case !ok:
		return label, fmt.Sprintf("__type %q is not in the catalogue: %q", m["__type"], truncate(a.body, 300))
	case ex.Status != a.status:
		return label, fmt.Sprintf("%s with status %d, the catalogue says %d", typ, a.status, ex.Status)
	case a.header.Get("X-Amzn-ErrorType") != typ:
		return label, fmt.Sprintf("X-Amzn-ErrorType %q, __type %q", a.header.Get("X-Amzn-ErrorType"), typ)
	}
	for k, v := range m {
		switch k {
		case "__type":
		case "message", "Message":
			if _, ok := v.(string); !ok || k != ex.MessageKey {
				return label, fmt.Sprintf("%s member %q = %v, want a string under %q", typ, k, v, ex.MessageKey)
			}
		default:
			return label, fmt.Sprintf("%s has an unexpected member %q", typ, k)
		}
	}
	// What the server must answer before it looks at the body's content.
	switch {
	case r.bodyLen() > pfMaxBody:
		if typ != "RequestEntityTooLargeException" {
			return label, fmt.Sprintf("a %d-byte body: %s, want RequestEntityTooLargeException", r.bodyLen(), typ)
		}
	case pfTargetOp(r) == "":
		if typ != "UnknownOperationException" {
			return label, fmt.Sprintf("target %q: %s, want UnknownOperationException", truncate([]byte(r.target), 80), typ)
		}
	case r.bodyLen() == 0:
		if typ != "SerializationException" {
			return label, fmt.Sprintf("empty body: %s, want SerializationException", typ)
		}
	case r.canonical:
		// A canonical seed, signed by the administrator: the body is
		// well formed, so no decoding error.
		if typ == "SerializationException" {
			return label, fmt.Sprintf("a valid %s seed: %s %v", r.op, typ, m)
		}
	}
	return label, ""
}

// pfUnknownExpect reports whether an HTTP/1.1 request has an Expect
// header other than 100-continue, which net/http refuses with 417.
func pfUnknownExpect(r *pfReq) bool {
	exp := pfHeader(r.header, "Expect")
	return exp != "" && !strings.EqualFold(exp, "100-continue") && !r.h2
}

// pfTargetOp is the operation the request's X-Amz-Target names as the
// server reads it, or "" if it names none of the model's.
func pfTargetOp(r *pfReq) string {
	svc, op, _ := strings.Cut(pfHeader(r.header, "X-Amz-Target"), ".")
	if svc == "Kinesis_20131202" && slices.Contains(pfOperations, op) {
		return op
	}
	return ""
}

// pfHeader is the first value of header name as the server reads it:
// keys in any case, surrounding blanks trimmed.
func pfHeader(h http.Header, name string) string {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return strings.TrimSpace(vs[0])
		}
	}
	return ""
}

// dump writes a request and its answer for replay.
func (r *pfReq) dump(w io.Writer, a pfAnswer) {
	fmt.Fprintf(w, "kind=%s variant=%s h2=%v tls=%v chunked=%v slow=%v stream=%d sign=%v region=%q\n",
		r.kind, r.variant, r.h2, r.tls, r.chunked, r.slow, r.stream, r.sign != nil, r.region)
	fmt.Fprintf(w, "%s %s\n", r.method, r.path)
	for k, vs := range r.header {
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\n", k, truncate([]byte(v), 200))
		}
	}
	fmt.Fprintf(w, "body (%d bytes, Go quoted): %q\n", len(r.body), r.body)
	fmt.Fprintf(w, "--- answer: status %d err %v\n", a.status, a.err)
	for k, vs := range a.header {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ", "))
	}
	fmt.Fprintf(w, "%q\n", truncate(a.body, 4096))
}
