package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Re-arming a log that a write or sync error failed (a full disk, most
// often) is specified in docs/format/segment.md ("Write failures and
// re-arming"). In short: what the last successful fsync covered is durable
// and was acknowledged; everything written after it is suspect, whether
// the write failed (ENOSPC part way through a batch) or the fsync did
// (Linux may then have dropped the dirty pages while still serving them
// from the page cache, so no later fsync would write them). So the active
// segment is cut back to the durable size, the cut is fsynced, and the
// durable part is checked batch by batch before any Append continues.

// Backoff between re-arm attempts, in the milliseconds of Append's
// nowMillis: the first Append to find the log failed tries at once (a
// one-off error clears without delay), and each attempt that is not
// followed by a successful fsync makes the next wait twice as long,
// starting at rearmMinDelayMillis and up to rearmMaxDelayMillis.
const (
	rearmMinDelayMillis = 100
	rearmMaxDelayMillis = 5000
)

// rearmState is the backoff of a failed log's re-arm attempts; it lives in
// ShardLog.mu.
type rearmState struct {
	delay   int64 // the wait after the next attempt; 0 until an attempt since the last good fsync
	at      int64 // no attempt before this nowMillis
	last    int64 // nowMillis of the last attempt
	running bool  // an Append is re-arming the log
}

// due reports whether an attempt may be made at now. A clock that went
// back past the last attempt makes it due, so that a clock step cannot
// hold a log failed for long.
func (r *rearmState) due(now int64) bool {
	return r.delay == 0 || now >= r.at || now < r.last
}

// attempt records an attempt at now and sets the wait before the next.
func (r *rearmState) attempt(now int64) {
	wait := max(r.delay, rearmMinDelayMillis)
	r.last, r.at = now, now+wait
	r.delay = min(2*wait, rearmMaxDelayMillis)
}

// succeeded resets the backoff after a successful fsync.
func (r *rearmState) succeeded() { r.delay = 0 }

// rearmLocked tries to make a failed log writable again, if the failure is
// an I/O error and the backoff allows an attempt at now. It returns nil if
// the log accepts appends, and otherwise the error for the caller.
func (l *ShardLog) rearmLocked(now int64) error {
	if l.mu.closed {
		return ErrClosed
	}
	if !l.rearmableLocked() || l.mu.rearm.running || !l.mu.rearm.due(now) {
		return l.mu.err
	}
	l.mu.rearm.running = true
	defer func() { l.mu.rearm.running = false }()
	// Appends that wrote a batch before the failure must all see the
	// failure (or their fsync) before the written state is rewound: a
	// waiter that woke after the rewind could otherwise take a later
	// batch's fsync for its own.
	for l.mu.inflight > 0 || l.mu.syncing {
		l.mu.cond.Wait()
	}
	if l.mu.closed {
		return ErrClosed
	}
	l.mu.rearm.attempt(now)
	failure := l.mu.err
	if err := l.restoreDurableLocked(); err != nil {
		var cerr *CorruptionError
		if errors.As(err, &cerr) {
			l.mu.err = cerr
			l.damage.Store(cerr)
			l.logger.Error("storage: shard log is corrupt; refusing writes", "shard", l.key,
				"file", cerr.File, "offset", cerr.Offset, "reason", cerr.Reason)
			return cerr
		}
		l.logger.Warn("storage: re-arming shard log failed; will retry", "shard", l.key,
			"err", err, "retry_in_ms", l.mu.rearm.at-now)
		return l.mu.err
	}
	l.mu.err = nil
	l.logger.Warn("storage: shard log re-armed after a write failure", "shard", l.key,
		"failure", failure, "end", l.mu.nextOffset)
	return nil
}

// rearmableLocked reports whether the log's failure is one a re-arm may
// clear: an I/O error on a log with an active segment, not corruption.
func (l *ShardLog) rearmableLocked() bool {
	var cerr *CorruptionError
	return l.mu.active != nil && !errors.As(l.mu.err, &cerr)
}

// restoreOnCloseLocked is the re-arm's restore for Close of a failed log:
// the next open trusts every batch it reads back, and after a failed fsync
// the page cache may hold batches the disk does not, so the segment is cut
// back to its durable size first. If that fails too, the log closes
// failed and the next open sees what the kernel shows it.
func (l *ShardLog) restoreOnCloseLocked() {
	// Appends that wrote before the failure return as soon as they run.
	for l.mu.inflight > 0 {
		l.mu.cond.Wait()
	}
	if err := l.restoreDurableLocked(); err != nil {
		l.logger.Error("storage: closing a failed shard log without cutting it back to its durable end",
			"shard", l.key, "failure", l.mu.err, "err", err)
		return
	}
	l.mu.err = nil
}

// restoreDurableLocked brings the active segment back to the durable state
// readers see: it removes files a failed roll left, cuts the segment to its
// durable size, fsyncs, checks every durable batch, and resets the written
// state to it. An I/O error leaves the log failed, to be retried; a
// *CorruptionError means the durable data does not check.
func (l *ShardLog) restoreDurableLocked() error {
	v := l.view.Load()
	seg := l.activeSegment()
	if last := v.segs[len(v.segs)-1]; last.base != seg.base {
		panic(fmt.Sprintf("storage: %s: readers' last segment %d is not the active segment %d", l.key, last.base, seg.base))
	}
	if err := l.removeRollLeftoversLocked(seg.base); err != nil {
		return err
	}
	size, end := v.activeSize, v.end
	hdr := encodeSegmentHeader(seg.base, segmentKeyOf(seg))
	if int64(len(hdr)) != seg.dataStart {
		panic(fmt.Sprintf("storage: %s: header of %d bytes, data starts at %d", seg.path, len(hdr), seg.dataStart))
	}
	f := l.mu.active
	if end == seg.base {
		// No durable batch: the header is fsynced only with the first one,
		// and a failed rekey may have cut it, so it is written again.
		if _, err := f.WriteAt(hdr, 0); err != nil {
			return fmt.Errorf("rewrite header of %s: %w", seg.path, err)
		}
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s to %d: %w", seg.path, size, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", seg.path, err)
	}
	res, err := l.checkDurableLocked(seg, hdr, size, end)
	if err != nil {
		return err
	}
	l.mu.writePos, l.mu.nextOffset, l.mu.durableEnd = size, end, end
	l.mu.fileEnd = size
	l.mu.entries, l.mu.sinceIndex = res.entries, res.sinceIndex
	l.mu.lastArrival = v.lastArrival
	l.publishLocked()
	return nil
}

