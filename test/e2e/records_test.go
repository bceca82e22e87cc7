package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestPutRecordRouting checks MD5 partition-key routing, ExplicitHashKey
// routing at range boundaries, and per-shard sequence-number order.
func TestPutRecordRouting(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "routing"
	createStream(t, c, name, 3)
	shards := listAllShards(t, c, name)
	ranges := evenRanges(3)

	lastSeq := map[string]*big.Int{}
	check := func(what string, out *kinesis.PutRecordOutput, wantShard string) {
		t.Helper()
		if got := aws.ToString(out.ShardId); got != wantShard {
			t.Errorf("%s: ShardId %s, want %s", what, got, wantShard)
		}
		v := checkSeq(t, out.SequenceNumber)
		if prev := lastSeq[wantShard]; prev != nil && prev.Cmp(v) >= 0 {
			t.Errorf("%s: sequence number %s not greater than previous %s on %s", what, v, prev, wantShard)
		}
		lastSeq[wantShard] = v
		if out.EncryptionType != "" && out.EncryptionType != types.EncryptionTypeNone {
			t.Errorf("%s: EncryptionType %q", what, out.EncryptionType)
		}
	}

	// MD5 routing: enough keys to hit every shard.
	hit := map[string]int{}
	for i := 0; i < 60; i++ {
		key := fmt.Sprintf("key-%d", i)
		want := shardForKey(t, shards, hashKey(key))
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte(key)})
		if err != nil {
			t.Fatalf("PutRecord %s: %v", key, err)
		}
		check("PutRecord "+key, out, want)
		hit[want]++
	}
	if len(hit) != 3 {
		t.Errorf("60 keys hit only shards %v", hit)
	}
	// Multi-byte UTF-8 keys are hashed over their UTF-8 bytes.
	for _, key := range []string{"ключ", "\u65e5\u672c", "e\u0301"} {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte("u")})
		if err != nil {
			t.Fatalf("PutRecord %q: %v", key, err)
		}
		check("PutRecord "+key, out, shardForKey(t, shards, hashKey(key)))
	}

	// ExplicitHashKey wins over the partition key, at every boundary.
	one := big.NewInt(1)
	cases := []struct {
		hk    *big.Int
		shard string
	}{
		{big.NewInt(0), shardID(0)},
		{ranges[0][1], shardID(0)},
		{ranges[1][0], shardID(1)},
		{new(big.Int).Sub(ranges[2][0], one), shardID(1)},
		{ranges[2][0], shardID(2)},
		{maxHashKey, shardID(2)},
	}
	for _, tc := range cases {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("ignored"),
			ExplicitHashKey: aws.String(tc.hk.String()), Data: []byte("e")})
		if err != nil {
			t.Fatalf("PutRecord ExplicitHashKey %s: %v", tc.hk, err)
		}
		check("ExplicitHashKey "+tc.hk.String(), out, tc.shard)
	}
	tooBig := new(big.Int).Add(maxHashKey, one).String()
	_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"),
		ExplicitHashKey: aws.String(tooBig), Data: []byte("e")})
	expectErr(t, err, "InvalidArgumentException",
		"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was "+tooBig)
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"),
		ExplicitHashKey: aws.String("12x"), Data: []byte("e")})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '12x' at 'explicitHashKey' failed to satisfy constraint: "+
		`Member must satisfy regular expression pattern: 0|([1-9]\d{0,38})`)

	// Everything written can be read back in order on its shard.
	for _, s := range shards {
		recs := readShard(t, c, name, aws.ToString(s.ShardId))
		checkOrdered(t, recs)
		if n := len(recs); n == 0 {
			t.Errorf("%s: no records", aws.ToString(s.ShardId))
		} else if got := checkSeq(t, recs[n-1].SequenceNumber); got.Cmp(lastSeq[aws.ToString(s.ShardId)]) != 0 {
			t.Errorf("%s: last record %s, want last put %s", aws.ToString(s.ShardId), got, lastSeq[aws.ToString(s.ShardId)])
		}
	}
}

