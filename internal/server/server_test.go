package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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

// TestPutRecordsReusedBuffers: PutRecords calls in parallel, through the
// reused request, decode and response buffers, store every record as sent
// (keys and data are copied out before a buffer is reused) and each get
// its own answer.
func TestPutRecordsReusedBuffers(t *testing.T) {
	l := startLive(t, Config{})
	l.call(t, "CreateStream", `{"StreamName":"s","ShardCount":4}`)
	type entry struct {
		Data         []byte
		PartitionKey string
	}
	const callers, calls, perCall = 4, 10, 50
	want := map[string]string{} // partition key -> data
	bodies := make([][]string, callers)
	for c := range callers {
		for n := range calls {
			var in struct {
				StreamName string
				Records    []entry
			}
			in.StreamName = "s"
			for i := range perCall {
				key := fmt.Sprintf("k-%d-%d-%d", c, n, i)
				data := []byte(strings.Repeat(key+";", 1+(c*7+n*3+i)%40))
				in.Records = append(in.Records, entry{Data: data, PartitionKey: key})
				want[key] = string(data)
			}
			b, _ := json.Marshal(in)
			if n%3 == 2 {
				// An escape sends the call down the general decoder.
				b = bytes.Replace(b, []byte(`"StreamName":"s"`), []byte(`"StreamName":"\u0073"`), 1)
			}
			bodies[c] = append(bodies[c], string(b))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, callers*calls)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, body := range bodies[c] {
				status, b, err := l.post("PutRecords", body)
				errs <- checkPutAnswer(status, b, err, perCall)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for shard := range 4 {
		var it struct{ ShardIterator string }
		json.Unmarshal(l.call(t, "GetShardIterator", fmt.Sprintf(
			`{"StreamName":"s","ShardId":"shardId-%012d","ShardIteratorType":"TRIM_HORIZON"}`, shard)), &it)
		var out struct{ Records []entry }
		json.Unmarshal(l.call(t, "GetRecords", `{"ShardIterator":"`+it.ShardIterator+`"}`), &out)
		for _, r := range out.Records {
			got[r.PartitionKey] = string(r.Data)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records back, want %d", len(got), len(want))
	}
	for k, d := range want {
		if got[k] != d {
			t.Fatalf("record %s: data %q, want %q", k, got[k], d)
		}
	}
}

// post makes a JSON call from any goroutine and returns the answer's
// status and body.
func (l *liveServer) post(op, body string) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", ctJSON)
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	hc := &http.Client{Timeout: waitLimit}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// checkPutAnswer checks a PutRecords answer of n records: all stored, with
// distinct sequence numbers.
func checkPutAnswer(status int, b []byte, err error, n int) error {
	var out struct {
		FailedRecordCount int
		Records           []struct{ SequenceNumber, ShardId string }
	}
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("PutRecords: %d %s %v", status, b, err)
	}
	if err := json.Unmarshal(b, &out); err != nil || out.FailedRecordCount != 0 || len(out.Records) != n {
		return fmt.Errorf("PutRecords answer %s: %v", b, err)
	}
	seen := map[string]bool{}
	for _, r := range out.Records {
		if r.SequenceNumber == "" || seen[r.SequenceNumber] || !strings.HasPrefix(r.ShardId, "shardId-") {
			return fmt.Errorf("PutRecords answer %s: a bad or repeated record", b)
		}
		seen[r.SequenceNumber] = true
	}
	return nil
}
