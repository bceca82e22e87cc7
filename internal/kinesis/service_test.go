package kinesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/keyring"
	"github.com/sluicedata/sluice/internal/storage"
	"github.com/sluicedata/sluice/internal/vfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newService(t testing.TB) *Service {
	t.Helper()
	dir := t.TempDir()
	ring, err := keyring.Open(dir, bytes.Repeat([]byte{0x5a}, 32), keyring.Options{Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(vfs.Default(), dir, storage.Options{DataKeys: ring})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Open(engine.Config{Keys: ring}, st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Close()
		st.Close()
	})
	return New(eng, nil)
}

func call(s *Service, op, body string) (any, *awsproto.Error) {
	out, err := s.Handle(&Request{Operation: op, Protocol: awsproto.JSON, Body: []byte(body)})
	if err == nil {
		return out, nil
	}
	var ae *awsproto.Error
	if !errors.As(err, &ae) {
		panic(err)
	}
	return nil, ae
}

// TestValidationMessages checks texts that AWS is known to send, word for
// word, including the order of the problems.
func TestValidationMessages(t *testing.T) {
	s := newService(t)
	long := strings.Repeat("a", 129)
	cases := []struct {
		op, body, typ, msg string
	}{
		{"PutRecord", `{"SequenceNumberForOrdering":"","PartitionKey":"","ExplicitHashKey":"","Data":"","StreamName":""}`, "ValidationException",
			"5 validation errors detected: Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); " +
				"Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"PutRecord", `{}`, "ValidationException",
			"2 validation errors detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null; Value null at 'data' failed to satisfy constraint: Member must not be null"},
		{"PutRecord", `{"PartitionKey":"k","Data":""}`, "InvalidArgumentException", "Either StreamName or StreamARN should be provided."},
		{"CreateStream", `{"StreamName":"","ShardCount":0}`, "ValidationException",
			"3 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"CreateStream", `{"StreamName":"` + long + `","ShardCount":1}`, "ValidationException",
			"1 validation error detected: Value '" + long + "' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"GetRecords", `{"ShardIterator":"","Limit":0}`, "ValidationException",
			"2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'shardIterator' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"NOPE"}`, "ValidationException",
			"1 validation error detected: Value 'NOPE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"},
		{"PutRecords", `{"StreamName":"s","Records":[]}`, "ValidationException",
			"1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"DescribeStream", `{"StreamARN":"arn:aws:kinesis:us-east-1:12:stream/x"}`, "ValidationException",
			"1 validation error detected: Value 'arn:aws:kinesis:us-east-1:12:stream/x' at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"},
		{"DescribeStream", `{"StreamName":"a","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/b"}`, "InvalidArgumentException",
			"StreamARN arn:aws:kinesis:us-east-1:000000000000:stream/b and StreamName a do not refer to the same stream."},
		{"DescribeStream", `{"StreamName":"nope"}`, "ResourceNotFoundException", "Stream nope under account 000000000000 not found."},
		{"ListShards", `{"StreamName":"s","NextToken":"x"}`, "InvalidArgumentException", "NextToken and StreamName cannot be provided together."},
		{"ListShards", `{}`, "InvalidArgumentException", "Either NextToken or StreamName should be provided."},
		{"CreateStream", `{"StreamName":"s","ShardCount":1,"StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`, "ValidationException", "ShardCount is not expected when StreamMode=ON_DEMAND"},
		{"Bogus", `{}`, "UnknownOperationException", ""},
		{"CreateChannel", `{}`, "InvalidArgumentException", "Operation CreateChannel is not implemented by this server yet."},
	}
	for _, c := range cases {
		_, err := call(s, c.op, c.body)
		if err == nil || err.Type != c.typ || err.Message != c.msg {
			t.Errorf("%s %s:\n got %v\nwant %s: %s", c.op, c.body, err, c.typ, c.msg)
		}
	}
}

func TestPutRecordsLimits(t *testing.T) {
	s := newService(t)
	if _, err := call(s, "CreateStream", `{"StreamName":"s","ShardCount":1}`); err != nil {
		t.Fatal(err)
	}
	entry := func(key string, dataBytes int) map[string]any {
		return map[string]any{"PartitionKey": key, "Data": make([]byte, dataBytes)}
	}
	body := func(recs ...map[string]any) string {
		b, _ := json.Marshal(map[string]any{"StreamName": "s", "Records": recs})
		return string(b)
	}
	var many []map[string]any
	for range 501 {
		many = append(many, entry("", 0))
	}
	_, err := call(s, "PutRecords", body(many...))
	if err == nil || err.Type != "ValidationException" || !strings.HasPrefix(err.Message, "10 validation errors detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@") ||
		!strings.Contains(err.Message, "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500; Value '' at 'records.1.member.partitionKey'") {
		t.Errorf("501 records: %v", err)
	}
	_, err = call(s, "PutRecords", body(entry("k", 1<<20+1)))
	if err == nil || err.Message != "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576" {
		t.Errorf("oversize record: %v", err)
	}
	var six []map[string]any
	for range 6 {
		six = append(six, entry("k", 1<<20-1))
	}
	if _, err = call(s, "PutRecords", body(six...)); err == nil || err.Type != "InvalidArgumentException" || err.Message != "Records size exceeds 5 MB limit" {
		t.Errorf("6 MiB request: %v", err)
	}
	out, err := call(s, "PutRecords", body(entry("k", 1<<20-1), entry("k", 10)))
	var got putRecordsOutput
	if err != nil || json.Unmarshal(out.(awsproto.Encoded).Bytes(), &got) != nil || got.FailedRecordCount != 0 || len(got.Records) != 2 {
		t.Errorf("PutRecords = %+v, %v", out, err)
	}
}
