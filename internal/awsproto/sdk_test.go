package awsproto

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// These tests put the real aws-sdk-go-v2 Kinesis client in front of
// handlers built on this package: what it sends must decode, and what they
// answer it must understand.

type sdkServer struct {
	t        *testing.T
	requests atomic.Int32
	handle   func(op string, p Protocol, body []byte) (any, *Error)
}

func (s *sdkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	p, ok := ParseContentType(r.Header.Get("Content-Type"))
	if !ok {
		s.t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		WriteError(w, JSON, Errorf("UnknownOperationException", ""))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("read body: %v", err)
	}
	target := r.Header.Get("X-Amz-Target")
	const prefix = "Kinesis_20131202."
	if len(target) <= len(prefix) || target[:len(prefix)] != prefix {
		WriteError(w, p, Errorf("UnknownOperationException", ""))
		return
	}
	out, e := s.handle(target[len(prefix):], p, body)
	if e != nil {
		WriteError(w, p, e)
		return
	}
	if err := WriteResponse(w, p, out); err != nil {
		s.t.Error(err)
	}
}

func newSDKClient(t *testing.T, handle func(op string, p Protocol, body []byte) (any, *Error)) (*kinesis.Client, *sdkServer) {
	s := &sdkServer{t: t, handle: handle}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		}),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	return client, s
}

func sdkContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type sdkPutRecordsResultEntry struct {
	ErrorCode      *string `json:"ErrorCode,omitempty"`
	ErrorMessage   *string `json:"ErrorMessage,omitempty"`
	SequenceNumber *string `json:"SequenceNumber,omitempty"`
	ShardId        *string `json:"ShardId,omitempty"`
}

type sdkPutRecordsOutput struct {
	FailedRecordCount *int32                     `json:"FailedRecordCount,omitempty"`
	Records           []sdkPutRecordsResultEntry `json:"Records"`
	EncryptionType    *string                    `json:"EncryptionType,omitempty"`
}

