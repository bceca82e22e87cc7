package auth

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var testCreds = &CredentialsFile{Users: []User{
	{Name: "alice", AccessKeys: []AccessKey{{AccessKeyID: "AKIDALICE", SecretAccessKey: "alice-secret"}}},
	{Name: "bob", AccessKeys: []AccessKey{{AccessKeyID: "ASIABOB", SecretAccessKey: "bob-secret", SessionToken: "bob-token"}}},
}}

// signed builds a Kinesis request signed by the AWS SDK's own signer.
func signed(t *testing.T, akid, secret, token string, body []byte, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", "http://127.0.0.1:4567/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "kinesis", "us-west-2", at); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	v := NewVerifier(testCreds, func() time.Time { return now })
	body := []byte(`{"Limit":10}`)
	cases := []struct {
		name string
		req  *http.Request
		body []byte
		want string // error type, "" for success
	}{
		{"valid", signed(t, "AKIDALICE", "alice-secret", "", body, now), body, ""},
		{"valid with session token", signed(t, "ASIABOB", "bob-secret", "bob-token", body, now), body, ""},
		{"10 minutes of skew", signed(t, "AKIDALICE", "alice-secret", "", body, now.Add(-10*time.Minute)), body, ""},
		{"wrong secret", signed(t, "AKIDALICE", "not-the-secret", "", body, now), body, "InvalidSignatureException"},
		{"unknown key", signed(t, "AKIDMALLORY", "x", "", body, now), body, "UnrecognizedClientException"},
		{"wrong session token", signed(t, "ASIABOB", "bob-secret", "stolen", body, now), body, "UnrecognizedClientException"},
		{"body changed after signing", signed(t, "AKIDALICE", "alice-secret", "", body, now), []byte(`{"Limit":11}`), "InvalidSignatureException"},
		{"16 minutes of skew", signed(t, "AKIDALICE", "alice-secret", "", body, now.Add(16*time.Minute)), body, "InvalidSignatureException"},
	}
	for _, c := range cases {
		p, err := v.Verify(c.req, c.body)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || err.Type != c.want):
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		case c.want == "" && (p.User == "" || p.Scope.Region != "us-west-2" || p.Scope.Service != "kinesis"):
			t.Errorf("%s: principal %+v", c.name, p)
		}
	}
	unsigned, _ := http.NewRequest("POST", "http://127.0.0.1:4567/", nil)
	if _, err := v.Verify(unsigned, nil); err == nil || err.Type != "MissingAuthenticationTokenException" || err.Message != "Missing Authentication Token" {
		t.Errorf("unsigned: %v", err)
	}
	bad, _ := http.NewRequest("POST", "http://127.0.0.1:4567/", nil)
	bad.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDALICE/20261125/us-east-1/kinesis/aws4_request")
	if _, err := v.Verify(bad, nil); err == nil || err.Type != "IncompleteSignatureException" {
		t.Errorf("incomplete: %v", err)
	}
	// Reloading the credentials drops removed keys.
	v.Load(&CredentialsFile{})
	if _, err := v.Verify(signed(t, "AKIDALICE", "alice-secret", "", body, now), body); err == nil || err.Type != "UnrecognizedClientException" {
		t.Errorf("after reload: %v", err)
	}
}

// presignOpts shape a request presigned by presign.
type presignOpts struct {
	akid, secret, token string
	at                  time.Time
	expires             string // X-Amz-Expires; "" leaves it out
	payloadHash         string // as given to the signer; "" means UNSIGNED-PAYLOAD
	contentSHA256       string // an X-Amz-Content-Sha256 header to sign, if any
}

