package auth

import (
	"bytes"
	"context"
	"net/http"
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
