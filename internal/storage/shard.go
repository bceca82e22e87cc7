package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/sluicedata/sluice/internal/vfs"
)

// ShardLog is one shard's append-only log: a directory of segments. Its
// methods are safe for concurrent use by any goroutines. Append serializes
// writers and shares fsyncs between them; Read, SeekTime and the position
// accessors never take the writers' lock: they work on an immutable
// snapshot (logView) of the durable state, published after each fsync and
// each deleted segment. TrimBefore deletes expired segments from the front
// (shard_retention.go); readers pin the segments they read, so a trim never
// closes a file under them.
//
// Lock order: Store.mu, then ShardLog.trimMu, then ShardLog.mu; neither
// ShardLog lock is held while calling into the Store.
type ShardLog struct {
	fs      vfs.FS
	dir     string
	key     string
	opts    Options
	logger  *slog.Logger
	onClose func(*ShardLog) // deregisters from the Store; nil when opened without one
	// syncer is the Store's shared group commit (Options.SharedSync), set
	// before the log is handed out; nil when the log syncs its own files.
	syncer *storeSyncer
	// onPublish is called whenever more of the log becomes visible
	// (SetOnPublish).
	onPublish atomic.Pointer[func()]

	view   atomic.Pointer[logView]
	closed atomic.Bool
	// closing is set when Close starts, so a TrimBefore in progress stops
	// between segments rather than make Close wait for all of its deletes.
	closing atomic.Bool
	// trimMu serializes TrimBefore calls with each other and with Close.
	// It is taken before mu and held while segments are deleted, which
	// runs without mu so that Appends and the group commit go on.
	trimMu sync.Mutex
	// warnedIndex keeps a bad index entry from being logged on every read.
	warnedIndex atomic.Bool
	// damage is the corruption that ends the readable log (Damage).
	damage atomic.Pointer[CorruptionError]
	// gate bounds the batch bytes held by Appends in progress.
	gate appendGate

	mu struct {
		sync.Mutex
		// cond is signalled when a sync finishes, the log fails, or it
		// closes; Append waiters re-check their batch.
		cond sync.Cond
		// err is sticky: the first write/sync error, which only a re-arm
		// clears (shard_rearm.go), or corruption, which nothing clears.
		err    error
		closed bool
		// inflight counts Appends that wrote a batch and have not
		// returned; a re-arm waits for them to see the failure.
		inflight int
		rearm    rearmState

		segs   []*segment // all segments, oldest first; the last is the active one
		active vfs.File   // the active segment's read-write handle; nil if failed at open
		// Written state, ahead of durable until the next sync.
		writePos int64 // end of the active segment's last written batch
		// fileEnd is at least the active segment file's size: writePos,
		// or more where preallocLocked wrote zeros ahead of it.
		fileEnd     int64
		nextOffset  uint64 // offset the next batch gets
		lastArrival int64  // arrival time of the last written batch
		entries     []indexEntry
		sinceIndex  int64 // bytes of batches written since the last index entry
		syncing     bool  // a group-commit leader is in Sync
		durableEnd  uint64
		// With a shared syncer: the written states waiting for their
		// round, oldest first, and the last round this log joined.
		pending   []pendingSync
		syncRound uint64
		// flushedPos: with NoSync, the active segment's write position
		// when its last background sync started (flushDueLocked).
		flushedPos int64
	}
}

// logView is an immutable snapshot of the durable part of a log, as readers
// see it. Only records below end are ever served.
type logView struct {
	segs        []*segment
	start, end  uint64
	activeSize  int64        // durable bytes of the last (active) segment
	entries     []indexEntry // the active segment's index, as of activeSize
	lastArrival int64
}

// limits returns how far readers may read in segment i of v: its durable
// byte size and one past its last durable offset.
func (v *logView) limits(i int) (size int64, end uint64) {
	s := v.segs[i]
	if s.sealed != nil {
		return s.sealed.size, s.sealed.end
	}
	return v.activeSize, v.end
}

// Start returns the first retained offset.
func (l *ShardLog) Start() uint64 { return l.view.Load().start }

// End returns one past the last durable offset.
func (l *ShardLog) End() uint64 { return l.view.Load().end }

// LastArrivalMillis returns the arrival time of the last durable record, or
// 0 if the log is empty.
func (l *ShardLog) LastArrivalMillis() int64 { return l.view.Load().lastArrival }

// Key returns the shard key the log was opened with.
func (l *ShardLog) Key() string { return l.key }

