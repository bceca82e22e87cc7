package engine

import (
	"sort"
	"sync"

	"github.com/sluicedata/sluice/internal/storage"
)

// PutEntry is one record to write. ExplicitHashKey is "" when absent; it has
// passed the model's pattern check but not the range check.
type PutEntry struct {
	PartitionKey    string
	Data            []byte
	ExplicitHashKey string
}

// PutResult is one record's outcome. On failure ErrorCode and ErrorMessage
// are set and the rest is empty.
type PutResult struct {
	ShardID        string
	SequenceNumber string
	ErrorCode      string
	ErrorMessage   string
}

// writableStream returns a stream that accepts records: ACTIVE or UPDATING.
func (e *Engine) writableStream(name string) (*stream, error) {
	st := e.lookup(name)
	if st == nil {
		return nil, e.streamNotFound(name)
	}
	st.mu.RLock()
	status := st.statusLocked(e.nowMillis())
	st.mu.RUnlock()
	if status != StatusActive && status != StatusUpdating {
		return nil, errorf(CodeResourceInUse, "Stream %s under account %s not ACTIVE or UPDATING, instead in state %s", name, e.cfg.AccountID, status)
	}
	return st, nil
}

func (e *Engine) hashKeys(entries []PutEntry) ([]HashKey, error) {
	keys := make([]HashKey, len(entries))
	for i := range entries {
		if ehk := entries[i].ExplicitHashKey; ehk != "" {
			k, ok := ParseHashKey(ehk)
			if !ok {
				return nil, errorf(CodeInvalidArgument,
					"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", ehk)
			}
			keys[i] = k
			continue
		}
		keys[i] = PartitionKeyHash(entries[i].PartitionKey)
	}
	return keys, nil
}

// MaxRecordBytes returns the largest record (partition key plus data) the
// stream accepts, or an error if the stream does not exist.
func (e *Engine) MaxRecordBytes(name string) (int, error) {
	st := e.lookup(name)
	if st == nil {
		return 0, e.streamNotFound(name)
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.meta.MaxRecordSizeKiB * 1024, nil
}

// PutRecord writes one record. sequenceNumberForOrdering, when not "", must
// be a sequence number this server issued; since numbers grow strictly per
// shard, the new record always sorts after it.
func (e *Engine) PutRecord(name string, entry PutEntry, sequenceNumberForOrdering string) (PutResult, error) {
	if sequenceNumberForOrdering != "" {
		sn, ok := ParseSeqNum(sequenceNumberForOrdering)
		if !ok || sn.RecordSec*1000 > e.nowMillis()+1000 {
			return PutResult{}, errorf(CodeInvalidArgument,
				"ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid.",
				sequenceNumberForOrdering, name, e.cfg.AccountID)
		}
	}
	res, err := e.PutRecords(name, []PutEntry{entry})
	if err != nil {
		return PutResult{}, err
	}
	if res[0].ErrorCode != "" {
		return PutResult{}, putRecordError(res[0]) // recover.go: InternalFailure is an exception here
	}
	return res[0], nil
}

// PutRecords routes each entry to its shard and appends one batch per shard,
// the shards in parallel. It returns once every batch is durable or failed;
// failures are per entry, as in the API. It keeps no reference to entries,
// their keys or their data once it returns: callers may reuse them.
func (e *Engine) PutRecords(name string, entries []PutEntry) ([]PutResult, error) {
	st, err := e.writableStream(name)
	if err != nil {
		return nil, err
	}
	keys, err := e.hashKeys(entries)
	if err != nil {
		return nil, err
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.gone {
		return nil, e.streamNotFound(name)
	}
	open := st.openShardsLocked()
	groups := make(map[*shard][]int, len(open))
	auto := st.meta.RecordDistribution == DistributionAuto
	for i, k := range keys {
		var sh *shard
		if auto {
			// AUTO ignores keys and spreads records over the open shards.
			sh = open[st.spread.Add(1)%uint64(len(open))]
		} else {
			sh = routeLocked(open, k)
		}
		groups[sh] = append(groups[sh], i)
	}
	results := make([]PutResult, len(entries))
	now := e.nowMillis()
	if len(groups) == 1 {
		for sh, idx := range groups {
			e.appendGroup(st, sh, entries, idx, results, now)
		}
		return results, nil
	}
	var wg sync.WaitGroup
	for sh, idx := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.appendGroup(st, sh, entries, idx, results, now)
		}()
	}
	wg.Wait()
	return results, nil
}

// appendGroup appends the entries at idx to sh as one batch and fills their
// results. Each call writes disjoint elements of results.
func (e *Engine) appendGroup(st *stream, sh *shard, entries []PutEntry, idx []int, results []PutResult, now int64) {
	sizes := make([]int, len(idx))
	for j, i := range idx {
		sizes[j] = len(entries[i].PartitionKey) + len(entries[i].Data)
	}
	admitted, all := sh.lim.admitWrites(e.limitsLocked(st), sizes, now)
	if !all {
		thr := e.throttled(st.meta.Name, sh.id)
		kept := idx[:0:0]
		for j, i := range idx {
			if admitted[j] {
				kept = append(kept, i)
			} else {
				results[i] = PutResult{ErrorCode: thr.Code, ErrorMessage: thr.Message}
			}
		}
		idx = kept
		if st.meta.Mode == ModeOnDemand && sh.lim.noteThrottle(now) {
			e.scaleHotShard(st.meta.Name, sh.meta.Index)
		}
		if len(idx) == 0 {
			return
		}
	}
	batch := make([]storage.Entry, len(idx))
	for j, i := range idx {
		batch[j] = storage.Entry{PartitionKey: entries[i].PartitionKey, Data: entries[i].Data}
	}
	keyRef := ""
	if st.meta.EncryptionType == EncryptionKMS {
		keyRef = st.meta.KeyID
	}
	res, err := sh.log.AppendWithKey(batch, now, keyRef)
	if err != nil {
		e.log.Error("append to shard", "stream", st.meta.Name, "shard", sh.id, "err", err)
		code, msg := "InternalFailure", "Internal service failure."
		if kerr := e.storageFailure(err); kerr.Code != CodeInternalFailure {
			code, msg = kerr.Code, kerr.Message
		}
		for _, i := range idx {
			results[i] = PutResult{ErrorCode: code, ErrorMessage: msg}
		}
		return
	}
	var seqs seqFormatter
	for j, i := range idx {
		sn := sh.seq(res.FirstOffset+uint64(j)+1, res.ArrivalMillis)
		results[i] = PutResult{ShardID: sh.id, SequenceNumber: seqs.format(sn)}
	}
	sh.notify.broadcast()
}

// openShardsLocked returns the open shards sorted by starting hash key. They
// cover the hash key space contiguously.
func (st *stream) openShardsLocked() []*shard {
	open := make([]*shard, 0, len(st.shards))
	for _, sh := range st.shards {
		if sh.meta.ClosedMillis == 0 {
			open = append(open, sh)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].rng.Start.Cmp(open[j].rng.Start) < 0 })
	return open
}

// routeLocked finds the open shard whose range holds k.
func routeLocked(open []*shard, k HashKey) *shard {
	i := sort.Search(len(open), func(i int) bool { return open[i].rng.End.Cmp(k) >= 0 })
	if i == len(open) || !open[i].rng.Contains(k) {
		panic("open shards do not cover hash key " + k.String())
	}
	return open[i]
}
