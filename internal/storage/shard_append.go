package storage

import (
	"crypto/cipher"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sluicedata/sluice/internal/vfs"
)

// maxPooledBatchBytes: batch buffers up to this size are reused; larger
// ones (rare: big PutRecords calls) are left to the garbage collector so
// the pool never pins many megabytes.
const maxPooledBatchBytes = 1 << 20

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Append writes entries as one batch and returns once the batch is durable
// (fdatasync'd). The records get offsets [FirstOffset, FirstOffset+len) and
// the arrival time max(nowMillis, the previous batch's).
//
// Concurrent Appends share fsyncs (group commit): while one sync runs,
// later writers write their batches and wait; the next sync covers them all.
//
// At most Options.MaxPendingAppendBytes of batches are in progress at once;
// an Append past that waits for room, at most Options.AppendWait, holding
// nothing but its entries, and then returns ErrBusy.
//
// With Options.NoSync the batch is published as soon as it is written,
// with no fdatasync.
//
// Errors: ErrBatchTooLarge (nothing written; the log stays usable), ErrBusy
// (likewise), ErrClosed, or the log's sticky error: after a write or sync
// error, or if the log opened with corruption, this and later Appends fail
// with it and no record is acknowledged that is not durable. A log failed
// by an I/O error re-arms itself: the first Append at least a backoff
// (100 ms, doubling to 5 s, measured in nowMillis) after the last attempt
// cuts the active segment back to what the last successful fsync made
// durable, fsyncs and checks it (shard_rearm.go), and then appends as
// usual. Corruption is never re-armed. len(entries) must be at least 1.
func (l *ShardLog) Append(entries []Entry, nowMillis int64) (AppendResult, error) {
	return l.AppendWithKey(entries, nowMillis, "")
}

// AppendWithKey is Append with encryption at rest: with a non-empty keyRef
// the batch is sealed with AES-256-GCM under the active segment's data
// key, and the log first starts a new segment with a fresh data key made
// by Options.DataKeys under keyRef if the active segment is not encrypted
// under keyRef (an empty keyRef likewise starts a plaintext segment after
// an encrypted one). So every segment is wholly plaintext or wholly under
// one data key, and a change of key takes effect with the next batch.
//
// An error from DataKeys (an unknown key, say) fails this call only, not
// the log, and is returned wrapped.
func (l *ShardLog) AppendWithKey(entries []Entry, nowMillis int64, keyRef string) (AppendResult, error) {
	p := l.StartAppendWithKey(entries, nowMillis, keyRef)
	return p.Wait()
}

// PendingAppend is an append whose batch StartAppendWithKey wrote and
// which may not be durable yet; Wait finishes it. Its zero value is not
// usable.
type PendingAppend struct {
	l     *ShardLog
	res   AppendResult
	err   error
	end   uint64     // the offset durability waits for
	size  int64      // gate bytes held until Wait
	round *syncRound // with a store syncer: the round the batch joined
	wait  bool       // Wait has durability to wait for
}

