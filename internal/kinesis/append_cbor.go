package kinesis

import (
	"runtime"
	"slices"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// Hand-written CBOR encoders for the same two responses as append.go's:
// the AWS Java SDKs, and so the Kinesis Client Library, speak CBOR by
// default. TestAppendCBORMatchesMarshal holds them to the reflection
// encoder's output byte for byte: maps in member order, omitempty members
// left out, nil slices as null.

// cborKey is a member name encoded as a text string, once.
func cborKey(name string) string { return string(awsproto.AppendCBORText(nil, name)) }

var (
	cborKeyFailedRecordCount  = cborKey("FailedRecordCount")
	cborKeyRecords            = cborKey("Records")
	cborKeyEncryptionType     = cborKey("EncryptionType")
	cborKeySequenceNumber     = cborKey("SequenceNumber")
	cborKeyShardID            = cborKey("ShardId")
	cborKeyErrorCode          = cborKey("ErrorCode")
	cborKeyErrorMessage       = cborKey("ErrorMessage")
	cborKeyArrival            = cborKey("ApproximateArrivalTimestamp")
	cborKeyData               = cborKey("Data")
	cborKeyPartitionKey       = cborKey("PartitionKey")
	cborKeyNextShardIterator  = cborKey("NextShardIterator")
	cborKeyMillisBehindLatest = cborKey("MillisBehindLatest")
	cborKeyChildShards        = cborKey("ChildShards")
	cborKeyContinuation       = cborKey("ContinuationSequenceNumber")
)

// appendCBORMember appends a text member, left out when empty; n counts
// the members appended.
func appendCBORMember(b []byte, n *int, key, v string) []byte {
	if v == "" {
		return b
	}
	*n++
	b = append(b, key...)
	return awsproto.AppendCBORText(b, v)
}

// AppendCBOR implements awsproto.CBORAppender.
func (o putRecordsOutput) AppendCBOR(b []byte) []byte {
	b = slices.Grow(b, 64+len(o.Records)*96)
	b = awsproto.AppendCBORMapHead(b, 2+btoi(o.EncryptionType != ""))
	b = append(b, cborKeyFailedRecordCount...)
	b = awsproto.AppendCBORInt(b, int64(o.FailedRecordCount))
	b = append(b, cborKeyRecords...)
	b = awsproto.AppendCBORArrayHead(b, len(o.Records), o.Records == nil)
	for i := range o.Records {
		e := &o.Records[i]
		// The map's size goes first: a byte, as a result entry has at
		// most 4 members. It is patched once they are written.
		head := len(b)
		b = awsproto.AppendCBORMapHead(b, 0)
		n := 0
		b = appendCBORMember(b, &n, cborKeySequenceNumber, e.SequenceNumber)
		b = appendCBORMember(b, &n, cborKeyShardID, e.ShardId)
		b = appendCBORMember(b, &n, cborKeyErrorCode, e.ErrorCode)
		b = appendCBORMember(b, &n, cborKeyErrorMessage, e.ErrorMessage)
		awsproto.AppendCBORMapHead(b[:head], n)
	}
	if o.EncryptionType != "" {
		b = append(b, cborKeyEncryptionType...)
		b = awsproto.AppendCBORText(b, o.EncryptionType)
	}
	return b
}

// AppendCBOR implements awsproto.CBORAppender.
func (o getRecordsOutput) AppendCBOR(b []byte) []byte {
	b = slices.Grow(b, 128+len(o.NextShardIterator)+recordsCBORBytes(o.Records))
	b = awsproto.AppendCBORMapHead(b, 2+btoi(o.NextShardIterator != "")+btoi(len(o.ChildShards) > 0))
	b = append(b, cborKeyRecords...)
	b = appendRecordsCBOR(b, o.Records)
	if o.NextShardIterator != "" {
		b = append(b, cborKeyNextShardIterator...)
		b = awsproto.AppendCBORText(b, o.NextShardIterator)
	}
	return appendCBORReadTail(b, o.MillisBehindLatest, o.ChildShards)
}

// appendCBORReadTail appends the members GetRecords answers and
// SubscribeToShard events end with: MillisBehindLatest, and ChildShards
// when there are any.
func appendCBORReadTail(b []byte, millisBehind int64, children []childShard) []byte {
	b = append(b, cborKeyMillisBehindLatest...)
	b = awsproto.AppendCBORInt(b, millisBehind)
	if len(children) > 0 {
		// Only at a closed shard's end: reflection is fine here.
		b = append(b, cborKeyChildShards...)
		b = awsproto.AppendCBORValue(b, children)
	}
	return b
}

// AppendCBOR implements awsproto.CBORAppender: a SubscribeToShardEvent's
// payload for a subscription made in CBOR.
func (e subscribeEvent) AppendCBOR(b []byte) []byte {
	b = slices.Grow(b, 128+recordsCBORBytes(e.Records))
	b = awsproto.AppendCBORMapHead(b, 3+btoi(len(e.ChildShards) > 0))
	b = append(b, cborKeyRecords...)
	b = appendRecordsCBOR(b, e.Records)
	b = append(b, cborKeyContinuation...)
	if e.ContinuationSequenceNumber == nil {
		b = append(b, 0xf6) // null, at a closed shard's end
	} else {
		b = awsproto.AppendCBORText(b, *e.ContinuationSequenceNumber)
	}
	return appendCBORReadTail(b, e.MillisBehindLatest, e.ChildShards)
}

// recordsCBORBytes is about what appendRecordsCBOR takes for recs.
func recordsCBORBytes(recs []recordOut) int {
	n := 8
	for i := range recs {
		n += 140 + len(recs[i].PartitionKey) + len(recs[i].Data)
	}
	return n
}

// appendRecordsCBOR appends recs as the array of a GetRecords answer
// (null for nil), yielding the processor as appendRecordsJSON does.
func appendRecordsCBOR(b []byte, recs []recordOut) []byte {
	b = awsproto.AppendCBORArrayHead(b, len(recs), recs == nil)
	yielded := len(b)
	for i := range recs {
		if len(b)-yielded >= yieldBytes {
			runtime.Gosched()
			yielded = len(b)
		}
		r := &recs[i]
		b = awsproto.AppendCBORMapHead(b, 4+btoi(r.EncryptionType != ""))
		b = append(b, cborKeySequenceNumber...)
		b = awsproto.AppendCBORText(b, r.SequenceNumber)
		b = append(b, cborKeyArrival...)
		b = r.ApproximateArrivalTimestamp.AppendCBOR(b)
		b = append(b, cborKeyData...)
		b = awsproto.AppendCBORBytes(b, r.Data)
		b = append(b, cborKeyPartitionKey...)
		b = awsproto.AppendCBORText(b, r.PartitionKey)
		if r.EncryptionType != "" {
			b = append(b, cborKeyEncryptionType...)
			b = awsproto.AppendCBORText(b, r.EncryptionType)
		}
	}
	return b
}

func btoi(ok bool) int {
	if ok {
		return 1
	}
	return 0
}
