package storage

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicedata/sluice/internal/vfs"
)

// openShardLog opens and recovers the log in dir, as specified in
// docs/format/segment.md ("Recovery"). Corruption does not make it fail:
// the log opens failed, readable up to the damage.
func openShardLog(fs vfs.FS, dir, key string, opts Options) (*ShardLog, error) {
	bases, err := listSegments(fs, dir, opts.Logger)
	if err != nil {
		return nil, err
	}
	l := &ShardLog{fs: fs, dir: dir, key: key, opts: opts, logger: opts.Logger}
	l.mu.cond.L = &l.mu.Mutex
	var prevArrival int64
	for i, base := range bases[:len(bases)-1] {
		seg, cerr, err := openSealedSegment(l, base, bases[i+1], prevArrival)
		if err != nil {
			l.closeSegments()
			return nil, err
		}
		if seg != nil {
			l.mu.segs = append(l.mu.segs, seg)
			l.mu.nextOffset, prevArrival = seg.sealed.end, seg.sealed.lastArrival
		}
		if cerr != nil {
			l.openFailed(cerr, base, prevArrival)
			return l, nil
		}
	}
	if err := l.recoverActive(bases[len(bases)-1], prevArrival); err != nil {
		l.closeSegments()
		return nil, err
	}
	return l, nil
}

// listSegments returns the base offsets of dir's segments in order, after
// removing leftover temporary files, and index files below the first
// segment (left by a TrimBefore that a crash interrupted).
func listSegments(fs vfs.FS, dir string, logger *slog.Logger) ([]uint64, error) {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrShardNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var bases []uint64
	var leftovers, indexes []string
	for _, n := range names {
		if base, ok := parseSegmentName(n); ok {
			bases = append(bases, base)
		} else if strings.HasSuffix(n, tmpSuffix) {
			leftovers = append(leftovers, n)
		} else if _, ok := parseIndexName(n); ok {
			indexes = append(indexes, n)
		}
	}
	if len(bases) == 0 {
		// No shard; DeleteShard and CreateShard deal with stray files.
		return nil, ErrShardNotFound
	}
	for _, n := range indexes {
		// Names sort as numbers, so the index files of trimmed segments
		// come first.
		if base, _ := parseIndexName(n); base >= bases[0] {
			break
		}
		leftovers = append(leftovers, n)
	}
	for _, n := range leftovers {
		logger.Info("storage: removing leftover file", "file", filepath.Join(dir, n))
		if err := fs.Remove(filepath.Join(dir, n)); err != nil {
			return nil, fmt.Errorf("remove %s: %w", n, err)
		}
	}
	if len(leftovers) > 0 {
		if err := syncDirs(fs, dir); err != nil {
			return nil, err
		}
	}
	return bases, nil
}

func (l *ShardLog) closeSegments() {
	for _, s := range l.mu.segs {
		s.drop()
	}
	l.mu.segs = nil
}

// openFailed finishes opening a log whose data is damaged: there is no
// active segment, End() is where the damage starts, and every Append
// returns cerr. If no segment survived, the log is empty at base.
func (l *ShardLog) openFailed(cerr *CorruptionError, base uint64, lastArrival int64) {
	l.mu.err = cerr
	l.damage.Store(cerr)
	l.logger.Error("storage: shard log is corrupt; opened read-only up to the damage",
		"shard", l.key, "file", cerr.File, "offset", cerr.Offset, "reason", cerr.Reason)
	l.mu.nextOffset, l.mu.lastArrival = base, lastArrival
	n := len(l.mu.segs)
	if n == 0 {
		l.view.Store(&logView{start: base, end: base, lastArrival: lastArrival})
		return
	}
	l.mu.nextOffset = l.mu.segs[n-1].sealed.end
	l.publishLocked()
}

