package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestStreamLifecycle covers CreateStream, DescribeStream,
// DescribeStreamSummary, ListStreams and DeleteStream with the SDK waiters,
// and the errors for unknown and duplicate streams.
func TestStreamLifecycle(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "lifecycle"
	before := time.Now().Add(-2 * time.Second)

	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(3)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	out, err := kinesis.NewStreamExistsWaiter(c, waiterFast).WaitForOutput(ctx,
		&kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second)
	if err != nil {
		t.Fatalf("StreamExists waiter: %v", err)
	}
	sd := out.StreamDescription
	if aws.ToString(sd.StreamName) != name || aws.ToString(sd.StreamARN) != streamARN(name) || sd.StreamStatus != types.StreamStatusActive {
		t.Errorf("DescribeStream: name %q arn %q status %q", aws.ToString(sd.StreamName), aws.ToString(sd.StreamARN), sd.StreamStatus)
	}
	if aws.ToBool(sd.HasMoreShards) || aws.ToInt32(sd.RetentionPeriodHours) != 24 {
		t.Errorf("DescribeStream: HasMoreShards %v RetentionPeriodHours %d", aws.ToBool(sd.HasMoreShards), aws.ToInt32(sd.RetentionPeriodHours))
	}
	created := aws.ToTime(sd.StreamCreationTimestamp)
	if created.Before(before) || created.After(time.Now().Add(2*time.Second)) {
		t.Errorf("DescribeStream: StreamCreationTimestamp %v not near now", created)
	}
	if sd.EncryptionType != "" && sd.EncryptionType != types.EncryptionTypeNone {
		t.Errorf("DescribeStream: EncryptionType %q", sd.EncryptionType)
	}
	if sd.StreamModeDetails != nil && sd.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Errorf("DescribeStream: StreamMode %q", sd.StreamModeDetails.StreamMode)
	}
	checkShards(t, sd.Shards, 3)

	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary: %v", err)
	}
	ss := sum.StreamDescriptionSummary
	if aws.ToString(ss.StreamName) != name || aws.ToString(ss.StreamARN) != streamARN(name) ||
		ss.StreamStatus != types.StreamStatusActive || aws.ToInt32(ss.OpenShardCount) != 3 ||
		aws.ToInt32(ss.RetentionPeriodHours) != 24 || aws.ToInt32(ss.ConsumerCount) != 0 {
		t.Errorf("DescribeStreamSummary = name %q arn %q status %q open %d retention %d consumers %d",
			aws.ToString(ss.StreamName), aws.ToString(ss.StreamARN), ss.StreamStatus,
			aws.ToInt32(ss.OpenShardCount), aws.ToInt32(ss.RetentionPeriodHours), aws.ToInt32(ss.ConsumerCount))
	}
	if !aws.ToTime(ss.StreamCreationTimestamp).Equal(created) {
		t.Errorf("DescribeStreamSummary StreamCreationTimestamp %v != DescribeStream's %v", aws.ToTime(ss.StreamCreationTimestamp), created)
	}
	if ss.StreamModeDetails == nil || ss.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Errorf("DescribeStreamSummary StreamModeDetails = %+v, want PROVISIONED", ss.StreamModeDetails)
	}

	// Duplicate name.
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)})
	expectErr(t, err, "ResourceInUseException", "Stream "+name+" under account "+testAccount+" already exists.")

	ls, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if !slices.Equal(ls.StreamNames, []string{name}) || aws.ToBool(ls.HasMoreStreams) {
		t.Errorf("ListStreams = %v more=%v", ls.StreamNames, aws.ToBool(ls.HasMoreStreams))
	}

	// Delete, wait with the SDK's StreamNotExists waiter, then it is gone.
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	if err := kinesis.NewStreamNotExistsWaiter(c, notExistsFast).Wait(ctx,
		&kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("StreamNotExists waiter: %v", err)
	}
	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg(name))
	_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg(name))
	ls, err = c.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if len(ls.StreamNames) != 0 {
		t.Errorf("ListStreams after delete = %v", ls.StreamNames)
	}

	// The name can be used again after deletion.
	createStream(t, c, name, 1)
}

