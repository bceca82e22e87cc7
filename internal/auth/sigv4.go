// Package auth authenticates requests with AWS Signature Version 4 against
// credentials from a JSON file. It knows HTTP and AWS's error texts, and
// nothing of Kinesis.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
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

// authHeader is a parsed Authorization header.
type authHeader struct {
	scope         Scope
	signedHeaders []string
	signature     string
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func parseAuthorization(h string) (authHeader, *awsproto.Error) {
	var a authHeader
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, awsproto.Errorf("IncompleteSignatureException", "Authorization header requires existence of the AWS4-HMAC-SHA256 algorithm. Authorization=%s", h)
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
	if len(missing) > 0 {
		return a, awsproto.Errorf("IncompleteSignatureException", "%sAuthorization=%s", strings.Join(missing, ""), h)
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return a, awsproto.Errorf("IncompleteSignatureException", "Credential should be scoped to a valid region. Authorization=%s", h)
	}
	a.scope = Scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}
	a.signedHeaders = strings.Split(signed, ";")
	a.signature = sig
	return a, nil
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