// openSealedSegment opens a segment that is followed by another, trusting
// its index files if they match it and rebuilding them (by a checked scan)
// if not. A non-nil *CorruptionError comes with the part of the segment
// before the damage (or no segment if its header is bad).
func openSealedSegment(l *ShardLog, base, nextBase uint64, prevArrival int64) (*segment, *CorruptionError, error) {
	path := filepath.Join(l.dir, segmentName(base, segmentSuffix))
	f, size, hdr, cerr, err := openSegmentFile(l.fs, path, base, false)
	if err != nil || cerr != nil {
		return nil, cerr, err
	}
	if si, ok := openIndexFiles(l.fs, l.dir, base, nextBase, size); ok {
		return newSegment(base, path, f, si, hdr), nil, nil
	}
	l.logger.Info("storage: rebuilding segment index", "file", path)
	seg := newSegment(base, path, f, nil, hdr)
	res, err := scanSegment(f, base, seg.dataStart, size, l.opts.IndexIntervalBytes, prevArrival)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("scan %s: %w", path, err)
	}
	seg.sealed = res.sealedInfo(base, prevArrival)
	if res.badReason != "" {
		return seg, &CorruptionError{File: path, Offset: res.pos, Reason: res.badReason}, nil
	}
	if res.end != nextBase {
		return seg, &CorruptionError{File: path, Offset: res.pos, Reason: fmt.Sprintf(
			"segment ends at offset %d but the next segment starts at %d", res.end, nextBase)}, nil
	}
	h := indexHeader{base: base, end: res.end, segmentSize: size, lastArrival: seg.sealed.lastArrival}
	if seg.sealed.idx, seg.sealed.tix, err = writeIndexFiles(l.fs, l.dir, h, res.entries); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("rebuild index of %s: %w", path, err)
	}
	seg.sealed.count = len(res.entries)
	return seg, nil, nil
}