// checkShards asserts a new stream's shards: ids, even hash ranges, 56-digit
// starting sequence numbers, no parents and no ending sequence number.
func checkShards(t *testing.T, shards []types.Shard, n int) {
	t.Helper()
	if len(shards) != n {
		t.Fatalf("%d shards, want %d", len(shards), n)
	}
	ranges := evenRanges(n)
	for i, s := range shards {
		if aws.ToString(s.ShardId) != shardID(i) {
			t.Errorf("shard %d: id %q", i, aws.ToString(s.ShardId))
		}
		if s.HashKeyRange == nil || aws.ToString(s.HashKeyRange.StartingHashKey) != ranges[i][0].String() ||
			aws.ToString(s.HashKeyRange.EndingHashKey) != ranges[i][1].String() {
			t.Errorf("shard %d: HashKeyRange %+v, want [%s, %s]", i, s.HashKeyRange, ranges[i][0], ranges[i][1])
		}
		if s.SequenceNumberRange == nil {
			t.Errorf("shard %d: no SequenceNumberRange", i)
			continue
		}
		checkSeq(t, s.SequenceNumberRange.StartingSequenceNumber)
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			t.Errorf("shard %d: open shard has EndingSequenceNumber %s", i, *s.SequenceNumberRange.EndingSequenceNumber)
		}
		if s.ParentShardId != nil || s.AdjacentParentShardId != nil {
			t.Errorf("shard %d: unexpected parents", i)
		}
	}
}

// TestUnknownStream checks ResourceNotFoundException on every operation
// that names a stream, by name and by ARN.
func TestUnknownStream(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "no-such-stream"
	msg := notFoundMsg(name)
	for _, byARN := range []bool{false, true} {
		sn, sa := aws.String(name), (*string)(nil)
		if byARN {
			sn, sa = nil, aws.String(streamARN(name))
		}
		t.Run(fmt.Sprintf("byARN=%v", byARN), func(t *testing.T) {
			_, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: sn, StreamARN: sa})
			expectErr(t, err, "ResourceNotFoundException", msg)
			_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: sn, StreamARN: sa})
			expectErr(t, err, "ResourceNotFoundException", msg)
			_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: sn, StreamARN: sa})
			expectErr(t, err, "ResourceNotFoundException", msg)
			_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: sn, StreamARN: sa})
			expectErr(t, err, "ResourceNotFoundException", msg)
			_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: sn, StreamARN: sa, PartitionKey: aws.String("k"), Data: []byte("x")})
			expectErr(t, err, "ResourceNotFoundException", msg)
			_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: sn, StreamARN: sa,
				Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}}})
			expectErr(t, err, "ResourceNotFoundException", msg)
			_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: sn, StreamARN: sa,
				ShardId: aws.String(shardID(0)), ShardIteratorType: types.ShardIteratorTypeLatest})
			expectErrPrefix(t, err, "ResourceNotFoundException", "")
		})
	}
}

// TestValidationErrors checks Coral-style model validation messages.
func TestValidationErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	createStream(t, c, "valid", 1)

	_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("bad/name")})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value 'bad/name' at 'streamName' failed to satisfy constraint: "+
		"Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")

	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: "+
		"Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")

	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(string(long)), ShardCount: aws.Int32(1)})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '"+string(long)+"' at 'streamName' failed to satisfy constraint: "+
		"Member must have length less than or equal to 128")

	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("zero"), ShardCount: aws.Int32(0)})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "+
		"Member must have value greater than or equal to 1")

	badARN := "arn:aws:kinesis:us-east-1:123:stream/valid"
	_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(badARN)})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '"+badARN+"' at 'streamARN' failed to satisfy constraint: "+
		`Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\d{12}:stream/\S+`)

	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("valid"), Limit: aws.Int32(10001)})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "+
		"Member must have value less than or equal to 10000")

	// Two problems are counted and joined with "; ".
	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("bad/name"), Limit: aws.Int32(0)})
	ae := expectErrPrefix(t, err, "ValidationException", "2 validation errors detected: ")
	for _, part := range []string{
		"Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
		"Value 'bad/name' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
	} {
		if !strings.Contains(ae.ErrorMessage(), part) {
			t.Errorf("message %q lacks %q", ae.ErrorMessage(), part)
		}
	}

	// StreamName and StreamARN naming different streams.
	createStream(t, c, "other", 1)
	_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{
		StreamName: aws.String("valid"), StreamARN: aws.String(streamARN("other"))})
	apiErr(t, err, "InvalidArgumentException")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String("valid"), StreamARN: aws.String(streamARN("other")),
		PartitionKey: aws.String("k"), Data: []byte("x")})
	apiErr(t, err, "InvalidArgumentException")
}

