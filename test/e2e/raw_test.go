package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

const (
	ctJSON     = "application/x-amz-json-1.1"
	ctCBOR     = "application/x-amz-cbor-1.1"
	targetBase = "Kinesis_20131202."
)

// rawResponse is one raw HTTP exchange's answer.
type rawResponse struct {
	Status int
	Proto  string
	Header http.Header
	Body   []byte
}

// fakeSigV4 returns an Authorization header shaped like a real SigV4 one;
// the server accepts any signature for now.
func fakeSigV4(now time.Time) string {
	return "AWS4-HMAC-SHA256 Credential=AKIDSLUICERAW/" + now.UTC().Format("20060102") + "/" + testRegion +
		"/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
		"Signature=0000000000000000000000000000000000000000000000000000000000000000"
}

// rawCall POSTs body to endpoint with the given X-Amz-Target operation and
// content type, signed with a fake SigV4 header, and reads the answer.
func rawCall(t testing.TB, hc *http.Client, endpoint, op, contentType string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	now := time.Now()
	req.Header.Set("Content-Type", contentType)
	if op != "" {
		req.Header.Set("X-Amz-Target", targetBase+op)
	}
	req.Header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", fakeSigV4(now))
	if contentType == ctCBOR {
		req.Header.Set("User-Agent", "aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/17 Java/17 vendor/Debian io/sync http/Apache cfg/retry-mode/legacy")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s %s: %v", op, contentType, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s response: %v", op, err)
	}
	return rawResponse{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header, Body: b}
}

// rawHTTPClient is a plain HTTP/1.1 client closed at the end of the test.
func rawHTTPClient(t testing.TB) *http.Client {
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// jsonCall is rawCall with a JSON body built from v.
func jsonCall(t testing.TB, hc *http.Client, endpoint, op string, v any) (rawResponse, map[string]any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	r := rawCall(t, hc, endpoint, op, ctJSON, b)
	var m map[string]any
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("%s: response is not JSON: %v\n%s", op, err, r.Body)
		}
	}
	return r, m
}

// expectJSONError asserts a JSON 1.1 error response with the given status
// and __type; it returns the message (either "message" or "Message").
func expectJSONError(t testing.TB, r rawResponse, status int, typ string) string {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, r.Body)
	}
	got, _ := m["__type"].(string)
	// Clients strip a namespace prefix before '#'.
	if i := bytes.LastIndexByte([]byte(got), '#'); i >= 0 {
		got = got[i+1:]
	}
	if got != typ {
		t.Errorf("__type %q, want %q; body %s", m["__type"], typ, r.Body)
	}
	if r.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("error response has no x-amzn-RequestId header")
	}
	msg, _ := m["message"].(string)
	if msg == "" {
		msg, _ = m["Message"].(string)
	}
	return msg
}