// TestSequenceNumberForOrdering puts with SequenceNumberForOrdering set to
// the previous record's number.
func TestSequenceNumberForOrdering(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "ordering"
	createStream(t, c, name, 2)

	var prev *string
	var seqs []string
	for i := 0; i < 10; i++ {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("same-key"),
			Data: []byte(fmt.Sprint(i)), SequenceNumberForOrdering: prev})
		if err != nil {
			t.Fatalf("PutRecord %d: %v", i, err)
		}
		checkSeq(t, out.SequenceNumber)
		if prev != nil && !seqLess(*prev, *out.SequenceNumber) {
			t.Fatalf("record %d: %s not greater than SequenceNumberForOrdering %s", i, *out.SequenceNumber, *prev)
		}
		prev = out.SequenceNumber
		seqs = append(seqs, *out.SequenceNumber)
	}
	_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"),
		Data: []byte("x"), SequenceNumberForOrdering: aws.String("12ab")})
	expectErrPrefix(t, err, "ValidationException", "1 validation error detected: Value '12ab' at 'sequenceNumberForOrdering' failed to satisfy constraint: ")
}

// TestPutRecords checks per-record results, FailedRecordCount 0, MD5
// routing, order within one call, and read-back.
func TestPutRecords(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "batch"
	createStream(t, c, name, 4)
	shards := listAllShards(t, c, name)

	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 500; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("pk-%d", i%37)),
			Data:         []byte(fmt.Sprintf("record-%03d", i)),
		})
	}
	// One entry with an explicit hash key into the last shard.
	entries[7].ExplicitHashKey = aws.String(maxHashKey.String())

	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if out.FailedRecordCount == nil || *out.FailedRecordCount != 0 {
		t.Errorf("FailedRecordCount = %v, want 0 (AWS sends 0)", out.FailedRecordCount)
	}
	if len(out.Records) != len(entries) {
		t.Fatalf("%d results for %d entries", len(out.Records), len(entries))
	}
	want := map[string][]string{} // shard -> data in put order
	seqOf := map[string]string{}  // data -> seq
	last := map[string]*big.Int{}
	for i, r := range out.Records {
		if r.ErrorCode != nil || r.ErrorMessage != nil {
			t.Errorf("entry %d failed: %s %s", i, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			continue
		}
		var wantShard string
		if i == 7 {
			wantShard = shardID(3)
		} else {
			wantShard = shardForKey(t, shards, hashKey(aws.ToString(entries[i].PartitionKey)))
		}
		if aws.ToString(r.ShardId) != wantShard {
			t.Errorf("entry %d: ShardId %s, want %s", i, aws.ToString(r.ShardId), wantShard)
		}
		v := checkSeq(t, r.SequenceNumber)
		// Within one call, entries for one shard get increasing numbers in request order.
		if p := last[wantShard]; p != nil && p.Cmp(v) >= 0 {
			t.Errorf("entry %d: sequence %s not above earlier entry's %s on the same shard", i, v, p)
		}
		last[wantShard] = v
		want[wantShard] = append(want[wantShard], string(entries[i].Data))
		seqOf[string(entries[i].Data)] = aws.ToString(r.SequenceNumber)
	}

	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		recs := readShard(t, c, name, id)
		checkOrdered(t, recs)
		if len(recs) != len(want[id]) {
			t.Errorf("%s: read %d records, want %d", id, len(recs), len(want[id]))
			continue
		}
		for i, r := range recs {
			if string(r.Data) != want[id][i] || aws.ToString(r.SequenceNumber) != seqOf[want[id][i]] {
				t.Errorf("%s record %d: %q seq %s, want %q seq %s", id, i, r.Data, aws.ToString(r.SequenceNumber), want[id][i], seqOf[want[id][i]])
			}
		}
	}
}

