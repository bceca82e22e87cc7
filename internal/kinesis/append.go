package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"runtime"
	"slices"
	"strconv"

	"github.com/sluicedata/sluice/internal/awsproto"
)

// Hand-written JSON encoders for the two hottest responses: a PutRecords
// answer has a sequence number per record and a GetRecords answer up to
// 10,000 records, where encoding/json's reflection cost more than the
// storage work. TestAppendJSONMatchesEncodingJSON holds them to
// encoding/json's output byte for byte.

// AppendJSON implements awsproto.JSONAppender.
func (o putRecordsOutput) AppendJSON(b []byte) []byte {
	// A success entry is about 110 bytes.
	b = slices.Grow(b, 64+len(o.Records)*112)
	b = append(b, `{"FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(o.FailedRecordCount), 10)
	b = append(b, `,"Records":`...)
	if o.Records == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range o.Records {
			if i > 0 {
				b = append(b, ',')
			}
			e := &o.Records[i]
			if e.SequenceNumber != "" && e.ShardId != "" && e.ErrorCode == "" && e.ErrorMessage == "" {
				// A stored record, the common answer: its members' names
				// go in with the punctuation around them.
				if o.engineTexts {
					b = append(b, `{"SequenceNumber":"`...)
					b = append(b, e.SequenceNumber...)
					b = append(b, `","ShardId":"`...)
					b = append(b, e.ShardId...)
					b = append(b, `"}`...)
					continue
				}
				b = append(b, `{"SequenceNumber":`...)
				b = awsproto.AppendJSONString(b, e.SequenceNumber)
				b = append(b, `,"ShardId":`...)
				b = awsproto.AppendJSONString(b, e.ShardId)
				b = append(b, '}')
				continue
			}
			b = append(b, '{')
			n := 0
			b, n = appendOptString(b, n, "SequenceNumber", e.SequenceNumber)
			b, n = appendOptString(b, n, "ShardId", e.ShardId)
			b, n = appendOptString(b, n, "ErrorCode", e.ErrorCode)
			b, _ = appendOptString(b, n, "ErrorMessage", e.ErrorMessage)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if o.EncryptionType != "" {
		b = append(b, `,"EncryptionType":`...)
		b = awsproto.AppendJSONString(b, o.EncryptionType)
	}
	return append(b, '}')
}

// appendOptString appends an omitempty string member; n counts the
// members already in the object.
func appendOptString(b []byte, n int, name, v string) ([]byte, int) {
	if v == "" {
		return b, n
	}
	if n > 0 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return awsproto.AppendJSONString(b, v), n + 1
}

// AppendJSON implements awsproto.JSONAppender.
func (o getRecordsOutput) AppendJSON(b []byte) []byte {
	b = slices.Grow(b, 128+len(o.NextShardIterator)+recordsJSONBytes(o.Records))
	b = append(b, `{"Records":`...)
	b = appendRecordsJSON(b, o.Records, o.engineTexts)
	if o.NextShardIterator != "" {
		b = append(b, `,"NextShardIterator":`...)
		b = awsproto.AppendJSONString(b, o.NextShardIterator)
	}
	b = append(b, `,"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, o.MillisBehindLatest, 10)
	b = appendChildShardsJSON(b, o.ChildShards)
	return append(b, '}')
}

// AppendJSON encodes a SubscribeToShardEvent's payload as encoding/json
// does with HTML escaping off (the tests compare the two).
func (e subscribeEvent) AppendJSON(b []byte) []byte {
	b = slices.Grow(b, 160+recordsJSONBytes(e.Records))
	b = append(b, `{"Records":`...)
	b = appendRecordsJSON(b, e.Records, e.engineTexts)
	b = append(b, `,"ContinuationSequenceNumber":`...)
	if e.ContinuationSequenceNumber == nil {
		b = append(b, "null"...)
	} else {
		b = awsproto.AppendJSONString(b, *e.ContinuationSequenceNumber)
	}
	b = append(b, `,"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, e.MillisBehindLatest, 10)
	b = appendChildShardsJSON(b, e.ChildShards)
	return append(b, '}')
}

// recordsJSONBytes is about what appendRecordsJSON takes for recs, to size
// a buffer once.
func recordsJSONBytes(recs []recordOut) int {
	n := 8
	for i := range recs {
		n += 160 + len(recs[i].PartitionKey) + base64.StdEncoding.EncodedLen(len(recs[i].Data))
	}
	return n
}

// yieldBytes is how much a long records encoding (JSON or CBOR) writes
// between yields of its processor: about 0.1 ms of work.
const yieldBytes = 128 << 10

// appendRecordsJSON appends recs as the JSON array of a GetRecords answer
// or a SubscribeToShard event ("null" for nil). engineTexts: the sequence
// numbers are the engine's, copied without an escape scan.
func appendRecordsJSON(b []byte, recs []recordOut, engineTexts bool) []byte {
	if recs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	// Records of one PutRecords call share their arrival time: the text of
	// the last timestamp, b[tsStart:tsEnd], is copied while it stays the
	// same rather than formatted again.
	tsStart, tsEnd, tsMillis := 0, 0, int64(0)
	yielded := len(b)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		if len(b)-yielded >= yieldBytes {
			// A big answer takes milliseconds to encode: let the calls
			// waiting for this processor run now, not at its end.
			runtime.Gosched()
			yielded = len(b)
		}
		r := &recs[i]
		if engineTexts {
			b = append(b, `{"SequenceNumber":"`...)
			b = append(b, r.SequenceNumber...)
			b = append(b, `","ApproximateArrivalTimestamp":`...)
		} else {
			b = append(b, `{"SequenceNumber":`...)
			b = awsproto.AppendJSONString(b, r.SequenceNumber)
			b = append(b, `,"ApproximateArrivalTimestamp":`...)
		}
		if ms := r.ApproximateArrivalTimestamp.Millis; tsEnd > 0 && ms == tsMillis {
			b = append(b, b[tsStart:tsEnd]...)
		} else {
			tsStart, tsMillis = len(b), ms
			b = r.ApproximateArrivalTimestamp.AppendJSON(b)
			tsEnd = len(b)
		}
		b = append(b, `,"Data":`...)
		b = awsproto.AppendJSONBytes(b, r.Data)
		b = append(b, `,"PartitionKey":`...)
		b = awsproto.AppendJSONString(b, r.PartitionKey)
		if r.EncryptionType != "" {
			b = append(b, `,"EncryptionType":`...)
			b = awsproto.AppendJSONString(b, r.EncryptionType)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendChildShardsJSON appends the ChildShards member, omitted when
// empty. It comes only at a closed shard's end: reflection is fine here.
// The members are ids and decimal hash keys, nothing to HTML-escape.
func appendChildShardsJSON(b []byte, cs []childShard) []byte {
	if len(cs) == 0 {
		return b
	}
	out, err := json.Marshal(cs)
	if err != nil {
		panic("kinesis: encode ChildShards: " + err.Error())
	}
	b = append(b, `,"ChildShards":`...)
	return append(b, out...)
}
