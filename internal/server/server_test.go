package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestTargetBlanks: an X-Amz-Target with blanks around it names the same
// operation over HTTP/2 as over HTTP/1.1, where parsing drops them. Found
// by TestProtoFuzz: over h2c "Kinesis_20131202.ListStreams " was an
// UnknownOperationException.
func TestTargetBlanks(t *testing.T) {
	l := startLive(t, Config{})
	for _, h2 := range []bool{false, true} {
		hc := &http.Client{Timeout: waitLimit}
		if h2 {
			hc = h2cClient(t)
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", ctJSON)
		req.Header.Set("X-Amz-Target", " Kinesis_20131202.ListStreams\t")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		hc.CloseIdleConnections()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", resp.Proto, resp.StatusCode, b)
		}
	}
}

// TestCredentialRegion: the region of a credential scope goes into ARNs
// only when it is a region name; other bytes in the header (any, with
// --auth none) would make ARNs of them, and CBOR answers that are not
// well-formed (text must be UTF-8). Found by TestProtoFuzz.
func TestCredentialRegion(t *testing.T) {
	l := startLive(t, Config{})
	l.call(t, "CreateStream", `{"StreamName":"s","ShardCount":1}`)
	for region, want := range map[string]string{
		"eu-west-1": "eu-west-1",
		"\xff\xfe":  "us-east-1",
		"us east 1": "us-east-1",
		"a:b":       "us-east-1",
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", strings.NewReader("\xa1jStreamNameas"))
		req.Header.Set("Content-Type", ctCBOR)
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/"+region+
			"/kinesis/aws4_request, SignedHeaders=host, Signature=00")
		hc := &http.Client{Timeout: waitLimit}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		hc.CloseIdleConnections()
		var out struct {
			StreamDescriptionSummary struct{ StreamARN string }
		}
		if err := cbor.Unmarshal(b, &out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("region %q: %d %v %q", region, resp.StatusCode, err, b)
		}
		if arn := out.StreamDescriptionSummary.StreamARN; arn != "arn:aws:kinesis:"+want+":000000000000:stream/s" {
			t.Errorf("region %q: ARN %q", region, arn)
		}
	}
}
