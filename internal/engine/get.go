package engine

import (
	"errors"
	"slices"
	"time"

	"github.com/sluicedata/sluice/internal/freelist"
	"github.com/sluicedata/sluice/internal/storage"
)

// Shard iterator types.
const (
	IteratorAtSequence    = "AT_SEQUENCE_NUMBER"
	IteratorAfterSequence = "AFTER_SEQUENCE_NUMBER"
	IteratorTrimHorizon   = "TRIM_HORIZON"
	IteratorLatest        = "LATEST"
	IteratorAtTimestamp   = "AT_TIMESTAMP"
)

// Read limits of one GetRecords call.
const (
	MaxGetRecordsCount = 10000
	maxGetRecordsBytes = 10 << 20
)

// IteratorParams are GetShardIterator's inputs after model validation.
type IteratorParams struct {
	Stream           string
	ShardID          string
	Type             string
	StartingSequence string // "" when absent
	TimestampMillis  *int64 // nil when absent
}

// GetShardIterator returns a shard iterator positioned as asked.
func (e *Engine) GetShardIterator(p IteratorParams) (string, error) {
	idx, ok := parseShardID(p.ShardID)
	if !ok {
		return "", errorf(CodeResourceNotFound, "Could not find shard %s in stream %s under account %s.", p.ShardID, p.Stream, e.cfg.AccountID)
	}
	id := ShardID(idx)
	st := e.lookup(p.Stream)
	if st == nil {
		return "", e.shardNotFound(p.Stream, id)
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	sh := st.shardByIndex(idx)
	if sh == nil || st.gone || st.expiredLocked(sh, e.nowMillis()) {
		return "", e.shardNotFound(p.Stream, id)
	}
	if !sh.lim.admitIterator(e.limitsLocked(st), e.nowMillis()) {
		return "", e.throttled(p.Stream, id)
	}
	offset, err := e.iteratorOffset(p, st, sh)
	if err != nil {
		return "", err
	}
	return e.tokens.sealIterator(iteratorState{
		CreatedMillis: e.nowMillis(), StreamCreatedMillis: st.meta.CreatedMillis,
		ShardIndex: idx, Offset: offset, StreamName: p.Stream,
	}), nil
}

// end returns one past the last offset a reader can reach in sh.
func (sh *shard) end() uint64 {
	if sh.meta.ClosedMillis != 0 {
		return sh.meta.EndOffset
	}
	return sh.log.End()
}

// retainedStart is retainedStartLocked with storage errors reported as
// InternalFailure.
func (e *Engine) retainedStart(st *stream, sh *shard) (uint64, error) {
	off, err := e.retainedStartLocked(st, sh, e.nowMillis())
	if err != nil {
		return 0, e.internalFailure(err)
	}
	return off, nil
}

func (e *Engine) iteratorOffset(p IteratorParams, st *stream, sh *shard) (uint64, error) {
	hasSeq := p.StartingSequence != ""
	switch p.Type {
	case IteratorTrimHorizon, IteratorLatest:
		if hasSeq {
			return 0, errorf(CodeInvalidArgument, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and also a StartingSequenceNumber.", p.Type)
		}
		if p.Type == IteratorTrimHorizon {
			return e.retainedStart(st, sh)
		}
		return sh.end(), nil
	case IteratorAtSequence, IteratorAfterSequence:
		if !hasSeq {
			return 0, errorf(CodeInvalidArgument, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and no StartingSequenceNumber.", p.Type)
		}
		return e.sequenceOffset(p, st, sh)
	case IteratorAtTimestamp:
		return e.timestampOffset(p, st, sh)
	}
	return 0, errorf(CodeInvalidArgument, "Invalid ShardIteratorType %s.", p.Type)
}

func (e *Engine) sequenceOffset(p IteratorParams, st *stream, sh *shard) (uint64, error) {
	invalid := func(suffix string) error {
		return errorf(CodeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid%s.",
			p.StartingSequence, sh.id, p.Stream, e.cfg.AccountID, suffix)
	}
	sn, ok := ParseSeqNum(p.StartingSequence)
	if !ok {
		return 0, invalid("")
	}
	if sn.ShardIndex != sh.meta.Index {
		return 0, errorf(CodeInvalidArgument, "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s",
			ShardID(sn.ShardIndex), sh.id)
	}
	if sn.ShardCreatedSec != sh.seqSec() {
		return 0, invalid(" because it did not come from this stream")
	}
	end := sh.end()
	var offset uint64 // the position of the first record to return
	switch {
	case sn.Counter == counterShardEnd:
		offset = end
	case sn.Counter == 0: // the shard's StartingSequenceNumber: before every record
		offset = 0
	case p.Type == IteratorAtSequence:
		offset = sn.Counter - 1
	default:
		offset = sn.Counter
	}
	if offset > end {
		return 0, invalid("")
	}
	start, err := e.retainedStart(st, sh)
	return max(offset, start), err
}

func (e *Engine) timestampOffset(p IteratorParams, st *stream, sh *shard) (uint64, error) {
	if p.StartingSequence != "" {
		return 0, errorf(CodeInvalidArgument, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and also a StartingSequenceNumber.", p.Type)
	}
	if p.TimestampMillis == nil {
		return 0, errorf(CodeInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
	}
	now := e.nowMillis()
	if *p.TimestampMillis > now {
		return 0, errorf(CodeInvalidArgument, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", *p.TimestampMillis, now)
	}
	off, err := sh.log.SeekTime(*p.TimestampMillis)
	if err != nil {
		return 0, e.internalFailure(err)
	}
	start, err := e.retainedStart(st, sh)
	return min(max(off, start), sh.end()), err
}

// Record is one record returned by GetRecords. Data belongs to the caller.
type Record struct {
	SequenceNumber string
	ArrivalMillis  int64
	PartitionKey   string
	Data           []byte
	// Encrypted: written while the stream was encrypted with KMS.
	Encrypted bool
}

// ChildShard is a shard that follows a closed one.
type ChildShard struct {
	ShardID      string
	ParentShards []string
	HashKeyRange HashRange
}

// GetRecordsResult is GetRecords' answer. NextShardIterator is "" at the end
// of a closed shard, and then ChildShards is set.
type GetRecordsResult struct {
	Records            []Record
	NextShardIterator  string
	MillisBehindLatest int64
	ChildShards        []ChildShard
	scratch            *readScratch // Records and their data, for Release
}

// Release gives the buffers the result's records are in to the next
// GetRecords: the caller must not use Records, or any record's Data,
// afterwards. A result never released is left to the garbage collector.
func (r *GetRecordsResult) Release() {
	if r.scratch != nil {
		giveScratch(r.scratch)
		r.scratch, r.Records = nil, nil
	}
}

// GetRecords reads from the position an iterator holds.
func (e *Engine) GetRecords(iterator string, limit int) (GetRecordsResult, error) {
	it, err := e.tokens.openIterator(iterator)
	if err != nil {
		return GetRecordsResult{}, errorf(CodeInvalidArgument, "Invalid ShardIterator.")
	}
	now := e.now()
	if age := now.UnixMilli() - it.CreatedMillis; age > e.cfg.IteratorTTL.Milliseconds() {
		return GetRecordsResult{}, errorf(CodeExpiredIterator,
			"Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			amzTime(it.CreatedMillis), amzTime(now.UnixMilli()), e.cfg.IteratorTTL.Milliseconds())
	}
	id := ShardID(it.ShardIndex)
	st := e.lookup(it.StreamName)
	if st == nil {
		return GetRecordsResult{}, e.shardNotFound(it.StreamName, id)
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	sh := st.shardByIndex(it.ShardIndex)
	if sh == nil || st.gone {
		return GetRecordsResult{}, e.shardNotFound(it.StreamName, id)
	}
	if st.meta.CreatedMillis != it.StreamCreatedMillis {
		// The stream was deleted and created again under the same name.
		// AWS keeps serving such an iterator from its position in the new
		// stream's shard; it cannot be past that shard's end.
		it.Offset = min(it.Offset, sh.end())
		it.StreamCreatedMillis = st.meta.CreatedMillis
	}
	if limit <= 0 || limit > MaxGetRecordsCount {
		limit = MaxGetRecordsCount
	}
	if !sh.lim.admitRead(e.limitsLocked(st), now.UnixMilli()) {
		return GetRecordsResult{}, e.throttled(it.StreamName, id)
	}
	return e.readShard(st, sh, it, limit, now.UnixMilli())
}

func (e *Engine) readShard(st *stream, sh *shard, it iteratorState, limit int, now int64) (GetRecordsResult, error) {
	sc := takeScratch()
	r, err := e.readRecordsLocked(st, sh, it.Offset, limit, maxGetRecordsBytes, now, sc)
	if err != nil {
		giveScratch(sc)
		return GetRecordsResult{}, err
	}
	sh.lim.chargeRead(e.limitsLocked(st), r.bytes)
	res := GetRecordsResult{Records: r.records, MillisBehindLatest: r.millisBehind, ChildShards: r.children, scratch: sc}
	if r.children == nil {
		it.Offset, it.CreatedMillis = r.next, now
		res.NextShardIterator = e.tokens.sealIterator(it)
	}
	return res, nil
}

// readResult is what readRecordsLocked found.
type readResult struct {
	records      []Record
	bytes        int    // partition keys plus data
	next         uint64 // the offset after the last record read
	millisBehind int64
	children     []ChildShard // set when next is a closed shard's end
}

// readRecordsLocked reads up to limit records and about maxBytes from
// offset from, clamped to what retention keeps, into sc: the records live
// in its buffers. The caller holds st.mu.
func (e *Engine) readRecordsLocked(st *stream, sh *shard, from uint64, limit, maxBytes int, now int64, sc *readScratch) (readResult, error) {
	end := sh.end()
	start, err := e.retainedStartLocked(st, sh, now)
	if err != nil {
		return readResult{}, e.internalFailure(err)
	}
	from = max(from, start)
	var res readResult
	if err := e.damageError(st, sh, from); err != nil { // recover.go: the damage is not the tip
		return res, err
	}
	if from < end {
		recs, err := sh.log.ReadInto(sc.recs[:0], sc.arena, from, min(limit, int(end-from)), maxBytes)
		if errors.Is(err, storage.ErrOffsetTrimmed) {
			from = sh.log.Start()
			recs, err = sh.log.ReadInto(recs, sc.arena, from, min(limit, int(end-from)), maxBytes)
		}
		sc.recs = recs
		if err != nil {
			return res, e.storageFailure(err)
		}
		sc.out = slices.Grow(sc.out[:0], len(recs))[:len(recs)]
		res.records = sc.out
		seqs := newSeqTextsIn(sh, slices.Grow(sc.seqs[:0], len(recs)*56))
		defer func() { sc.seqs = seqs.b }() // as grown
		for i, r := range recs {
			res.bytes += len(r.PartitionKey) + len(r.Data)
			res.records[i] = Record{
				SequenceNumber: seqs.next(r.Offset+1, r.ArrivalMillis),
				ArrivalMillis:  r.ArrivalMillis, PartitionKey: r.PartitionKey, Data: r.Data, Encrypted: r.Encrypted,
			}
		}
		from += uint64(len(recs))
		if from < end && len(recs) > 0 {
			res.millisBehind = max(0, sh.log.LastArrivalMillis()-recs[len(recs)-1].ArrivalMillis)
		}
	}
	res.next = from
	sc.need = res.bytes
	if sh.meta.ClosedMillis != 0 && from >= end {
		res.children = st.childShardsLocked(sh.meta.Index)
	}
	return res, nil
}

// maxCachedReads bounds readScratches: reads at once that reuse their
// buffers.
const maxCachedReads = 8

// readScratch holds the buffers of one read, which its caller gives back
// once the answer is encoded (GetRecordsResult.Release; a subscription
// gives back its last event's at its next poll): the storage's records,
// the engine's, the arena the records' data is copied into and their
// sequence numbers' text. Taken afresh, the last three were 2.2 MB of the
// 3.2 MB a 10,000-record read of 100-byte records allocated, and a drain
// started a garbage collection every few calls. They are not cleared when
// given back: what they point to is the arena and the texts (reused) or
// blocks of keys and overflowing data, which the next read's records
// replace.
type readScratch struct {
	recs  []storage.Record
	out   []Record
	arena []byte
	seqs  []byte // the records' sequence numbers (seqTexts)
	need  int    // the last read's bytes: the arena grows to hold them
}

// readScratches keeps up to maxCachedReads scratches; an arena grows to
// at most maxScratchArena bytes, so the list holds at most about
// maxCachedReads*(maxScratchArena + 1.2 MiB) bytes.
var readScratches = freelist.New[*readScratch](maxCachedReads)

const maxScratchArena = 2 << 20

// takeScratch returns a free scratch, or a new one.
func takeScratch() *readScratch {
	if sc, ok := readScratches.Get(); ok {
		return sc
	}
	return &readScratch{}
}

// giveScratch keeps sc for a later read, its arena first grown to the size
// its last read needed; the caller must not use sc, or records read into
// it, again.
func giveScratch(sc *readScratch) {
	if sc.need > cap(sc.arena) && sc.need <= maxScratchArena {
		sc.arena = make([]byte, 0, min(maxScratchArena, sc.need+sc.need/4))
	}
	readScratches.Put(sc)
}

// childShardsLocked lists the shards that have parent as a parent.
func (st *stream) childShardsLocked(parent uint32) []ChildShard {
	var out []ChildShard
	for _, sh := range st.shards {
		p, a := sh.meta.Parent, sh.meta.AdjacentParent
		if (p == nil || *p != parent) && (a == nil || *a != parent) {
			continue
		}
		c := ChildShard{ShardID: sh.id, HashKeyRange: sh.rng}
		if p != nil {
			c.ParentShards = append(c.ParentShards, ShardID(*p))
		}
		if a != nil {
			c.ParentShards = append(c.ParentShards, ShardID(*a))
		}
		out = append(out, c)
	}
	return out
}

// amzTime formats a time as AWS's iterator messages do:
// "Thu Jan 22 01:22:02 UTC 2015".
func amzTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("Mon Jan 02 15:04:05 UTC 2006")
}