// StartAppendWithKey is the first half of AppendWithKey: it writes the
// batch (or fails) and returns without waiting for durability; Wait, which
// must be called, waits and returns what AppendWithKey would. The records
// become visible to readers, and the log's OnPublish is called, once they
// are durable: with Options.SharedSync when their round's sync ends,
// which may be before Wait returns; syncing per log, when Wait returns;
// with Options.NoSync, when this returns. Starting appends on several logs
// before waiting for any lets one caller's batches share one sync without
// a goroutine per log. A caller that starts appends on several logs must
// start them in the same order as every other such caller (the engine's
// is the shards' hash key order): a failed log's re-arm waits for the
// appends started on it.
func (l *ShardLog) StartAppendWithKey(entries []Entry, nowMillis int64, keyRef string) PendingAppend {
	p := PendingAppend{l: l}
	if len(entries) == 0 {
		panic("storage: Append of 0 entries")
	}
	if len(keyRef) > maxKeyRefBytes {
		p.err = fmt.Errorf("append to %s: key reference of %d bytes is longer than %d", l.key, len(keyRef), maxKeyRefBytes)
		return p
	}
	size := encodedBatchBytes(entries)
	recStart := batchHeaderBytes
	if keyRef != "" {
		size += encOverheadBytes
		recStart += gcmNonceBytes
	}
	if size > maxBatchBytes {
		p.err = fmt.Errorf("append %d records of %d bytes to %s: %w", len(entries), size, l.key, ErrBatchTooLarge)
		return p
	}
	// The batch buffer is taken only once there is room for it, so
	// Appends queued behind a slow disk hold nothing but their entries.
	if !l.gate.acquire(size, l.opts.MaxPendingAppendBytes, l.opts.AppendWait) {
		p.err = fmt.Errorf("append %d records of %d bytes to %s: %w", len(entries), size, l.key, ErrBusy)
		return p
	}
	bp := batchPool.Get().(*[]byte)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	// Encoding outside the lock keeps the critical section to the header,
	// the CRC and one pwrite.
	if keyRef != "" {
		encodeRecords(buf[:size-gcmTagBytes], recStart, entries)
	} else {
		encodeRecords(buf, recStart, entries)
	}

	var written uint64 // before the write: see storeSyncer
	if l.syncer != nil {
		written = l.syncsReturned()
	}
	l.mu.Lock()
	p.res, p.end, p.err = l.writeLocked(buf, len(entries), nowMillis, keyRef)
	switch {
	case p.err != nil:
	case l.opts.NoSync:
		// Visible at once; durableEnd stays at the last sync, which a
		// roll or Close makes.
		l.storeViewLocked(p.end, l.mu.writePos, l.mu.lastArrival, l.mu.entries)
		l.flushDueLocked()
	default:
		l.mu.inflight++
		p.wait, p.size = true, size
		if l.syncer != nil {
			p.round = l.joinStoreSyncLocked(p.end, written)
		}
	}
	l.mu.Unlock()
	// The page cache holds the batch now: the buffer is not needed again.
	if cap(*bp) <= maxPooledBatchBytes {
		batchPool.Put(bp)
	}
	if !p.wait {
		l.gate.release(size)
	}
	return p
}

// Result returns what Wait will return if the batch becomes durable: its
// place in the log is fixed once StartAppendWithKey has written it, so a
// caller can prepare its answer while the sync runs. An append that failed
// at the start returns its error, as Wait will.
func (p *PendingAppend) Result() (AppendResult, error) { return p.res, p.err }

// WaitsAlone reports whether each append's Wait runs a sync of its own
// log (per-log group commit: neither Options.SharedSync nor NoSync), so
// that a caller waiting for appends on several logs should wait for them
// at once, not one after another.
func (l *ShardLog) WaitsAlone() bool { return l.syncer == nil && !l.opts.NoSync }

// Wait returns once the batch StartAppendWithKey wrote is durable, or the
// append has failed, with AppendWithKey's results. Call it once.
func (p *PendingAppend) Wait() (AppendResult, error) {
	if !p.wait {
		return p.res, p.err // the zero result with an error
	}
	p.wait = false
	l := p.l
	defer l.gate.release(p.size)
	if p.round != nil {
		<-p.round.done
	}
	l.mu.Lock()
	var err error
	if p.round != nil {
		err = l.finishStoreSyncLocked(p.round, p.end)
	} else {
		err = l.waitDurableLocked(p.end)
	}
	l.mu.inflight--
	if l.mu.inflight == 0 && l.mu.err != nil {
		l.mu.cond.Broadcast() // a re-arm may be waiting for this
	}
	l.mu.Unlock()
	if err != nil {
		return AppendResult{}, err
	}
	return p.res, nil
}

