package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluicedata/sluice/internal/vfs"
)

// Opening the active segment from its index files, so that a restart after
// a clean Close reads a bounded amount of each shard rather than its whole
// active segment: docs/format/segment.md, "Recovery", step 3, says when the
// files are trusted and why a crash can never make stale ones look valid.

// noIndexFiles is trustActiveIndex's reason when the active segment has no
// index files at all, the usual case after a crash or for a new shard; it
// is not worth a log line.
const noIndexFiles = "no index files"

// trustActiveIndex returns the active segment's recovered state from its
// index files, if they describe the segment exactly as it is (same base,
// same size in bytes, at least one batch) and the batches from the last
// index entry to the end of the file check: at most IndexIntervalBytes
// plus one batch are read, wherever the segment's size. ok is false if the
// segment must be scanned instead; the scan then decides what is torn tail
// and what is corruption, as it always did.
func (l *ShardLog) trustActiveIndex(seg *segment, size, prevArrival int64) (res scanResult, ok bool) {
	h, entries, reason := loadActiveIndex(l.fs, l.dir, seg.base, seg.dataStart, size, prevArrival)
	if reason == "" {
		res, reason = checkActiveTail(seg.f, seg.base, size, l.opts.IndexIntervalBytes, h, entries)
	}
	if reason != "" {
		if reason != noIndexFiles {
			l.logger.Debug("storage: scanning the active segment; its index files do not match it",
				"file", seg.path, "reason", reason)
		}
		return scanResult{}, false
	}
	return res, true
}

// checkActiveTail checks the batches from the last of entries to size with
// the same scan as recovery, starting from the state the entries give, so
// that the index it returns (and the bytes since its last entry, which
// place Append's next entry) is the one a scan of the whole segment would
// have built. The batch at the last entry must be the one it names, and
// the last batch must end exactly at size, at the header's end offset and
// last arrival time.
func checkActiveTail(f vfs.File, base uint64, size int64, interval int, h indexHeader, entries []indexEntry) (scanResult, string) {
	n := len(entries)
	last := entries[n-1]
	// Starting a whole interval since the previous entry makes the scan
	// enter the batch at last.pos again, from what it reads there.
	from := scanResult{end: base + uint64(last.rel), pos: int64(last.pos),
		entries: entries[:n-1], sinceIndex: int64(interval)}
	res, err := scanFrom(f, base, from, size, interval, last.arrival)
	switch {
	case err != nil:
		return res, fmt.Sprintf("read the batches after the last index entry: %v", err)
	case res.badReason != "":
		return res, "after the last index entry: " + res.badReason
	case len(res.entries) < n || res.entries[n-1] != last:
		return res, fmt.Sprintf("last index entry %+v does not match the batch at position %d", last, last.pos)
	case res.end != h.end || res.lastArrival != h.lastArrival:
		return res, fmt.Sprintf("batches end at offset %d, last arrival %d; index says %d, %d",
			res.end, res.lastArrival, h.end, h.lastArrival)
	}
	return res, ""
}

// loadActiveIndex reads the .idx and .tix files of the segment at base and
// returns their header and entries if both are well formed, agree with
// each other, and index a segment of exactly size bytes holding at least
// one batch; otherwise it returns why not. It reads at most one entry per
// possible batch of the segment, the bound a scan has too.
func loadActiveIndex(fs vfs.FS, dir string, base uint64, dataStart, size, prevArrival int64) (indexHeader, []indexEntry, string) {
	maxCount := (size-dataStart)/(batchHeaderBytes+minRecordBytes) + 1
	files := []struct {
		suffix, magic string
		entryBytes    int64
	}{{offsetIndexSuffix, offsetIndexMagic, offsetIndexEntryBytes}, {timeIndexSuffix, timeIndexMagic, timeIndexEntryBytes}}
	var hs [2]indexHeader
	var data [2][]byte
	for i, k := range files {
		path := filepath.Join(dir, segmentName(base, k.suffix))
		b, reason := readIndexFile(fs, path, indexHeaderBytes+maxCount*k.entryBytes)
		if reason != "" {
			return indexHeader{}, nil, reason
		}
		h, ok := parseIndexHeader(b, k.magic)
		if !ok {
			return indexHeader{}, nil, path + ": bad header"
		}
		if int64(len(b)) != indexHeaderBytes+int64(h.count)*k.entryBytes {
			return indexHeader{}, nil, fmt.Sprintf("%s: %d bytes for %d entries", path, len(b), h.count)
		}
		hs[i], data[i] = h, b[indexHeaderBytes:]
	}
	h := hs[0]
	switch {
	case hs[1] != h:
		return h, nil, fmt.Sprintf("index headers differ: %+v, %+v", hs[0], hs[1])
	case h.base != base:
		return h, nil, fmt.Sprintf("index of base %d", h.base)
	case h.segmentSize != size:
		// The common case after a crash: appends grew the file after the
		// index was written at Close.
		return h, nil, fmt.Sprintf("index of a %d-byte segment, the file has %d", h.segmentSize, size)
	case h.count == 0 || h.end <= base:
		// An empty segment: the scan has nothing to read.
		return h, nil, "no batch indexed"
	}
	entries := make([]indexEntry, h.count)
	for i := range entries {
		o, t := data[0][i*offsetIndexEntryBytes:], data[1][i*timeIndexEntryBytes:]
		e := indexEntry{arrival: int64(le.Uint64(t)), rel: le.Uint32(t[8:]), pos: le.Uint32(t[12:])}
		var bad bool
		if i == 0 {
			bad = e.rel != 0 || int64(e.pos) != dataStart || e.arrival < prevArrival
		} else {
			p := entries[i-1]
			bad = e.rel <= p.rel || e.pos <= p.pos || e.arrival < p.arrival
		}
		if bad || le.Uint32(o) != e.rel || le.Uint32(o[4:]) != e.pos {
			return h, nil, fmt.Sprintf("index entry %d is out of order or differs between the files", i)
		}
		entries[i] = e
	}
	if last := entries[len(entries)-1]; int64(last.pos) >= size || uint64(last.rel) >= h.end-base || h.lastArrival < last.arrival {
		return h, nil, fmt.Sprintf("last index entry %+v is past the end of the indexed segment", last)
	}
	return h, entries, ""
}

// readIndexFile returns the contents of an index file of at most limit
// bytes, or why it cannot.
func readIndexFile(fs vfs.FS, path string, limit int64) ([]byte, string) {
	f, err := fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, noIndexFiles
	}
	if err != nil {
		return nil, err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err.Error()
	}
	if fi.Size() > limit || fi.Size() < indexHeaderBytes {
		return nil, fmt.Sprintf("%s: %d bytes, want %d to %d", path, fi.Size(), indexHeaderBytes, limit)
	}
	b := make([]byte, fi.Size())
	if n, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, fmt.Sprintf("read %s: %v", path, err)
	}
	return b, ""
}