// presign builds a Kinesis ListStreams request presigned by the AWS SDK's
// own signer (PresignHTTP), with X-Amz-Target and Content-Type signed as
// headers rather than hoisted into the query.
func presign(t testing.TB, body []byte, o presignOpts) *http.Request {
	t.Helper()
	u := "http://127.0.0.1:4567/"
	if o.expires != "" {
		u += "?X-Amz-Expires=" + o.expires
	}
	req, err := http.NewRequest("POST", u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	if o.contentSHA256 != "" {
		req.Header.Set("X-Amz-Content-Sha256", o.contentSHA256)
	}
	if o.payloadHash == "" {
		o.payloadHash = "UNSIGNED-PAYLOAD"
	}
	creds := aws.Credentials{AccessKeyID: o.akid, SecretAccessKey: o.secret, SessionToken: o.token}
	signedURL, headers, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, o.payloadHash, "kinesis", "us-west-2", o.at,
		func(so *v4.SignerOptions) { so.DisableHeaderHoisting = true })
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest("POST", signedURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range headers {
		if k != "Host" {
			out.Header[k] = vs
		}
	}
	return out
}

// withQuery returns r with its query changed by fn, the signature kept.
func withQuery(r *http.Request, fn func(url.Values)) *http.Request {
	r2 := r.Clone(context.Background())
	q := r2.URL.Query()
	fn(q)
	r2.URL.RawQuery = q.Encode()
	return r2
}

const mismatchMsg = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func TestVerifyPresigned(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	v := NewVerifier(testCreds, func() time.Time { return now })
	body := []byte(`{"Limit":10}`)
	alice := presignOpts{akid: "AKIDALICE", secret: "alice-secret", at: now.Add(-time.Minute), expires: "300"}
	with := func(fn func(*presignOpts)) presignOpts {
		o := alice
		fn(&o)
		return o
	}
	valid := presign(t, body, alice)
	cases := []struct {
		name    string
		req     *http.Request
		body    []byte
		wantErr string // error type, "" for success
		wantMsg string // exact message, "" to skip the check
	}{
		{"valid", valid, body, "", ""},
		{"valid with session token in the query", presign(t, body, with(func(o *presignOpts) { o.akid, o.secret, o.token = "ASIABOB", "bob-secret", "bob-token" })), body, "", ""},
		{"unsigned payload: the body is not covered", valid, []byte(`{"Limit":11}`), "", ""},
		{"signed payload hash in a signed header", presign(t, body, with(func(o *presignOpts) { o.payloadHash, o.contentSHA256 = sha256Hex(body), sha256Hex(body) })), body, "", ""},
		{"body changed under a signed payload hash", presign(t, body, with(func(o *presignOpts) { o.payloadHash, o.contentSHA256 = sha256Hex(body), sha256Hex(body) })), []byte(`{"Limit":11}`),
			"InvalidSignatureException", mismatchMsg},
		{"payload hash in the query", withQuery(presign(t, body, alice), func(q url.Values) { q.Set("X-Amz-Content-Sha256", sha256Hex(body)) }), body,
			"InvalidSignatureException", mismatchMsg}, // added after signing: the canonical query differs
		{"no X-Amz-Expires, 10 minutes old", presign(t, body, with(func(o *presignOpts) { o.expires, o.at = "", now.Add(-10*time.Minute) })), body, "", ""},
		{"a day of X-Amz-Expires, 2 hours old", presign(t, body, with(func(o *presignOpts) { o.expires, o.at = "86400", now.Add(-2*time.Hour) })), body, "", ""},
		{"a week of X-Amz-Expires", presign(t, body, with(func(o *presignOpts) { o.expires, o.at = "604800", now.Add(-167*time.Hour) })), body, "", ""},
		{"signed 10 minutes ahead", presign(t, body, with(func(o *presignOpts) { o.at = now.Add(10 * time.Minute) })), body, "", ""},

		{"tampered query value", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Expires", "3000") }), body, "InvalidSignatureException", mismatchMsg},
		{"query parameter added", withQuery(valid, func(q url.Values) { q.Set("Extra", "1") }), body, "InvalidSignatureException", mismatchMsg},
		{"signed header changed", func() *http.Request {
			r := presign(t, body, alice)
			r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
			return r
		}(), body, "InvalidSignatureException", mismatchMsg},
		{"wrong secret", presign(t, body, with(func(o *presignOpts) { o.secret = "not-the-secret" })), body, "InvalidSignatureException", mismatchMsg},
		{"unknown key", presign(t, body, with(func(o *presignOpts) { o.akid = "AKIDMALLORY" })), body,
			"UnrecognizedClientException", "The security token included in the request is invalid."},
		{"wrong session token", presign(t, body, with(func(o *presignOpts) { o.akid, o.secret, o.token = "ASIABOB", "bob-secret", "stolen" })), body,
			"UnrecognizedClientException", "The security token included in the request is invalid."},
		{"expired", presign(t, body, with(func(o *presignOpts) { o.at = now.Add(-10 * time.Minute) })), body,
			"InvalidSignatureException", "Signature expired: 20261125T195000Z is now earlier than 20261125T195500Z (20261125T200000Z - 5 min.)"},
		{"expired, seconds", presign(t, body, with(func(o *presignOpts) { o.expires, o.at = "90", now.Add(-2*time.Minute) })), body,
			"InvalidSignatureException", "Signature expired: 20261125T195800Z is now earlier than 20261125T195830Z (20261125T200000Z - 90 sec.)"},
		{"expired without X-Amz-Expires", presign(t, body, with(func(o *presignOpts) { o.expires, o.at = "", now.Add(-16*time.Minute) })), body,
			"InvalidSignatureException", "Signature expired: 20261125T194400Z is now earlier than 20261125T194500Z (20261125T200000Z - 15 min.)"},
		{"expired after a week", presign(t, body, with(func(o *presignOpts) { o.expires, o.at = "604800", now.Add(-169*time.Hour) })), body,
			"InvalidSignatureException", "Signature expired: 20261118T190000Z is now earlier than 20261118T200000Z (20261125T200000Z - 10080 min.)"},
		{"signed 16 minutes ahead", presign(t, body, with(func(o *presignOpts) { o.at = now.Add(16 * time.Minute) })), body,
			"InvalidSignatureException", "Signature not yet current: 20261125T201600Z is still later than 20261125T201500Z (20261125T200000Z + 15 min.)"},
		{"X-Amz-Expires not a number", presign(t, body, with(func(o *presignOpts) { o.expires = "soon" })), body,
			"IncompleteSignatureException", "X-Amz-Expires should be a number"},
		{"X-Amz-Expires negative", presign(t, body, with(func(o *presignOpts) { o.expires = "-1" })), body,
			"IncompleteSignatureException", "X-Amz-Expires must be non-negative"},
		{"X-Amz-Expires over a week", presign(t, body, with(func(o *presignOpts) { o.expires = "604801" })), body,
			"IncompleteSignatureException", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{"X-Amz-Expires beyond int64", presign(t, body, with(func(o *presignOpts) { o.expires = "99999999999999999999" })), body,
			"IncompleteSignatureException", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{"other algorithm", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA512") }), body,
			"IncompleteSignatureException", "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now)."},
		{"malformed date", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Date", "2026-11-25T20:00:00Z") }), body,
			"IncompleteSignatureException", "Date must be in ISO-8601 'basic format'. Got '2026-11-25T20:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{"credential of 4 parts", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Credential", "AKIDALICE/20261125/us-west-2/kinesis") }), body,
			"IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDALICE/20261125/us-west-2/kinesis'"},
		{"credential scope of another day", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Credential", "AKIDALICE/20261124/us-west-2/kinesis/aws4_request") }), body,
			"InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261124' != '20261125', from '20261125T195900Z'."},
		{"credential terminator", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Credential", "AKIDALICE/20261125/us-west-2/kinesis/aws5_request") }), body,
			"InvalidSignatureException", "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."},
		{"host not signed", withQuery(valid, func(q url.Values) { q.Set("X-Amz-SignedHeaders", "content-type;x-amz-target") }), body,
			"InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."},
		{"signature not hex", withQuery(valid, func(q url.Values) { q.Set("X-Amz-Signature", "zz") }), body, "InvalidSignatureException", mismatchMsg},
		{"header and query", func() *http.Request {
			r := presign(t, body, alice)
			r.Header.Set("Authorization", signed(t, "AKIDALICE", "alice-secret", "", body, now).Header.Get("Authorization"))
			return r
		}(), body, "InvalidSignatureException", "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."},
	}
	for _, c := range cases {
		p, err := v.Verify(c.req, c.body)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr == "" && (p.User == "" || p.Scope.Region != "us-west-2" || p.Scope.Service != "kinesis"):
			t.Errorf("%s: principal %+v", c.name, p)
		case c.wantErr != "" && (err == nil || err.Type != c.wantErr):
			t.Errorf("%s: got %v, want %s", c.name, err, c.wantErr)
		case c.wantErr != "" && c.wantMsg != "" && err.Message != c.wantMsg:
			t.Errorf("%s: message\n got: %q\nwant: %q", c.name, err.Message, c.wantMsg)
		}
	}
}

