// Package auth authenticates requests with AWS Signature Version 4 against
// credentials from a JSON file. It knows HTTP and AWS's error texts, and
// nothing of Kinesis.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicedata/sluice/internal/awsproto"
)

const (
	algorithm = "AWS4-HMAC-SHA256"
	// maxClockSkew is how far a request's X-Amz-Date may be from the
	// server's clock, as on AWS.
	maxClockSkew  = 15 * time.Minute
	amzDateLayout = "20060102T150405Z"
)

// Scope is the credential scope of a verified request.
type Scope struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
}

// Limits of a presigned request's X-Amz-Expires, in seconds, as SigV4
// defines them.
const (
	maxPresignExpiresSeconds = 7 * 24 * 60 * 60
	// defaultPresignValidity is how long a presigned request without
	// X-Amz-Expires stays valid: the clock skew AWS's JSON services allow
	// every signed request. STS, for one, ignores X-Amz-Expires and lets
	// every presigned URL live 15 minutes (kubernetes-sigs/aws-iam-authenticator
	// #160: "STS presigned urls expire after 15 minutes, and are not
	// configurable").
	defaultPresignValidity = maxClockSkew
)

// signedParts is what a request says about its own signature, read from
// its Authorization header or its presigned query string. It is checked
// the same way wherever it came from.
type signedParts struct {
	credential    string   // keyid/yyyymmdd/region/service/aws4_request
	signedHeaders []string // lowercase, in the order signed
	signature     string   // hex
	amzDate       string   // X-Amz-Date as sent
	date          time.Time
	// validity is how long after date the signature is good for: the
	// clock skew for a signed header, X-Amz-Expires for a presigned URL.
	validity      time.Duration
	presigned     bool
	securityToken string
	// payloadHash is X-Amz-Content-Sha256, or "" when the request has none.
	payloadHash string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
// and the X-Amz-Date, X-Amz-Security-Token and X-Amz-Content-Sha256
// headers.
func parseAuthorization(h string, hdr http.Header) (signedParts, *awsproto.Error) {
	var s signedParts
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return s, awsproto.Errorf("IncompleteSignatureException", "Authorization header requires existence of the AWS4-HMAC-SHA256 algorithm. Authorization=%s", h)
	}
	var cred, signed, sig string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	var missing []string
	for _, m := range []struct{ name, val string }{{"Credential", cred}, {"Signature", sig}, {"SignedHeaders", signed}} {
		if m.val == "" {
			missing = append(missing, "Authorization header requires '"+m.name+"' parameter. ")
		}
	}
	amzDate := hdr.Get("X-Amz-Date")
	if amzDate == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if len(missing) > 0 {
		return s, awsproto.Errorf("IncompleteSignatureException", "%sAuthorization=%s", strings.Join(missing, ""), h)
	}
	t, aerr := parseAmzDate(amzDate)
	if aerr != nil {
		return s, aerr
	}
	return signedParts{
		credential:    cred,
		signedHeaders: strings.Split(signed, ";"),
		signature:     sig,
		amzDate:       amzDate,
		date:          t,
		validity:      maxClockSkew,
		securityToken: hdr.Get("X-Amz-Security-Token"),
		payloadHash:   hdr.Get("X-Amz-Content-Sha256"),
	}, nil
}

// queryAuthParams are the parameters a presigned request must carry, in
// the order AWS lists the missing ones.
var queryAuthParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"}

// parseQueryAuth reads a presigned request's X-Amz-* query parameters.
//
// The messages are those of AWS's JSON-protocol (Coral) front end, as
// recorded from live responses by kinesalite and dynalite (mhart,
// index.js: "AWS query-string parameters must include ...", the ISO-8601
// and algorithm messages) and modelled by dacut/scratchstack-aws-signature.
// X-Amz-Expires errors have no JSON-service counterpart (those services
// ignore the parameter), so they carry S3's AuthorizationQueryParametersError
// texts as IncompleteSignatureException, the JSON services' class for a
// malformed signature part.
func parseQueryAuth(q url.Values, hdr http.Header) (signedParts, *awsproto.Error) {
	var s signedParts
	var missing strings.Builder
	for _, p := range queryAuthParams {
		if q.Get(p) == "" {
			missing.WriteString("AWS query-string parameters must include '" + p + "'. ")
		}
	}
	if missing.Len() > 0 {
		return s, awsproto.Errorf("IncompleteSignatureException", "%sRe-examine the query-string parameters.", missing.String())
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		return s, awsproto.Errorf("IncompleteSignatureException", "Unsupported AWS 'algorithm': '%s' (only AWS4-HMAC-SHA256 for now).", alg)
	}
	amzDate := q.Get("X-Amz-Date")
	t, aerr := parseAmzDate(amzDate)
	if aerr != nil {
		return s, aerr
	}
	validity := defaultPresignValidity
	if _, ok := q["X-Amz-Expires"]; ok {
		secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return s, awsproto.Errorf("IncompleteSignatureException", "X-Amz-Expires should be a number")
		case secs < 0:
			return s, awsproto.Errorf("IncompleteSignatureException", "X-Amz-Expires must be non-negative")
		case secs > maxPresignExpiresSeconds:
			return s, awsproto.Errorf("IncompleteSignatureException",
				"X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than %d seconds", maxPresignExpiresSeconds)
		}
		// Zero is allowed, as S3 allows it: the URL is good only within
		// the second it was signed in.
		validity = time.Duration(secs) * time.Second
	}
	token := q.Get("X-Amz-Security-Token")
	if token == "" {
		token = hdr.Get("X-Amz-Security-Token")
	}
	payloadHash := hdr.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		payloadHash = q.Get("X-Amz-Content-Sha256")
	}
	return signedParts{
		credential:    q.Get("X-Amz-Credential"),
		signedHeaders: strings.Split(q.Get("X-Amz-SignedHeaders"), ";"),
		signature:     q.Get("X-Amz-Signature"),
		amzDate:       amzDate,
		date:          t,
		validity:      validity,
		presigned:     true,
		securityToken: token,
		payloadHash:   payloadHash,
	}, nil
}