// checkDurableLocked reads back the active segment's header and batches
// up to size and checks that they are what the log published: the header
// it wrote and batches, each with a good CRC, ending exactly at end.
func (l *ShardLog) checkDurableLocked(seg *segment, hdr []byte, size int64, end uint64) (scanResult, error) {
	got := make([]byte, len(hdr))
	if _, err := l.mu.active.ReadAt(got, 0); err != nil {
		return scanResult{}, fmt.Errorf("read header of %s: %w", seg.path, err)
	}
	if !bytes.Equal(got, hdr) {
		return scanResult{}, &CorruptionError{File: seg.path, Offset: 0,
			Reason: "segment header differs from the one written, after a write failure"}
	}
	var prevArrival int64
	if n := len(l.mu.segs); n > 1 {
		prevArrival = l.mu.segs[n-2].sealed.lastArrival
	}
	res, err := scanSegment(l.mu.active, seg.base, seg.dataStart, size, l.opts.IndexIntervalBytes, prevArrival)
	if err != nil {
		return res, fmt.Errorf("check %s: %w", seg.path, err)
	}
	if res.badReason == "" && (res.end != end || res.pos != size) {
		res.badReason = fmt.Sprintf("durable batches end at offset %d, byte %d; want offset %d, byte %d",
			res.end, res.pos, end, size)
	}
	if res.badReason != "" {
		return res, &CorruptionError{File: seg.path, Offset: res.pos,
			Reason: "after a write failure: " + res.badReason}
	}
	return res, nil
}

// removeRollLeftoversLocked removes what a failed roll may have left: a
// segment file after the active one (created, perhaps with its header,
// before the roll failed) and temporary index files, then fsyncs the
// directory. The leftover segment must go before the active one grows
// again: after a crash, a segment after it would make the active segment
// a sealed one that ends past the next one's base.
func (l *ShardLog) removeRollLeftoversLocked(activeBase uint64) error {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", l.dir, err)
	}
	removed := false
	for _, n := range names {
		base, isSeg := parseSegmentName(n)
		if !(isSeg && base > activeBase) && !strings.HasSuffix(n, tmpSuffix) {
			continue
		}
		path := filepath.Join(l.dir, n)
		if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		l.logger.Info("storage: removed a failed roll's leftover", "file", path)
		removed = true
	}
	if !removed {
		return nil
	}
	return syncDirs(l.fs, l.dir)
}

// segmentKeyOf returns the key extension seg's header carries.
func segmentKeyOf(seg *segment) segmentKeyInfo {
	if seg.key == nil {
		return segmentKeyInfo{}
	}
	return seg.key.info
}
