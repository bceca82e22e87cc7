package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// TrimBefore deletes, oldest first, every whole segment all of whose
// records arrived before millis (that is, whose last record's arrival time
// is < millis) and returns the new Start(). If the active segment itself
// qualifies (it is non-empty and its last record, durable or not, is older
// than millis), it is rolled first so that it can go, leaving an empty
// active segment based at End(): Start() == End() then. A record that
// arrived at or after millis is never deleted, and neither is a segment
// holding one, so records older than millis may remain: retention is as
// fine as the segments (see Options.SegmentBytes and SegmentMaxAge).
//
// Each segment is deleted in turn: its index files, then the segment file,
// then a directory fsync, and only then does Start() move past it. So a
// crash part way leaves a log that starts at a later segment, never one
// with a hole, and once TrimBefore returns nil the deleted records do not
// come back after a restart: Start() is the first remaining segment's base.
//
// Concurrency: safe to call with Append, Read, SeekTime and the accessors
// from any goroutine; concurrent TrimBefore calls run one after the other.
// Appends wait only while the active segment is rolled; the deletes run
// without the writers' lock. A Read that asks for a deleted offset gets
// ErrOffsetTrimmed; one that was already reading a segment being deleted
// finishes from it (the files stay open until the last such reader is
// done). Close waits for the segment being deleted, then TrimBefore returns
// ErrClosed.
//
// Errors: ErrClosed; or an I/O error, wrapped, with the Start() reached
// before it. A failed remove or directory fsync stops the trim but leaves
// the log usable: the segment it was deleting stays readable, and the next
// TrimBefore finishes deleting it. Only a failure to roll the active segment
// fails the log (see Err), as it does in Append: the log's state on disk is
// then unknown. A log that is already failed is still trimmed of its sealed
// segments, but its last segment is kept and never rolled.
func (l *ShardLog) TrimBefore(millis int64) (start uint64, err error) {
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	victims, err := l.planTrim(millis)
	if err != nil {
		return l.Start(), fmt.Errorf("trim %s: %w", l.key, err)
	}
	for _, s := range victims {
		if l.closing.Load() {
			return l.Start(), fmt.Errorf("trim %s: %w", l.key, ErrClosed)
		}
		if err := l.deleteSegment(s); err != nil {
			return l.Start(), fmt.Errorf("trim %s: %w", l.key, err)
		}
	}
	return l.Start(), nil
}

// planTrim rolls the active segment if it is wholly older than millis, and
// returns the oldest segments whose records all are: never the last one,
// which a healthy log appends to.
func (l *ShardLog) planTrim(millis int64) ([]*segment, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A roll waits for a group-commit fsync in progress, as in Append
	// (readySegmentLocked).
	for !l.mu.closed && l.mu.syncing {
		l.mu.cond.Wait()
	}
	if l.mu.closed {
		return nil, ErrClosed
	}
	if l.mu.err == nil && len(l.mu.entries) > 0 && l.mu.lastArrival < millis {
		// The new active segment is plaintext until an encrypted append
		// rekeys it.
		if err := l.rollLocked(segmentKeyInfo{}, nil); err != nil {
			l.failLocked(err)
			return nil, err
		}
	}
	if len(l.mu.segs) == 0 {
		return nil, nil // opened failed with no segment intact
	}
	sealed := l.mu.segs[:len(l.mu.segs)-1]
	n := 0
	for n < len(sealed) && (sealed[n].sealed.end == sealed[n].base || sealed[n].sealed.lastArrival < millis) {
		n++
	}
	return slices.Clone(sealed[:n]), nil
}

// deleteSegment deletes the log's first segment s: its index files first
// (so an interrupted delete leaves at worst a segment whose index is
// rebuilt at open), then the segment, then a directory fsync, which must
// succeed before the next segment is touched. Files already gone count as
// deleted, so a trim retried after a failure picks up where it stopped.
// Only then is s taken out of the log and Start() moved; the log's
// reference to s's files is dropped, and they close when no Read holds
// them.
func (l *ShardLog) deleteSegment(s *segment) error {
	for _, suffix := range []string{offsetIndexSuffix, timeIndexSuffix, segmentSuffix} {
		path := filepath.Join(l.dir, segmentName(s.base, suffix))
		if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("sync dir %s: %w", l.dir, err)
	}
	l.mu.Lock()
	v := *l.view.Load()
	if l.mu.segs[0] != s || v.segs[0] != s || len(l.mu.segs) < 2 {
		panic(fmt.Sprintf("storage: trimming segment %d of %s, but the log starts at segment %d (view %d) with %d segments",
			s.base, l.key, l.mu.segs[0].base, v.segs[0].base, len(l.mu.segs)))
	}
	// Everything but the segments is as last published: the view is
	// re-published with the new first segment, not the write state, which
	// may be ahead of what is durable.
	l.mu.segs = slices.Clone(l.mu.segs[1:])
	v.segs, v.start = l.mu.segs, l.mu.segs[0].base
	l.view.Store(&v)
	l.mu.Unlock()
	if err := s.drop(); err != nil {
		// The files are deleted and the log no longer uses them; closing a
		// handle to them tells the caller nothing to act on.
		l.logger.Warn("storage: close trimmed segment", "file", s.path, "err", err)
	}
	return nil
}