// noSyncFlushBytes: with Options.NoSync, a background fdatasync of the
// active segment starts every this many bytes, so that the sync of a roll,
// which writers wait for, finds little left to write. Left to the kernel,
// a 64 MiB segment could still be all dirty, or unflushed in the disk's
// cache, at its roll: on this project's 2-core test machine such a roll's
// fdatasync took 60-150 ms (and starting writeback early with
// sync_file_range did not help: the device flush is the slow part).
const noSyncFlushBytes = 4 << 20

// writebackBatchBytes: a batch at least this big starts its own writeback
// as soon as it is written (vfs.WritebackStarter), so that the disk works
// on it while the call's other batches are written and the sync in
// flight ends, and the sync that makes it durable finds less left to
// write. Smaller batches leave it to that sync: on this project's 2-core
// test machine starting writeback for every batch of a 100-byte-record
// PutRecords (about 13 KiB a shard) cost 11% more server CPU per record,
// while 1 KiB records (about 128 KiB a shard) went 7-18% faster.
const writebackBatchBytes = 64 << 10

// flushDueLocked starts a background fdatasync of the active segment if
// noSyncFlushBytes have been written since the last one started and none
// is running. It runs as a sync (l.mu.syncing), so rolls, Close and
// re-arms wait for it, as they would for a group commit's, and a failure
// fails the log.
func (l *ShardLog) flushDueLocked() {
	if l.mu.syncing || l.mu.writePos-l.mu.flushedPos < noSyncFlushBytes && l.mu.flushedPos <= l.mu.writePos {
		return
	}
	seg := l.activeSegment()
	if !seg.acquire() {
		return
	}
	l.mu.flushedPos = l.mu.writePos
	l.mu.syncing = true
	go func() {
		defer seg.release()
		err := seg.f.Sync()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.mu.syncing = false
		if err != nil {
			l.failLocked(fmt.Errorf("sync segment %s: %w", seg.path, err))
		}
		l.mu.cond.Broadcast()
	}()
}

// writeLocked assigns the batch its offsets and arrival time and writes it
// to the active segment with one pwrite. It rolls to a new segment first if
// the batch would overflow the active one, or if the active one's first
// record is SegmentMaxAge old: retention deletes whole segments, so on a
// slow shard that bounds how long expired records outlive their retention.
// The age test is one comparison with the first index entry, which every
// non-empty segment has. It returns the offset the batch's durability
// waits for.
func (l *ShardLog) writeLocked(buf []byte, count int, nowMillis int64, keyRef string) (AppendResult, uint64, error) {
	size := int64(len(buf))
	if err := l.readySegmentLocked(size, nowMillis, keyRef); err != nil {
		return AppendResult{}, 0, fmt.Errorf("append to %s: %w", l.key, err)
	}
	res := AppendResult{FirstOffset: l.mu.nextOffset, ArrivalMillis: max(nowMillis, l.mu.lastArrival)}
	var aead cipher.AEAD
	if keyRef != "" {
		// Known since the segment was made, or unwrapped once after a
		// restart.
		var err error
		if aead, err = l.activeSegment().key.cipher(l.opts.DataKeys); err != nil {
			return AppendResult{}, 0, fmt.Errorf("append to %s: %w", l.key, err)
		}
	}
	if err := sealBatch(buf, res.FirstOffset, count, res.ArrivalMillis, aead); err != nil {
		return AppendResult{}, 0, fmt.Errorf("append to %s: %w", l.key, err)
	}
	pos := l.mu.writePos
	if _, err := l.mu.active.WriteAt(buf, pos); err != nil {
		// The file may now hold part of the batch; the log is failed, so it
		// is never read, and recovery cuts it off as a torn tail.
		err = fmt.Errorf("write segment %s at %d: %w", l.activeSegment().path, pos, err)
		l.failLocked(err)
		return AppendResult{}, 0, fmt.Errorf("append to %s: %w", l.key, err)
	}
	if len(l.mu.entries) == 0 || l.mu.sinceIndex >= int64(l.opts.IndexIntervalBytes) {
		// Appending may write past the end of a slice a reader's view holds,
		// never inside it, so views need no copy.
		l.mu.entries = append(l.mu.entries, indexEntry{arrival: res.ArrivalMillis,
			rel: uint32(res.FirstOffset - l.activeSegment().base), pos: uint32(pos)})
		l.mu.sinceIndex = 0
	}
	if size >= writebackBatchBytes && !l.opts.NoSync {
		if wb, ok := l.mu.active.(vfs.WritebackStarter); ok {
			// A hint: a failed writeback is the sync's to report.
			_ = wb.StartWriteback(pos, size)
		}
	}
	l.mu.sinceIndex += size
	l.mu.writePos += size
	l.mu.fileEnd = max(l.mu.fileEnd, l.mu.writePos)
	l.mu.nextOffset += uint64(count)
	l.mu.lastArrival = res.ArrivalMillis
	l.preallocLocked()
	return res, l.mu.nextOffset, nil
}