// TestVerifyPresignedMissing removes each required query parameter in turn,
// and all of them: AWS names every missing one, in its order.
func TestVerifyPresignedMissing(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	v := NewVerifier(testCreds, func() time.Time { return now })
	body := []byte(`{}`)
	valid := presign(t, body, presignOpts{akid: "AKIDALICE", secret: "alice-secret", at: now, expires: "60"})
	const tail = "Re-examine the query-string parameters."
	for _, p := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		for _, empty := range []bool{false, true} {
			r := withQuery(valid, func(q url.Values) {
				if empty {
					q.Set(p, "")
				} else {
					q.Del(p)
				}
			})
			_, err := v.Verify(r, body)
			want := "AWS query-string parameters must include '" + p + "'. " + tail
			if err == nil || err.Type != "IncompleteSignatureException" || err.Message != want {
				t.Errorf("without %s (empty %v): got %v, want IncompleteSignatureException %q", p, empty, err, want)
			}
		}
	}
	// X-Amz-Algorithm alone, even empty, makes a request presigned.
	bare, _ := http.NewRequest("POST", "http://127.0.0.1:4567/?X-Amz-Algorithm", bytes.NewReader(body))
	_, err := v.Verify(bare, body)
	want := "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. " +
		"AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. " +
		"AWS query-string parameters must include 'X-Amz-Date'. " + tail
	if err == nil || err.Type != "IncompleteSignatureException" || err.Message != want {
		t.Errorf("bare X-Amz-Algorithm: got %v, want %q", err, want)
	}
}