// TestRecordLimits checks the record-size limit (1 MiB including the
// partition key), the 500-record limit, and empty PutRecords.
func TestRecordLimits(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "limits"
	createStream(t, c, name, 1)
	const mib = 1 << 20

	// Exactly 1 MiB of key plus data is accepted.
	key := "k1"
	data := bytes.Repeat([]byte{0xab}, mib-len(key))
	out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: data})
	if err != nil {
		t.Fatalf("PutRecord of exactly 1 MiB (key+data): %v", err)
	}
	checkSeq(t, out.SequenceNumber)

	// One byte more, counting the key, is rejected.
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key),
		Data: bytes.Repeat([]byte{0xab}, mib-len(key)+1)})
	expectErrOneOf(t, err, "ValidationException", "InvalidArgumentException")

	// Data alone over 1 MiB.
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key),
		Data: bytes.Repeat([]byte{0xab}, mib+1)})
	expectErrOneOf(t, err, "ValidationException", "InvalidArgumentException")

	// In PutRecords an oversize entry fails the whole request.
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: []byte("small")},
		{PartitionKey: aws.String(key), Data: bytes.Repeat([]byte{0xab}, mib)},
	}})
	expectErrOneOf(t, err, "ValidationException", "InvalidArgumentException")

	// 501 records.
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 501; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("p"), Data: []byte("d")})
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	ae := expectErrPrefix(t, err, "ValidationException", "1 validation error detected: Value '")
	if !strings.HasSuffix(ae.ErrorMessage(), "' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500") {
		t.Errorf("501 records message %q", ae.ErrorMessage())
	}

	// Zero records.
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: []types.PutRecordsRequestEntry{}})
	expectErrPrefix(t, err, "ValidationException", "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1")

	// Partition key too long (257 characters).
	longKey := strings.Repeat("p", 257)
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(longKey), Data: []byte("x")})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '"+longKey+"' at 'partitionKey' failed to satisfy constraint: "+
		"Member must have length less than or equal to 256")

	// Empty data is a valid record.
	out, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("e"), Data: []byte{}})
	if err != nil {
		t.Fatalf("PutRecord with empty Data: %v", err)
	}
	recs := readShard(t, c, name, shardID(0))
	if len(recs) != 2 || len(recs[0].Data) != mib-len(key) || len(recs[1].Data) != 0 ||
		aws.ToString(recs[1].SequenceNumber) != aws.ToString(out.SequenceNumber) {
		t.Errorf("read back %d records", len(recs))
	}
}

