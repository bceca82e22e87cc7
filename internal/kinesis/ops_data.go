package kinesis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
	"github.com/sluicedata/sluice/internal/freelist"
)

// Record and request size limits (AWS defaults).
const (
	defaultMaxRecordBytes  = 1 << 20  // partition key plus data, before base64
	modelMaxDataBytes      = 10 << 20 // the model's Data blob maximum
	maxPutRecordsCount     = 500
	maxPutRecordsBytes     = 5 << 20  // sum over a PutRecords call, default streams
	maxPutRecordsBytesHigh = 10 << 20 // for streams with MaxRecordSizeInKiB above 1024
)

// maxRecordBytes returns the record size limit of the stream ref names,
// or the default when it names no stream (the call then fails later with
// the right error, after validation as on AWS).
func (s *Service) maxRecordBytes(r *Request, ref *streamRef) int {
	name := deref(ref.StreamName)
	if name == "" && ref.StreamARN != nil {
		name, _ = s.parseStreamARN(r, *ref.StreamARN)
	}
	if name == "" {
		return defaultMaxRecordBytes
	}
	n, err := s.eng.MaxRecordBytes(name)
	if err != nil {
		return defaultMaxRecordBytes
	}
	return n
}

func init() {
	register(map[string]handler{
		"PutRecord":        (*Service).putRecord,
		"PutRecords":       (*Service).putRecords,
		"GetShardIterator": (*Service).getShardIterator,
		"GetRecords":       (*Service).getRecords,
	})
}

func dryRunError() error {
	return awsproto.Errorf("DryRunOperationException", "Request would have succeeded, but DryRun flag is set.")
}

func (s *Service) putRecord(r *Request) (any, error) {
	var in putRecordInput
	var maxBytes int // the stream's record limit: known once the body is decoded
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		maxBytes = s.maxRecordBytes(r, &in.streamRef)
		v.str("sequenceNumberForOrdering", in.SequenceNumberForOrdering, ruleSeqNum)
		v.str("partitionKey", in.PartitionKey, rulePartitionKey)
		v.str("explicitHashKey", in.ExplicitHashKey, ruleHashKey)
		v.blob("data", in.Data, true, min(maxBytes, modelMaxDataBytes))
		v.streamRef(&in.streamRef)
	})
	if err != nil {
		return nil, err
	}
	if err := checkRecordSize(len(in.Data), *in.PartitionKey, maxBytes); err != nil {
		return nil, err
	}
	entry := engine.PutEntry{PartitionKey: *in.PartitionKey, Data: in.Data, ExplicitHashKey: deref(in.ExplicitHashKey)}
	if in.DryRun != nil && *in.DryRun {
		if _, err := s.eng.DescribeStream(name); err != nil {
			return nil, err
		}
		return nil, dryRunError()
	}
	res, err := s.eng.PutRecord(name, entry, deref(in.SequenceNumberForOrdering))
	if err != nil {
		return nil, err
	}
	return putRecordOutput{ShardId: res.ShardID, SequenceNumber: res.SequenceNumber, EncryptionType: encryptionType(res.Encrypted)}, nil
}

// encryptionType is a record's or a write's EncryptionType member: KMS
// for records written while the stream was encrypted, else absent, as
// AWS answers for a stream that never was.
func encryptionType(encrypted bool) string {
	if encrypted {
		return engine.EncryptionKMS
	}
	return ""
}

// checkRecordSize applies the limit on partition key plus data, which the
// model's per-member limits cannot express.
func checkRecordSize(dataBytes int, partitionKey string, maxBytes int) error {
	if n := dataBytes + len(partitionKey); n > maxBytes {
		return awsproto.Errorf("InvalidArgumentException",
			"Record size (partition key plus data) of %d bytes exceeds the limit of %d bytes.", n, maxBytes)
	}
	return nil
}