// readySegmentLocked readies the active segment for a batch of size bytes
// under keyRef: it re-arms a failed log if the backoff allows, and rolls
// (or rekeys) the active segment if the batch needs it. A roll waits for
// a group-commit fsync in progress to finish rather than fsync the same
// file at the same time: Linux reports a writeback error to only one of
// the fsyncs of a file description that are waiting for it, and the other,
// told all is well, would publish data the disk may not have.
func (l *ShardLog) readySegmentLocked(size, nowMillis int64, keyRef string) error {
	for {
		if l.mu.err != nil {
			if err := l.rearmLocked(nowMillis); err != nil {
				return err
			}
		}
		if l.mu.closed {
			return ErrClosed
		}
		nonEmpty := len(l.mu.entries) > 0
		rekey := l.activeSegment().keyRef() != keyRef
		full := nonEmpty && (l.mu.writePos+size > l.opts.SegmentBytes ||
			nowMillis-l.mu.entries[0].arrival >= l.opts.SegmentMaxAge.Milliseconds())
		if !rekey && !full {
			return nil
		}
		if l.mu.syncing {
			// Everything above may change meanwhile: check it again.
			l.mu.cond.Wait()
			continue
		}
		// Every encrypted segment gets a data key of its own.
		var hdr segmentKeyInfo
		var aead cipher.AEAD
		if keyRef != "" {
			var err error
			if hdr, aead, err = l.newDataKey(keyRef); err != nil {
				return err
			}
		}
		roll := l.rollLocked
		if !nonEmpty {
			roll = l.rekeyEmptyLocked
		}
		if err := roll(hdr, aead); err != nil {
			l.failLocked(err)
			return err
		}
		return nil
	}
}

// waitDurableLocked returns once offsets below end are durable, or the log
// has failed. If no sync is running, the caller runs one for everyone
// (group commit leader); otherwise it waits for the running one, and the
// first waiter to wake after it leads the next.
func (l *ShardLog) waitDurableLocked(end uint64) error {
	for {
		if l.mu.durableEnd >= end {
			return nil
		}
		if l.mu.err != nil {
			return fmt.Errorf("append to %s: %w", l.key, l.mu.err)
		}
		if !l.mu.syncing {
			l.syncLocked()
			continue
		}
		l.mu.cond.Wait()
	}
}

// syncLocked fdatasyncs the active segment without holding the lock, so
// writers can add batches meanwhile; on success it publishes everything
// that was written before the sync started.
func (l *ShardLog) syncLocked() {
	l.mu.syncing = true
	f, seg := l.mu.active, l.activeSegment()
	target, pos, arrival, entries := l.mu.nextOffset, l.mu.writePos, l.mu.lastArrival, l.mu.entries
	l.mu.Unlock()
	err := f.Sync()
	l.mu.Lock()
	l.mu.syncing = false
	defer l.mu.cond.Broadcast()
	if err != nil {
		l.failLocked(fmt.Errorf("sync segment %s: %w", seg.path, err))
		return
	}
	l.mu.rearm.succeeded()
	if target <= l.mu.durableEnd || l.activeSegment() != seg {
		// A roll synced and published this segment meanwhile.
		return
	}
	l.publishAtLocked(target, pos, arrival, entries)
}