// TestStreamARNAddressing runs every stream operation with StreamARN
// instead of StreamName.
func TestStreamARNAddressing(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "by-arn"
	arn := aws.String(streamARN(name))
	createStream(t, c, name, 2)

	ds, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamARN: arn})
	if err != nil {
		t.Fatalf("DescribeStream by ARN: %v", err)
	}
	if aws.ToString(ds.StreamDescription.StreamName) != name {
		t.Errorf("DescribeStream by ARN: name %q", aws.ToString(ds.StreamDescription.StreamName))
	}
	if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn}); err != nil {
		t.Fatalf("DescribeStreamSummary by ARN: %v", err)
	}
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: arn})
	if err != nil {
		t.Fatalf("ListShards by ARN: %v", err)
	}
	checkShards(t, ls.Shards, 2)

	pr, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("a"), Data: []byte("one"),
		ExplicitHashKey: aws.String("0")})
	if err != nil {
		t.Fatalf("PutRecord by ARN: %v", err)
	}
	prs, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: arn, Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: []byte("two"), ExplicitHashKey: aws.String("0")}}})
	if err != nil {
		t.Fatalf("PutRecords by ARN: %v", err)
	}
	if aws.ToInt32(prs.FailedRecordCount) != 0 || len(prs.Records) != 1 || aws.ToString(prs.Records[0].ShardId) != shardID(0) {
		t.Fatalf("PutRecords by ARN: %+v", prs)
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamARN: arn, ShardId: aws.String(shardID(0)),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("GetShardIterator by ARN: %v", err)
	}
	gr, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{StreamARN: arn, ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("GetRecords with StreamARN: %v", err)
	}
	if len(gr.Records) != 2 || string(gr.Records[0].Data) != "one" || string(gr.Records[1].Data) != "two" ||
		aws.ToString(gr.Records[0].SequenceNumber) != aws.ToString(pr.SequenceNumber) ||
		aws.ToString(gr.Records[1].SequenceNumber) != aws.ToString(prs.Records[0].SequenceNumber) {
		t.Errorf("GetRecords by ARN returned %d records", len(gr.Records))
	}
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamARN: arn}); err != nil {
		t.Fatalf("DeleteStream by ARN: %v", err)
	}
	if err := kinesis.NewStreamNotExistsWaiter(c, notExistsFast).Wait(ctx,
		&kinesis.DescribeStreamInput{StreamARN: arn}, 30*time.Second); err != nil {
		t.Fatalf("StreamNotExists waiter by ARN: %v", err)
	}
	_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg(name))
}

// TestDescribeStreamPagination pages DescribeStream's shards with Limit and
// ExclusiveStartShardId.
func TestDescribeStreamPagination(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "pages"
	createStream(t, c, name, 5)

	var got []types.Shard
	var start *string
	for page := 0; ; page++ {
		out, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name), Limit: aws.Int32(2), ExclusiveStartShardId: start})
		if err != nil {
			t.Fatalf("DescribeStream page %d: %v", page, err)
		}
		sd := out.StreamDescription
		wantN := 2
		if page == 2 {
			wantN = 1
		}
		if len(sd.Shards) != wantN {
			t.Fatalf("page %d: %d shards, want %d", page, len(sd.Shards), wantN)
		}
		got = append(got, sd.Shards...)
		if wantMore := page < 2; aws.ToBool(sd.HasMoreShards) != wantMore {
			t.Fatalf("page %d: HasMoreShards %v, want %v", page, aws.ToBool(sd.HasMoreShards), wantMore)
		}
		if !aws.ToBool(sd.HasMoreShards) {
			break
		}
		start = sd.Shards[len(sd.Shards)-1].ShardId
	}
	checkShards(t, got, 5)

	// Default Limit returns them all.
	out, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStream: %v", err)
	}
	checkShards(t, out.StreamDescription.Shards, 5)
	if aws.ToBool(out.StreamDescription.HasMoreShards) {
		t.Errorf("HasMoreShards true with default Limit")
	}
	// The SDK's DescribeStream paginator follows HasMoreShards.
	var viaPager []types.Shard
	p := kinesis.NewDescribeStreamPaginator(c, &kinesis.DescribeStreamInput{StreamName: aws.String(name), Limit: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeStream paginator: %v", err)
		}
		viaPager = append(viaPager, page.StreamDescription.Shards...)
	}
	checkShards(t, viaPager, 5)

	// ExclusiveStartShardId of the last shard gives an empty page.
	out, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name), ExclusiveStartShardId: aws.String(shardID(4))})
	if err != nil {
		t.Fatalf("DescribeStream after last: %v", err)
	}
	if len(out.StreamDescription.Shards) != 0 || aws.ToBool(out.StreamDescription.HasMoreShards) {
		t.Errorf("after last shard: %d shards, more=%v", len(out.StreamDescription.Shards), aws.ToBool(out.StreamDescription.HasMoreShards))
	}
}