func (s *Service) putRecords(r *Request) (any, error) {
	var in putRecordsInput
	var maxBytes int // the stream's record limit: known once the body is decoded
	check := func(v *validator) {
		maxBytes = s.maxRecordBytes(r, &in.streamRef)
		v.putRecordsEntries(in.Records, maxBytes)
		v.streamRef(&in.streamRef)
	}
	var name string
	var err error
	sc := getPutScratch()
	defer sc.release() // after the engine's PutRecords: it keeps no entry
	if fast := r.Protocol == awsproto.JSON && fastPutRecords(r.Body, &in, sc) ||
		r.Protocol == awsproto.CBOR && fastPutRecordsCBOR(r.Body, &in, sc); fast {
		name, err = s.checkStream(r, &in.streamRef, check)
	} else {
		name, err = s.decodeStream(r, &in, &in.streamRef, check)
	}
	if err != nil {
		return nil, err
	}
	total, limit := 0, maxPutRecordsBytes
	if maxBytes > defaultMaxRecordBytes {
		limit = maxPutRecordsBytesHigh
	}
	sc.entries = grow(sc.entries, len(in.Records))
	entries := sc.entries
	for i, rec := range in.Records {
		if err := checkRecordSize(len(rec.Data), *rec.PartitionKey, maxBytes); err != nil {
			return nil, err
		}
		total += len(rec.Data) + len(*rec.PartitionKey)
		entries[i] = engine.PutEntry{PartitionKey: *rec.PartitionKey, Data: rec.Data, ExplicitHashKey: deref(rec.ExplicitHashKey)}
	}
	if total > limit {
		return nil, awsproto.Errorf("InvalidArgumentException", "Records size exceeds %d MB limit", limit>>20)
	}
	if in.DryRun != nil && *in.DryRun {
		if _, err := s.eng.DescribeStream(name); err != nil {
			return nil, err
		}
		return nil, dryRunError()
	}
	sc.results = grow(sc.results, len(entries))
	sc.texts = slices.Grow(sc.texts[:0], len(entries)*engine.SeqTextBytes)
	results := sc.results
	// The answer is encoded while the batches become durable, and again
	// only if one of them failed. It is encoded before the scratch, which
	// holds the numbers' texts and the answer's entries, serves another
	// call.
	var answer awsproto.Encoded
	encode := func() {
		sc.outs = grow(sc.outs, len(results))
		out := putRecordsOutput{Records: sc.outs, engineTexts: true}
		for i, res := range results {
			out.Records[i] = putRecordsResultEntry{SequenceNumber: res.SequenceNumber, ShardId: res.ShardID, ErrorCode: res.ErrorCode, ErrorMessage: res.ErrorMessage}
			if res.ErrorCode != "" {
				out.FailedRecordCount++
			}
			if res.Encrypted {
				out.EncryptionType = engine.EncryptionKMS
			}
		}
		answer = awsproto.EncodeSelf(r.Protocol, out)
	}
	changed, err := s.eng.PutRecordsPrepared(name, entries, results, sc.texts, encode)
	if err != nil {
		return nil, err
	}
	if changed {
		encode()
	}
	return answer, nil
}

// putRecordsEntries validates the Records member and each entry, in AWS's
// order: the list, then each member's partitionKey, explicitHashKey, data.
func (v *validator) putRecordsEntries(recs []putRecordsEntry, maxBytes int) {
	switch {
	case recs == nil:
		v.add(awsproto.ProblemRequired("records"))
	case len(recs) < 1:
		v.add(awsproto.ProblemMinLen(awsproto.RawValue("[]"), "records", 1))
	case len(recs) > maxPutRecordsCount:
		v.add(awsproto.ProblemMaxLen(awsproto.RawValue(javaEntries(len(recs))), "records", maxPutRecordsCount))
	}
	for i := range recs {
		if v.full() {
			return
		}
		// Paths are built only for a bad member: this runs for every entry.
		if !strOK(recs[i].PartitionKey, rulePartitionKey) {
			v.str(awsproto.ListMemberPath("records", i, "partitionKey"), recs[i].PartitionKey, rulePartitionKey)
		}
		if !strOK(recs[i].ExplicitHashKey, ruleHashKey) {
			v.str(awsproto.ListMemberPath("records", i, "explicitHashKey"), recs[i].ExplicitHashKey, ruleHashKey)
		}
		if d := recs[i].Data; d == nil || len(d) > min(maxBytes, modelMaxDataBytes) {
			v.blob(awsproto.ListMemberPath("records", i, "data"), d, true, min(maxBytes, modelMaxDataBytes))
		}
	}
}