// publishAtLocked publishes a durable state captured before a sync, which
// may be behind what has been written since.
func (l *ShardLog) publishAtLocked(end uint64, pos, arrival int64, entries []indexEntry) {
	l.mu.durableEnd = end
	l.storeViewLocked(end, pos, arrival, entries)
}

// storeViewLocked makes offsets below end visible to readers, and tells
// OnPublish.
func (l *ShardLog) storeViewLocked(end uint64, pos, arrival int64, entries []indexEntry) {
	l.view.Store(&logView{
		segs:        l.mu.segs,
		start:       l.mu.segs[0].base,
		end:         end,
		activeSize:  pos,
		entries:     entries[:len(entries):len(entries)],
		lastArrival: arrival,
	})
	l.mu.cond.Broadcast()
	if f := l.onPublish.Load(); f != nil {
		(*f)()
	}
}

// rollLocked seals the active segment and starts a new one at the next
// offset: sync the old segment (so everything in it is durable and
// visible), write its index files, create the new file with its header,
// and fsync the directory so the new file survives a crash before any
// record in it is acknowledged. It runs once per SegmentBytes, under the
// lock: writers wait for it.
func (l *ShardLog) rollLocked(hdr segmentKeyInfo, aead cipher.AEAD) error {
	old := l.activeSegment()
	if err := l.cutPreallocLocked(); err != nil {
		return err
	}
	if err := l.mu.active.Sync(); err != nil {
		return fmt.Errorf("sync segment %s: %w", old.path, err)
	}
	l.publishLocked()
	h := l.activeIndexHeaderLocked()
	idx, tix, err := writeIndexFiles(l.fs, l.dir, h, l.mu.entries)
	if err != nil {
		return fmt.Errorf("seal %s: %w", old.path, err)
	}
	sealed := &segment{base: old.base, path: old.path, f: old.f, refs: old.refs,
		dataStart: old.dataStart, key: old.key, sealed: &sealedInfo{
			end: h.end, size: h.segmentSize, firstArrival: l.mu.entries[0].arrival,
			lastArrival: h.lastArrival, idx: idx, tix: tix, count: len(l.mu.entries)}}
	base := l.mu.nextOffset
	path := filepath.Join(l.dir, segmentName(base, segmentSuffix))
	f, err := l.fs.Create(path)
	if err == nil {
		_, err = f.WriteAt(encodeSegmentHeader(base, hdr), 0)
	}
	if err == nil {
		err = l.fs.SyncDir(l.dir)
	}
	if err != nil {
		idx.Close()
		tix.Close()
		if f != nil {
			f.Close()
		}
		return fmt.Errorf("create segment %s: %w", path, err)
	}
	segs := make([]*segment, len(l.mu.segs), len(l.mu.segs)+1)
	copy(segs, l.mu.segs)
	segs[len(segs)-1] = sealed
	seg := newSegment(base, path, f, nil, hdr)
	seg.key.setCipher(aead)
	l.mu.segs = append(segs, seg)
	l.mu.active = f
	l.mu.writePos, l.mu.entries, l.mu.sinceIndex, l.mu.flushedPos = seg.dataStart, nil, 0, 0
	l.mu.fileEnd = seg.dataStart
	l.publishLocked()
	return nil
}