// Err returns nil while the log accepts appends; otherwise the I/O error
// that failed it, or the *CorruptionError found when it was opened. A log
// failed by an I/O error is re-armed by a later Append (see Append), which
// clears Err; a corrupt log stays failed until an operator repairs it.
func (l *ShardLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.err
}

// failLocked records the first error of a write or sync; Appends return it
// until the log is re-armed.
func (l *ShardLog) failLocked(err error) {
	// Nothing written before a failure is published after it; a re-arm
	// cuts it off.
	l.mu.pending = l.mu.pending[:0]
	if l.mu.err == nil {
		l.mu.err = err
		l.logger.Error("storage: shard log failed; refusing writes until it is re-armed", "shard", l.key, "err", err)
	}
	l.mu.cond.Broadcast()
}

// Damage returns the corruption that ends the log's readable part, or nil:
// the *CorruptionError the log opened failed with (see Recovery in
// docs/format/segment.md), or one a re-arm found. Records from End() on
// are behind the damage and are never served, so a reader at End() of a
// damaged log has reached the damage, not the tip. Corruption a Read meets
// in a sealed segment is returned by that Read and does not set Damage.
// Lock-free.
func (l *ShardLog) Damage() *CorruptionError { return l.damage.Load() }

// publishLocked makes everything written so far visible to readers; the
// caller has just made it durable.
func (l *ShardLog) publishLocked() {
	l.publishAtLocked(l.mu.nextOffset, l.mu.writePos, l.mu.lastArrival, l.mu.entries)
}

// Close makes everything appended durable, writes the active segment's
// index files, and closes the log's files. Appends waiting for a sync when
// Close is called are completed (or failed) by it; a TrimBefore in progress
// finishes the segment it is deleting and returns ErrClosed. A Read or
// SeekTime racing with Close either completes (the files it is reading are
// closed when it is done) or returns ErrClosed; calls after it return
// ErrClosed. Close is idempotent.
func (l *ShardLog) Close() error {
	l.closing.Store(true)
	l.trimMu.Lock()
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		l.trimMu.Unlock()
		return nil
	}
	l.mu.closed = true
	for l.mu.syncing {
		l.mu.cond.Wait()
	}
	if l.mu.err != nil && l.rearmableLocked() {
		l.restoreOnCloseLocked()
	}
	var err error
	if l.mu.err == nil && l.mu.active != nil {
		cut := l.mu.fileEnd > l.mu.writePos
		if cerr := l.cutPreallocLocked(); cerr != nil {
			l.failLocked(cerr)
		} else if cut || l.mu.durableEnd < l.mu.nextOffset {
			if serr := l.mu.active.Sync(); serr != nil {
				l.failLocked(fmt.Errorf("sync segment %s: %w", l.activeSegment().path, serr))
			} else {
				l.publishLocked()
			}
		}
		err = l.mu.err
		if err == nil {
			err = l.writeActiveIndexLocked()
		}
	}
	l.mu.cond.Broadcast()
	// Readers check closed when they cannot pin a segment, so it is set
	// before the log lets go of the segments' files.
	l.closed.Store(true)
	for _, s := range l.mu.segs {
		err = errors.Join(err, s.drop())
	}
	l.mu.Unlock()
	l.trimMu.Unlock()
	if l.onClose != nil {
		l.onClose(l)
	}
	return err
}

func (l *ShardLog) activeSegment() *segment { return l.mu.segs[len(l.mu.segs)-1] }

// writeActiveIndexLocked writes the active segment's index files, which
// let the next open skip scanning it (trustActiveIndex). Close calls it
// only on a healthy log whose every written batch is durable: the files
// then describe, at writePos bytes, a prefix of the segment that is on
// disk and that the log never writes again, so a crash can only leave
// them matching that prefix exactly or mismatching the file's size.
func (l *ShardLog) writeActiveIndexLocked() error {
	s := l.activeSegment()
	idx, tix, err := writeIndexFiles(l.fs, l.dir, l.activeIndexHeaderLocked(), l.mu.entries)
	if err != nil {
		return fmt.Errorf("write index of %s: %w", s.path, err)
	}
	return errors.Join(idx.Close(), tix.Close())
}

func (l *ShardLog) activeIndexHeaderLocked() indexHeader {
	return indexHeader{
		base:        l.activeSegment().base,
		end:         l.mu.nextOffset,
		segmentSize: l.mu.writePos,
		lastArrival: l.mu.lastArrival,
	}
}