// openSegmentFile opens a segment, checks its header and returns its key
// extension. A bad header is a *CorruptionError, except in the last
// segment (rw) when no valid batch follows it: that is a roll or rekey
// that crashed before its first sync, and the file is returned with size
// -1 for the caller to rewrite.
func openSegmentFile(fs vfs.FS, path string, base uint64, rw bool) (vfs.File, int64, segmentKeyInfo, *CorruptionError, error) {
	open := fs.Open
	if rw {
		open = fs.OpenReadWrite
	}
	f, err := open(path)
	if err != nil {
		return nil, 0, segmentKeyInfo{}, nil, fmt.Errorf("open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, segmentKeyInfo{}, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	b := make([]byte, min(fi.Size(), maxSegmentHeader))
	if n, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		f.Close()
		return nil, 0, segmentKeyInfo{}, nil, fmt.Errorf("read header of %s: %w", path, err)
	}
	n, reason := segmentHeaderLen(b, base)
	var hdr segmentKeyInfo
	if reason == "" {
		if n > len(b) {
			reason = "segment shorter than its header"
		} else {
			hdr, reason = parseSegmentHeader(b[:n], base)
		}
	}
	if reason == "" {
		return f, fi.Size(), hdr, nil, nil
	}
	if rw {
		torn, err := tornHeader(f, fi.Size(), base)
		if err != nil {
			f.Close()
			return nil, 0, segmentKeyInfo{}, nil, fmt.Errorf("check header of %s: %w", path, err)
		}
		if torn {
			return f, -1, segmentKeyInfo{}, nil, nil
		}
	}
	f.Close()
	return nil, 0, segmentKeyInfo{}, &CorruptionError{File: path, Offset: 0, Reason: reason}, nil
}

// tornHeader reports whether a last segment with a bad header holds no
// batch: none valid starts anywhere after the fixed header. Its header was
// then never synced, so no record in it was ever acknowledged.
func tornHeader(f vfs.File, size int64, base uint64) (bool, error) {
	if size < segmentHeaderBytes {
		return true, nil
	}
	found, err := validBatchAfter(f, segmentHeaderBytes, size, base)
	return !found, err
}

// scanResult is what a checked scan of a segment found.
type scanResult struct {
	end         uint64 // one past the last good record
	pos         int64  // byte position after the last good batch
	entries     []indexEntry
	sinceIndex  int64 // bytes of batches after the last index entry
	lastArrival int64 // of the last good batch; 0 if none
	badReason   string
}

func (r *scanResult) sealedInfo(base uint64, prevArrival int64) *sealedInfo {
	si := &sealedInfo{end: r.end, size: r.pos, lastArrival: prevArrival}
	if len(r.entries) > 0 {
		si.firstArrival, si.lastArrival = r.entries[0].arrival, r.lastArrival
	}
	return si
}

// scanSegment checks every batch of a segment from its header to size,
// building its sparse index with the same rule as Append, and stops at the
// first bad frame (reported in badReason, at pos). minArrival is the
// previous segment's last arrival: time never goes backwards in a log.
func scanSegment(f vfs.File, base uint64, dataStart, size int64, interval int, minArrival int64) (scanResult, error) {
	return scanFrom(f, base, scanResult{end: base, pos: dataStart, sinceIndex: int64(interval)}, size, interval, minArrival)
}

// scanFrom is scanSegment from the state res: the batch at res.pos has
// first offset res.end, and res.entries and res.sinceIndex are the index
// as the batches before it left it.
func scanFrom(f vfs.File, base uint64, res scanResult, size int64, interval int, minArrival int64) (scanResult, error) {
	sc := newScanner(f, res.pos, size, scanChunkBytes)
	defer sc.release()
	for {
		h, frame, st, reason, err := sc.next()
		if err != nil {
			return res, err
		}
		switch {
		case st == scanEnd:
			return res, nil
		case st == scanBad:
			res.badReason = reason
			return res, nil
		case h.firstOffset != res.end:
			res.badReason = fmt.Sprintf("batch first offset %d, want %d", h.firstOffset, res.end)
			return res, nil
		case h.firstArrival < max(minArrival, res.lastArrival):
			res.badReason = fmt.Sprintf("batch arrival %d goes back before %d", h.firstArrival, max(minArrival, res.lastArrival))
			return res, nil
		}
		if reason := checkFrameRecords(frame, &h); reason != "" {
			res.badReason = reason
			return res, nil
		}
		if len(res.entries) == 0 || res.sinceIndex >= int64(interval) {
			res.entries = append(res.entries, indexEntry{arrival: h.firstArrival,
				rel: uint32(h.firstOffset - base), pos: uint32(res.pos)})
			res.sinceIndex = 0
		}
		res.sinceIndex += h.size()
		res.pos += h.size()
		res.end = h.end()
		res.lastArrival = h.lastArrival
	}
}

// validBatchAfter reports whether a valid batch with first offset at least
// minOffset starts anywhere in [from, size): the test that tells a torn tail
// (nothing valid follows) from corruption (something does). A candidate's
// first offset must also be reachable: at most one record per
// minRecordBytes since from. That rejects almost every position of random
// bytes before any checksum is computed, which keeps this linear in
// practice.
func validBatchAfter(f vfs.File, from, size int64, minOffset uint64) (bool, error) {
	buf := make([]byte, min(scanChunkBytes+batchHeaderBytes, max(size-from, 0)))
	var frame []byte
	for start := from; start+batchHeaderBytes <= size; start += scanChunkBytes {
		n := min(int64(len(buf)), size-start)
		if _, err := f.ReadAt(buf[:n], start); err != nil {
			return false, fmt.Errorf("read at %d: %w", start, err)
		}
		for q := int64(0); q < scanChunkBytes && q+batchHeaderBytes <= n; q++ {
			if le.Uint32(buf[q:]) == 0 {
				// No batch has length 0: a quick way through runs of
				// zeros, which preallocation leaves after the last batch.
				continue
			}
			h, reason := parseBatchHeader(buf[q:n])
			reach := minOffset + uint64(start+q-from)/minRecordBytes + 1
			if reason != "" || h.firstOffset < minOffset || h.firstOffset > reach || start+q+h.size() > size {
				continue
			}
			if int64(cap(frame)) < h.size() {
				frame = make([]byte, h.size())
			}
			frame = frame[:h.size()]
			if _, err := f.ReadAt(frame, start+q); err != nil {
				return false, fmt.Errorf("read at %d: %w", start+q, err)
			}
			if checkFrameRecords(frame, &h) == "" {
				return true, nil
			}
		}
	}
	return false, nil
}

// recoverActive opens the last segment for appending. If its index files
// prove a clean close (trustActiveIndex), it loads them and checks only the
// batches from the last entry on; otherwise it checks every batch, cuts
// off a torn tail, and rebuilds the in-memory index. Corruption opens the
// log failed instead.
func (l *ShardLog) recoverActive(base uint64, prevArrival int64) error {
	path := filepath.Join(l.dir, segmentName(base, segmentSuffix))
	f, size, hdr, cerr, err := openSegmentFile(l.fs, path, base, true)
	if err != nil {
		return err
	}
	if cerr != nil {
		l.openFailed(cerr, base, prevArrival)
		return nil
	}
	if size < 0 {
		// A crash while rolling or rekeying: the header never reached the
		// disk, so the file holds no records.
		l.logger.Warn("storage: rewriting segment with a torn header", "file", path)
		if err := rewriteEmptySegment(f, base); err != nil {
			f.Close()
			return fmt.Errorf("rewrite %s: %w", path, err)
		}
		size, hdr = segmentHeaderBytes, segmentKeyInfo{}
	}
	seg := newSegment(base, path, f, nil, hdr)
	res, ok := l.trustActiveIndex(seg, size, prevArrival)
	if !ok {
		res, err = scanSegment(f, base, seg.dataStart, size, l.opts.IndexIntervalBytes, prevArrival)
		if err == nil && res.badReason != "" {
			err = l.repairTail(f, path, size, &res)
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	if res.badReason != "" {
		seg.sealed = res.sealedInfo(base, prevArrival)
		l.mu.segs = append(l.mu.segs, seg)
		l.openFailed(&CorruptionError{File: path, Offset: res.pos, Reason: res.badReason}, base, seg.sealed.lastArrival)
		return nil
	}
	l.mu.segs = append(l.mu.segs, seg)
	l.mu.active = f
	l.mu.writePos, l.mu.nextOffset = res.pos, res.end
	l.mu.fileEnd = res.pos
	l.mu.entries, l.mu.sinceIndex = res.entries, res.sinceIndex
	l.mu.lastArrival = prevArrival
	if len(res.entries) > 0 {
		l.mu.lastArrival = res.lastArrival
	}
	l.publishLocked()
	return nil
}

// repairTail decides what a bad frame at res.pos in the last segment is. If
// no valid batch follows it, it is a torn write from a crash: the file is
// cut there and res.badReason cleared. Otherwise it is corruption and res
// is left as it is.
func (l *ShardLog) repairTail(f vfs.File, path string, size int64, res *scanResult) error {
	found, err := validBatchAfter(f, res.pos+1, size, res.end)
	if err != nil {
		return fmt.Errorf("check tail of %s: %w", path, err)
	}
	if found {
		return nil
	}
	zeros, err := allZeros(f, res.pos, size)
	if err != nil {
		return fmt.Errorf("check tail of %s: %w", path, err)
	}
	if zeros {
		// Preallocated space (shard_prealloc.go), or a batch none of whose
		// bytes reached the disk: nothing was torn.
		l.logger.Info("storage: cutting zeros after the last batch", "file", path,
			"offset", res.pos, "bytes", size-res.pos)
	} else {
		l.logger.Warn("storage: truncating torn batch at the end of the log", "file", path,
			"offset", res.pos, "bytes", size-res.pos, "reason", res.badReason)
	}
	if err := f.Truncate(res.pos); err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	res.badReason = ""
	return nil
}

func rewriteEmptySegment(f vfs.File, base uint64) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(encodeSegmentHeader(base, segmentKeyInfo{}), 0); err != nil {
		return err
	}
	return f.Sync()
}

// allZeros reports whether bytes [from, size) of f are all zero.
func allZeros(f vfs.File, from, size int64) (bool, error) {
	buf := make([]byte, min(scanChunkBytes, max(size-from, 0)))
	for pos := from; pos < size; {
		n := min(int64(len(buf)), size-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return false, fmt.Errorf("read at %d: %w", pos, err)
		}
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		pos += n
	}
	return true, nil
}