// parseAmzDate parses an X-Amz-Date value.
func parseAmzDate(v string) (time.Time, *awsproto.Error) {
	t, err := time.Parse(amzDateLayout, v)
	if err != nil {
		return time.Time{}, awsproto.Errorf("IncompleteSignatureException", "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", v)
	}
	return t, nil
}

// checkTime refuses a signature dated more than the clock skew after now,
// or whose validity ended before now. The texts are AWS's: "Signature
// expired: ..." as every JSON service answers it (DynamoDB's, recorded in
// dynalite's index.js; STS's "- 15 min." in devsecops/bootcamp#101;
// Kinesis's own, with "- 5 min.", in remind101/logspout-kinesis#21), and
// "Signature not yet current: ..." for the future, from
// dacut/scratchstack-aws-signature (src/auth.rs, prevalidate). A presigned
// URL's window is its X-Amz-Expires, printed the way scratchstack prints a
// window: whole minutes as "N min", anything else as "N sec".
func (s signedParts) checkTime(now time.Time) *awsproto.Error {
	if earliest := now.Add(-s.validity); s.date.Before(earliest.Truncate(time.Second)) {
		return awsproto.Errorf("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - %s.)",
			s.amzDate, earliest.Format(amzDateLayout), now.Format(amzDateLayout), windowString(s.validity))
	}
	if latest := now.Add(maxClockSkew); s.date.After(latest) {
		return awsproto.Errorf("InvalidSignatureException", "Signature not yet current: %s is still later than %s (%s + %s.)",
			s.amzDate, latest.Format(amzDateLayout), now.Format(amzDateLayout), windowString(maxClockSkew))
	}
	return nil
}

// windowString prints a validity window as AWS's expiry texts do.
func windowString(d time.Duration) string {
	secs := int64(d / time.Second)
	if secs%60 == 0 {
		return strconv.FormatInt(secs/60, 10) + " min"
	}
	return strconv.FormatInt(secs, 10) + " sec"
}

// scope checks the signed headers and the credential scope, in AWS's
// order, and returns the scope. Like AWS, it insists that Host is signed
// and that the scope's date is X-Amz-Date's; region and service are the
// server's business (any region is served; the service is not checked).
func (s signedParts) scope() (Scope, *awsproto.Error) {
	if !slices.Contains(s.signedHeaders, "host") {
		return Scope{}, awsproto.Errorf("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	parts := strings.Split(s.credential, "/")
	if len(parts) != 5 {
		return Scope{}, awsproto.Errorf("IncompleteSignatureException",
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", s.credential)
	}
	var msgs []string
	if parts[4] != "aws4_request" {
		msgs = append(msgs, fmt.Sprintf("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", parts[4]))
	}
	if day := s.date.Format("20060102"); parts[1] != day {
		msgs = append(msgs, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", parts[1], day, s.amzDate))
	}
	if len(msgs) > 0 {
		return Scope{}, awsproto.Errorf("InvalidSignatureException", "%s", strings.Join(msgs, " "))
	}
	return Scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

// signingKey derives the SigV4 key for a secret and scope.
func signingKey(secret string, s Scope) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), s.Date)
	k = hmacSHA256(k, s.Region)
	k = hmacSHA256(k, s.Service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// canonicalRequest builds the canonical request as AWS does for services
// other than S3: the path URI-encoded segment by segment, the query sorted
// and encoded, the signed headers lowercased with values trimmed and inner
// spaces collapsed, and the payload hash.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalPath(r.URL.EscapedPath()))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	var vals []string
	switch {
	case name == "host":
		vals = []string{r.Host}
	case name == "content-length" && r.Header.Get("Content-Length") == "":
		vals = []string{strconv.FormatInt(r.ContentLength, 10)}
	default:
		vals = append(vals, r.Header.Values(name)...)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalPath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			u = s
		}
		segs[i] = uriEncode(uriEncode(u))
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "X-Amz-Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes everything but A-Z a-z 0-9 - _ . ~, as SigV4
// requires.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
