package engine

import (
	"fmt"
	"hash/maphash"
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
	// Encrypted: the record was written under the stream's KMS key.
	Encrypted bool
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

// hashKeys sets keys[i] to entry i's hash key: its ExplicitHashKey, or
// the MD5 of its partition key. Producers often repeat a partition key
// within a call (a device, a tenant, an aggregated record's key), so the
// call's MD5s are remembered in a small direct-mapped table: a repeated
// key costs a table probe (about 10 ns) instead of an MD5 (about 220 ns),
// a new one a probe more.
func (e *Engine) hashKeys(entries []PutEntry, keys []HashKey) error {
	var memo keyMemo
	for i := range entries {
		if ehk := entries[i].ExplicitHashKey; ehk != "" {
			k, ok := ParseHashKey(ehk)
			if !ok {
				return errorf(CodeInvalidArgument,
					"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", ehk)
			}
			keys[i] = k
			continue
		}
		keys[i] = memo.hash(entries[i].PartitionKey)
	}
	return nil
}

// keyMemoSlots is the size of a keyMemo: a power of two.
const keyMemoSlots = 256

// keyMemo remembers the hash keys of recent partition keys, one per slot
// chosen by a fast non-cryptographic hash of the key. It lives for one
// call, on the stack, and keeps nothing past it.
type keyMemo struct {
	key [keyMemoSlots]string
	sum [keyMemoSlots]HashKey
	set [keyMemoSlots]bool
}

var keyMemoSeed = maphash.MakeSeed()

func (m *keyMemo) hash(pk string) HashKey {
	j := maphash.String(keyMemoSeed, pk) & (keyMemoSlots - 1)
	if m.set[j] && m.key[j] == pk {
		return m.sum[j]
	}
	h := PartitionKeyHash(pk)
	m.key[j], m.sum[j], m.set[j] = pk, h, true
	return h
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
	results := make([]PutResult, len(entries))
	if err := e.PutRecordsInto(name, entries, results, nil); err != nil {
		return nil, err
	}
	return results, nil
}

// PutRecordsInto is PutRecords writing entry i's result to results[i]:
// results must have len(entries), and is left as it was on an error. The
// results' sequence numbers are written into texts, as far as its
// capacity goes (len(entries)*SeqTextBytes holds them all), and into new
// memory beyond that. The caller may reuse results and texts once done
// with the results.
func (e *Engine) PutRecordsInto(name string, entries []PutEntry, results []PutResult, texts []byte) error {
	_, err := e.PutRecordsPrepared(name, entries, results, texts, nil)
	return err
}

// PutRecordsPrepared is PutRecordsInto that lets the caller prepare its
// answer while the batches become durable. Once every batch is written,
// and before any is waited for, results hold what they will be if every
// batch becomes durable, and prepare (if not nil) is called. If a batch
// then fails, its entries' results are rewritten and changed is true:
// whatever prepare made of results is stale. prepare runs under the
// stream's lock: it must not call the Engine.
//
// A durable PutRecords call spends most of its time waiting for the sync,
// and the wait ends with every waiting call woken at once on the same
// processor: work done in prepare is work those calls no longer queue for
// after it.
func (e *Engine) PutRecordsPrepared(name string, entries []PutEntry, results []PutResult, texts []byte, prepare func()) (changed bool, err error) {
	if len(results) != len(entries) {
		panic(fmt.Sprintf("engine: PutRecordsInto with %d results for %d entries", len(results), len(entries)))
	}
	st, err := e.writableStream(name)
	if err != nil {
		return false, err
	}
	sc := getPutScratch(len(entries))
	defer sc.release()
	if err := e.hashKeys(entries, sc.keys); err != nil {
		return false, err
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.gone {
		return false, e.streamNotFound(name)
	}
	groups := sc.group(st, st.openShardsLocked())
	// Each group's numbers get their own part of texts: groups may finish
	// side by side, and a part that overflows moves to new memory.
	texts = texts[:0]
	for i := range groups {
		if n := len(groups[i].idx) * SeqTextBytes; len(texts)+n <= cap(texts) {
			groups[i].texts = texts[len(texts) : len(texts) : len(texts)+n]
			texts = texts[:len(texts)+n]
		}
	}
	now := e.nowMillis()
	// Every group's batch is written before any is waited for, so one
	// sync round can take them all, without a goroutine per shard. The
	// groups are in hash key order, the order storage asks of callers
	// that start appends on several logs. Results are disjoint per group.
	for i := range groups {
		e.startGroup(st, &groups[i], entries, results, now)
	}
	for i := range groups {
		e.groupResults(st, &groups[i], results)
	}
	if prepare != nil {
		prepare()
	}
	if len(groups) > 1 && groups[0].sh.log.WaitsAlone() {
		// Each wait syncs its own shard: run them side by side.
		var wg sync.WaitGroup
		for i := range groups[1:] {
			wg.Go(func() { e.finishGroup(st, &groups[1+i], results) })
		}
		e.finishGroup(st, &groups[0], results)
		wg.Wait()
	} else {
		for i := range groups {
			e.finishGroup(st, &groups[i], results)
		}
	}
	for i := range groups {
		changed = changed || groups[i].failedLate
	}
	return changed, nil
}

// putGroup is the entries of a PutRecords call that go to one shard, and
// its share of the call's scratch memory.
type putGroup struct {
	sh       *shard
	idx      []int // the entries, in call order
	sizes    []int
	admitted []bool
	batch    []storage.Entry
	pending  storage.PendingAppend // the append startGroup started, if idx is not empty
	texts    []byte                // where the sequence numbers go, if not nil
	// waiting: groupResults wrote sequence numbers, which finishGroup
	// replaces by the failure if the append fails (failedLate).
	waiting, failedLate bool
	encrypted           bool // the batch is written under the stream's KMS key
}

// putScratch is PutRecords' working memory, reused between calls: a call
// of 500 records needs about 40 KB of it.
type putScratch struct {
	keys     []HashKey
	pos      []int // each entry's shard, as an index into the open shards
	counts   []int // entries per open shard
	order    []int // entry indexes grouped by shard
	sizes    []int
	admitted []bool
	batch    []storage.Entry
	groups   []putGroup
}

// maxPooledPutEntries bounds the scratch kept for reuse: calls through the
// API have at most 500 entries.
const maxPooledPutEntries = 4096

var putScratchPool = sync.Pool{New: func() any { return new(putScratch) }}

// getPutScratch returns scratch for a call of n entries.
func getPutScratch(n int) *putScratch {
	sc := putScratchPool.Get().(*putScratch)
	sc.keys = resize(sc.keys, n)
	sc.pos = resize(sc.pos, n)
	sc.order = resize(sc.order, n)
	sc.sizes = resize(sc.sizes, n)
	sc.admitted = resize(sc.admitted, n)
	sc.batch = resize(sc.batch, n)
	return sc
}

// release returns sc to the pool without the references it holds to the
// call's entries and shards.
func (sc *putScratch) release() {
	if cap(sc.keys) > maxPooledPutEntries {
		return
	}
	clear(sc.batch)
	clear(sc.groups)
	sc.groups = sc.groups[:0]
	putScratchPool.Put(sc)
}

// resize returns s with length n, reusing its array when it is large
// enough; the elements' values are left to the caller.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// group routes each entry (by sc.keys) to one of the open shards and
// returns the groups, each with its entries in call order and its share of
// the scratch slices. The caller holds st.mu.
func (sc *putScratch) group(st *stream, open []*shard) []putGroup {
	auto := st.meta.RecordDistribution == DistributionAuto
	sc.counts = resize(sc.counts, len(open))
	clear(sc.counts)
	for i, k := range sc.keys {
		var p int
		if auto {
			// AUTO ignores keys and spreads records over the open shards.
			p = int(st.spread.Add(1) % uint64(len(open)))
		} else {
			p = routeLocked(open, k)
		}
		sc.pos[i] = p
		sc.counts[p]++
	}
	// counts become each group's end in order as entries are placed.
	start := 0
	for p, n := range sc.counts {
		if n > 0 {
			end := start + n
			sc.groups = append(sc.groups, putGroup{sh: open[p], idx: sc.order[start:start:end],
				sizes: sc.sizes[start:end], admitted: sc.admitted[start:end], batch: sc.batch[start:end]})
			sc.counts[p] = len(sc.groups) - 1
			start = end
		}
	}
	for i, p := range sc.pos {
		g := &sc.groups[sc.counts[p]]
		g.idx = append(g.idx, i)
	}
	return sc.groups
}

// startGroup admits g's entries against the shard's write limits, failing
// the throttled ones in results, and starts the append of the rest.
func (e *Engine) startGroup(st *stream, g *putGroup, entries []PutEntry, results []PutResult, now int64) {
	sh, idx := g.sh, g.idx
	sizes := g.sizes
	for j, i := range idx {
		sizes[j] = len(entries[i].PartitionKey) + len(entries[i].Data)
	}
	if !sh.lim.admitWrites(e.limitsLocked(st), sizes, now, g.admitted) {
		thr := e.throttled(st.meta.Name, sh.id)
		kept := idx[:0:0]
		for j, i := range idx {
			if g.admitted[j] {
				kept = append(kept, i)
			} else {
				results[i] = PutResult{ErrorCode: thr.Code, ErrorMessage: thr.Message}
			}
		}
		idx = kept
		g.idx = kept // finishGroup has nothing to wait for if none is left
		if st.meta.Mode == ModeOnDemand && sh.lim.noteThrottle(now) {
			e.scaleHotShard(st.meta.Name, sh.meta.Index)
		}
		if len(idx) == 0 {
			return
		}
	}
	batch := g.batch[:len(idx)]
	for j, i := range idx {
		batch[j] = storage.Entry{PartitionKey: entries[i].PartitionKey, Data: entries[i].Data}
	}
	keyRef := ""
	if st.meta.EncryptionType == EncryptionKMS {
		keyRef = st.meta.KeyID
	}
	g.encrypted = keyRef != ""
	g.pending = sh.log.StartAppendWithKey(batch, now, keyRef)
}

// groupResults writes the results of g's admitted entries as they will be
// if the append startGroup started becomes durable: sequence numbers, or
// the failure of an append that failed at once.
func (e *Engine) groupResults(st *stream, g *putGroup, results []PutResult) {
	sh, idx := g.sh, g.idx
	if len(idx) == 0 {
		return // every entry throttled: startGroup wrote their results
	}
	res, err := g.pending.Result()
	if err != nil {
		e.failGroup(st, g, results, err)
		return
	}
	var seqs *seqTexts // one batch: consecutive counters
	if g.texts != nil {
		seqs = newSeqTextsIn(sh, g.texts)
	} else {
		seqs = newSeqTexts(sh, len(idx))
	}
	for j, i := range idx {
		results[i] = PutResult{ShardID: sh.id, SequenceNumber: seqs.next(res.FirstOffset+uint64(j)+1, res.ArrivalMillis), Encrypted: g.encrypted}
	}
	g.waiting = true
}

// finishGroup waits for the append startGroup started, if any entry was
// admitted, and writes the failure into their results if it failed.
func (e *Engine) finishGroup(st *stream, g *putGroup, results []PutResult) {
	if len(g.idx) == 0 {
		return
	}
	if _, err := g.pending.Wait(); err != nil && g.waiting {
		e.failGroup(st, g, results, err)
		g.failedLate = true
	}
}

// failGroup writes the failure of g's append into its entries' results.
func (e *Engine) failGroup(st *stream, g *putGroup, results []PutResult, err error) {
	e.log.Error("append to shard", "stream", st.meta.Name, "shard", g.sh.id, "err", err)
	code, msg := "InternalFailure", "Internal service failure."
	if kerr := e.storageFailure(err); kerr.Code != CodeInternalFailure {
		code, msg = kerr.Code, kerr.Message
	}
	for _, i := range g.idx {
		results[i] = PutResult{ErrorCode: code, ErrorMessage: msg}
	}
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

// routeLocked finds the open shard whose range holds k, as an index into
// open.
func routeLocked(open []*shard, k HashKey) int {
	i := sort.Search(len(open), func(i int) bool { return open[i].rng.End.Cmp(k) >= 0 })
	if i == len(open) || !open[i].rng.Contains(k) {
		panic("open shards do not cover hash key " + k.String())
	}
	return i
}