// TestListStreamsPagination pages ListStreams with Limit, NextToken and
// ExclusiveStartStreamName, and checks StreamSummaries.
func TestListStreamsPagination(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	names := []string{"ls-a", "ls-b", "ls-c", "ls-d", "ls-e"}
	// Create out of order; listing is lexicographic.
	for _, i := range []int{3, 0, 4, 1, 2} {
		createStream(t, c, names[i], 1)
	}

	var got []string
	var token *string
	for page := 0; page < 10; page++ {
		in := &kinesis.ListStreamsInput{Limit: aws.Int32(2)}
		if token != nil {
			in = &kinesis.ListStreamsInput{NextToken: token, Limit: aws.Int32(2)}
		}
		out, err := c.ListStreams(ctx, in)
		if err != nil {
			t.Fatalf("ListStreams page %d: %v", page, err)
		}
		if page < 2 && (len(out.StreamNames) != 2 || !aws.ToBool(out.HasMoreStreams) || out.NextToken == nil) {
			t.Fatalf("page %d: names %v more %v token %v", page, out.StreamNames, aws.ToBool(out.HasMoreStreams), out.NextToken != nil)
		}
		if len(out.StreamSummaries) != len(out.StreamNames) {
			t.Fatalf("page %d: %d summaries for %d names", page, len(out.StreamSummaries), len(out.StreamNames))
		}
		for i, s := range out.StreamSummaries {
			if aws.ToString(s.StreamName) != out.StreamNames[i] || aws.ToString(s.StreamARN) != streamARN(out.StreamNames[i]) ||
				s.StreamStatus != types.StreamStatusActive || s.StreamCreationTimestamp == nil ||
				s.StreamModeDetails == nil || s.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
				t.Errorf("summary %+v", s)
			}
		}
		got = append(got, out.StreamNames...)
		if !aws.ToBool(out.HasMoreStreams) {
			break
		}
		token = out.NextToken
	}
	if !slices.Equal(got, names) {
		t.Errorf("ListStreams pages = %v, want %v", got, names)
	}

	out, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String("ls-b"), Limit: aws.Int32(10)})
	if err != nil {
		t.Fatalf("ListStreams ExclusiveStartStreamName: %v", err)
	}
	if !slices.Equal(out.StreamNames, names[2:]) || aws.ToBool(out.HasMoreStreams) {
		t.Errorf("ListStreams after ls-b = %v more=%v", out.StreamNames, aws.ToBool(out.HasMoreStreams))
	}

	// The SDK paginator walks the same pages.
	var all []string
	p := kinesis.NewListStreamsPaginator(c, &kinesis.ListStreamsInput{Limit: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("paginator: %v", err)
		}
		all = append(all, page.StreamNames...)
	}
	if !slices.Equal(all, names) {
		t.Errorf("ListStreams paginator = %v", all)
	}
}