func TestSDKPutRecords(t *testing.T) {
	client, _ := newSDKClient(t, func(op string, p Protocol, body []byte) (any, *Error) {
		if op != "PutRecords" || p != JSON {
			t.Errorf("op %s protocol %v", op, p)
		}
		var req putRecordsRequest
		if err := Unmarshal(p, body, &req); err != nil {
			return nil, err.(*Error)
		}
		if *req.StreamName != "s" || len(req.Records) != 3 || string(req.Records[0].Data) != "hello" ||
			req.Records[1].Data == nil || len(req.Records[1].Data) != 0 || req.Records[2].PartitionKey != "k3" ||
			*req.Records[2].ExplicitHashKey != "42" || string(req.Records[2].Data) != "\x00\xff" {
			t.Errorf("decoded %s from %s", dump(req), body)
		}
		out := sdkPutRecordsOutput{FailedRecordCount: ptr[int32](1), EncryptionType: ptr("NONE")}
		for i := range req.Records {
			e := sdkPutRecordsResultEntry{SequenceNumber: ptr("4954698668313554428650745793632162567570019247115678515" + string(rune('0'+i))), ShardId: ptr("shardId-000000000000")}
			if i == 1 {
				e = sdkPutRecordsResultEntry{ErrorCode: ptr("ProvisionedThroughputExceededException"), ErrorMessage: ptr("Rate exceeded")}
			}
			out.Records = append(out.Records, e)
		}
		return out, nil
	})
	out, err := client.PutRecords(sdkContext(t), &kinesis.PutRecordsInput{
		StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{
			{Data: []byte("hello"), PartitionKey: aws.String("k1")},
			{Data: []byte{}, PartitionKey: aws.String("k2")},
			{Data: []byte{0, 0xff}, PartitionKey: aws.String("k3"), ExplicitHashKey: aws.String("42")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *out.FailedRecordCount != 1 || len(out.Records) != 3 || *out.Records[1].ErrorCode != "ProvisionedThroughputExceededException" ||
		*out.Records[2].SequenceNumber != "49546986683135544286507457936321625675700192471156785152" || out.EncryptionType != types.EncryptionTypeNone {
		t.Errorf("client got %+v", out)
	}
}

func TestSDKTimestamps(t *testing.T) {
	at := time.Date(2019, 10, 28, 21, 12, 48, 123_000_000, time.UTC)
	type streamSummary struct {
		StreamName              string    `json:"StreamName"`
		StreamCreationTimestamp Timestamp `json:"StreamCreationTimestamp"`
	}
	type summaryOutput struct {
		StreamDescriptionSummary streamSummary `json:"StreamDescriptionSummary"`
	}
	client, _ := newSDKClient(t, func(op string, p Protocol, body []byte) (any, *Error) {
		switch op {
		case "GetShardIterator":
			var req struct {
				ShardIteratorType string     `json:"ShardIteratorType"`
				Timestamp         *Timestamp `json:"Timestamp,omitempty"`
			}
			if err := Unmarshal(p, body, &req); err != nil {
				return nil, err.(*Error)
			}
			if req.Timestamp == nil || req.Timestamp.Time() != at {
				t.Errorf("Timestamp decoded as %v from %s", req.Timestamp, body)
			}
			return map[string]string{"ShardIterator": "AAAAAAAAAAE="}, nil
		case "DescribeStreamSummary":
			return summaryOutput{streamSummary{StreamName: "s", StreamCreationTimestamp: TimestampFromTime(at)}}, nil
		}
		return nil, Errorf("UnknownOperationException", "")
	})
	ctx := sdkContext(t)
	if _, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(at),
	}); err != nil {
		t.Fatal(err)
	}
	out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := *out.StreamDescriptionSummary.StreamCreationTimestamp; !got.Equal(at) {
		t.Errorf("StreamCreationTimestamp = %v, want %v", got, at)
	}
}

func TestSDKErrors(t *testing.T) {
	var reply *Error
	client, srv := newSDKClient(t, func(string, Protocol, []byte) (any, *Error) { return nil, reply })
	ctx := sdkContext(t)
	call := func() error {
		_, err := client.ListStreams(ctx, &kinesis.ListStreamsInput{})
		return err
	}

	reply = Errorf("ResourceNotFoundException", "Stream s under account 123456789012 not found.")
	var notFound *types.ResourceNotFoundException
	if err := call(); !errors.As(err, &notFound) || notFound.ErrorMessage() != reply.Message {
		t.Errorf("ResourceNotFoundException: got %v", err)
	}

	// "Message" with a capital M is read too.
	reply = serializationError("Start of list found where not expected")
	var apiErr smithy.APIError
	if err := call(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SerializationException" ||
		apiErr.ErrorMessage() != "Start of list found where not expected" {
		t.Errorf("SerializationException: got %v", err)
	}

	reply = ValidationError([]string{ProblemRequired("streamName")})
	var validation *types.ValidationException
	if err := call(); !errors.As(err, &validation) || validation.ErrorMessage() != reply.Message {
		t.Errorf("ValidationException: got %v", err)
	}

	// The SDK retries what the catalogue marks retryable, and only that.
	for _, typ := range []string{"ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
		"InternalFailureException", "InternalFailure", "ServiceUnavailableException",
		"InvalidArgumentException", "ExpiredIteratorException", "AccessDeniedException", "KMSThrottlingException"} {
		reply = Errorf(typ, "m")
		before := srv.requests.Load()
		err := call()
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != typ {
			t.Errorf("%s: got %v", typ, err)
		}
		attempts := srv.requests.Load() - before
		want := int32(1)
		if reply.Retryable {
			want = 3
		}
		if attempts != want {
			t.Errorf("%s: %d attempts, want %d (retryable %v)", typ, attempts, want, reply.Retryable)
		}
	}
}
