package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedata/sluice/internal/storage"
)

// Stream statuses, as the API spells them.
const (
	StatusCreating = "CREATING"
	StatusActive   = "ACTIVE"
	StatusUpdating = "UPDATING"
	StatusDeleting = "DELETING"
)

// Capacity modes.
const (
	ModeProvisioned = "PROVISIONED"
	ModeOnDemand    = "ON_DEMAND"
)

const (
	defaultRetentionHours   = 24
	defaultMaxRecordSizeKiB = 1024
	onDemandShardCount      = 4
)

// transition is a status change scheduled for a later time. To == "" means
// the stream disappears.
type transition struct {
	To       string `json:"to"`
	AtMillis int64  `json:"at"`
}

// streamMeta is a stream's catalog record (JSON in the "streams" bucket).
type streamMeta struct {
	Name              string            `json:"name"`
	UID               string            `json:"uid"` // names the stream's storage; new on every create
	CreatedMillis     int64             `json:"created"`
	Status            string            `json:"status"`
	Transition        *transition       `json:"transition,omitempty"`
	Mode              string            `json:"mode"`
	RetentionHours    int               `json:"retentionHours"`
	EncryptionType    string            `json:"encryptionType"`
	KeyID             string            `json:"keyId,omitempty"`
	MaxRecordSizeKiB  int               `json:"maxRecordSizeKiB"`
	ShardLevelMetrics []string          `json:"shardLevelMetrics,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	// Policy is the resource policy document (PutResourcePolicy), "" for none.
	Policy string `json:"policy,omitempty"`
	// WarmThroughputMiBps is the requested warm throughput of an ON_DEMAND
	// stream; nil when never set.
	WarmThroughputMiBps *int `json:"warmThroughputMiBps,omitempty"`
	// RecordDistribution is AUTO or USER_PARTITION_KEY ("" means the latter).
	RecordDistribution string `json:"recordDistribution,omitempty"`
	// EncryptionChanges holds the times (Unix ms) of recent
	// Start/StopStreamEncryption calls, for AWS's 25-per-24-hours limit.
	EncryptionChanges []int64 `json:"encryptionChanges,omitempty"`
	// ModeChanges holds the times of recent UpdateStreamMode calls (2 per 24 h).
	ModeChanges []int64 `json:"modeChanges,omitempty"`
	// ShardCountUpdates holds the times of recent UpdateShardCount calls
	// (10 per 24 h).
	ShardCountUpdates []int64     `json:"shardCountUpdates,omitempty"`
	NextShardIndex    uint32      `json:"nextShardIndex"`
	Shards            []shardMeta `json:"shards"`
	// RetainedFromMillis is a floor under the trim horizon: raising the
	// retention does not bring back records that had already expired.
	RetainedFromMillis int64 `json:"retainedFrom,omitempty"`
	// Consumers are the enhanced fan-out consumers, DELETING ones included.
	Consumers []consumerMeta `json:"consumers,omitempty"`
}

// shardMeta is one shard's part of the catalog record.
type shardMeta struct {
	Index          uint32  `json:"index"`
	Parent         *uint32 `json:"parent,omitempty"`
	AdjacentParent *uint32 `json:"adjacentParent,omitempty"`
	StartHash      string  `json:"startHash"`
	EndHash        string  `json:"endHash"`
	CreatedMillis  int64   `json:"created"`
	// SeqSec is the creation second written into the shard's sequence
	// numbers; zero means CreatedMillis/1000. See shard.seqSec.
	SeqSec int64 `json:"seqSec,omitempty"`
	// ClosedMillis is zero while the shard is open. A closed shard holds
	// exactly the records [0, EndOffset) of its log.
	ClosedMillis int64  `json:"closed,omitempty"`
	EndOffset    uint64 `json:"endOffset,omitempty"`
}

type stream struct {
	// spread counts records routed by the AUTO distribution strategy.
	spread atomic.Uint64
	mu     sync.RWMutex
	meta   streamMeta // Shards is rebuilt from shards by syncMetaLocked
	shards []*shard   // in index order
	// gone is set, under mu, once the stream is deleted and its logs
	// closed; a caller that found the stream before that sees it here.
	gone bool
}

type shard struct {
	meta   shardMeta
	id     string
	rng    HashRange
	log    *storage.ShardLog
	store  string // storage key
	lim    shardLimiter
	notify notifier // wakes subscribers: the log publishes records (SetOnPublish), the shard ends
}

// ShardID formats a shard index as AWS does: shardId-000000000000.
func ShardID(index uint32) string { return fmt.Sprintf("shardId-%012d", index) }

// parseShardID accepts what AWS accepts for a shard id: "shardId-000000000001",
// or any prefix and a dash before the digits, or the bare digits.
func parseShardID(s string) (uint32, bool) {
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

func shardStoreKey(uid string, index uint32) string { return fmt.Sprintf("%s/%012d", uid, index) }

func (e *Engine) openStream(m streamMeta) (*stream, error) {
	st := &stream{meta: m}
	for _, sm := range m.Shards {
		sh, err := newShard(sm, m.UID)
		if err != nil {
			return nil, err
		}
		if sh.log, err = e.store.OpenShard(sh.store); err != nil {
			st.closeLogs()
			return nil, fmt.Errorf("open stream %s shard %s: %w", m.Name, sh.id, err)
		}
		sh.log.SetOnPublish(sh.notify.broadcast)
		if err := sh.log.Err(); err != nil {
			e.log.Error("shard log is damaged; it stays readable up to the damage and refuses writes",
				"stream", m.Name, "shard", sh.id, "err", err)
		}
		st.shards = append(st.shards, sh)
	}
	return st, nil
}

func newShard(sm shardMeta, uid string) (*shard, error) {
	start, ok1 := ParseHashKey(sm.StartHash)
	end, ok2 := ParseHashKey(sm.EndHash)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("catalog: shard %d has a bad hash range %q..%q", sm.Index, sm.StartHash, sm.EndHash)
	}
	return &shard{meta: sm, id: ShardID(sm.Index), rng: HashRange{start, end}, store: shardStoreKey(uid, sm.Index)}, nil
}

func (st *stream) closeLogs() {
	for _, sh := range st.shards {
		if sh.log != nil {
			sh.log.Close()
		}
	}
}

func (st *stream) syncMetaLocked() {
	st.meta.Shards = st.meta.Shards[:0]
	for _, sh := range st.shards {
		st.meta.Shards = append(st.meta.Shards, sh.meta)
	}
}

// statusLocked is the stream's status at time now, with any due transition
// applied. "" means the stream is gone. The caller holds st.mu (read).
func (st *stream) statusLocked(now int64) string {
	if t := st.meta.Transition; t != nil && t.AtMillis <= now {
		return t.To
	}
	return st.meta.Status
}

// settleLocked applies a due transition to the metadata. The caller holds
// st.mu for writing and persists afterwards if it changes anything else.
func (st *stream) settleLocked(now int64) {
	if t := st.meta.Transition; t != nil && t.AtMillis <= now {
		st.meta.Status = t.To
		st.meta.Transition = nil
	}
}

// shardByIndex returns the shard with the given index, or nil.
func (st *stream) shardByIndex(i uint32) *shard {
	// Shards are kept in index order, and indexes are dense from 0.
	if int(i) < len(st.shards) && st.shards[i].meta.Index == i {
		return st.shards[i]
	}
	for _, sh := range st.shards {
		if sh.meta.Index == i {
			return sh
		}
	}
	return nil
}

// CreateStreamParams are CreateStream's inputs, already validated against
// the model's constraints.
type CreateStreamParams struct {
	Name             string
	ShardCount       int // 0 when absent
	Mode             string
	Tags             map[string]string
	MaxRecordSizeKiB int // 0 when absent
	// WarmThroughputMiBps is nil when absent.
	WarmThroughputMiBps *int
	// RecordDistribution is AUTO, USER_PARTITION_KEY or "" (the latter).
	RecordDistribution string
}

// CreateStream creates a stream with evenly split shards. It is CREATING for
// the configured state delay, then ACTIVE.
func (e *Engine) CreateStream(p CreateStreamParams) error {
	if p.Mode == "" {
		p.Mode = ModeProvisioned
	}
	count := p.ShardCount
	if p.Mode == ModeOnDemand {
		count = onDemandShardCount
	}
	if p.MaxRecordSizeKiB == 0 {
		p.MaxRecordSizeKiB = defaultMaxRecordSizeKiB
	}
	e.lookup(p.Name) // finishes a deletion that is due
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return e.internalFailure(storage.ErrClosed)
	}
	now := e.now()
	if err := e.checkCreateLimitsLocked(p.Name, p.Mode, count, now.UnixMilli()); err != nil {
		return err
	}
	st, err := e.buildStream(p, count, now)
	if err != nil {
		e.releaseShards(count)
		return e.internalFailure(err)
	}
	st.mu.Lock()
	err = e.persistLocked(st)
	st.mu.Unlock()
	if err != nil {
		st.closeLogs()
		e.deleteLogs(st)
		e.releaseShards(count)
		return e.internalFailure(err)
	}
	e.mu.streams[p.Name] = st
	return nil
}

func (e *Engine) checkCreateLimitsLocked(name, mode string, count int, now int64) error {
	// A stream that is still DELETING holds its name, as on AWS.
	if e.mu.streams[name] != nil {
		return errorf(CodeResourceInUse, "Stream %s under account %s already exists.", name, e.cfg.AccountID)
	}
	creating := 0
	for _, st := range e.mu.streams {
		st.mu.RLock()
		if st.statusLocked(now) == StatusCreating {
			creating++
		}
		st.mu.RUnlock()
	}
	if creating >= e.cfg.MaxStreamsCreating {
		return errorf(CodeLimitExceeded, "This request would exceed the limit of %d streams in CREATING state for account %s.",
			e.cfg.MaxStreamsCreating, e.cfg.AccountID)
	}
	if mode == ModeOnDemand {
		onDemand := 0
		for _, st := range e.mu.streams {
			st.mu.RLock()
			if st.meta.Mode == ModeOnDemand {
				onDemand++
			}
			st.mu.RUnlock()
		}
		if onDemand >= onDemandStreamCountLimit {
			return errorf(CodeLimitExceeded, "This request would exceed the limit on the number of On-Demand streams for the account %s in %s. Current On-Demand streams count: %d. Limit: %d.",
				e.cfg.AccountID, e.cfg.Region, onDemand, onDemandStreamCountLimit)
		}
	}
	// Last, so that nothing fails after the shards are reserved but the
	// caller's own steps, which release them.
	return e.reserveShards(count)
}

// buildStream creates the shard logs of a new stream. Logs come first and
// the catalog record last, so a crash in between leaves only unreferenced
// log directories, never a stream without its logs.
func (e *Engine) buildStream(p CreateStreamParams, count int, now time.Time) (*stream, error) {
	var uid [8]byte
	if _, err := rand.Read(uid[:]); err != nil {
		return nil, err
	}
	m := streamMeta{
		Name: p.Name, UID: hex.EncodeToString(uid[:]), CreatedMillis: now.UnixMilli(),
		Status: StatusActive, Mode: p.Mode, RetentionHours: defaultRetentionHours,
		EncryptionType: "NONE", MaxRecordSizeKiB: p.MaxRecordSizeKiB, Tags: p.Tags,
		NextShardIndex: uint32(count), WarmThroughputMiBps: p.WarmThroughputMiBps, RecordDistribution: p.RecordDistribution,
	}
	if e.cfg.StateDelay > 0 {
		m.Status = StatusCreating
		m.Transition = &transition{To: StatusActive, AtMillis: now.Add(e.cfg.StateDelay).UnixMilli()}
	}
	st := &stream{meta: m}
	for i, r := range evenRanges(count) {
		sm := shardMeta{Index: uint32(i), StartHash: r.Start.String(), EndHash: r.End.String(), CreatedMillis: m.CreatedMillis}
		sh, err := newShard(sm, m.UID)
		if err != nil {
			panic(err) // evenRanges produced a range ParseHashKey rejects
		}
		if sh.log, err = e.store.CreateShard(sh.store); err != nil {
			st.closeLogs()
			e.deleteLogs(st)
			return nil, fmt.Errorf("create shard %s of %s: %w", sh.id, p.Name, err)
		}
		sh.log.SetOnPublish(sh.notify.broadcast)
		st.shards = append(st.shards, sh)
	}
	return st, nil
}

func (e *Engine) deleteLogs(st *stream) {
	for _, sh := range st.shards {
		if err := e.store.DeleteShard(sh.store); err != nil && !errors.Is(err, storage.ErrShardNotFound) {
			e.log.Warn("delete shard log", "stream", st.meta.Name, "shard", sh.id, "err", err)
		}
	}
}

// DeleteStream moves a stream to DELETING; after the state delay it and its
// data are gone.
func (e *Engine) DeleteStream(name string, enforceConsumerDeletion bool) error {
	st := e.lookup(name)
	if st == nil {
		return e.streamNotFound(name)
	}
	now := e.nowMillis()
	st.mu.Lock()
	st.settleLocked(now)
	if st.meta.Status == StatusDeleting {
		st.mu.Unlock()
		return errorf(CodeResourceInUse, "Stream %s under account %s is in use, instead in state DELETING.", name, e.cfg.AccountID)
	}
	if n := st.consumerCountLocked(now); n > 0 && !enforceConsumerDeletion {
		st.mu.Unlock()
		return errorf(CodeResourceInUse, "Stream %s under account %s has %d registered consumers. Deregister them or set EnforceConsumerDeletion to true.", name, e.cfg.AccountID, n)
	}
	st.meta.Status = StatusDeleting
	st.meta.Transition = &transition{To: "", AtMillis: now + e.cfg.StateDelay.Milliseconds()}
	err := e.persistLocked(st)
	st.mu.Unlock()
	if err != nil {
		return e.internalFailure(err)
	}
	e.subs.endConsumer(e.consumerKeyPrefix(name, "")[:len(name)+1])
	if e.cfg.StateDelay == 0 {
		e.finishDelete(st)
	} else {
		e.nudgeReaper()
	}
	return nil
}

// finishDelete removes a stream whose deletion is due: catalog record first,
// then its logs, so a crash in between leaves only unreferenced files.
func (e *Engine) finishDelete(st *stream) {
	e.mu.Lock()
	if e.mu.streams[st.meta.Name] != st {
		e.mu.Unlock()
		return // someone else finished it
	}
	delete(e.mu.streams, st.meta.Name)
	e.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.gone = true
	e.releaseShards(len(st.openShardsLocked()))
	err := e.store.Catalog().Update(func(tx *storage.CatalogTx) error {
		return tx.Delete(bucketStreams, st.meta.Name)
	})
	if err != nil {
		e.log.Error("delete stream from catalog", "stream", st.meta.Name, "err", err)
	}
	st.closeLogs()
	e.deleteLogs(st)
}

// ShardInfo describes one shard.
type ShardInfo struct {
	ShardID               string
	ParentShardID         string
	AdjacentParentShardID string
	HashKeyRange          HashRange
	StartingSequence      string
	EndingSequence        string // "" while open
	CreatedMillis         int64
	ClosedMillis          int64 // 0 while open
}

// StreamInfo describes a stream.
type StreamInfo struct {
	Name              string
	ARN               string
	Status            string
	Mode              string
	CreatedMillis     int64
	RetentionHours    int
	EncryptionType    string
	KeyID             string
	ShardLevelMetrics []string
	MaxRecordSizeKiB  int
	OpenShardCount    int
	ConsumerCount     int
	Shards            []ShardInfo // every shard within retention, in index order
}

// DescribeStream returns a snapshot of the stream.
func (e *Engine) DescribeStream(name string) (StreamInfo, error) {
	st := e.lookup(name)
	if st == nil {
		return StreamInfo{}, e.streamNotFound(name)
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	m := &st.meta
	now := e.nowMillis()
	info := StreamInfo{
		ConsumerCount: st.consumerCountLocked(now),
		Name:          m.Name, ARN: e.streamARN(m.Name), Status: st.statusLocked(now), Mode: m.Mode,
		CreatedMillis: m.CreatedMillis, RetentionHours: m.RetentionHours, EncryptionType: m.EncryptionType,
		KeyID: m.KeyID, ShardLevelMetrics: append([]string(nil), m.ShardLevelMetrics...), MaxRecordSizeKiB: m.MaxRecordSizeKiB,
	}
	for _, sh := range st.shards {
		if st.expiredLocked(sh, now) {
			continue
		}
		info.Shards = append(info.Shards, shardInfo(sh))
		if sh.meta.ClosedMillis == 0 {
			info.OpenShardCount++
		}
	}
	return info, nil
}

func shardInfo(sh *shard) ShardInfo {
	si := ShardInfo{
		ShardID: sh.id, HashKeyRange: sh.rng, CreatedMillis: sh.meta.CreatedMillis, ClosedMillis: sh.meta.ClosedMillis,
		StartingSequence: sh.seq(0, sh.meta.CreatedMillis).String(),
	}
	if sh.meta.Parent != nil {
		si.ParentShardID = ShardID(*sh.meta.Parent)
	}
	if sh.meta.AdjacentParent != nil {
		si.AdjacentParentShardID = ShardID(*sh.meta.AdjacentParent)
	}
	if sh.meta.ClosedMillis != 0 {
		si.EndingSequence = sh.seq(counterShardEnd, sh.meta.ClosedMillis).String()
	}
	return si
}

// seq builds the sequence number with the given counter in this shard.
func (sh *shard) seq(counter uint64, recordMillis int64) SeqNum {
	return SeqNum{ShardCreatedSec: sh.seqSec(), ShardIndex: sh.meta.Index, Counter: counter, RecordSec: recordMillis / 1000}
}

// StreamSummary is one ListStreams entry.
type StreamSummary struct {
	Name          string
	ARN           string
	Status        string
	Mode          string
	CreatedMillis int64
}

// ListStreams returns every stream, sorted by name.
func (e *Engine) ListStreams() []StreamSummary {
	names := e.streamNames()
	out := make([]StreamSummary, 0, len(names))
	now := e.nowMillis()
	for _, n := range names {
		st := e.lookup(n)
		if st == nil {
			continue
		}
		st.mu.RLock()
		s := StreamSummary{Name: n, ARN: e.streamARN(n), Status: st.statusLocked(now), Mode: st.meta.Mode, CreatedMillis: st.meta.CreatedMillis}
		st.mu.RUnlock()
		if s.Status != "" {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// trimHorizonLocked is the oldest arrival time the stream still retains.
func (st *stream) trimHorizonLocked(now int64) int64 {
	return max(now-int64(st.meta.RetentionHours)*3600_000, st.meta.CreatedMillis, st.meta.RetainedFromMillis)
}

// expiredLocked reports whether sh is a closed shard all of whose records
// are past retention; such shards are no longer listed or readable.
func (st *stream) expiredLocked(sh *shard, now int64) bool {
	return sh.meta.ClosedMillis != 0 && sh.meta.ClosedMillis < st.trimHorizonLocked(now)
}