// javaEntries prints a list of n request entries as Java's List.toString
// does in AWS's messages; the hash codes there are arbitrary.
func javaEntries(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@%08x", uint32(i+1)*2654435761)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s *Service) getShardIterator(r *Request) (any, error) {
	var in getShardIteratorInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("shardId", in.ShardId, strRule{required: true, min: 1, max: 128, pattern: streamNamePattern, patText: "[a-zA-Z0-9_.-]+"})
		v.str("shardIteratorType", in.ShardIteratorType, strRule{required: true, enum: enumIteratorType})
		v.str("startingSequenceNumber", in.StartingSequenceNumber, ruleSeqNum)
		v.streamRef(&in.streamRef)
	})
	if err != nil {
		return nil, err
	}
	p := engine.IteratorParams{
		Stream: name, ShardID: *in.ShardId, Type: *in.ShardIteratorType, StartingSequence: deref(in.StartingSequenceNumber),
	}
	if in.Timestamp != nil {
		p.TimestampMillis = &in.Timestamp.Millis
	}
	it, err := s.eng.GetShardIterator(p)
	if err != nil {
		return nil, err
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, dryRunError()
	}
	return getShardIteratorOutput{ShardIterator: it}, nil
}

func (s *Service) getRecords(r *Request) (any, error) {
	var in getRecordsInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.int("limit", in.Limit, intRule{min: 1, max: 10000})
	v.str("shardIterator", in.ShardIterator, ruleShardIterator)
	v.str("streamARN", in.StreamARN, ruleStreamARN)
	v.str("streamId", in.StreamId, ruleStreamID)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := 0
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, dryRunError()
	}
	s.reads.take()
	defer s.reads.give()
	res, err := s.eng.GetRecords(*in.ShardIterator, limit)
	if err != nil {
		return nil, err
	}
	// Encoded inside the turn; then the records' buffers serve other reads.
	defer res.Release()
	outs, _ := recordOuts.Get()
	defer func() { recordOuts.Put(outs) }() // as grown
	return awsproto.EncodeSelf(r.Protocol, getRecordsAnswer(res, &outs)), nil
}

// recordOuts keeps the wire records of encoded GetRecords answers for the
// next (800 KiB for 10,000 records), as the engine keeps its buffers. They
// are not cleared: what they point to is in the engine's buffers, reused
// as well, or replaced by the next answer's.
var recordOuts = freelist.New[[]recordOut](8)

// getRecordsAnswer is the wire form of res, its records in *outs (grown
// as needed).
func getRecordsAnswer(res engine.GetRecordsResult, outs *[]recordOut) getRecordsOutput {
	out := getRecordsOutput{Records: toRecordOuts(res.Records, outs), NextShardIterator: res.NextShardIterator, MillisBehindLatest: res.MillisBehindLatest, engineTexts: true}
	out.ChildShards = toChildShards(res.ChildShards)
	return out
}

// toRecordOuts returns the wire form of recs in *outs, resized to fit and
// never nil: an answer without records has "Records":[], not null.
func toRecordOuts(recs []engine.Record, outs *[]recordOut) []recordOut {
	if *outs == nil {
		*outs = make([]recordOut, len(recs))
	} else {
		*outs = slices.Grow((*outs)[:0], len(recs))[:len(recs)]
	}
	for i, rec := range recs {
		(*outs)[i] = recordOut{
			SequenceNumber: rec.SequenceNumber, ApproximateArrivalTimestamp: awsproto.Timestamp{Millis: rec.ArrivalMillis},
			Data: rec.Data, PartitionKey: rec.PartitionKey, EncryptionType: encryptionType(rec.Encrypted),
		}
	}
	return *outs
}

func toChildShards(children []engine.ChildShard) []childShard {
	var out []childShard
	for _, c := range children {
		out = append(out, childShard{
			ShardId: c.ShardID, ParentShards: c.ParentShards,
			HashKeyRange: hashKeyRange{StartingHashKey: c.HashKeyRange.Start.String(), EndingHashKey: c.HashKeyRange.End.String()},
		})
	}
	return out
}