// TestListShards covers MaxResults, NextToken, ExclusiveStartShardId and
// every ShardFilter type on a stream that has not been resharded.
func TestListShards(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "shards"
	createStream(t, c, name, 5)

	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	checkShards(t, out.Shards, 5)
	if out.NextToken != nil {
		t.Errorf("ListShards with all shards returned NextToken")
	}

	// MaxResults + NextToken.
	var paged []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(name), MaxResults: aws.Int32(2)}
	for i := 0; i < 10; i++ {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			t.Fatalf("ListShards page %d: %v", i, err)
		}
		if len(out.Shards) > 2 {
			t.Fatalf("page %d: %d shards for MaxResults 2", i, len(out.Shards))
		}
		paged = append(paged, out.Shards...)
		if out.NextToken == nil {
			break
		}
		// NextToken together with StreamName is rejected.
		if i == 0 {
			_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), NextToken: out.NextToken})
			expectErr(t, err, "InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(2)}
	}
	checkShards(t, paged, 5)

	ids := func(shards []types.Shard) []string {
		var s []string
		for _, sh := range shards {
			s = append(s, aws.ToString(sh.ShardId))
		}
		return s
	}
	allIDs := []string{shardID(0), shardID(1), shardID(2), shardID(3), shardID(4)}

	out, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), ExclusiveStartShardId: aws.String(shardID(1))})
	if err != nil {
		t.Fatalf("ListShards ExclusiveStartShardId: %v", err)
	}
	if got := ids(out.Shards); !slices.Equal(got, allIDs[2:]) {
		t.Errorf("ExclusiveStartShardId shardId-1: %v", got)
	}

	now := time.Now()
	filters := []struct {
		f    types.ShardFilter
		want []string
	}{
		{types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, allIDs},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, allIDs},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, allIDs},
		{types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(shardID(2))}, allIDs[3:]},
		{types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(now)}, allIDs},
		{types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(now)}, allIDs},
	}
	for _, f := range filters {
		out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), ShardFilter: &f.f})
		if err != nil {
			t.Errorf("ListShards filter %s: %v", f.f.Type, err)
			continue
		}
		if got := ids(out.Shards); !slices.Equal(got, f.want) {
			t.Errorf("ListShards filter %s = %v, want %v", f.f.Type, got, f.want)
		}
	}
	// AFTER_SHARD_ID needs a ShardId; AT_TIMESTAMP needs a Timestamp.
	_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId}})
	expectErrOneOf(t, err, "InvalidArgumentException", "ValidationException")
	_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp}})
	expectErrOneOf(t, err, "InvalidArgumentException", "ValidationException")

}

// TestStateDelay starts a server with --state-delay 2s: a new stream is
// CREATING, the SDK waiter sees it become ACTIVE, and deletion goes through
// DELETING.
func TestStateDelay(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--state-delay", "2s")
	c := srv.client()
	ctx := context.Background()
	const name = "slow"
	start := time.Now()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary: %v", err)
	}
	if st := sum.StreamDescriptionSummary.StreamStatus; st != types.StreamStatusCreating {
		t.Errorf("status right after CreateStream = %s, want CREATING", st)
	}
	ls, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if len(ls.StreamSummaries) != 1 || ls.StreamSummaries[0].StreamStatus != types.StreamStatusCreating {
		t.Errorf("ListStreams summaries while creating = %+v", ls.StreamSummaries)
	}
	out, err := kinesis.NewStreamExistsWaiter(c, waiterFast).WaitForOutput(ctx,
		&kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second)
	if err != nil {
		t.Fatalf("StreamExists waiter: %v", err)
	}
	if el := time.Since(start); el < 1500*time.Millisecond {
		t.Errorf("stream ACTIVE after %v, want about 2s", el)
	}
	if out.StreamDescription.StreamStatus != types.StreamStatusActive {
		t.Errorf("waiter returned status %s", out.StreamDescription.StreamStatus)
	}

	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	sum, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary while deleting: %v", err)
	}
	if st := sum.StreamDescriptionSummary.StreamStatus; st != types.StreamStatusDeleting {
		t.Errorf("status right after DeleteStream = %s, want DELETING", st)
	}
	if err := kinesis.NewStreamNotExistsWaiter(c, notExistsFast).Wait(ctx,
		&kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("StreamNotExists waiter: %v", err)
	}
	_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	expectErr(t, err, "ResourceNotFoundException", notFoundMsg(name))
}