// TestShardIteratorTypes exercises all five iterator types, AT_TIMESTAMP by
// arrival time, and the iterator errors.
func TestShardIteratorTypes(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "iters"
	createStream(t, c, name, 2)

	put := func(i int) string {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("p"),
			ExplicitHashKey: aws.String("0"), Data: []byte(fmt.Sprintf("r%d", i))})
		if err != nil {
			t.Fatalf("PutRecord %d: %v", i, err)
		}
		if aws.ToString(out.ShardId) != shardID(0) {
			t.Fatalf("PutRecord %d went to %s", i, aws.ToString(out.ShardId))
		}
		return aws.ToString(out.SequenceNumber)
	}
	var seqs []string
	for i := 0; i < 3; i++ {
		seqs = append(seqs, put(i))
	}
	first := readShard(t, c, name, shardID(0))
	if len(first) != 3 {
		t.Fatalf("read %d records, want 3", len(first))
	}
	t2 := aws.ToTime(first[2].ApproximateArrivalTimestamp)
	if d := time.Since(t2); d < -2*time.Second || d > 30*time.Second {
		t.Errorf("ApproximateArrivalTimestamp %v not near now", t2)
	}
	// Records 3 and 4 arrive strictly later (millisecond precision) than 0..2.
	waitClockPast(t, t2, 20*time.Millisecond)
	for i := 3; i < 5; i++ {
		seqs = append(seqs, put(i))
	}
	all := readShard(t, c, name, shardID(0))
	if len(all) != 5 {
		t.Fatalf("read %d records, want 5", len(all))
	}
	var prevTS time.Time
	for i, r := range all {
		if aws.ToString(r.SequenceNumber) != seqs[i] || string(r.Data) != fmt.Sprintf("r%d", i) || aws.ToString(r.PartitionKey) != "p" {
			t.Errorf("record %d = %s %q %q", i, aws.ToString(r.SequenceNumber), r.Data, aws.ToString(r.PartitionKey))
		}
		ts := aws.ToTime(r.ApproximateArrivalTimestamp)
		if ts.Before(prevTS) {
			t.Errorf("record %d arrival %v before previous %v", i, ts, prevTS)
		}
		prevTS = ts
	}
	t3 := aws.ToTime(all[3].ApproximateArrivalTimestamp)
	if !t3.After(t2) {
		t.Fatalf("record 3 arrival %v not after record 2's %v", t3, t2)
	}

	data := func(recs []types.Record) string {
		var s []string
		for _, r := range recs {
			s = append(s, string(r.Data))
		}
		return strings.Join(s, ",")
	}
	base := kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(0))}
	withType := func(typ types.ShardIteratorType, mod func(*kinesis.GetShardIteratorInput)) *kinesis.GetShardIteratorInput {
		in := base
		in.ShardIteratorType = typ
		if mod != nil {
			mod(&in)
		}
		return &in
	}
	cases := []struct {
		name string
		in   *kinesis.GetShardIteratorInput
		want string
	}{
		{"TRIM_HORIZON", withType(types.ShardIteratorTypeTrimHorizon, nil), "r0,r1,r2,r3,r4"},
		{"AT_SEQUENCE_NUMBER", withType(types.ShardIteratorTypeAtSequenceNumber, func(in *kinesis.GetShardIteratorInput) {
			in.StartingSequenceNumber = aws.String(seqs[2])
		}), "r2,r3,r4"},
		{"AFTER_SEQUENCE_NUMBER", withType(types.ShardIteratorTypeAfterSequenceNumber, func(in *kinesis.GetShardIteratorInput) {
			in.StartingSequenceNumber = aws.String(seqs[2])
		}), "r3,r4"},
		{"AFTER_SEQUENCE_NUMBER last", withType(types.ShardIteratorTypeAfterSequenceNumber, func(in *kinesis.GetShardIteratorInput) {
			in.StartingSequenceNumber = aws.String(seqs[4])
		}), ""},
		{"AT_TIMESTAMP record 3", withType(types.ShardIteratorTypeAtTimestamp, func(in *kinesis.GetShardIteratorInput) {
			in.Timestamp = aws.Time(t3)
		}), "r3,r4"},
		{"AT_TIMESTAMP before all", withType(types.ShardIteratorTypeAtTimestamp, func(in *kinesis.GetShardIteratorInput) {
			in.Timestamp = aws.Time(time.Now().Add(-time.Hour))
		}), "r0,r1,r2,r3,r4"},
		{"LATEST", withType(types.ShardIteratorTypeLatest, nil), ""},
	}
	for _, tc := range cases {
		got := data(readFrom(t, c, iterator(t, c, tc.in)))
		if got != tc.want {
			t.Errorf("%s: read %q, want %q", tc.name, got, tc.want)
		}
	}

	// LATEST then a new record: the iterator sees only the new one.
	latest := iterator(t, c, withType(types.ShardIteratorTypeLatest, nil))
	seqs = append(seqs, put(5))
	if got := data(readFrom(t, c, latest)); got != "r5" {
		t.Errorf("LATEST then put: read %q, want r5", got)
	}

	// Errors.
	_, err := c.GetShardIterator(ctx, withType("BOGUS", nil))
	ae := expectErrPrefix(t, err, "ValidationException",
		"1 validation error detected: Value 'BOGUS' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [")
	for _, typ := range []string{"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"} {
		if !strings.Contains(ae.ErrorMessage(), typ) {
			t.Errorf("enum message %q lacks %s", ae.ErrorMessage(), typ)
		}
	}
	_, err = c.GetShardIterator(ctx, withType(types.ShardIteratorTypeAtSequenceNumber, nil))
	expectErr(t, err, "InvalidArgumentException", "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "+
		"(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.")
	_, err = c.GetShardIterator(ctx, withType(types.ShardIteratorTypeTrimHorizon, func(in *kinesis.GetShardIteratorInput) {
		in.StartingSequenceNumber = aws.String(seqs[0])
	}))
	expectErr(t, err, "InvalidArgumentException", "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "+
		"(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified TRIM_HORIZON and also a StartingSequenceNumber.")
	_, err = c.GetShardIterator(ctx, withType(types.ShardIteratorTypeAtTimestamp, nil))
	expectErr(t, err, "InvalidArgumentException",
		"Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")

	// A sequence number from shard 1 used on shard 0.
	other, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("p"),
		ExplicitHashKey: aws.String(maxHashKey.String()), Data: []byte("other")})
	if err != nil {
		t.Fatalf("PutRecord to shard 1: %v", err)
	}
	if aws.ToString(other.ShardId) != shardID(1) {
		t.Fatalf("max hash key went to %s", aws.ToString(other.ShardId))
	}
	_, err = c.GetShardIterator(ctx, withType(types.ShardIteratorTypeAtSequenceNumber, func(in *kinesis.GetShardIteratorInput) {
		in.StartingSequenceNumber = other.SequenceNumber
	}))
	expectErr(t, err, "InvalidArgumentException", "Invalid StartingSequenceNumber. It encodes "+shardID(1)+
		", while it was used in a call to a shard with "+shardID(0))

	// Unknown shard.
	_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(9)),
		ShardIteratorType: types.ShardIteratorTypeLatest})
	expectErr(t, err, "ResourceNotFoundException", "Shard "+shardID(9)+" in stream "+name+" under account "+testAccount+" does not exist")
}