// newDataKey makes a data key for a new segment under keyRef.
func (l *ShardLog) newDataKey(keyRef string) (segmentKeyInfo, cipher.AEAD, error) {
	if l.opts.DataKeys == nil {
		return segmentKeyInfo{}, nil, ErrNoDataKeys
	}
	plain, wrapped, err := l.opts.DataKeys.GenerateDataKey(keyRef)
	if err != nil {
		return segmentKeyInfo{}, nil, err
	}
	aead, err := newAEAD(plain)
	clear(plain)
	if err != nil {
		return segmentKeyInfo{}, nil, err
	}
	if len(wrapped) == 0 || len(wrapped) > maxWrappedBytes {
		return segmentKeyInfo{}, nil, fmt.Errorf("wrapped data key of %d bytes, want 1..%d", len(wrapped), maxWrappedBytes)
	}
	return segmentKeyInfo{keyRef: keyRef, wrapped: wrapped}, aead, nil
}

// rekeyEmptyLocked rewrites the header of the active segment, which holds
// no batch, for another key (or none): a segment's name is its base
// offset, so an empty one cannot be rolled. The new header reaches the
// disk with the first batch's sync; a crash before that leaves a segment
// with no acknowledged record, which recovery rewrites if its header is
// torn.
func (l *ShardLog) rekeyEmptyLocked(hdr segmentKeyInfo, aead cipher.AEAD) error {
	old := l.activeSegment()
	b := encodeSegmentHeader(old.base, hdr)
	if err := l.mu.active.Truncate(0); err != nil {
		return fmt.Errorf("rekey segment %s: %w", old.path, err)
	}
	if _, err := l.mu.active.WriteAt(b, 0); err != nil {
		return fmt.Errorf("rekey segment %s: %w", old.path, err)
	}
	seg := &segment{base: old.base, path: old.path, f: old.f, refs: old.refs, dataStart: int64(len(b))}
	if hdr.keyRef != "" {
		seg.key = &segmentKey{info: hdr}
		seg.key.setCipher(aead)
	}
	segs := slices.Clone(l.mu.segs)
	segs[len(segs)-1] = seg
	l.mu.segs = segs
	l.mu.writePos, l.mu.sinceIndex = seg.dataStart, 0
	l.mu.fileEnd = seg.dataStart
	l.publishLocked()
	return nil
}

// appendGate bounds the batch bytes of a log's Appends in progress
// (Options.MaxPendingAppendBytes): each batch buffer is allocated only
// after its bytes are admitted. It is not FIFO: a waiter that wakes takes
// room if there is room for it, so a large batch may wait behind smaller
// ones, at most AppendWait.
type appendGate struct {
	mu      sync.Mutex
	pending int64         // bytes admitted and not yet released
	waiters int           // acquires waiting for room
	wake    chan struct{} // closed (and replaced) when room is released
}

// acquire admits n bytes, waiting up to wait for room under limit; it
// returns false if the wait ran out. A gate with nothing pending admits any
// n.
func (g *appendGate) acquire(n, limit int64, wait time.Duration) bool {
	var timer *time.Timer
	g.mu.Lock()
	for g.pending > 0 && g.pending+n > limit {
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		if g.wake == nil {
			g.wake = make(chan struct{})
		}
		wake := g.wake
		g.waiters++
		g.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			g.mu.Lock()
			g.waiters--
			g.mu.Unlock()
			return false
		}
		g.mu.Lock()
		g.waiters--
	}
	g.pending += n
	g.mu.Unlock()
	return true
}

// release gives back n bytes acquire admitted and wakes the waiters.
func (g *appendGate) release(n int64) {
	g.mu.Lock()
	g.pending -= n
	if g.pending < 0 {
		panic(fmt.Sprintf("storage: append gate released %d bytes more than it admitted", -g.pending))
	}
	if g.wake != nil {
		// Every waiter holds this channel, or has been woken by an
		// earlier release and will look again.
		close(g.wake)
		g.wake = nil
	}
	g.mu.Unlock()
}

// pendingBytes and waiting report the gate's state, for tests and
// diagnostics.
func (g *appendGate) pendingBytes() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending
}

func (g *appendGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters
}
