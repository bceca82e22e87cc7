package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Credentials sign the benchmark's requests. Peers such as kinesalite
// refuse unsigned requests; none of them checks the secret, and Sluice
// only does with --auth sigv4.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // "" means none
}

// DummyCredentials are the static credentials used when none are given:
// AWS's documented example key.
var DummyCredentials = Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}

// unsignedPayload is the payload hash that tells the server the body is
// not part of the signature, so signing never hashes a body.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// signer makes AWS Signature Version 4 Authorization headers for POST /
// with the headers Content-Type, Host, X-Amz-Content-Sha256
// (UNSIGNED-PAYLOAD), X-Amz-Date, X-Amz-Target and, with a session token,
// X-Amz-Security-Token. With the payload unsigned, a signature depends
// only on the target and the second, so signer keeps the last one per
// target and a request costs a map lookup; a new second costs three
// SHA-256 sums. A signer belongs to one goroutine.
type signer struct {
	creds  Credentials
	region string
	host   string

	day   string // yyyymmdd of key
	key   []byte // the day's signing key
	cache map[string]signature
}

type signature struct {
	unix          int64
	amzDate, auth string
}

func newSigner(creds Credentials, region, host string) *signer {
	return &signer{creds: creds, region: region, host: host, cache: make(map[string]signature, 4)}
}

// sign returns the X-Amz-Date and Authorization values for a request to
// target with contentType at now.
func (s *signer) sign(target, contentType string, now time.Time) (amzDate, authorization string) {
	now = now.UTC()
	if c, ok := s.cache[target]; ok && c.unix == now.Unix() {
		return c.amzDate, c.auth
	}
	amzDate = now.Format("20060102T150405Z")
	day := amzDate[:8]
	if day != s.day {
		s.day = day
		s.key = hmacSum(hmacSum(hmacSum(hmacSum([]byte("AWS4"+s.creds.SecretAccessKey), day), s.region), "kinesis"), "aws4_request")
	}
	signed := "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target"
	headers := "content-type:" + contentType + "\nhost:" + s.host + "\nx-amz-content-sha256:" + unsignedPayload +
		"\nx-amz-date:" + amzDate + "\n"
	if s.creds.SessionToken != "" {
		signed = "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target"
		headers += "x-amz-security-token:" + s.creds.SessionToken + "\n"
	}
	headers += "x-amz-target:" + target + "\n"
	canonical := "POST\n/\n\n" + headers + "\n" + signed + "\n" + unsignedPayload
	sum := sha256.Sum256([]byte(canonical))
	scope := day + "/" + s.region + "/kinesis/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	authorization = "AWS4-HMAC-SHA256 Credential=" + s.creds.AccessKeyID + "/" + scope +
		", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(hmacSum(s.key, toSign))
	s.cache[target] = signature{unix: now.Unix(), amzDate: amzDate, auth: authorization}
	return amzDate, authorization
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