// TestVerifyHeaderMessages checks the exact texts of the Authorization
// header path's date and scope errors.
func TestVerifyHeaderMessages(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	v := NewVerifier(testCreds, func() time.Time { return now })
	body := []byte(`{}`)
	sign := func(at time.Time, fn func(*http.Request)) *http.Request {
		r := signed(t, "AKIDALICE", "alice-secret", "", body, at)
		if fn != nil {
			fn(r)
		}
		return r
	}
	authz := sign(now, nil).Header.Get("Authorization")
	cases := []struct {
		name          string
		req           *http.Request
		wantErr, want string
	}{
		{"16 minutes old", sign(now.Add(-16*time.Minute), nil), "InvalidSignatureException",
			"Signature expired: 20261125T194400Z is now earlier than 20261125T194500Z (20261125T200000Z - 15 min.)"},
		{"16 minutes ahead", sign(now.Add(16*time.Minute), nil), "InvalidSignatureException",
			"Signature not yet current: 20261125T201600Z is still later than 20261125T201500Z (20261125T200000Z + 15 min.)"},
		{"no X-Amz-Date", sign(now, func(r *http.Request) { r.Header.Del("X-Amz-Date") }), "IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + authz},
		{"malformed X-Amz-Date", sign(now, func(r *http.Request) { r.Header.Set("X-Amz-Date", "201") }), "IncompleteSignatureException",
			"Date must be in ISO-8601 'basic format'. Got '201'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{"host not signed", sign(now, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=content-length;content-type;host;", "SignedHeaders=content-length;content-type;", 1))
		}), "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."},
		{"unknown key after the date checks", signed(t, "AKIDMALLORY", "x", "", body, now.Add(-20*time.Minute)), "InvalidSignatureException",
			"Signature expired: 20261125T194000Z is now earlier than 20261125T194500Z (20261125T200000Z - 15 min.)"},
	}
	for _, c := range cases {
		_, err := v.Verify(c.req, body)
		if err == nil || err.Type != c.wantErr || err.Message != c.want {
			t.Errorf("%s: got %v\nwant %s: %s", c.name, err, c.wantErr, c.want)
		}
	}
}