// TestGetRecords checks Limit, NextShardIterator chaining, MillisBehindLatest
// and bad iterators.
func TestGetRecords(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := srv.client()
	ctx := context.Background()
	const name = "getrecords"
	createStream(t, c, name, 1)

	put := func(s string) {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("p"), Data: []byte(s)}); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
	}
	put("a")
	recs := readShard(t, c, name, shardID(0))
	waitClockPast(t, aws.ToTime(recs[0].ApproximateArrivalTimestamp), 100*time.Millisecond)
	for _, s := range []string{"b", "c", "d", "e"} {
		put(s)
	}

	it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(0)),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
	if err != nil {
		t.Fatalf("GetRecords Limit 1: %v", err)
	}
	if len(out.Records) != 1 || string(out.Records[0].Data) != "a" {
		t.Fatalf("Limit 1: %d records", len(out.Records))
	}
	if out.NextShardIterator == nil {
		t.Fatalf("no NextShardIterator")
	}
	if mbl := aws.ToInt64(out.MillisBehindLatest); out.MillisBehindLatest == nil || mbl <= 0 {
		t.Errorf("MillisBehindLatest after the first of 5 records (100ms apart) = %v, want > 0", out.MillisBehindLatest)
	}
	if len(out.ChildShards) != 0 {
		t.Errorf("ChildShards on an open shard: %+v", out.ChildShards)
	}
	out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator, Limit: aws.Int32(3)})
	if err != nil {
		t.Fatalf("GetRecords Limit 3: %v", err)
	}
	if len(out.Records) != 3 || string(out.Records[0].Data) != "b" || string(out.Records[2].Data) != "d" {
		t.Fatalf("Limit 3: %d records", len(out.Records))
	}
	out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	if err != nil {
		t.Fatalf("GetRecords rest: %v", err)
	}
	if len(out.Records) != 1 || string(out.Records[0].Data) != "e" {
		t.Fatalf("rest: %d records", len(out.Records))
	}
	if aws.ToInt64(out.MillisBehindLatest) != 0 {
		t.Errorf("MillisBehindLatest at the tip = %d, want 0", aws.ToInt64(out.MillisBehindLatest))
	}
	// At the tip: empty page, a fresh iterator, still 0 behind.
	out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	if err != nil {
		t.Fatalf("GetRecords at tip: %v", err)
	}
	if len(out.Records) != 0 || out.NextShardIterator == nil || aws.ToInt64(out.MillisBehindLatest) != 0 {
		t.Errorf("at tip: %d records, next %v, behind %d", len(out.Records), out.NextShardIterator != nil, aws.ToInt64(out.MillisBehindLatest))
	}
	// An iterator can be used more than once.
	again, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(2)})
	if err != nil {
		t.Fatalf("GetRecords reusing an iterator: %v", err)
	}
	if len(again.Records) != 2 || string(again.Records[0].Data) != "a" {
		t.Errorf("reused iterator: %d records", len(again.Records))
	}

	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(10001)})
	expectErr(t, err, "ValidationException", "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "+
		"Member must have value less than or equal to 10000")
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAAAAAAAAEnotarealiteratoratall0000000000000000000000000000000000000000000000000000=")})
	expectErrPrefix(t, err, "InvalidArgumentException", "Invalid ShardIterator")
	// A tampered iterator is rejected, not decoded.
	tampered := []byte(it)
	mid := len(tampered) / 2
	if tampered[mid] == 'A' {
		tampered[mid] = 'B'
	} else {
		tampered[mid] = 'A'
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(string(tampered))})
	expectErrPrefix(t, err, "InvalidArgumentException", "Invalid ShardIterator")
}

// TestExpiredIterator uses the test-only --iterator-ttl flag so an iterator
// expires in a second instead of five minutes.
func TestExpiredIterator(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--iterator-ttl", "1s")
	c := srv.client()
	ctx := context.Background()
	const name = "expiry"
	createStream(t, c, name, 1)
	it := iterator(t, c, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shardID(0)),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	issued := time.Now()
	deadline := issued.Add(15 * time.Second)
	for {
		_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			ae := apiErr(t, err, "ExpiredIteratorException")
			// AWS's text, with Java Date.toString times (kinesalite's tests).
			re := regexp.MustCompile(`^Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} ` +
				`while right now it is \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} ` +
				`which is further in the future than the tolerated delay of 1000 milliseconds\.$`)
			if !re.MatchString(ae.ErrorMessage()) {
				t.Errorf("ExpiredIteratorException message %q does not match %s", ae.ErrorMessage(), re)
			}
			if el := time.Since(issued); el < 900*time.Millisecond {
				t.Errorf("iterator expired after %v with a 1s TTL", el)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("iterator still valid %v after issue with --iterator-ttl 1s", time.Since(issued))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
