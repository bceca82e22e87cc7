package auth

import (
	"net/http"
	"testing"
	"time"
)

// FuzzVerifyHeaders feeds arbitrary Authorization, X-Amz-Date and
// X-Amz-Content-Sha256 headers and bodies to the verifier: it must never
// panic, and never accept a request it did not see signed with a known
// secret.
func FuzzVerifyHeaders(f *testing.F) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDALICE/20261125/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261125T200000Z", "", []byte("{}"))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDALICE/20261125/us-east-1/kinesis/aws4_request,SignedHeaders=,Signature=zz", "20261125T200000Z", "UNSIGNED-PAYLOAD", []byte(nil))
	f.Add("AWS4-HMAC-SHA256 ", "", "", []byte("x"))
	f.Add("AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature=", "garbage", "abc", []byte("{"))
	f.Add("Basic dXNlcjpwYXNz", "20261125T200000Z", "", []byte{})
	v := NewVerifier(testCreds, func() time.Time { return now })
	f.Fuzz(func(t *testing.T, authz, date, payloadHash string, body []byte) {
		req, err := http.NewRequest("POST", "http://127.0.0.1:4567/", nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", authz)
		req.Header.Set("X-Amz-Date", date)
		if payloadHash != "" {
			req.Header.Set("X-Amz-Content-Sha256", payloadHash)
		}
		if p, aerr := v.Verify(req, body); aerr == nil {
			t.Fatalf("accepted an unsigned request as %+v", p)
		}
	})
}
