package awsproto

import (
	"strings"
	"testing"
)

// The expected strings are kinesalite's test/putRecords.js,
// test/createStream.js and friends, which pass against AWS.
func TestValidationMessage(t *testing.T) {
	name := strings.Repeat("a", 129)
	name2 := strings.Repeat("a", 257)
	tests := []struct {
		problems []string
		want     string
	}{
		{nil, ""},
		{[]string{ProblemRequired("streamName")},
			"1 validation error detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null"},
		{[]string{ProblemRequired("records"), ProblemRequired("streamName")},
			"2 validation errors detected: " +
				"Value null at 'records' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'streamName' failed to satisfy constraint: Member must not be null"},
		{[]string{
			ProblemMinLen([]putRecordsEntry{}, "records", 1),
			ProblemPattern("", "streamName", "[a-zA-Z0-9_.-]+"),
			ProblemMinLen("", "streamName", 1),
		}, "3 validation errors detected: " +
			"Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
			"Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{[]string{
			ProblemMaxLen(name2, ListMemberPath("records", 0, "partitionKey"), 256),
			ProblemPattern(ptr(""), ListMemberPath("records", 0, "explicitHashKey"), `0|([1-9]\d{0,38})`),
			ProblemMaxLen(make([]byte, 1048577), ListMemberPath("records", 0, "data"), 1048576),
			ProblemMaxLen(name, LowerFirst("StreamName"), 128),
		}, "4 validation errors detected: " +
			"Value '" + name2 + "' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256; " +
			`Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\d{0,38}); ` +
			"Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576; " +
			"Value '" + name + "' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{[]string{ProblemMinValue(ptr[int32](0), "shardCount", 1)},
			"1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{[]string{ProblemMaxValue(int64(100001), "shardCount", 100000)},
			"1 validation error detected: Value '100001' at 'shardCount' failed to satisfy constraint: Member must have value less than or equal to 100000"},
		{[]string{ProblemEnum("X", "shardIteratorType", []string{"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"})},
			"1 validation error detected: Value 'X' at 'shardIteratorType' failed to satisfy constraint: " +
				"Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"},
		{[]string{Problem([]string{"a", ""}, "tagKeys", ConstraintEachLen(1, 128))},
			"1 validation error detected: Value '[a, ]' at 'tagKeys' failed to satisfy constraint: " +
				"Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"},
		{[]string{Problem(map[string]string{"b": "2", "a": "1"}, "tags", ConstraintMapKeysLen(1, 128))},
			"1 validation error detected: Value '{a=1, b=2}' at 'tags' failed to satisfy constraint: " +
				"Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"},
		{[]string{Problem(map[string]string{"k": ""}, "tags", ConstraintMapValuesLen(0, 256))},
			"1 validation error detected: Value '{k=}' at 'tags' failed to satisfy constraint: " +
				"Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]"},
		{[]string{ProblemMaxLen("x", MapMemberPath("tags", "k"), 0)},
			"1 validation error detected: Value 'x' at 'tags.k.member' failed to satisfy constraint: Member must have length less than or equal to 0"},
		{[]string{ProblemMinLen("", ListMemberPath("tagKeys", 1, ""), 1)},
			"1 validation error detected: Value '' at 'tagKeys.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range tests {
		if got := ValidationMessage(tt.problems); got != tt.want {
			t.Errorf("got\n %s\nwant\n %s", got, tt.want)
		}
	}
}

// AWS stops at ten problems (kinesalite test/putRecords.js "too many
// records": "10 validation errors detected: ...").
func TestValidationMessageCapsAtTen(t *testing.T) {
	var problems []string
	for i := range 12 {
		problems = append(problems, ProblemMinLen("", ListMemberPath("records", i, "partitionKey"), 1))
	}
	got := ValidationMessage(problems)
	if !strings.HasPrefix(got, "10 validation errors detected: ") || strings.Count(got, "; ") != 9 ||
		strings.Contains(got, "records.11.") {
		t.Errorf("got %s", got)
	}
}

func TestValidationError(t *testing.T) {
	if ValidationError(nil) != nil {
		t.Error("ValidationError(nil) != nil")
	}
	e := ValidationError([]string{ProblemRequired("streamName")})
	if e.Type != "ValidationException" || e.Status != 400 || e.Retryable ||
		e.Message != "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null" {
		t.Errorf("got %+v", e)
	}
}

func TestProblemRange(t *testing.T) {
	if got := ProblemRange(5, "limit", 1, 10000); got != "" {
		t.Errorf("in range: %q", got)
	}
	if got := ProblemRange(0, "limit", 1, 10000); got != "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1" {
		t.Errorf("below: %q", got)
	}
	if got := ProblemRange(10001, "limit", 1, 10000); got != "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000" {
		t.Errorf("above: %q", got)
	}
}

type stringer struct{}

func (stringer) String() string { return "str" }

func TestFormatValue(t *testing.T) {
	var nilString *string
	var nilBlob []byte
	var nilTs *Timestamp
	var nilStringer *stringer
	tests := []struct {
		v    any
		want string
		ok   bool
	}{
		{nil, "null", false},
		{nilString, "null", false},
		{nilBlob, "null", false},
		{nilTs, "null", false},
		{nilStringer, "null", false},
		{map[string]string(nil), "null", false},
		{[]string(nil), "null", false},
		{"", "", true},
		{ptr("x"), "x", true},
		{[]byte{}, "java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]", true},
		{[]byte("abc"), "java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]", true},
		{true, "true", true},
		{ptr[int32](-5), "-5", true},
		{uint64(7), "7", true},
		{1.0, "1.0", true},
		{0.5, "0.5", true},
		{1e7, "1.0E7", true},
		{1.5e-4, "1.5E-4", true},
		{-2.5e10, "-2.5E10", true},
		{Timestamp{1572297168123}, "Mon Oct 28 21:12:48 UTC 2019", true},
		{[]int{1, 2}, "[1, 2]", true},
		{[]string{}, "[]", true},
		{RawValue("com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"), "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310", true},
		{stringer{}, "str", true},
		{[2]string{"a", "b"}, "[a, b]", true},
	}
	for _, tt := range tests {
		got, ok := FormatValue(tt.v)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FormatValue(%#v) = %q, %v; want %q, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{"StreamName": "streamName", "StreamARN": "streamARN", "": "", "x": "x", "ShardId": "shardId"} {
		if got := LowerFirst(in); got != want {
			t.Errorf("LowerFirst(%q) = %q", in, got)
		}
	}
}
